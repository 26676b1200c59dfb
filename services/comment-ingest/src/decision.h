/* decision.h - the moderation-decided contract: decoding a moderator's decision, and the comment life cycle it moves. */
#ifndef CI_DECISION_H
#define CI_DECISION_H

#include <stddef.h>
#include <stdint.h>

#include "comment.h"

#define DECISION_MODERATOR_ID_MAX 128
/* A moderator id is stored, never indexed; bounded like author.id all the same. */
#define DECISION_MODERATOR_ID_MAX_BYTES 512
#define DECISION_NOTE_MAX 500
/*
 * How far decided_at may be ahead of the service's clock. A decision from the
 * future would make every later one look stale (older than the comment's last
 * change), so it is refused (decided_in_future).
 */
#define DECISION_MAX_FUTURE_SECONDS 300

/* The statuses in comments.status. */
enum comment_status { STATUS_PENDING, STATUS_PUBLISHED, STATUS_REJECTED, STATUS__COUNT };

enum decision_kind { DECISION_APPROVE, DECISION_REJECT };

/* One moderation-decided event, validated. */
struct decision {
	char decision_id[UUID_STR_LEN]; /* the idempotency key; empty until known valid */
	char comment_id[UUID_STR_LEN];
	char *article_id; /* NULL until known valid */
	enum decision_kind kind;
	char *moderator_id; /* cleaned (NFC, trimmed) */
	char *note;         /* cleaned, multi-line; NULL when absent or empty */
	int64_t decided_us;
	char decided_at[TIMEFMT_LEN]; /* canonical UTC */
};

/*
 * Decodes and validates one moderation-decided value. Fills d as far as it
 * is valid (so that a rejection can name the decision, comment and article)
 * and v: OUTCOME_PUBLISH when the decision is well-formed (PostgreSQL then
 * decides whether it applies), OUTCOME_REJECT with a reason otherwise. now_us
 * bounds decided_at (DECISION_MAX_FUTURE_SECONDS). Never fails on any input;
 * d must be released with decision_clear.
 */
enum outcome decision_decode(const char *payload, size_t len, int64_t now_us, struct decision *d,
			     struct verdict *v);

void decision_clear(struct decision *d);

/* "approve" or "reject". */
const char *decision_kind_name(enum decision_kind k);

/* "pending", "published" or "rejected". */
const char *comment_status_name(enum comment_status st);

/* Parses a status name; returns 0, or -1 for any other string. */
int comment_status_parse(const char *name, enum comment_status *st);

/*
 * The life cycle, as a pure function: the status a decision leads a comment
 * to from `from` (*to), and whether that changes it (1) or is a no-op (0).
 *   approve: pending -> published, rejected -> published (restored); published: no-op
 *   reject:  pending -> rejected, published -> rejected (taken down); rejected: no-op
 * PostgreSQL applies the same rules (sql/004_moderation_decisions.sql); the
 * service checks each of its answers against this one.
 */
int decision_transition(enum decision_kind k, enum comment_status from, enum comment_status *to);

#endif
