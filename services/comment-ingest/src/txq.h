/* txq.h - the Kafka stage: stored batches waiting for a transaction, and one transaction for them all. */
#ifndef CI_TXQ_H
#define CI_TXQ_H

#include <stddef.h>
#include <uv.h>

#include "batch.h"
#include "kafka.h"

/*
 * How many stored batches may wait while a transaction is in flight. They
 * all go into the next transaction together, so a comment waits for at most
 * the rest of one transaction, not for one transaction per batch ahead of it.
 * Under light load the front stores a batch of a few comments every ms or
 * two, several per transaction: with room for only two, the third missed the
 * next transaction and waited for two (p50 28-30 ms at 1,000 comments/s,
 * 18 ms with room for eight). What may wait is also bounded in messages (the
 * max_messages of txq_init), so that memory stays that of two full batches.
 */
#define TXQ_MAX 8
/* The waiting batches hold at most this many full batches' messages (the pipeline's txq_init). */
#define TXQ_FULL_BATCHES 2

struct txq {
	struct kafka *kafka;
	struct batch *ready[TXQ_MAX]; /* stored, oldest first: the next transaction's */
	int nready;
	size_t ready_messages; /* the messages of the waiting batches */
	size_t max_messages;   /* at most this many wait (one batch alone always may) */
	struct batch *tx[TXQ_MAX]; /* in the transaction in flight, oldest first */
	int ntx;
	struct kafka_out *out; /* the transaction's messages: every batch's, in order */
	size_t nout, out_cap;
	rd_kafka_topic_partition_list_t *offsets; /* the next offset per partition, of the last batch that read it */
	uv_work_t work;
	int result; /* enum kafka_tx_result, or TXQ_BUILD_FAILED */
	char err[512];
};

#define TXQ_BUILD_FAILED 100 /* a result beside enum kafka_tx_result: no transaction was begun */

/* max_messages bounds the messages of the batches waiting for a transaction. */
void txq_init(struct txq *q, struct kafka *kafka, size_t max_messages);
void txq_free(struct txq *q);

/* The stored batch b may wait for the Kafka stage now. */
int txq_has_room(const struct txq *q, const struct batch *b);

/* Adds a stored batch after the ones waiting (txq_has_room must hold). */
void txq_push(struct txq *q, struct batch *b);

/* Whether b waits in q or is in its transaction. */
int txq_holds(const struct txq *q, const struct batch *b);

/*
 * Loop thread: when no transaction is in flight and batches wait, they all
 * move into one transaction, run off the loop (build each batch's events,
 * then kafka_commit with every message and the merged offsets); done runs on
 * the loop after it, with q->result and q->err set and q->tx still holding
 * the batches. Returns 1 if it started one, 0 if not.
 */
int txq_start(struct txq *q, uv_loop_t *loop, uv_after_work_cb done);

/* Loop thread, in done: the transaction's batches have been dealt with. */
void txq_finish(struct txq *q);

/* Forgets every batch (their owner clears them): after a rewind, or when the producer cannot go on. */
void txq_reset(struct txq *q);

#endif
