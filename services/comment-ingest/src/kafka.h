/* kafka.h - librdkafka on the loop: the group consumer, the transactional producer, and their event fds. */
#ifndef CI_KAFKA_H
#define CI_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"

struct kafka;

enum kafka_event {
	KAFKA_READABLE,  /* the consumer queue has something: call kafka_poll() */
	KAFKA_ASSIGNED,  /* partitions were assigned (count in kafka_assigned()) */
	KAFKA_REVOKED,   /* partitions are revoked: poll no more, finish the batches in flight, then
			    call kafka_revoke_done() */
	KAFKA_FATAL,     /* the consumer cannot go on (e.g. FENCED_INSTANCE_ID: another instance took
			    its group.instance.id); logged already: stop */
};

typedef void (*kafka_event_cb)(struct kafka *k, enum kafka_event ev, void *arg);

/* One message to produce inside a transaction. */
/* How long each step of one kafka_commit took, in ns (0: the step did not run). */
struct kafka_tx_times {
	uint64_t produce_ns; /* handing the events to the producer */
	uint64_t offsets_ns; /* begin_transaction and send_offsets_to_transaction (first: kafka_commit) */
	uint64_t commit_ns;  /* commit_transaction: the deliveries, then the commit */
};

struct kafka_out {
	const char *topic;
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

enum kafka_tx_result {
	KAFKA_TX_OK = 0,
	KAFKA_TX_ABORTED = -1,     /* aborted: the batch must be replayed */
	KAFKA_TX_FATAL = -2,       /* the producer cannot go on (e.g. fenced) */
	KAFKA_TX_INTERRUPTED = -3, /* given up after kafka_interrupt(): left open, the broker aborts it */
};

/*
 * Creates both clients and subscribes to both inputs, cfg->topic_submitted
 * and cfg->topic_decided. Events come
 * through cb on the loop thread. Returns NULL with a message in err on
 * failure. The transactional producer is not usable before
 * kafka_init_transactions() succeeded.
 */
struct kafka *kafka_create(uv_loop_t *loop, const struct config *cfg, kafka_event_cb cb, void *arg,
			   char *err, size_t errlen);

/*
 * Blocking (run off the loop): registers the transactional.id, fencing older
 * instances. Tries for 30 s. Returns 0, -1 (retry later), KAFKA_TX_FATAL or
 * KAFKA_TX_INTERRUPTED.
 */
int kafka_init_transactions(struct kafka *k, char *err, size_t errlen);

/*
 * Blocking (off the loop): asks the broker for the output topics' partitions
 * and leaders before the first transaction needs them, which otherwise learns
 * them while it commits (about 0.3 s after a start). A topic the broker does
 * not know yet is left to the transaction, as before.
 */
void kafka_warm_up(struct kafka *k, const char *const *topics, int n);

/*
 * Any thread: the blocking calls (init_transactions, a transaction in
 * kafka_commit) give up within half a second and return
 * KAFKA_TX_INTERRUPTED, so that a stop never waits for a broker that is
 * gone. For good: the clients are about to be shut down.
 */
void kafka_interrupt(struct kafka *k);

/* Loop thread: the next consumer message or NULL; serves rebalances, errors and logs. */
rd_kafka_message_t *kafka_poll(struct kafka *k);

/*
 * Blocking (run off the loop): one transaction with every output message and
 * the consumer offsets (next offset per partition) of the batch. times gets
 * how long each step took.
 */
enum kafka_tx_result kafka_commit(struct kafka *k, const struct kafka_out *out, size_t n,
				  rd_kafka_topic_partition_list_t *offsets, struct kafka_tx_times *times, char *err,
				  size_t errlen);

/*
 * Loop thread: releases revoked partitions (after KAFKA_REVOKED) so that the
 * rebalance goes on. Until then the group waits (up to max.poll.interval.ms).
 */
void kafka_revoke_done(struct kafka *k);

/* Blocking (run off the loop): moves the consumer back to the given offsets. */
int kafka_rewind(struct kafka *k, rd_kafka_topic_partition_list_t *offsets);

/* Loop thread: pauses or resumes every assigned partition. */
void kafka_pause(struct kafka *k, int pause);

int kafka_assigned(const struct kafka *k);
/*
 * The consumer handle, for queries made off the loop (lag.c). Whoever uses it
 * must be done before kafka_shutdown() destroys it.
 */
rd_kafka_t *kafka_consumer(struct kafka *k);
/* Loop thread: messages fetched and waiting in the consumer's queue, not yet polled. */
size_t kafka_queued(struct kafka *k);
/* True when both clients see an up broker, transactions are initialized and neither client failed fatally. */
int kafka_is_ready(const struct kafka *k, char *why, size_t whylen);

/* Loop thread: stops watching the queues (before kafka_shutdown). */
void kafka_unwatch(struct kafka *k);
/*
 * Blocking (run off the loop, at most a few seconds): leaves the group (a
 * static member too) and destroys both clients.
 */
void kafka_shutdown(struct kafka *k);
/* Loop thread, after kafka_shutdown: closes the handles; frees k in the close callbacks. */
void kafka_close(struct kafka *k);

#endif
