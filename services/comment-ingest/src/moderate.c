/* moderate.c - moderation decisions in a batch: taking them, what PostgreSQL made of each, their events and counts.
 *
 * A decision goes through the stages a comment does (pipeline.c), behind the same interfaces:
 * decoded as it arrives (moderate_take), applied by PostgreSQL in the transaction that stores
 * the batch's comments, after them (store_submit: comment_ingest_apply_decisions in
 * sql/004_moderation_decisions.sql, which locks each comment and decides under the lock),
 * matched to PostgreSQL's answer once that committed (moderate_match), and its event built off
 * the loop from that answer (moderate_event), so that a replay builds the same bytes.
 */
#include "moderate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "log.h"
#include "metrics.h"

/* Rejects a decision slot with its verdict: its moderation-decision-rejected event is built now. */
static int moderate_reject(struct slot *s)
{
	struct source src = {s->topic, s->partition, s->offset};
	s->result = RES_REJECTED;
	s->event = events_decision_rejected(&src, s->payload, s->len, &s->d, &s->v);
	return s->event ? 0 : -1;
}

int moderate_take(struct batch *b, struct slot *s, int64_t now_us)
{
	if (decision_decode(s->payload, s->len, now_us, &s->d, &s->v) == OUTCOME_REJECT)
		return moderate_reject(s);
	s->row_ix = b->decisions.count;
	b->decision_slot[b->decisions.count] = (size_t)(s - b->slots);
	s->result = RES_PENDING;
	return store_decisions_add(&b->decisions, &s->d, s->topic, s->partition, s->offset);
}

/* An applied or no-op answer: its statuses must be a step of the life cycle for this decision. */
static const char *match_change(struct slot *s, PGresult *res, int k, int applied)
{
	enum comment_status from, to, want;
	if (comment_status_parse(PQgetvalue(res, k, DO_FROM_STATUS), &from) ||
	    comment_status_parse(PQgetvalue(res, k, DO_TO_STATUS), &to))
		return "PostgreSQL answered a status that does not exist";
	if (decision_transition(s->d.kind, from, &want) != applied || to != want)
		return "PostgreSQL answered a change that is not in the life cycle";
	s->from = from;
	s->to = to;
	s->result = applied ? RES_APPLIED : RES_NOOP;
	s->rows = res;
	s->row = k;
	return NULL;
}

/* What PostgreSQL made of one decision (row k of res). */
static const char *match_one(struct slot *s, PGresult *res, int k)
{
	const char *outcome = PQgetvalue(res, k, DO_OUTCOME);
	s->replay = PQgetvalue(res, k, DO_REPLAY)[0] == 't';
	if (strcmp(outcome, "applied") == 0 || strcmp(outcome, "noop") == 0)
		return match_change(s, res, k, outcome[0] == 'a');
	if (strcmp(outcome, "duplicate") == 0) {
		s->result = RES_DUPLICATE;
		return NULL;
	}
	if (strcmp(outcome, "unknown_comment") == 0)
		verdict_reject(&s->v, REASON_UNKNOWN_COMMENT, "comment %s is not stored", s->d.comment_id);
	else if (strcmp(outcome, "article_mismatch") == 0)
		verdict_reject(&s->v, REASON_ARTICLE_MISMATCH, "article_id does not match the comment's article (%s)",
			       PQgetvalue(res, k, OUT_ARTICLE_ID));
	else if (strcmp(outcome, "stale") == 0)
		verdict_reject(&s->v, REASON_STALE_DECISION,
			       "decided_at %s is older than the comment's last status change: applying it would undo a "
			       "later decision",
			       s->d.decided_at);
	else
		return "PostgreSQL answered an unknown outcome for a decision";
	return moderate_reject(s) ? "out of memory rejecting a decision" : NULL;
}

const char *moderate_match(struct batch *b, PGresult *res)
{
	int n = b->decisions.count;
	if (n == 0)
		return NULL;
	if (!res || PQntuples(res) != n)
		return "the decisions' result has the wrong number of rows";
	for (int k = 0; k < n; k++) {
		struct slot *s = &b->slots[b->decision_slot[k]];
		if (strtol(PQgetvalue(res, k, DO_ORD), NULL, 10) != k + 1)
			return "the decisions' result is out of order";
		const char *why = match_one(s, res, k);
		if (why)
			return why;
	}
	return NULL;
}

int moderate_event(struct batch *b, struct slot *s, struct kafka_out *o)
{
	const struct config *cfg = b->cfg;
	if (s->result == RES_APPLIED) {
		PGresult *r = s->rows;
		int k = s->row;
		struct stored_comment sc;
		batch_stored_comment(r, k, &sc);
		struct moderation m = {
			.decision_id = s->d.decision_id,
			.kind = s->d.kind,
			.from_status = PQgetvalue(r, k, DO_FROM_STATUS),
			.to_status = PQgetvalue(r, k, DO_TO_STATUS),
			.decided_at = PQgetvalue(r, k, DO_DECIDED_AT),
			.source = {PQgetvalue(r, k, DO_SOURCE_TOPIC), (int32_t)strtol(PQgetvalue(r, k, DO_SOURCE_PARTITION), NULL, 10),
				   strtoll(PQgetvalue(r, k, DO_SOURCE_OFFSET), NULL, 10)},
		};
		if (s->to == STATUS_PUBLISHED) {
			s->event = events_approved(&sc, &m);
			o->topic = cfg->topic_published;
		} else {
			s->event = events_moderated(sc.comment_id, sc.article_id, &m);
			o->topic = cfg->topic_moderated;
		}
		if (!s->event)
			return -1;
		o->key = sc.article_id; /* in the batch's result, which outlives the transaction */
		o->key_len = strlen(sc.article_id);
	} else if (s->result == RES_REJECTED) {
		o->topic = cfg->topic_decision_rejected;
		o->key = s->d.article_id ? s->d.article_id : s->key;
		o->key_len = s->d.article_id ? strlen(s->d.article_id) : s->key_len;
	} else {
		return 0; /* a no-op or a duplicate: nothing changed, nothing to say */
	}
	o->value = s->event;
	o->value_len = strlen(s->event);
	return 1;
}

void moderate_account(const struct slot *s)
{
	metrics.decisions_consumed++;
	switch (s->result) {
	case RES_APPLIED: metrics.decisions_applied[s->from][s->to]++; break;
	case RES_NOOP: metrics.decisions_noop++; break;
	case RES_DUPLICATE: metrics.decisions_duplicate++; break;
	case RES_REJECTED: metrics.decisions_rejected[s->v.reject]++; break;
	default: break;
	}
	metrics.decisions_replayed += (uint64_t)s->replay;
	if (log_enabled(LOG_DEBUG)) {
		static const char *names[] = {"pending", "published", "held", "rejected", "duplicate", "applied", "noop"};
		char coords[64], change[32] = "";
		snprintf(coords, sizeof(coords), "%d/%lld", (int)s->partition, (long long)s->offset);
		if (s->result == RES_APPLIED)
			snprintf(change, sizeof(change), "%s->%s", comment_status_name(s->from), comment_status_name(s->to));
		log_debug("decision", "outcome", names[s->result], "decision_id", s->d.decision_id, "comment_id",
			  s->d.comment_id, "source", coords, "change", change[0] ? change : NULL, "reason",
			  s->result == RES_REJECTED ? reason_code(s->v.reject) : NULL, "replay", s->replay ? "true" : "false");
	}
}
