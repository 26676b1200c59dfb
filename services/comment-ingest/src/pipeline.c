/* pipeline.c - the batch path: collect, decide, store in PostgreSQL, then commit outputs and offsets in Kafka.
 *
 * Three stages, each holding at most one batch, read top-down:
 *   collecting
 *     pipeline_pump      poll the consumer; batch_take decodes, normalizes, validates and triages each message
 *   deciding (the front)
 *     batch_run          the collected batch moves on as soon as the front is free
 *     batch_looked_up    known comment_ids are replays or duplicates; history rules finish the new ones
 *     batch_stored       PostgreSQL committed: match rows (new, replay or duplicate)
 *   committing
 *     batch_commit       off the loop: build the events from the stored rows, then one Kafka
 *                        transaction with the events and the offsets
 *     batch_committed    count the outcomes; the front's next batch may commit now
 * While batch N commits in Kafka, batch N+1 is decided and stored and batch
 * N+2 is decoded, so the stages overlap. N+1 is looked up after N's PostgreSQL
 * commit, so it sees N's rows, and Kafka transactions commit in batch order.
 * A batch moves on when the stage ahead is free, so batches grow with the load.
 *
 * A failure of any batch rewinds the consumer, once no stage is busy, to the
 * first offsets of every batch not committed in Kafka; the replay rule in
 * batch_stored makes the retry produce the same output.
 */
#include "pipeline.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "log.h"
#include "metrics.h"
#include "text.h"

#define RETRY_DELAY_MS 500

enum pstate {
	P_INIT,      /* initializing transactions (off the loop) */
	P_RUNNING,   /* the stages below are working */
	P_REWINDING, /* seeking back after a failure (off the loop) */
	P_CLOSING,   /* leaving the group (off the loop) */
	P_CLOSED,
};

enum front_state {
	F_DECIDING, /* a PostgreSQL request is in flight */
	F_WAITING,  /* stored; waits for the Kafka stage to be free */
	F_FAILED,   /* its step failed; kept for its offsets until the rewind */
};

enum slot_result { RES_PENDING, RES_PUBLISHED, RES_HELD, RES_REJECTED, RES_DUPLICATE };

/* One consumed message and what became of it. */
struct slot {
	int32_t partition; /* where the message was read from (of cfg->topic_submitted) */
	int64_t offset;
	char *payload;     /* a copy of the message's value: a rejection carries it */
	size_t len;
	char *key;         /* a copy of the message's key, to key a rejection that has no article_id */
	size_t key_len;
	struct comment c;
	struct verdict v;
	enum slot_result result;
	int replay;
	char md5[33];    /* fingerprint of the normalized body */
	PGresult *rows;  /* one of the batch's rows_res, holding its stored row (published or held), or NULL */
	int row;
	char *event;     /* output value, or NULL */
	char *event_key; /* article_id of a stored comment */
};

enum phase { PH_RUN, PH_LOOKED_UP, PH_STORED, PH_TX_START, PH_COMMITTED, PH__COUNT };

/* One batch: its messages, what the rules and PostgreSQL made of them, and its Kafka transaction. */
struct batch {
	struct pipeline *p;
	struct slot *slots;
	size_t n, cap;
	uint64_t first_ns;
	uint64_t phase_ns[PH__COUNT];
	struct store_lookup lookup;
	size_t *lookup_slot; /* lookup row -> slot index */
	struct store_rows rows;
	PGresult *rows_res[2]; /* the stored rows its events are built from, off the loop */
	struct kafka_out *out;
	size_t nout;
	rd_kafka_topic_partition_list_t *commit_offsets; /* next offset per partition */
	rd_kafka_topic_partition_list_t *first_offsets;  /* where a replay starts */
	uv_work_t work;                                   /* its Kafka transaction */
	int work_result;
	char work_err[512];
};

struct pipeline {
	uv_loop_t *loop;
	const struct config *cfg;
	struct rules rules;
	struct kafka *kafka;
	struct store *store;
	enum pstate state;
	int stopping;
	int exit_status;
	int fault_paused;
	int failed; /* a batch failed: rewind once neither stage is busy */
	int fatal;  /* the producer cannot go on: close once neither stage is busy */
	int revoking; /* partitions are revoked: poll no more; release them once no batch is in flight */
	pipeline_stopped_cb stopped_cb;
	void *arg;

	struct batch batches[3];
	struct batch *collect; /* the batch being collected (maybe empty) */
	struct batch *front;   /* the batch being decided and stored, or NULL */
	enum front_state front_state;
	struct batch *tx; /* the batch whose Kafka transaction is in flight, or NULL */

	uv_timer_t timer; /* BATCH_MAX_WAIT_MS, or the delay before a retry */
	uv_work_t work;   /* init, rewind and shutdown */
	rd_kafka_topic_partition_list_t *rewind_offsets;
	int work_result;
	char work_err[512];
};

static void pipeline_pump(struct pipeline *p);
static void pipeline_settle(struct pipeline *p);
static void batch_run(struct pipeline *p);
static void track_offsets(rd_kafka_topic_partition_list_t *commit, rd_kafka_topic_partition_list_t *first,
			  const char *topic, int32_t partition, int64_t offset);
static int slot_reject(struct batch *b, struct slot *s);
static void front_fail(struct pipeline *p, const char *why);
static void pipeline_fail(struct pipeline *p, const char *why);
static void pipeline_rewind(struct pipeline *p);
static void pipeline_close(struct pipeline *p);

/* ---- batch memory --------------------------------------------------------------------------- */

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		free(s->payload);
		free(s->key);
		comment_clear(&s->c);
		free(s->event);
		free(s->event_key);
	}
	b->n = 0;
	b->nout = 0;
	for (int i = 0; i < 2; i++) {
		PQclear(b->rows_res[i]);
		b->rows_res[i] = NULL;
	}
	memset(b->phase_ns, 0, sizeof(b->phase_ns));
	store_lookup_reset(&b->lookup);
	store_rows_reset(&b->rows);
	if (b->commit_offsets)
		rd_kafka_topic_partition_list_destroy(b->commit_offsets);
	if (b->first_offsets)
		rd_kafka_topic_partition_list_destroy(b->first_offsets);
	b->commit_offsets = b->first_offsets = NULL;
}

static void batch_free(struct batch *b)
{
	batch_clear(b);
	store_rows_free(&b->rows);
	store_lookup_free(&b->lookup);
	free(b->slots);
	free(b->out);
	free(b->lookup_slot);
	b->slots = NULL;
	b->out = NULL;
	b->lookup_slot = NULL;
	b->cap = 0;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Adds a consumed message to the collecting batch and decodes it at once,
 * while the stages ahead are busy with earlier batches. A well-formed comment
 * meets the content rules now and joins the batch's lookup (the verdict
 * counts only if the lookup finds it new); a malformed one is rejected now.
 * The batch keeps copies of what it needs and destroys m at once: a consumed
 * message pins its whole fetch response in memory. Returns 0, or -1 when out
 * of memory (its offset is tracked all the same, for the rewind).
 */
static int batch_take(struct batch *b, rd_kafka_message_t *m)
{
	int rc = -1;
	if (!b->commit_offsets) {
		b->commit_offsets = rd_kafka_topic_partition_list_new(8);
		b->first_offsets = rd_kafka_topic_partition_list_new(8);
	}
	track_offsets(b->commit_offsets, b->first_offsets, b->p->cfg->topic_submitted, m->partition, m->offset);
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct slot *ns = realloc(b->slots, cap * sizeof(*ns));
		struct kafka_out *no = realloc(b->out, cap * sizeof(*no));
		size_t *nl = realloc(b->lookup_slot, cap * sizeof(*nl));
		if (ns)
			b->slots = ns;
		if (no)
			b->out = no;
		if (nl)
			b->lookup_slot = nl;
		if (!ns || !no || !nl)
			goto failed;
		b->cap = cap;
	}
	size_t i = b->n++;
	struct slot *s = &b->slots[i];
	memset(s, 0, sizeof(*s));
	s->partition = m->partition;
	s->offset = m->offset;
	s->len = m->len;
	s->payload = malloc(m->len + 1);
	if (!s->payload)
		goto failed;
	if (m->len)
		memcpy(s->payload, m->payload, m->len);
	s->payload[m->len] = '\0';
	if (b->n == 1)
		b->first_ns = uv_hrtime();
	if (comment_decode(s->payload, s->len, &s->c, &s->v) == OUTCOME_REJECT) {
		/* A rejection without an article_id is keyed by the input key, unless that is oversized. */
		if (!s->c.article_id && m->key_len && m->key_len <= EVENTS_KEY_MAX) {
			if (!(s->key = malloc(m->key_len)))
				goto failed;
			memcpy(s->key, m->key, m->key_len);
			s->key_len = m->key_len;
		}
		rc = slot_reject(b, s);
	} else {
		rules_triage(&b->p->rules, &s->c, now_us(), &s->v);
		b->lookup_slot[b->lookup.count] = i;
		rc = text_md5_hex(s->c.body, strlen(s->c.body), s->md5) || store_lookup_add(&b->lookup, &s->c, s->md5)
			     ? -1
			     : 0;
	}
failed:
	rd_kafka_message_destroy(m);
	return rc;
}

/* The batch that has no stage. */
static struct batch *batch_spare(struct pipeline *p)
{
	for (int i = 0;; i++)
		if (&p->batches[i] != p->collect && &p->batches[i] != p->front && &p->batches[i] != p->tx)
			return &p->batches[i];
}

/* Drops every batch: after a rewind, or when the producer cannot go on. */
static void pipeline_drop_batches(struct pipeline *p)
{
	for (int i = 0; i < 3; i++)
		batch_clear(&p->batches[i]);
	p->front = NULL;
}

/* ---- collecting ----------------------------------------------------------------------------- */

static void timer_pump_cb(uv_timer_t *t)
{
	pipeline_pump(t->data);
}

/*
 * Polls the consumer into the collecting batch (up to BATCH_MAX_MESSAGES),
 * and hands that batch to the front when the front is free: at once, or when
 * it is full or BATCH_MAX_WAIT_MS old. While stopping it takes no new work;
 * it leaves once no batch is in flight. After a revocation it polls nothing
 * until the batches in flight have committed, with the offsets of the group
 * generation that read them; then it releases the partitions.
 */
static void pipeline_pump(struct pipeline *p)
{
	if (p->state != P_RUNNING || p->failed || p->fatal)
		return;
	struct batch *b = p->collect;
	size_t max = (size_t)p->cfg->batch_max_messages;
again:
	if (p->revoking) {
		if (p->front || p->tx)
			return;
		p->revoking = 0;
		kafka_revoke_done(p->kafka);
	}
	while (!p->stopping && !p->revoking && b->n < max) {
		rd_kafka_message_t *m = kafka_poll(p->kafka);
		if (!m)
			break;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("kafka consume error", "error", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		if (batch_take(b, m)) {
			log_error("out of memory collecting a batch");
			pipeline_fail(p, "out of memory collecting a batch");
			return;
		}
	}
	if (p->state != P_RUNNING || p->failed)
		return; /* kafka_poll served an error */
	if (p->revoking)
		goto again; /* kafka_poll served a revocation */
	if (p->front)
		return; /* the front's batch moves on first, then this one follows */
	if (b->n == 0) {
		if (p->stopping && !p->tx)
			pipeline_close(p);
		return;
	}
	if (!store_is_ready(p->store))
		return; /* store_state pumps once PostgreSQL is ready */
	uint64_t wait_ns = (uint64_t)p->cfg->batch_max_wait_ms * 1000000, age = uv_hrtime() - b->first_ns;
	if (p->stopping || b->n >= max || age >= wait_ns)
		batch_run(p);
	else if (!uv_is_active((uv_handle_t *)&p->timer))
		uv_timer_start(&p->timer, timer_pump_cb, (wait_ns - age) / 1000000 + 1, 0);
}

static void kafka_event(struct kafka *k, enum kafka_event ev, void *arg)
{
	(void)k;
	struct pipeline *p = arg;
	switch (ev) {
	case KAFKA_READABLE:
		pipeline_pump(p);
		break;
	case KAFKA_ASSIGNED:
		break;
	case KAFKA_REVOKED:
		/* What was collected is not stored: its offsets stay where they are, for the new owner. */
		if (p->collect->n > 0) {
			log_info("dropping the collected batch of revoked partitions");
			uv_timer_stop(&p->timer);
			batch_clear(p->collect);
		}
		p->revoking = 1; /* pipeline_pump releases the partitions */
		break;
	}
}

static void store_state(struct store *s, int ready, void *arg)
{
	(void)s;
	struct pipeline *p = arg;
	if (!ready && !p->fault_paused) {
		p->fault_paused = 1;
		metrics.pauses++;
		kafka_pause(p->kafka, 1);
	} else if (ready && p->fault_paused) {
		p->fault_paused = 0;
		kafka_pause(p->kafka, 0);
	}
	if (ready)
		pipeline_pump(p); /* a batch may be waiting for PostgreSQL */
	else
		metrics.pg_reconnects++;
}

/* ---- deciding ------------------------------------------------------------------------------- */

/* Records the partition's next offset (commit) and first offset (replay) for a message. */
static void track_offsets(rd_kafka_topic_partition_list_t *commit, rd_kafka_topic_partition_list_t *first,
			  const char *topic, int32_t partition, int64_t offset)
{
	if (commit) {
		rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(commit, topic, partition);
		if (!c)
			rd_kafka_topic_partition_list_add(commit, topic, partition)->offset = offset + 1;
		else if (offset + 1 > c->offset)
			c->offset = offset + 1;
	}
	rd_kafka_topic_partition_t *f = rd_kafka_topic_partition_list_find(first, topic, partition);
	if (!f)
		rd_kafka_topic_partition_list_add(first, topic, partition)->offset = offset;
	else if (offset < f->offset)
		f->offset = offset;
}

/* True when a stored row's source coordinates (as PostgreSQL's text) are this slot's message: a replay. */
static int slot_is_source(const struct batch *b, const struct slot *s, const char *topic, const char *partition,
			  const char *offset)
{
	return strtol(partition, NULL, 10) == s->partition && strtoll(offset, NULL, 10) == s->offset &&
	       strcmp(topic, b->p->cfg->topic_submitted) == 0;
}

/* Rejects a slot with the verdict's reason; its event is built now. */
static int slot_reject(struct batch *b, struct slot *s)
{
	struct source src = {b->p->cfg->topic_submitted, s->partition, s->offset};
	s->result = RES_REJECTED;
	s->event = events_rejected(&src, s->payload, s->len, &s->c, &s->v);
	return s->event ? 0 : -1;
}

/* Adds a slot's comment to the rows to store, as published or pending with its reasons. */
static int slot_store(struct batch *b, struct slot *s)
{
	int held = s->v.outcome == OUTCOME_HOLD;
	char *reasons = held ? events_hold_reasons(&s->v) : NULL;
	int rc = store_rows_add(&b->rows, &s->c, held ? "pending" : "published", reasons ? reasons : "[]",
				b->p->cfg->topic_submitted, s->partition, s->offset);
	free(reasons);
	s->result = RES_PENDING;
	return rc;
}

static void batch_looked_up(struct store *st, const char *err, PGresult **res, void *arg);
static void batch_stored(struct store *st, const char *err, PGresult **res, void *arg);
static void batch_ready(struct pipeline *p);

/* The collected batch becomes the front's: its new comments are looked up before the rules decide them. */
static void batch_run(struct pipeline *p)
{
	struct batch *b = p->collect;
	uv_timer_stop(&p->timer);
	p->front = b;
	p->front_state = F_DECIDING;
	p->collect = batch_spare(p);
	b->phase_ns[PH_RUN] = uv_hrtime();
	b->lookup.rate_window_s = p->rules.rate_window_s;
	b->lookup.duplicate_window_s = p->rules.duplicate_window_s;
	if (b->lookup.count == 0)
		batch_ready(p);
	else if (store_lookup(p->store, &b->lookup, batch_looked_up) != 0)
		front_fail(p, "postgres unavailable");
}

/*
 * The new comments of a batch decided so far, by comment_id and by author:
 * what a later comment of the same batch adds to its history, and whether its
 * comment_id is already going to be stored. Hash tables, because a batch of
 * 1,000 compared pairwise cost a tenth of the loop's time.
 */
struct seen {
	size_t mask;
	size_t *by_id;     /* slot + 1, open addressing on comment_id */
	size_t *by_author; /* slot + 1 of the author's latest new comment, open addressing on author_id */
	size_t *prev;      /* per slot: slot + 1 of the same author's previous new comment */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int seen_init(struct seen *t, size_t nslots, size_t count)
{
	size_t cap = 16;
	while (cap < 2 * count)
		cap *= 2;
	t->mask = cap - 1;
	t->by_id = calloc(cap, sizeof(size_t));
	t->by_author = calloc(cap, sizeof(size_t));
	t->prev = calloc(nslots ? nslots : 1, sizeof(size_t));
	return t->by_id && t->by_author && t->prev ? 0 : -1;
}

static void seen_free(struct seen *t)
{
	free(t->by_id);
	free(t->by_author);
	free(t->prev);
}

/* The table entry for comment_id (field 0) or author_id (field 1): a slot + 1, or the empty entry to fill. */
static size_t *seen_find(const struct seen *t, const struct batch *b, int field, const char *key)
{
	size_t *tab = field ? t->by_author : t->by_id;
	for (size_t i = hash_str(key) & t->mask;; i = (i + 1) & t->mask) {
		if (!tab[i])
			return &tab[i];
		const struct comment *c = &b->slots[tab[i] - 1].c;
		if (strcmp(field ? c->author_id : c->comment_id, key) == 0)
			return &tab[i];
	}
}

/* Records slot as a new comment of the batch. */
static void seen_add(struct seen *t, const struct batch *b, size_t slot)
{
	const struct comment *c = &b->slots[slot].c;
	size_t *id = seen_find(t, b, 0, c->comment_id);
	if (!*id)
		*id = slot + 1;
	size_t *author = seen_find(t, b, 1, c->author_id);
	t->prev[slot] = *author;
	*author = slot + 1;
}

/* What earlier new comments of this batch add to a comment's history. */
static void seen_history(const struct seen *t, const struct batch *b, size_t slot, struct history *h)
{
	const struct slot *s = &b->slots[slot];
	for (size_t e = *seen_find(t, b, 1, s->c.author_id); e; e = t->prev[e - 1]) {
		const struct slot *earlier = &b->slots[e - 1];
		h->author_has_comments = 1;
		h->author_recent++;
		if (strcmp(earlier->c.article_id, s->c.article_id) == 0 && strcmp(earlier->md5, s->md5) == 0)
			h->duplicate_content = 1;
	}
}

/*
 * A comment_id stored from these coordinates is a replay: it goes through
 * unchanged, whatever the rules say now. From other coordinates it is a
 * duplicate. Only new comments get their content verdict and meet the history rules.
 */
static void batch_looked_up(struct store *st, const char *err, PGresult **res, void *arg)
{
	(void)st;
	struct pipeline *p = arg;
	struct batch *b = p->front;
	if (err || p->failed || p->fatal) {
		front_fail(p, err ? err : "an earlier batch failed");
		return;
	}
	PGresult *r = res[0];
	struct seen seen;
	b->phase_ns[PH_LOOKED_UP] = uv_hrtime();
	if (PQntuples(r) != b->lookup.count) {
		front_fail(p, "lookup returned the wrong number of rows");
		return;
	}
	if (seen_init(&seen, b->n, (size_t)b->lookup.count)) {
		seen_free(&seen);
		front_fail(p, "out of memory deciding a batch");
		return;
	}
	for (int k = 0; k < PQntuples(r); k++) {
		struct slot *s = &b->slots[b->lookup_slot[k]];
		int rc;
		if (!PQgetisnull(r, k, LKO_SOURCE_TOPIC)) {
			if (!slot_is_source(b, s, PQgetvalue(r, k, LKO_SOURCE_TOPIC), PQgetvalue(r, k, LKO_SOURCE_PARTITION),
					    PQgetvalue(r, k, LKO_SOURCE_OFFSET))) {
				s->result = RES_DUPLICATE;
				continue;
			}
			rc = slot_store(b, s); /* a replay: the stored row decides its event */
		} else if (*seen_find(&seen, b, 0, s->c.comment_id)) {
			s->result = RES_DUPLICATE; /* the front end sent it twice within this batch */
			continue;
		} else {
			struct history h = {
				.author_has_comments = PQgetvalue(r, k, LKO_AUTHOR_HAS_COMMENTS)[0] == 't',
				.author_recent = (int)strtol(PQgetvalue(r, k, LKO_AUTHOR_RECENT), NULL, 10),
				.duplicate_content = PQgetvalue(r, k, LKO_DUPLICATE_CONTENT)[0] == 't',
			};
			seen_history(&seen, b, b->lookup_slot[k], &h);
			if (rules_apply_history(&p->rules, &h, &s->v) == OUTCOME_REJECT) {
				rc = slot_reject(b, s);
			} else {
				seen_add(&seen, b, b->lookup_slot[k]);
				rc = slot_store(b, s);
			}
		}
		if (rc) {
			seen_free(&seen);
			front_fail(p, "out of memory deciding a batch");
			return;
		}
	}
	seen_free(&seen);
	if (b->rows.count == 0)
		batch_ready(p);
	else if (store_submit(p->store, &b->rows, batch_stored) != 0)
		front_fail(p, "postgres unavailable");
}

/* ---- matching stored rows ------------------------------------------------------------------- */

struct row_index {
	PGresult *res;
	int col;
	int *order; /* row numbers sorted by comment_id */
	int n;
};

static PGresult *sort_res;
static int sort_col;

static int cmp_rows(const void *a, const void *b)
{
	return strcmp(PQgetvalue(sort_res, *(const int *)a, sort_col), PQgetvalue(sort_res, *(const int *)b, sort_col));
}

static int index_build(struct row_index *ix, PGresult *res, int col)
{
	ix->res = res;
	ix->col = col;
	ix->n = PQntuples(res);
	ix->order = malloc(sizeof(int) * (size_t)(ix->n ? ix->n : 1));
	if (!ix->order)
		return -1;
	for (int i = 0; i < ix->n; i++)
		ix->order[i] = i;
	sort_res = res; /* loop thread only */
	sort_col = col;
	qsort(ix->order, (size_t)ix->n, sizeof(int), cmp_rows);
	return 0;
}

/* The row number holding comment_id, or -1. */
static int index_find(const struct row_index *ix, const char *comment_id)
{
	int lo = 0, hi = ix->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(comment_id, PQgetvalue(ix->res, ix->order[mid], ix->col));
		if (c == 0)
			return ix->order[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

static void row_to_stored(PGresult *r, int i, struct stored_comment *sc)
{
	sc->comment_id = PQgetvalue(r, i, OUT_COMMENT_ID);
	sc->article_id = PQgetvalue(r, i, OUT_ARTICLE_ID);
	sc->author_id = PQgetvalue(r, i, OUT_AUTHOR_ID);
	sc->display_name = PQgetvalue(r, i, OUT_DISPLAY_NAME);
	sc->parent_id = PQgetisnull(r, i, OUT_PARENT_ID) ? NULL : PQgetvalue(r, i, OUT_PARENT_ID);
	sc->body = PQgetvalue(r, i, OUT_BODY);
	sc->status = PQgetvalue(r, i, OUT_STATUS);
	sc->reasons = PQgetvalue(r, i, OUT_REASONS);
	sc->submitted_at = PQgetvalue(r, i, OUT_SUBMITTED_AT);
	sc->accepted_at = PQgetvalue(r, i, OUT_ACCEPTED_AT);
	sc->source.topic = PQgetvalue(r, i, OUT_SOURCE_TOPIC);
	sc->source.partition = (int32_t)strtol(PQgetvalue(r, i, OUT_SOURCE_PARTITION), NULL, 10);
	sc->source.offset = strtoll(PQgetvalue(r, i, OUT_SOURCE_OFFSET), NULL, 10);
}

/*
 * PostgreSQL committed. For each comment: inserted now -> its event will be
 * built from the row; stored before from this message's coordinates -> a
 * replay, the same; from other coordinates -> a duplicate.
 */
static void batch_stored(struct store *st, const char *err, PGresult **res, void *arg)
{
	(void)st;
	struct pipeline *p = arg;
	struct batch *b = p->front;
	struct row_index fresh = {0}, earlier = {0};
	if (err || p->failed || p->fatal) {
		front_fail(p, err ? err : "an earlier batch failed");
		return;
	}
	PGresult *inserted = res[0], *before = res[1];
	b->phase_ns[PH_STORED] = uv_hrtime();
	if (index_build(&fresh, inserted, OUT_COMMENT_ID) || index_build(&earlier, before, OUT_COMMENT_ID)) {
		err = "out of memory matching rows";
		goto failed;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		if (s->result != RES_PENDING)
			continue;
		PGresult *rows = inserted;
		int r = index_find(&fresh, s->c.comment_id);
		if (r < 0) {
			rows = before;
			r = index_find(&earlier, s->c.comment_id);
			if (r < 0) {
				err = "a stored comment was not found";
				goto failed;
			}
			if (!slot_is_source(b, s, PQgetvalue(rows, r, OUT_SOURCE_TOPIC),
					    PQgetvalue(rows, r, OUT_SOURCE_PARTITION), PQgetvalue(rows, r, OUT_SOURCE_OFFSET))) {
				s->result = RES_DUPLICATE;
				continue;
			}
			s->replay = 1;
		}
		s->rows = rows;
		s->row = r;
		s->result = strcmp(PQgetvalue(rows, r, OUT_STATUS), "pending") == 0 ? RES_HELD : RES_PUBLISHED;
	}
	free(fresh.order);
	free(earlier.order);
	for (int i = 0; i < 2; i++) {
		b->rows_res[i] = res[i];
		res[i] = NULL; /* now owned by the batch: its events are built off the loop */
	}
	batch_ready(p);
	return;

failed:
	free(fresh.order);
	free(earlier.order);
	front_fail(p, err);
}

/* ---- committing ----------------------------------------------------------------------------- */

#define BUILD_FAILED 1 /* a work_result beside enum kafka_tx_result: no transaction was begun */

/*
 * Worker thread: builds the events of the stored comments from their rows,
 * lists every output message, and commits them with the offsets in one
 * Kafka transaction. The loop does not touch this batch meanwhile.
 */
static void commit_work(uv_work_t *w)
{
	struct batch *b = w->data;
	const struct config *cfg = b->p->cfg;
	b->work_err[0] = '\0';
	b->nout = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		if (s->rows) {
			struct stored_comment sc;
			int held;
			row_to_stored(s->rows, s->row, &sc);
			s->event = events_stored(&sc, &held);
			s->event_key = strdup(sc.article_id);
			if (!s->event || !s->event_key) {
				snprintf(b->work_err, sizeof(b->work_err), "out of memory building events");
				b->work_result = BUILD_FAILED;
				return;
			}
		}
		if (!s->event)
			continue;
		struct kafka_out *o = &b->out[b->nout++];
		o->value = s->event;
		o->value_len = strlen(s->event);
		if (s->result == RES_REJECTED) {
			o->topic = cfg->topic_rejected;
			o->key = s->c.article_id ? s->c.article_id : s->key;
			o->key_len = s->c.article_id ? strlen(s->c.article_id) : s->key_len;
		} else {
			o->topic = s->result == RES_HELD ? cfg->topic_moderation : cfg->topic_published;
			o->key = s->event_key;
			o->key_len = strlen(s->event_key);
		}
	}
	b->work_result = kafka_commit(b->p->kafka, b->out, b->nout, b->commit_offsets, b->work_err,
				      sizeof(b->work_err));
}

static void batch_account(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		metrics.consumed++;
		switch (s->result) {
		case RES_PUBLISHED: metrics.published++; break;
		case RES_HELD: metrics.held++; break;
		case RES_REJECTED: metrics.rejected[s->v.reject]++; break;
		case RES_DUPLICATE: metrics.duplicate++; break;
		case RES_PENDING: break;
		}
		metrics.replayed += (uint64_t)s->replay;
		if (log_enabled(LOG_DEBUG)) {
			static const char *names[] = {"pending", "published", "held", "rejected", "duplicate"};
			char coords[64];
			snprintf(coords, sizeof(coords), "%d/%lld", (int)s->partition, (long long)s->offset);
			log_debug("decided", "outcome", names[s->result], "comment_id", s->c.comment_id, "source", coords,
				  "reason", s->result == RES_REJECTED ? reason_code(s->v.reject) : NULL, "replay",
				  s->replay ? "true" : "false");
		}
	}
	metrics.batches++;
	uint64_t *ph = b->phase_ns;
	ph[PH_COMMITTED] = uv_hrtime();
	metrics_observe_batch((double)(ph[PH_COMMITTED] - b->first_ns) / 1e9);
	if (log_enabled(LOG_DEBUG)) {
		char n[16], times[160];
		snprintf(n, sizeof(n), "%zu", b->n);
		/* a phase that did not run (no new comments, nothing to store) shows as 0 */
		uint64_t look = ph[PH_LOOKED_UP] ? ph[PH_LOOKED_UP] : ph[PH_RUN];
		uint64_t store = ph[PH_STORED] ? ph[PH_STORED] : look;
		snprintf(times, sizeof(times), "collect+decode=%.1f lookup=%.1f rules+store=%.1f wait=%.1f kafka=%.1f",
			 (double)(ph[PH_RUN] - b->first_ns) / 1e6, (double)(look - ph[PH_RUN]) / 1e6,
			 (double)(store - look) / 1e6, (double)(ph[PH_TX_START] - store) / 1e6,
			 (double)(ph[PH_COMMITTED] - ph[PH_TX_START]) / 1e6);
		log_debug("batch committed", "messages", n, "ms", times);
	}
}

static void batch_committed(uv_work_t *w, int status)
{
	(void)status;
	struct batch *b = w->data;
	struct pipeline *p = b->p;
	p->tx = NULL;
	switch (b->work_result) {
	case KAFKA_TX_OK:
		batch_account(b);
		batch_clear(b);
		break;
	case BUILD_FAILED:
		pipeline_fail(p, b->work_err);
		return;
	case KAFKA_TX_ABORTED:
		metrics.tx_aborts++;
		pipeline_fail(p, b->work_err); /* b keeps its messages: their offsets join the rewind */
		return;
	default:
		log_error("kafka producer failed fatally; stopping", "error", b->work_err);
		p->fatal = 1;
		pipeline_stop(p, 1);
		return;
	}
	pipeline_settle(p);
}

/* Hands the front batch to the Kafka stage (events and one transaction, off the loop); the front collects again. */
static void batch_commit(struct pipeline *p)
{
	struct batch *b = p->front;
	b->phase_ns[PH_TX_START] = uv_hrtime();
	p->tx = b;
	p->front = NULL;
	b->work.data = b;
	uv_queue_work(p->loop, &b->work, commit_work, batch_committed);
}

/* The front batch is decided and stored: it commits now, or when the batch before it has. */
static void batch_ready(struct pipeline *p)
{
	p->front_state = F_WAITING;
	pipeline_settle(p);
}

/*
 * Moves things on after either stage finished a step: a failure rewinds and
 * a fatal error closes once neither stage is busy; otherwise a waiting batch
 * commits as soon as the Kafka stage is free, and the front collects.
 */
static void pipeline_settle(struct pipeline *p)
{
	if (p->state != P_RUNNING)
		return;
	int busy = p->tx || (p->front && p->front_state == F_DECIDING);
	if (p->fatal) {
		if (!busy) {
			pipeline_drop_batches(p);
			pipeline_close(p);
		}
		return;
	}
	if (p->failed) {
		if (!busy)
			pipeline_rewind(p);
		return;
	}
	if (p->front && p->front_state == F_WAITING && !p->tx)
		batch_commit(p);
	pipeline_pump(p);
}

/* ---- failures: rewind and replay ------------------------------------------------------------ */

/* Marks the pipeline failed; the batches not committed in Kafka are rewound once neither stage is busy. */
static void pipeline_fail(struct pipeline *p, const char *why)
{
	if (!p->failed)
		log_warn("batch not committed; it will be replayed", "reason", why);
	p->failed = 1;
	uv_timer_stop(&p->timer);
	pipeline_settle(p);
}

/* The front batch's step failed (or found the pipeline failed): the step is over, the batch stays for its offsets. */
static void front_fail(struct pipeline *p, const char *why)
{
	p->front_state = F_FAILED;
	pipeline_fail(p, why);
}

static void rewind_work(uv_work_t *w)
{
	struct pipeline *p = w->data;
	if (p->rewind_offsets->cnt > 0)
		kafka_rewind(p->kafka, p->rewind_offsets);
}

static void rewound(uv_work_t *w, int status)
{
	(void)status;
	struct pipeline *p = w->data;
	rd_kafka_topic_partition_list_destroy(p->rewind_offsets);
	p->rewind_offsets = NULL;
	pipeline_drop_batches(p);
	p->failed = 0;
	p->state = P_RUNNING;
	if (p->stopping)
		pipeline_close(p);
	else
		uv_timer_start(&p->timer, timer_pump_cb, RETRY_DELAY_MS, 0);
}

/* Drops every batch and moves the consumer back to their first offsets, so that they are consumed again. */
static void pipeline_rewind(struct pipeline *p)
{
	p->state = P_REWINDING;
	uv_timer_stop(&p->timer);
	p->rewind_offsets = rd_kafka_topic_partition_list_new(8);
	for (int i = 0; i < 3; i++) {
		const rd_kafka_topic_partition_list_t *first = p->batches[i].first_offsets;
		for (int j = 0; first && j < first->cnt; j++)
			track_offsets(NULL, p->rewind_offsets, first->elems[j].topic, first->elems[j].partition,
				      first->elems[j].offset);
	}
	p->work.data = p;
	uv_queue_work(p->loop, &p->work, rewind_work, rewound);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void init_work(uv_work_t *w)
{
	struct pipeline *p = w->data;
	p->work_err[0] = '\0';
	p->work_result = kafka_init_transactions(p->kafka, p->work_err, sizeof(p->work_err));
}

static void init_done(uv_work_t *w, int status)
{
	(void)status;
	struct pipeline *p = w->data;
	if (p->work_result == 0) {
		log_info("kafka transactions initialized", "transactional_id", p->cfg->transactional_id);
		p->state = P_RUNNING;
		if (p->stopping)
			pipeline_close(p);
		else
			pipeline_pump(p);
		return;
	}
	if (p->work_result == KAFKA_TX_FATAL || p->stopping) {
		log_error("kafka init_transactions failed", "error", p->work_err);
		p->state = P_RUNNING;
		pipeline_stop(p, p->stopping ? p->exit_status : 1);
		return;
	}
	log_warn("kafka init_transactions failed; retrying", "error", p->work_err);
	pipeline_start(p);
}

void pipeline_start(struct pipeline *p)
{
	p->state = P_INIT;
	p->work.data = p;
	uv_queue_work(p->loop, &p->work, init_work, init_done);
}

static void shutdown_work(uv_work_t *w)
{
	struct pipeline *p = w->data;
	kafka_shutdown(p->kafka);
}

static void shutdown_done(uv_work_t *w, int status)
{
	(void)status;
	struct pipeline *p = w->data;
	p->state = P_CLOSED;
	log_info("left the consumer group");
	p->stopped_cb(p, p->exit_status, p->arg);
}

/* Leaves the group and destroys the Kafka clients, off the loop. */
static void pipeline_close(struct pipeline *p)
{
	if (p->state == P_CLOSING || p->state == P_CLOSED)
		return;
	p->state = P_CLOSING;
	uv_timer_stop(&p->timer);
	if (p->revoking) {
		p->revoking = 0;
		kafka_revoke_done(p->kafka);
	}
	kafka_unwatch(p->kafka);
	p->work.data = p;
	uv_queue_work(p->loop, &p->work, shutdown_work, shutdown_done);
}

void pipeline_stop(struct pipeline *p, int status)
{
	if (!p->stopping || status > p->exit_status)
		p->exit_status = status;
	p->stopping = 1;
	if (p->state != P_RUNNING)
		return; /* the step in flight ends in pipeline_close */
	/* What was collected is not stored yet: drop it, its offsets stay for the next owner. */
	uv_timer_stop(&p->timer);
	batch_clear(p->collect);
	pipeline_settle(p); /* the batches in flight finish, then pipeline_close */
}

struct pipeline *pipeline_create(uv_loop_t *loop, const struct config *cfg, const struct rules *rules,
				 pipeline_stopped_cb stopped_cb, void *arg, char *err, size_t errlen)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->loop = loop;
	p->cfg = cfg;
	p->rules = *rules; /* now owned by the pipeline */
	p->stopped_cb = stopped_cb;
	p->arg = arg;
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	for (int i = 0; i < 3; i++)
		p->batches[i].p = p;
	p->collect = &p->batches[0];
	p->kafka = kafka_create(loop, cfg, kafka_event, p, err, errlen);
	if (!p->kafka)
		return NULL; /* the caller exits */
	p->store = store_create(loop, cfg->database_url, store_state, p);
	if (!p->store) {
		snprintf(err, errlen, "cannot create the PostgreSQL connection");
		return NULL;
	}
	return p;
}

int pipeline_readiness(struct pipeline *p, char **out)
{
	char kwhy[128] = "";
	int kafka_ok = p->state != P_CLOSED && kafka_is_ready(p->kafka, kwhy, sizeof(kwhy));
	int pg_ok = store_is_ready(p->store);
	int assigned = kafka_assigned(p->kafka);
	int ready = kafka_ok && pg_ok && assigned > 0 && !p->stopping && !p->fault_paused && p->state != P_INIT;
	json_t *o = json_pack("{s:s, s:{s:b, s:s}, s:{s:b}, s:i, s:b, s:b}",
			      "status", ready ? "ready" : "not_ready",
			      "kafka", "ok", kafka_ok, "detail", kafka_ok ? "connected" : kwhy,
			      "postgres", "ok", pg_ok,
			      "partitions_assigned", assigned,
			      "paused", p->fault_paused,
			      "stopping", p->stopping);
	*out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	return ready;
}

static void store_closed(void *arg)
{
	struct pipeline *p = arg;
	free(p);
}

static void timer_closed(uv_handle_t *h)
{
	struct pipeline *p = h->data;
	store_close(p->store, store_closed, p);
}

void pipeline_set_rules(struct pipeline *p, const struct rules *rules)
{
	rules_free(&p->rules);
	p->rules = *rules; /* now owned by the pipeline */
}

void pipeline_free(struct pipeline *p)
{
	for (int i = 0; i < 3; i++)
		batch_free(&p->batches[i]);
	rules_free(&p->rules);
	kafka_close(p->kafka);
	uv_close((uv_handle_t *)&p->timer, timer_closed);
}
