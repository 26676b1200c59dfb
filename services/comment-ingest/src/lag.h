/* lag.h - consumer lag per assigned partition: end offsets queried off the loop, against the committed offsets. */
#ifndef CI_LAG_H
#define CI_LAG_H

#include <librdkafka/rdkafka.h>

struct lag;

/*
 * Starts a thread that, every interval_ms, reads the consumer's assignment
 * and asks the brokers for each assigned partition's end offset (the last
 * stable offset: the consumer reads read_committed) and, once per
 * assignment, its committed offset. The thread makes blocking librdkafka
 * calls (at most LAG_QUERY_TIMEOUT_MS each) and never touches the loop; the
 * loop reads its figures with lag_publish(). consumer stays owned by kafka.c
 * and must outlive lag_join(). Returns NULL when the thread cannot start.
 */
struct lag *lag_create(rd_kafka_t *consumer, int interval_ms);

/*
 * Loop thread: a batch's Kafka transaction committed these offsets (next
 * offset per partition). The producer commits them, so the consumer never
 * learns them: this is where the committed side of the lag moves.
 */
void lag_committed(struct lag *l, const rd_kafka_topic_partition_list_t *offsets);

/*
 * Loop thread: the partitions are being revoked. Their series go, and a
 * partition assigned again has its committed offset asked for again (another
 * owner may have moved it meanwhile).
 */
void lag_forget(struct lag *l);

/* Loop thread: copies the latest figures into the metrics (metrics.lag), for /metrics. */
void lag_publish(struct lag *l);

/* Any thread: asks the thread to end (it ends within one query). Idempotent. */
void lag_stop(struct lag *l);

/* Blocking (off the loop, at most one query): waits for the thread to end (after lag_stop). Idempotent. */
void lag_join(struct lag *l);

/* Loop thread, after lag_join: frees l. */
void lag_free(struct lag *l);

#endif
