/* batch.c - one batch: its messages, what the rules and PostgreSQL made of them, its events and offsets.
 *
 * The pipeline (pipeline.c) moves a batch through its stages; this file owns what a batch holds
 * and the decisions made on it at each stage: decoding as messages arrive (batch_take), the
 * replay rule and the history rules once the lookup answered (batch_decide), finding each
 * comment's stored row once PostgreSQL committed (batch_match), and the events (batch_build_events).
 * A batch also holds moderation decisions, read from the second input topic: their part of each
 * stage is moderate.c's.
 */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "metrics.h"
#include "moderate.h"
#include "text.h"

/* ---- memory ---------------------------------------------------------------------------------- */

void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		free(s->payload);
		free(s->key);
		comment_clear(&s->c);
		decision_clear(&s->d);
		free(s->event);
		free(s->event_key);
	}
	b->n = 0;
	b->nout = 0;
	b->isolated = 0;
	for (int i = 0; i < STORE_RES__COUNT; i++) {
		PQclear(b->rows_res[i]);
		b->rows_res[i] = NULL;
	}
	memset(b->phase_ns, 0, sizeof(b->phase_ns));
	store_lookup_reset(&b->lookup);
	store_rows_reset(&b->rows);
	store_decisions_reset(&b->decisions);
	if (b->commit_offsets)
		rd_kafka_topic_partition_list_destroy(b->commit_offsets);
	if (b->first_offsets)
		rd_kafka_topic_partition_list_destroy(b->first_offsets);
	b->commit_offsets = b->first_offsets = NULL;
}

void batch_free(struct batch *b)
{
	batch_clear(b);
	store_rows_free(&b->rows);
	store_decisions_free(&b->decisions);
	store_lookup_free(&b->lookup);
	free(b->slots);
	free(b->out);
	free(b->lookup_slot);
	free(b->row_slot);
	free(b->decision_slot);
	b->slots = NULL;
	b->out = NULL;
	b->lookup_slot = NULL;
	b->row_slot = NULL;
	b->decision_slot = NULL;
	b->cap = 0;
}

/* Room for one more slot and its entries in the per-slot arrays. */
static int batch_grow(struct batch *b)
{
	if (b->n < b->cap)
		return 0;
	size_t cap = b->cap ? b->cap * 2 : 64;
	struct slot *ns = realloc(b->slots, cap * sizeof(*ns));
	if (ns)
		b->slots = ns;
	struct kafka_out *no = realloc(b->out, cap * sizeof(*no));
	if (no)
		b->out = no;
	size_t *nl = realloc(b->lookup_slot, cap * sizeof(*nl));
	if (nl)
		b->lookup_slot = nl;
	size_t *nr = realloc(b->row_slot, cap * sizeof(*nr));
	if (nr)
		b->row_slot = nr;
	size_t *nd = realloc(b->decision_slot, cap * sizeof(*nd));
	if (nd)
		b->decision_slot = nd;
	if (!ns || !no || !nl || !nr || !nd)
		return -1;
	b->cap = cap;
	return 0;
}

/* ---- collecting ------------------------------------------------------------------------------ */

void batch_track_offsets(rd_kafka_topic_partition_list_t *commit, rd_kafka_topic_partition_list_t *first,
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

/* A comment slot as it arrives: decoded, then rejected now or met by the content rules and looked up. */
static int comment_take(struct batch *b, struct slot *s, const struct rules *rules, int64_t now_us)
{
	if (comment_decode(s->payload, s->len, &s->c, &s->v) == OUTCOME_REJECT)
		return batch_reject(s);
	rules_triage(rules, &s->c, now_us, &s->v);
	b->lookup_slot[b->lookup.count] = (size_t)(s - b->slots);
	return text_md5_hex(s->c.body, strlen(s->c.body), s->md5) || store_lookup_add(&b->lookup, &s->c, s->md5) ? -1
														 : 0;
}

int batch_take(struct batch *b, rd_kafka_message_t *m, const struct rules *rules, int64_t now_us)
{
	int rc = -1;
	if (!b->commit_offsets) {
		b->commit_offsets = rd_kafka_topic_partition_list_new(8);
		b->first_offsets = rd_kafka_topic_partition_list_new(8);
	}
	int decision = strcmp(rd_kafka_topic_name(m->rkt), b->cfg->topic_decided) == 0;
	const char *topic = decision ? b->cfg->topic_decided : b->cfg->topic_submitted;
	batch_track_offsets(b->commit_offsets, b->first_offsets, topic, m->partition, m->offset);
	if (batch_grow(b))
		goto failed;
	size_t i = b->n++;
	struct slot *s = &b->slots[i];
	memset(s, 0, sizeof(*s));
	s->kind = decision ? SLOT_DECISION : SLOT_COMMENT;
	s->topic = topic;
	s->partition = m->partition;
	s->offset = m->offset;
	s->row_ix = -1;
	s->len = m->len;
	s->payload = malloc(m->len + 1);
	if (!s->payload)
		goto failed;
	if (m->len)
		memcpy(s->payload, m->payload, m->len);
	s->payload[m->len] = '\0';
	if (b->n == 1)
		b->first_ns = uv_hrtime();
	rd_kafka_timestamp_type_t tstype;
	int64_t ts_ms = rd_kafka_message_timestamp(m, &tstype);
	if (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts_ms > 0)
		metrics_observe_phase(MP_FETCH, (double)(now_us - ts_ms * 1000) / 1e6);
	rc = decision ? moderate_take(b, s, now_us) : comment_take(b, s, rules, now_us);
	/* A rejection without an article_id is keyed by the input key, unless that is oversized. */
	if (rc == 0 && s->result == RES_REJECTED && !(decision ? s->d.article_id : s->c.article_id) && m->key_len &&
	    m->key_len <= EVENTS_KEY_MAX) {
		if (!(s->key = malloc(m->key_len)))
			rc = -1;
		else
			memcpy(s->key, m->key, m->key_len);
		s->key_len = s->key ? m->key_len : 0;
	}
failed:
	rd_kafka_message_destroy(m);
	return rc;
}

int batch_reject(struct slot *s)
{
	struct source src = {s->topic, s->partition, s->offset};
	s->result = RES_REJECTED;
	s->event = events_rejected(&src, s->payload, s->len, &s->c, &s->v);
	return s->event ? 0 : -1;
}

int batch_add_row(struct batch *b, struct slot *s)
{
	int held = s->v.outcome == OUTCOME_HOLD;
	char *reasons = held ? events_hold_reasons(&s->v) : NULL;
	s->row_ix = b->rows.count;
	b->row_slot[b->rows.count] = (size_t)(s - b->slots);
	int rc = store_rows_add(&b->rows, &s->c, held ? "pending" : "published", reasons ? reasons : "[]",
				s->topic, s->partition, s->offset);
	free(reasons);
	s->result = RES_PENDING;
	return rc;
}

/* True when a stored row's source coordinates (as PostgreSQL's text) are this slot's message: a replay. */
static int slot_is_source(const struct slot *s, const char *topic, const char *partition, const char *offset)
{
	return strtol(partition, NULL, 10) == s->partition && strtoll(offset, NULL, 10) == s->offset &&
	       strcmp(topic, s->topic) == 0;
}

/* ---- deciding -------------------------------------------------------------------------------- */

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

const char *batch_decide(struct batch *b, PGresult *r, const struct rules *rules)
{
	struct seen seen;
	const char *err = NULL;
	if (PQntuples(r) != b->lookup.count)
		return "lookup returned the wrong number of rows";
	if (seen_init(&seen, b->n, (size_t)b->lookup.count)) {
		err = "out of memory deciding a batch";
		goto done;
	}
	for (int k = 0; k < PQntuples(r); k++) {
		struct slot *s = &b->slots[b->lookup_slot[k]];
		int rc;
		if (!PQgetisnull(r, k, LKO_SOURCE_TOPIC)) {
			if (!slot_is_source(s, PQgetvalue(r, k, LKO_SOURCE_TOPIC), PQgetvalue(r, k, LKO_SOURCE_PARTITION),
					    PQgetvalue(r, k, LKO_SOURCE_OFFSET))) {
				s->result = RES_DUPLICATE;
				continue;
			}
			rc = batch_add_row(b, s); /* a replay: the stored row decides its event */
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
			if (rules_apply_history(rules, &h, &s->v) == OUTCOME_REJECT) {
				rc = batch_reject(s);
			} else {
				seen_add(&seen, b, b->lookup_slot[k]);
				rc = batch_add_row(b, s);
			}
		}
		if (rc) {
			err = "out of memory deciding a batch";
			goto done;
		}
	}
done:
	seen_free(&seen);
	return err;
}

/* ---- matching stored rows -------------------------------------------------------------------- */

static PGresult *sort_res;
static int sort_col;

static int cmp_rows(const void *a, const void *b)
{
	return strcmp(PQgetvalue(sort_res, *(const int *)a, sort_col), PQgetvalue(sort_res, *(const int *)b, sort_col));
}

int row_index_build(struct row_index *ix, PGresult *res, int col)
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

int row_index_find(const struct row_index *ix, const char *comment_id)
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

void row_index_free(struct row_index *ix)
{
	free(ix->order);
	ix->order = NULL;
}

void batch_match_row(struct slot *s, PGresult *rows, int r, int inserted_now)
{
	if (!inserted_now) {
		if (!slot_is_source(s, PQgetvalue(rows, r, OUT_SOURCE_TOPIC), PQgetvalue(rows, r, OUT_SOURCE_PARTITION),
				    PQgetvalue(rows, r, OUT_SOURCE_OFFSET))) {
			s->result = RES_DUPLICATE;
			return;
		}
		s->replay = 1;
	}
	s->rows = rows;
	s->row = r;
	s->result = strcmp(PQgetvalue(rows, r, OUT_STATUS), "pending") == 0 ? RES_HELD : RES_PUBLISHED;
}

const char *batch_match(struct batch *b, PGresult **res)
{
	PGresult *inserted = res[STORE_RES_ROWS], *before = res[STORE_RES_STORED];
	struct row_index fresh = {0}, earlier = {0};
	const char *err = NULL;
	if (b->rows.count == 0)
		return NULL; /* only decisions were sent */
	if (row_index_build(&fresh, inserted, OUT_COMMENT_ID) || row_index_build(&earlier, before, OUT_COMMENT_ID)) {
		err = "out of memory matching rows";
		goto done;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		if (s->kind != SLOT_COMMENT || s->result != RES_PENDING)
			continue;
		int r = row_index_find(&fresh, s->c.comment_id);
		if (r >= 0) {
			batch_match_row(s, inserted, r, 1);
			continue;
		}
		r = row_index_find(&earlier, s->c.comment_id);
		if (r < 0) {
			err = "a stored comment was not found";
			goto done;
		}
		batch_match_row(s, before, r, 0);
	}
done:
	row_index_free(&fresh);
	row_index_free(&earlier);
	return err;
}

/* ---- events ---------------------------------------------------------------------------------- */

int batch_has_store_work(const struct batch *b)
{
	return b->rows.count > 0 || b->decisions.count > 0;
}

void batch_stored_comment(PGresult *r, int i, struct stored_comment *sc)
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

/* Worker thread: the output message of a comment slot, if it has one (see moderate_event). */
static int comment_event(struct batch *b, struct slot *s, struct kafka_out *o)
{
	const struct config *cfg = b->cfg;
	if (s->rows) {
		struct stored_comment sc;
		int held;
		batch_stored_comment(s->rows, s->row, &sc);
		s->event = events_stored(&sc, &held);
		s->event_key = strdup(sc.article_id);
		if (!s->event || !s->event_key)
			return -1;
	}
	if (!s->event)
		return 0;
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
	return 1;
}

int batch_build_events(struct batch *b)
{
	b->nout = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		struct kafka_out *o = &b->out[b->nout];
		int rc = s->kind == SLOT_DECISION ? moderate_event(b, s, o) : comment_event(b, s, o);
		if (rc < 0)
			return -1;
		b->nout += (size_t)rc;
	}
	return 0;
}

/* ---- accounting ------------------------------------------------------------------------------ */

void batch_account(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *s = &b->slots[i];
		if (s->kind == SLOT_DECISION) {
			moderate_account(s);
			continue;
		}
		metrics.consumed++;
		switch (s->result) {
		case RES_PUBLISHED: metrics.published++; break;
		case RES_HELD: metrics.held++; break;
		case RES_REJECTED: metrics.rejected[s->v.reject]++; break;
		case RES_DUPLICATE: metrics.duplicate++; break;
		default: break;
		}
		metrics.replayed += (uint64_t)s->replay;
		if (log_enabled(LOG_DEBUG)) {
			static const char *names[] = {"pending", "published", "held", "rejected", "duplicate", "applied", "noop"};
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
	/* a phase that did not run (no new comments, nothing to store) counts as 0 */
	uint64_t look = ph[PH_LOOKED_UP] ? ph[PH_LOOKED_UP] : ph[PH_RUN];
	uint64_t store = ph[PH_STORED] ? ph[PH_STORED] : look;
	const struct kafka_tx_times *tx = &b->tx_times;
	double ms[MP__COUNT] = {
		[MP_COLLECT] = (double)(ph[PH_RUN] - b->first_ns) / 1e6,
		[MP_LOOKUP] = (double)(look - ph[PH_RUN]) / 1e6,
		[MP_STORE] = (double)(store - look) / 1e6,
		[MP_WAIT] = (double)(ph[PH_TX_START] - store) / 1e6,
		[MP_BUILD] = (double)b->build_ns / 1e6,
		[MP_PRODUCE] = (double)tx->produce_ns / 1e6,
		[MP_OFFSETS] = (double)tx->offsets_ns / 1e6,
		[MP_COMMIT] = (double)tx->commit_ns / 1e6,
	};
	for (int i = MP_COLLECT; i < MP__COUNT; i++)
		metrics_observe_phase((enum metrics_phase)i, ms[i] / 1e3);
	if (log_enabled(LOG_DEBUG)) {
		char n[16], times[200];
		snprintf(n, sizeof(n), "%zu", b->n);
		snprintf(times, sizeof(times),
			 "collect+decode=%.1f lookup=%.1f rules+store=%.1f wait=%.1f build=%.1f produce=%.1f "
			 "offsets=%.1f commit=%.1f",
			 ms[MP_COLLECT], ms[MP_LOOKUP], ms[MP_STORE], ms[MP_WAIT], ms[MP_BUILD], ms[MP_PRODUCE],
			 ms[MP_OFFSETS], ms[MP_COMMIT]);
		log_debug("batch committed", "messages", n, "ms", times);
	}
}
