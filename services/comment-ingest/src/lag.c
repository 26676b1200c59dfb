/* lag.c - consumer lag per assigned partition: end offsets queried off the loop, against the committed offsets.
 *
 * lag = end offset - committed offset, per partition this instance owns.
 *
 * The end is the last stable offset (LSO), not the high watermark: the consumer reads read_committed,
 * so the messages of a producer's open transaction are not consumable yet and are no work this
 * instance could be doing; the LSO is where a read_committed consumer's reading ends. librdkafka's
 * ListOffsets carries the client's isolation level, so rd_kafka_offsets_for_times() with
 * RD_KAFKA_OFFSET_END on this read_committed consumer answers the LSO, for every assigned partition
 * at once. It is asked for every interval, by a thread: the statistics' hi_offset and ls_offset come
 * from fetch responses and stand still while a partition is paused (PostgreSQL down, a retry backing
 * off), which is when the lag matters most.
 *
 * The committed side moves inside our Kafka transactions (send_offsets_to_transaction): the producer
 * commits it, and the consumer (its statistics' committed_offset included) never learns it. So the
 * broker is asked once per assignment (rd_kafka_committed) and every commit of ours is added
 * (lag_committed); the larger one counts, since committed offsets only move forward. A partition with
 * no committed offset is read from its start (auto.offset.reset=earliest): the lag counts from the
 * log start offset then.
 *
 * Threads: the loop (lag_committed, lag_forget, lag_publish) and the query thread share the table
 * under a mutex that is never held across a librdkafka call. A generation number drops what a query
 * learnt about partitions that were revoked while it ran.
 */
#include "lag.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "metrics.h"

#define LAG_QUERY_TIMEOUT_MS 500 /* one broker query; a stop waits for at most one */
#define LAG_LOG_INTERVAL_NS (60ULL * 1000000000ULL)

struct lag_part {
	char topic[METRICS_TOPIC_MAX];
	int32_t partition;
	int64_t end;       /* last stable offset, -1 until known */
	int64_t start;     /* log start offset, -1 until known (needed only without a committed offset) */
	int64_t committed; /* next offset to consume, -1 until known */
	int base_known;    /* the broker answered for its committed offset (or our commit is known) */
	int no_commit;     /* the broker has no committed offset for it: consumption starts at `start` */
};

struct lag {
	rd_kafka_t *consumer;
	int interval_ms;
	uv_thread_t thread;
	int started, joined;
	uv_mutex_t lock;
	uv_cond_t wake;
	/* under lock */
	int stop;
	uint64_t gen;
	struct lag_part *parts;
	size_t n, cap;
	struct log_repeat log; /* query thread only */
};

static struct lag_part *find(struct lag *l, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->parts[i].partition == partition && strcmp(l->parts[i].topic, topic) == 0)
			return &l->parts[i];
	return NULL;
}

/*
 * Under lock: makes the table the assignment (entries of partitions no longer
 * assigned go, new ones come in unknown). Returns 0, or -1 when out of memory.
 */
static int sync_assignment(struct lag *l, const rd_kafka_topic_partition_list_t *assigned)
{
	size_t keep = 0;
	for (size_t i = 0; i < l->n; i++) {
		int still = 0;
		for (int j = 0; j < assigned->cnt && !still; j++)
			still = assigned->elems[j].partition == l->parts[i].partition &&
				strcmp(assigned->elems[j].topic, l->parts[i].topic) == 0;
		if (still)
			l->parts[keep++] = l->parts[i];
	}
	l->n = keep;
	for (int j = 0; j < assigned->cnt; j++) {
		const rd_kafka_topic_partition_t *tp = &assigned->elems[j];
		if (find(l, tp->topic, tp->partition) || strlen(tp->topic) >= METRICS_TOPIC_MAX)
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 16;
			struct lag_part *np = realloc(l->parts, cap * sizeof(*np));
			if (!np)
				return -1;
			l->parts = np;
			l->cap = cap;
		}
		struct lag_part *p = &l->parts[l->n++];
		memset(p, 0, sizeof(*p));
		strcpy(p->topic, tp->topic);
		p->partition = tp->partition;
		p->end = p->start = p->committed = -1;
	}
	return 0;
}

/* Query thread: lag_stop() was called; checked before each call, so that a stop waits for one at most. */
static int stopping(struct lag *l)
{
	uv_mutex_lock(&l->lock);
	int stop = l->stop;
	uv_mutex_unlock(&l->lock);
	return stop;
}

/* Logs a failed query once, then again only when it changes or a minute passed (query thread). */
static void query_failed(struct lag *l, const char *what, rd_kafka_resp_err_t err)
{
	char line[200];
	uint64_t repeats;
	snprintf(line, sizeof(line), "%s: %s", what, rd_kafka_err2str(err));
	if (log_repeat_hit(&l->log, line, uv_hrtime(), LAG_LOG_INTERVAL_NS, &repeats))
		log_debug("consumer lag not refreshed; the last figures stay", "error", line);
}

/*
 * The partitions of parts, each with offset off (a ListOffsets "timestamp":
 * END, BEGINNING), and nothing else: a copy of a list rd_kafka_committed()
 * answered keeps its per-partition errors and metadata, and
 * rd_kafka_offsets_for_times() on such a copy timed out every time.
 */
static rd_kafka_topic_partition_list_t *with_offsets(const rd_kafka_topic_partition_list_t *parts, int64_t off)
{
	rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt > 0 ? parts->cnt : 1);
	for (int i = 0; i < parts->cnt; i++)
		rd_kafka_topic_partition_list_add(q, parts->elems[i].topic, parts->elems[i].partition)->offset = off;
	return q;
}

/*
 * Query thread, one round: the assignment, its end offsets, and the
 * committed offsets (and, without one, the log start) of the partitions not
 * known yet. Blocking; the lock is not held across the calls.
 */
static void lag_round(struct lag *l)
{
	rd_kafka_topic_partition_list_t *assigned = NULL, *ends = NULL, *need = NULL, *starts = NULL;
	int have_committed = 0;
	rd_kafka_resp_err_t err = rd_kafka_assignment(l->consumer, &assigned);
	if (err) {
		query_failed(l, "assignment", err);
		return;
	}
	uv_mutex_lock(&l->lock);
	uint64_t gen = l->gen;
	int oom = sync_assignment(l, assigned);
	need = rd_kafka_topic_partition_list_new(assigned->cnt > 0 ? assigned->cnt : 1);
	for (size_t i = 0; i < l->n; i++)
		if (!l->parts[i].base_known)
			rd_kafka_topic_partition_list_add(need, l->parts[i].topic, l->parts[i].partition)->offset =
				RD_KAFKA_OFFSET_INVALID;
	uv_mutex_unlock(&l->lock);
	if (oom || assigned->cnt == 0 || stopping(l))
		goto done;

	ends = with_offsets(assigned, RD_KAFKA_OFFSET_END);
	if ((err = rd_kafka_offsets_for_times(l->consumer, ends, LAG_QUERY_TIMEOUT_MS))) {
		query_failed(l, "end offsets", err);
		rd_kafka_topic_partition_list_destroy(ends);
		ends = NULL;
	}
	if (need->cnt > 0 && !stopping(l)) {
		if ((err = rd_kafka_committed(l->consumer, need, LAG_QUERY_TIMEOUT_MS))) {
			/* e.g. UNSTABLE_OFFSET_COMMIT: a dead owner's transaction is still open. Next round. */
			query_failed(l, "committed offsets", err);
		} else {
			have_committed = 1;
			/*
			 * The log start of each partition without a committed offset, one
			 * watermark query each: rd_kafka_offsets_for_times() asked for
			 * BEGINNING after a rebalance timed out every round.
			 */
			starts = with_offsets(need, RD_KAFKA_OFFSET_INVALID);
			for (int i = 0; i < need->cnt && !stopping(l); i++) {
				int64_t low, high;
				if (need->elems[i].err || need->elems[i].offset >= 0)
					continue;
				err = rd_kafka_query_watermark_offsets(l->consumer, need->elems[i].topic,
								       need->elems[i].partition, &low, &high,
								       LAG_QUERY_TIMEOUT_MS);
				if (err)
					query_failed(l, "start offsets", err);
				else
					starts->elems[i].offset = low;
			}
		}
	}

	uv_mutex_lock(&l->lock);
	if (gen == l->gen) { /* no revocation meanwhile */
		for (int i = 0; ends && i < ends->cnt; i++) {
			struct lag_part *p = find(l, ends->elems[i].topic, ends->elems[i].partition);
			if (p && !ends->elems[i].err && ends->elems[i].offset >= 0)
				p->end = ends->elems[i].offset;
		}
		for (int i = 0; have_committed && i < need->cnt; i++) {
			const rd_kafka_topic_partition_t *c = &need->elems[i];
			struct lag_part *p = find(l, c->topic, c->partition);
			if (!p || c->err)
				continue;
			if (c->offset >= 0) {
				p->committed = c->offset > p->committed ? c->offset : p->committed;
				p->base_known = 1;
			} else if (starts && starts->elems[i].offset >= 0) {
				p->no_commit = 1; /* read from the start (auto.offset.reset=earliest) */
				p->start = starts->elems[i].offset;
				p->base_known = 1;
			}
		}
	}
	uv_mutex_unlock(&l->lock);
	if (ends && (need->cnt == 0 || have_committed)) {
		uint64_t lasted;
		log_repeat_end(&l->log, uv_hrtime(), &lasted);
	}

done:
	rd_kafka_topic_partition_list_destroy(assigned);
	rd_kafka_topic_partition_list_destroy(need);
	if (ends)
		rd_kafka_topic_partition_list_destroy(ends);
	if (starts)
		rd_kafka_topic_partition_list_destroy(starts);
}

static void lag_thread(void *arg)
{
	struct lag *l = arg;
	uv_mutex_lock(&l->lock);
	while (!l->stop) {
		uv_cond_timedwait(&l->wake, &l->lock, (uint64_t)l->interval_ms * 1000000ULL);
		if (l->stop)
			break;
		uv_mutex_unlock(&l->lock);
		lag_round(l);
		uv_mutex_lock(&l->lock);
	}
	uv_mutex_unlock(&l->lock);
}

struct lag *lag_create(rd_kafka_t *consumer, int interval_ms)
{
	struct lag *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->consumer = consumer;
	l->interval_ms = interval_ms;
	if (uv_mutex_init(&l->lock) != 0)
		goto failed;
	if (uv_cond_init(&l->wake) != 0) {
		uv_mutex_destroy(&l->lock);
		goto failed;
	}
	if (uv_thread_create(&l->thread, lag_thread, l) != 0) {
		uv_cond_destroy(&l->wake);
		uv_mutex_destroy(&l->lock);
		goto failed;
	}
	l->started = 1;
	return l;

failed:
	free(l);
	return NULL;
}

void lag_committed(struct lag *l, const rd_kafka_topic_partition_list_t *offsets)
{
	uv_mutex_lock(&l->lock);
	for (int i = 0; offsets && i < offsets->cnt; i++) {
		struct lag_part *p = find(l, offsets->elems[i].topic, offsets->elems[i].partition);
		if (p && offsets->elems[i].offset > p->committed) {
			p->committed = offsets->elems[i].offset;
			p->base_known = 1;
		}
	}
	uv_mutex_unlock(&l->lock);
}

void lag_forget(struct lag *l)
{
	uv_mutex_lock(&l->lock);
	l->gen++;
	l->n = 0;
	uv_mutex_unlock(&l->lock);
}

void lag_publish(struct lag *l)
{
	uv_mutex_lock(&l->lock);
	if (metrics.lag_cap < l->n) {
		struct metrics_lag *nl = realloc(metrics.lag, l->n * sizeof(*nl));
		if (!nl) {
			uv_mutex_unlock(&l->lock);
			return; /* the last published figures stay */
		}
		metrics.lag = nl;
		metrics.lag_cap = l->n;
	}
	metrics.lag_n = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct lag_part *p = &l->parts[i];
		int64_t base = p->committed >= 0 ? p->committed : p->no_commit ? p->start : -1;
		if (p->end < 0 || base < 0)
			continue; /* not known yet: no series rather than a wrong one */
		struct metrics_lag *m = &metrics.lag[metrics.lag_n++];
		memcpy(m->topic, p->topic, sizeof(m->topic));
		m->partition = p->partition;
		m->messages = p->end > base ? p->end - base : 0;
	}
	uv_mutex_unlock(&l->lock);
}

void lag_stop(struct lag *l)
{
	uv_mutex_lock(&l->lock);
	l->stop = 1;
	uv_cond_signal(&l->wake);
	uv_mutex_unlock(&l->lock);
}

void lag_join(struct lag *l)
{
	if (!l->started || l->joined)
		return;
	lag_stop(l);
	uv_thread_join(&l->thread);
	l->joined = 1;
}

void lag_free(struct lag *l)
{
	if (!l)
		return;
	lag_join(l);
	uv_cond_destroy(&l->wake);
	uv_mutex_destroy(&l->lock);
	free(l->parts);
	free(metrics.lag); /* lag_publish's: the series go with their source */
	metrics.lag = NULL;
	metrics.lag_n = metrics.lag_cap = 0;
	free(l);
}
