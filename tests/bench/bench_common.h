/* bench_common.h - what the bench tools in tests/bench share.
 *
 * Owns: the program name in their messages (bench_prog), stop on SIGINT/SIGTERM (bench_stop),
 * the clocks, librdkafka setup (configuration, client creation, subscription, partition count
 * on rebalance, producing with back-pressure) and the text that generated comment bodies are
 * made of. Errors in setup print "<bench_prog>: ..." on stderr and exit (2 for a bad setting, 1
 * otherwise), as each tool did on its own.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* The prefix of error messages; each main sets it first. */
extern const char *bench_prog;

/* Set by SIGINT/SIGTERM once bench_catch_signals() ran. */
extern volatile sig_atomic_t bench_stop;
void bench_catch_signals(void);

/* Seconds on the monotonic clock; wall-clock microseconds. */
double bench_mono_s(void);
int64_t bench_now_us(void);

/* $KAFKA_BOOTSTRAP_SERVERS, or 127.0.0.1:9092 when unset or empty. */
const char *bench_bootstrap(void);
/* A fresh consumer group name, "bench-<what>-<pid>-<time>". */
void bench_group_name(char *out, size_t len, const char *what);

/* Sets k=v; exits 2 when librdkafka refuses it. */
void bench_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v);
/* A new configuration with bootstrap.servers and client.id. */
rd_kafka_conf_t *bench_kafka_conf(const char *bootstrap, const char *client_id);
/* bench_kafka_conf, then group.id, enable.auto.commit (auto_commit), read_committed, from the earliest offset. */
rd_kafka_conf_t *bench_kafka_consumer_conf(const char *bootstrap, const char *client_id, const char *group,
					   int auto_commit);
/* rd_kafka_new (a consumer is also set to poll its main queue); exits 1 when it fails. */
rd_kafka_t *bench_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);
/* Subscribes to topics[0..n); exits 1 when it fails. */
void bench_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, int n);

/* The partitions assigned now, kept by bench_kafka_rebalance_cb (rd_kafka_conf_set_rebalance_cb). */
extern int bench_assigned_count;
void bench_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			      void *opaque);

/* For a consumed message with an error: prints it unless it is a partition EOF, destroys m and
 * returns 1. Returns 0 (m untouched) for a message without error. */
int bench_kafka_message_failed(rd_kafka_message_t *m);

/* rd_kafka_producev with a copy of key and value, waiting while the queue is full; returns the error. */
rd_kafka_resp_err_t bench_kafka_produce(rd_kafka_t *rk, const char *topic, const char *key, size_t key_len,
					const char *value, size_t len);

/* The sentences of generated comment bodies, and the lines with accents, emoji or other scripts. */
#define BENCH_SENTENCES 24
#define BENCH_INTL 7
extern const char *const bench_sentences[BENCH_SENTENCES];
extern const char *const bench_intl[BENCH_INTL];

#endif
