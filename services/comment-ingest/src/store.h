/* store.h - PostgreSQL: one non-blocking libpq connection on the loop, migrations, and the batch transaction. */
#ifndef CI_STORE_H
#define CI_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "comment.h"
#include "decision.h"

/* A growing PostgreSQL array literal, e.g. {"a","b",NULL}. */
struct pgarr {
	char *buf;
	size_t len, cap;
};

enum store_col {
	COL_COMMENT_ID, COL_ARTICLE_ID, COL_AUTHOR_ID, COL_DISPLAY_NAME, COL_PARENT_ID, COL_BODY,
	COL_STATUS, COL_REASONS, COL_SUBMITTED_AT, COL_SOURCE_TOPIC, COL_SOURCE_PARTITION,
	COL_SOURCE_OFFSET, COL__COUNT
};

/* The rows of one batch, column by column, ready to send as unnest() arrays. */
struct store_rows {
	struct pgarr col[COL__COUNT];
	int count;
};

/* The new comments of one batch to look up before deciding them. */
enum lookup_col { LK_COMMENT_ID, LK_AUTHOR_ID, LK_ARTICLE_ID, LK_BODY_MD5, LK__COUNT };
struct store_lookup {
	struct pgarr col[LK__COUNT];
	int count;
	int rate_window_s;
	int duplicate_window_s;
};

/* Columns of the lookup result, one row per looked-up comment, in order. */
enum lookup_out { LKO_ORD, LKO_SOURCE_TOPIC, LKO_SOURCE_PARTITION, LKO_SOURCE_OFFSET, LKO_AUTHOR_HAS_COMMENTS,
		  LKO_AUTHOR_RECENT, LKO_DUPLICATE_CONTENT };

/* The decisions of one batch, column by column (sql/004_moderation_decisions.sql). */
enum decision_col {
	DC_DECISION_ID, DC_COMMENT_ID, DC_ARTICLE_ID, DC_DECISION, DC_MODERATOR_ID, DC_NOTE, DC_DECIDED_AT,
	DC_SOURCE_TOPIC, DC_SOURCE_PARTITION, DC_SOURCE_OFFSET, DC__COUNT
};
struct store_decisions {
	struct pgarr col[DC__COUNT];
	int count;
};

/*
 * Columns of the decisions' result, one row per decision, in order: first
 * the comment decided on, exactly as enum store_out (NULL when it is unknown),
 * then what became of the decision (see comment_ingest_apply_decisions).
 */
enum decision_out {
	DO_ORD = 13, DO_OUTCOME, DO_REPLAY, DO_FROM_STATUS, DO_TO_STATUS, DO_DECIDED_AT, DO_SOURCE_TOPIC,
	DO_SOURCE_PARTITION, DO_SOURCE_OFFSET
};

/* Columns of store_submit_each's first result: one row per stored row, in order (sql/003_row_isolation.sql). */
enum each_out { EACH_ORD, EACH_OUTCOME, EACH_ERROR_CODE, EACH_ERROR_MESSAGE };

/* Columns of the rows that the batch statements return (OUT_COLUMNS in store.c). */
enum store_out {
	OUT_COMMENT_ID, OUT_ARTICLE_ID, OUT_AUTHOR_ID, OUT_DISPLAY_NAME, OUT_PARENT_ID, OUT_BODY,
	OUT_STATUS, OUT_REASONS, OUT_SUBMITTED_AT, OUT_ACCEPTED_AT, OUT_SOURCE_TOPIC,
	OUT_SOURCE_PARTITION, OUT_SOURCE_OFFSET
};

void store_rows_reset(struct store_rows *r);
void store_rows_free(struct store_rows *r);
/* Appends one comment; reasons_json is the stored reasons array. Returns 0 or -1 (no memory). */
int store_rows_add(struct store_rows *r, const struct comment *c, const char *status, const char *reasons_json,
		   const char *topic, int32_t partition, int64_t offset);

void store_decisions_reset(struct store_decisions *d);
void store_decisions_free(struct store_decisions *d);
/* Appends one decision read from topic/partition/offset. Returns 0 or -1 (no memory). */
int store_decisions_add(struct store_decisions *d, const struct decision *dec, const char *topic, int32_t partition,
			int64_t offset);

void store_lookup_reset(struct store_lookup *l);
void store_lookup_free(struct store_lookup *l);
/* Appends one comment with the hex MD5 of its body. Returns 0 or -1 (no memory). */
int store_lookup_add(struct store_lookup *l, const struct comment *c, const char *body_md5);

struct store;

/* Called on the loop whenever the connection becomes usable (ready=1) or is lost (ready=0). */
typedef void (*store_state_cb)(struct store *s, int ready, void *arg);

/* Where a request's results land in the array its callback gets (NULL for a statement not sent). */
enum store_res {
	STORE_RES_LOOKUP = 0, /* store_lookup: one row per looked-up comment (enum lookup_out) */
	STORE_RES_ROWS = 0,   /* store_submit: the rows inserted now; store_submit_each: each row's outcome */
	STORE_RES_STORED = 1, /* store_submit: the rows stored before; store_submit_each: every stored row */
	STORE_RES_DECISIONS = 2, /* both: what became of each decision (enum decision_out) */
	STORE_RES__COUNT = 3,
};

/* Which part of a request failed. */
enum store_step {
	STORE_STEP_NONE,   /* no statement: e.g. the connection was lost before any was sent */
	STORE_STEP_LOOKUP, /* store_lookup's statement */
	STORE_STEP_ROWS,   /* storing the batch's rows */
	STORE_STEP_DECISIONS, /* applying the batch's decisions */
};

/*
 * A failed request: PostgreSQL's SQLSTATE (empty when no server answered,
 * e.g. the connection was lost) and the error as one line: the server's
 * primary message (never its DETAIL, which may quote a row), or libpq's
 * whole connection error; step says which part of the request it was.
 */
struct store_error {
	const char *sqlstate;
	const char *message;
	enum store_step step;
};

/*
 * Called on the loop when a request ends: err is NULL on success and res
 * holds its results by enum store_res. They stay owned by the store and are
 * valid only during the call, unless the callback takes one: it sets res[i]
 * to NULL and must PQclear() it later.
 */
typedef void (*store_done_cb)(struct store *s, const struct store_error *err, PGresult **res, void *arg);

/*
 * Creates the store and starts connecting; reconnects with backoff after any loss. password (may be NULL)
 * is applied on top of url, as libpq's `password` keyword; both are copied.
 */
struct store *store_create(uv_loop_t *loop, const char *url, const char *password, store_state_cb state_cb,
			   void *arg);

int store_is_ready(const struct store *s);

/* Why the store is not ready (the last connection or setup error, one line), or "" when it is. */
const char *store_status(const struct store *s);

/*
 * Looks up, in one round trip, what decides new comments: whether each
 * comment_id is stored already (and from which coordinates), and the
 * author's and content's history. res[STORE_RES_LOOKUP] has one row per
 * comment (enum lookup_out). Returns 0 when sent (done_cb follows exactly once), or -1
 * when the store is not ready (done_cb is not called).
 */
int store_lookup(struct store *s, struct store_lookup *l, store_done_cb done_cb);

/*
 * Runs one transaction: insert the rows (skipping comment_ids already
 * stored), then read back the rows of the comment_ids it skipped, then apply
 * the decisions after them, in one round trip. res[STORE_RES_ROWS] holds the
 * rows inserted now and res[STORE_RES_STORED] the rows of the batch's
 * comment_ids stored before (both enum store_out), res[STORE_RES_DECISIONS]
 * what became of each decision (enum decision_out). A part with nothing to
 * do is not sent, and its results are NULL; at least one must have work.
 * Returns as store_lookup.
 */
int store_submit(struct store *s, struct store_rows *rows, struct store_decisions *decisions, store_done_cb done_cb);

/*
 * Row isolation: stores the same rows again in one transaction, one at a
 * time in order, each under its own savepoint, after a canary (see
 * sql/003_row_isolation.sql), then applies the decisions as store_submit
 * does. res[STORE_RES_ROWS] has one row per input row (enum each_out:
 * inserted, skipped or refused with SQLSTATE and message),
 * res[STORE_RES_STORED] the stored rows of every comment_id of the batch,
 * whoever stored them (enum store_out). Fails as a whole when PostgreSQL
 * refuses the canary too, or with an error no row can cause. Returns as
 * store_lookup.
 */
int store_submit_each(struct store *s, struct store_rows *rows, struct store_decisions *decisions,
		      store_done_cb done_cb);

/* Closes the connection and frees the store; close_cb runs when every handle is closed. */
void store_close(struct store *s, void (*close_cb)(void *arg), void *arg);

#endif
