/* txq.c - the Kafka stage: stored batches waiting for a transaction, and one transaction for them all. */
#include "txq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void txq_init(struct txq *q, struct kafka *kafka, size_t max_messages)
{
	memset(q, 0, sizeof(*q));
	q->kafka = kafka;
	q->max_messages = max_messages;
}

void txq_free(struct txq *q)
{
	free(q->out);
	if (q->offsets)
		rd_kafka_topic_partition_list_destroy(q->offsets);
	q->out = NULL;
	q->offsets = NULL;
}

int txq_has_room(const struct txq *q, const struct batch *b)
{
	return q->nready < TXQ_MAX && (q->nready == 0 || q->ready_messages + b->n <= q->max_messages);
}

void txq_push(struct txq *q, struct batch *b)
{
	q->ready[q->nready++] = b;
	q->ready_messages += b->n;
}

int txq_holds(const struct txq *q, const struct batch *b)
{
	for (int i = 0; i < q->nready; i++)
		if (q->ready[i] == b)
			return 1;
	for (int i = 0; i < q->ntx; i++)
		if (q->tx[i] == b)
			return 1;
	return 0;
}

/* Appends a batch's messages to the transaction's. Returns 0 or -1 (no memory). */
static int add_out(struct txq *q, const struct batch *b)
{
	if (b->nout == 0)
		return 0; /* e.g. only duplicates: b->out may be NULL */
	if (q->nout + b->nout > q->out_cap) {
		size_t cap = q->out_cap ? q->out_cap : 1024;
		while (cap < q->nout + b->nout)
			cap *= 2;
		struct kafka_out *no = realloc(q->out, cap * sizeof(*no));
		if (!no)
			return -1;
		q->out = no;
		q->out_cap = cap;
	}
	memcpy(q->out + q->nout, b->out, b->nout * sizeof(*b->out));
	q->nout += b->nout;
	return 0;
}

/* Merges a batch's next offsets into the transaction's: the larger one per partition. */
static void merge_offsets(rd_kafka_topic_partition_list_t *dst, const rd_kafka_topic_partition_list_t *src)
{
	for (int j = 0; src && j < src->cnt; j++) {
		const rd_kafka_topic_partition_t *e = &src->elems[j];
		rd_kafka_topic_partition_t *d = rd_kafka_topic_partition_list_find(dst, e->topic, e->partition);
		if (!d)
			rd_kafka_topic_partition_list_add(dst, e->topic, e->partition)->offset = e->offset;
		else if (e->offset > d->offset)
			d->offset = e->offset;
	}
}

/*
 * Worker thread: the events of every batch, then one transaction with all
 * their messages and offsets. The loop does not touch these batches meanwhile.
 */
static void txq_work(uv_work_t *w)
{
	struct txq *q = w->data;
	q->err[0] = '\0';
	q->nout = 0;
	if (q->offsets)
		rd_kafka_topic_partition_list_destroy(q->offsets);
	if (!(q->offsets = rd_kafka_topic_partition_list_new(8)))
		goto no_memory;
	for (int i = 0; i < q->ntx; i++) {
		struct batch *b = q->tx[i];
		uint64_t t0 = uv_hrtime();
		if (batch_build_events(b) != 0 || add_out(q, b) != 0)
			goto no_memory;
		b->build_ns = uv_hrtime() - t0;
		merge_offsets(q->offsets, b->commit_offsets);
	}
	struct kafka_tx_times times;
	q->result = kafka_commit(q->kafka, q->out, q->nout, q->offsets, &times, q->err, sizeof(q->err));
	for (int i = 0; i < q->ntx; i++)
		q->tx[i]->tx_times = times;
	return;
no_memory:
	snprintf(q->err, sizeof(q->err), "out of memory building events");
	q->result = TXQ_BUILD_FAILED;
}

int txq_start(struct txq *q, uv_loop_t *loop, uv_after_work_cb done)
{
	if (q->ntx || !q->nready)
		return 0;
	uint64_t now = uv_hrtime();
	for (int i = 0; i < q->nready; i++) {
		q->tx[i] = q->ready[i];
		q->tx[i]->phase_ns[PH_TX_START] = now;
	}
	q->ntx = q->nready;
	q->nready = 0;
	q->ready_messages = 0;
	q->work.data = q;
	uv_queue_work(loop, &q->work, txq_work, done);
	return 1;
}

void txq_finish(struct txq *q)
{
	q->ntx = 0;
}

void txq_reset(struct txq *q)
{
	q->nready = q->ntx = 0;
	q->ready_messages = 0;
}
