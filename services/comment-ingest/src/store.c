/* store.c - PostgreSQL: one non-blocking libpq connection on the loop, migrations, and the batch transaction. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "migrations.h"
#include "stall.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MIGRATION_LOCK_KEY 0x636f6d6d /* "comm" */

/*
 * A stored row as events are built from it: the columns of enum store_out.
 * The status is the one the comment was accepted with: a moderation decision
 * may have changed it since, and a submission's event must not change with it.
 */
#define OUT_COLUMNS                                                                                \
	"comment_id::text, article_id, author_id, author_display_name, parent_id::text, body,"       \
	" coalesce(accepted_status, status), reasons::text,"                                           \
	" to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"             \
	" to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"              \
	" source_topic, source_partition, source_offset"

static const char insert_sql[] =
	"INSERT INTO comments (comment_id, article_id, author_id, author_display_name, parent_id, body,"
	" status, reasons, submitted_at, source_topic, source_partition, source_offset)"
	" SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[],"
	" $7::text[], $8::jsonb[], $9::timestamptz[], $10::text[], $11::int[], $12::bigint[])"
	" ON CONFLICT (comment_id) DO NOTHING RETURNING " OUT_COLUMNS;

/*
 * One row per new comment, in input order: where its comment_id is stored
 * from (if it is), and the history the rules need. One range scan of the
 * (author_id, accepted_at) index over the longer of the two windows answers
 * both the rate limit and the duplicate content; only an author with nothing
 * in it needs a second probe, for any earlier comment at all.
 */
static const char lookup_sql[] =
	"SELECT i.ord::int, c.source_topic, c.source_partition, c.source_offset,"
	" h.n > 0 OR EXISTS (SELECT 1 FROM comments a WHERE a.author_id = i.author_id AND a.comment_id <> i.comment_id),"
	" h.recent, coalesce(h.dup, false)"
	" FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY"
	"   AS i(comment_id, author_id, article_id, body_md5, ord)"
	" LEFT JOIN comments c ON c.comment_id = i.comment_id"
	" CROSS JOIN LATERAL (SELECT count(*) AS n,"
	"   count(*) FILTER (WHERE a.accepted_at > now() - make_interval(secs => $5)) AS recent,"
	"   bool_or(a.article_id = i.article_id AND a.body_md5 = i.body_md5"
	"     AND a.accepted_at > now() - make_interval(secs => $6)) AS dup"
	"   FROM comments a WHERE a.author_id = i.author_id AND a.comment_id <> i.comment_id"
	"   AND a.accepted_at > now() - make_interval(secs => greatest($5, $6))) h"
	" ORDER BY i.ord";

/*
 * The rows the insert skipped, stored before this transaction: replays, and
 * comments another instance stored since the lookup. A separate statement,
 * so that it sees rows that a concurrent transaction committed meanwhile;
 * the rows this transaction inserted (its own xmin) came back from the insert.
 */
static const char select_sql[] =
	"SELECT " OUT_COLUMNS " FROM comments"
	" WHERE comment_id = ANY($1::uuid[]) AND xmin <> pg_current_xact_id()::xid";

/* Row isolation: the same rows one at a time (sql/003_row_isolation.sql), as text so a row's bad value stays its own. */
static const char insert_each_sql[] =
	"SELECT ord, outcome, error_code, error_message FROM comment_ingest_insert_each($1::text[], $2::text[],"
	" $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],"
	" $11::text[], $12::text[]) ORDER BY ord";

/*
 * Then every stored row of the batch's comment_ids, inserted now (under a
 * savepoint, so not by this transaction's own xid) or before. Only ids in the
 * form the service writes are cast, so that no element can fail the statement.
 */
static const char select_all_sql[] =
	"SELECT " OUT_COLUMNS " FROM comments WHERE comment_id = ANY (ARRAY(SELECT x::uuid FROM unnest($1::text[]) x"
	" WHERE x ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'))";

/*
 * Applies a batch's decisions after its rows, in the same transaction
 * (sql/004_moderation_decisions.sql): one row per decision, enum decision_out.
 */
static const char apply_decisions_sql[] =
	"SELECT comment_id, article_id, author_id, author_display_name, parent_id, body, status, reasons,"
	" submitted_at, accepted_at, source_topic, source_partition, source_offset, ord, outcome, replay,"
	" from_status, to_status, decided_at, decision_source_topic, decision_source_partition,"
	" decision_source_offset"
	" FROM comment_ingest_apply_decisions($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[],"
	" $6::text[], $7::timestamptz[], $8::text[], $9::int[], $10::bigint[]) ORDER BY ord";

/*
 * Before the migrations: the text the service sends is UTF-8, and the
 * database must store any of it. A database in another encoding would refuse
 * some comments for their characters alone, so the service does not start on one.
 */
static const char encoding_sql[] =
	"SET client_encoding TO 'UTF8';"
	" DO $$ BEGIN IF current_setting('server_encoding') <> 'UTF8' THEN"
	" RAISE EXCEPTION 'the database encoding is %; comment-ingest needs UTF8 (CREATE DATABASE ... ENCODING ''UTF8'')',"
	" current_setting('server_encoding') USING ERRCODE = '22021'; END IF; END $$;\n";

enum store_state {
	ST_DOWN,       /* waiting for the reconnect timer */
	ST_CONNECTING, /* PQconnectPoll in progress */
	ST_SETUP,      /* migrations and prepared statements */
	ST_READY,      /* idle, pipeline mode */
	ST_BUSY,       /* a batch transaction in flight */
	ST_CLOSED,
};

struct store {
	uv_loop_t *loop;
	char *url;
	char *password; /* NULL: libpq's own (the URL, PGPASSWORD, PGPASSFILE) */
	PGconn *conn;
	uv_poll_t *poll; /* NULL when not watching; freed in its close callback */
	int poll_fd;
	int poll_events;
	uv_timer_t timer;
	int backoff_ms;
	enum store_state state;
	int setup_step;
	int setup_failed;
	int has_migrations_table; /* schema_migrations exists (setup step 0) */
	uint64_t applied;         /* bit i: migrations[i] is recorded in schema_migrations (step 1) */
	char status[256];           /* why not ready: the last connection or setup error */
	struct log_repeat down_log; /* a connection that keeps failing is logged once, then counted */
	store_state_cb state_cb;
	void *arg;
	/* the request in flight: its statements in the order sent, each with its result slot and step */
	store_done_cb done_cb;
	PGresult *res[STORE_RES__COUNT];
	int nstmt;                    /* statements sent */
	int stmt;                     /* statements whose results have ended */
	int in_stmt;                  /* a result of statement `stmt` arrived; its end has not */
	int slot[STORE_RES__COUNT];   /* statement -> enum store_res */
	enum store_step step[STORE_RES__COUNT];
	int got;                      /* results received */
	char *err;          /* the request's first error, one line */
	char err_state[6];  /* and its SQLSTATE ("" when none) */
	enum store_step err_step; /* and the part of the request that failed */
	/* closing */
	void (*close_cb)(void *);
	void *close_arg;
	int closing_handles;
};

/* ---- array literals ---------------------------------------------------------------------- */

static int pgarr_reserve(struct pgarr *a, size_t extra)
{
	if (a->len + extra + 2 <= a->cap)
		return 0;
	size_t cap = a->cap ? a->cap : 256;
	while (cap < a->len + extra + 2)
		cap *= 2;
	char *p = realloc(a->buf, cap);
	if (!p)
		return -1;
	a->buf = p;
	a->cap = cap;
	return 0;
}

/* Appends one element (NULL for SQL NULL), quoting and escaping it. */
static int pgarr_add(struct pgarr *a, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (pgarr_reserve(a, 2 * n + 8))
		return -1;
	char sep = a->len == 0 ? '{' : ',';
	a->buf[a->len++] = sep;
	if (!v) {
		memcpy(a->buf + a->len, "NULL", 4);
		a->len += 4;
	} else {
		a->buf[a->len++] = '"';
		for (size_t i = 0; i < n; i++) {
			if (v[i] == '"' || v[i] == '\\')
				a->buf[a->len++] = '\\';
			a->buf[a->len++] = v[i];
		}
		a->buf[a->len++] = '"';
	}
	a->buf[a->len] = '\0';
	return 0;
}

/* The finished literal: "{...}" (or "{}" when empty). The buffer keeps room for the brace. */
static const char *pgarr_finish(struct pgarr *a)
{
	if (pgarr_reserve(a, 2))
		return NULL;
	if (a->len == 0)
		a->buf[a->len++] = '{';
	a->buf[a->len] = '}';
	a->buf[a->len + 1] = '\0';
	return a->buf;
}

/* Empties n column arrays, keeping their buffers. */
static void pgarrs_reset(struct pgarr *cols, int n)
{
	for (int i = 0; i < n; i++)
		cols[i].len = 0;
}

static void pgarrs_free(struct pgarr *cols, int n)
{
	for (int i = 0; i < n; i++)
		free(cols[i].buf);
}

/* Appends one row: vals[i] to column i. Returns 0 or -1 (no memory). */
static int pgarrs_add_row(struct pgarr *cols, const char *const *vals, int n)
{
	for (int i = 0; i < n; i++)
		if (pgarr_add(&cols[i], vals[i]))
			return -1;
	return 0;
}

void store_lookup_reset(struct store_lookup *l)
{
	pgarrs_reset(l->col, LK__COUNT);
	l->count = 0;
}

void store_lookup_free(struct store_lookup *l)
{
	pgarrs_free(l->col, LK__COUNT);
	memset(l, 0, sizeof(*l));
}

int store_lookup_add(struct store_lookup *l, const struct comment *c, const char *body_md5)
{
	const char *vals[LK__COUNT] = {
		[LK_COMMENT_ID] = c->comment_id, [LK_AUTHOR_ID] = c->author_id,
		[LK_ARTICLE_ID] = c->article_id, [LK_BODY_MD5] = body_md5,
	};
	if (pgarrs_add_row(l->col, vals, LK__COUNT))
		return -1;
	l->count++;
	return 0;
}

void store_decisions_reset(struct store_decisions *d)
{
	pgarrs_reset(d->col, DC__COUNT);
	d->count = 0;
}

void store_decisions_free(struct store_decisions *d)
{
	pgarrs_free(d->col, DC__COUNT);
	memset(d, 0, sizeof(*d));
}

int store_decisions_add(struct store_decisions *d, const struct decision *dec, const char *topic, int32_t partition,
			int64_t offset)
{
	char part[16], off[24];
	snprintf(part, sizeof(part), "%d", (int)partition);
	snprintf(off, sizeof(off), "%lld", (long long)offset);
	const char *vals[DC__COUNT] = {
		[DC_DECISION_ID] = dec->decision_id, [DC_COMMENT_ID] = dec->comment_id,
		[DC_ARTICLE_ID] = dec->article_id, [DC_DECISION] = decision_kind_name(dec->kind),
		[DC_MODERATOR_ID] = dec->moderator_id, [DC_NOTE] = dec->note, [DC_DECIDED_AT] = dec->decided_at,
		[DC_SOURCE_TOPIC] = topic, [DC_SOURCE_PARTITION] = part, [DC_SOURCE_OFFSET] = off,
	};
	if (pgarrs_add_row(d->col, vals, DC__COUNT))
		return -1;
	d->count++;
	return 0;
}

void store_rows_reset(struct store_rows *r)
{
	pgarrs_reset(r->col, COL__COUNT);
	r->count = 0;
}

void store_rows_free(struct store_rows *r)
{
	pgarrs_free(r->col, COL__COUNT);
	memset(r, 0, sizeof(*r));
}

int store_rows_add(struct store_rows *r, const struct comment *c, const char *status, const char *reasons_json,
		   const char *topic, int32_t partition, int64_t offset)
{
	char part[16], off[24];
	snprintf(part, sizeof(part), "%d", (int)partition);
	snprintf(off, sizeof(off), "%lld", (long long)offset);
	const char *vals[COL__COUNT] = {
		[COL_COMMENT_ID] = c->comment_id, [COL_ARTICLE_ID] = c->article_id,
		[COL_AUTHOR_ID] = c->author_id, [COL_DISPLAY_NAME] = c->display_name,
		[COL_PARENT_ID] = c->parent_id[0] ? c->parent_id : NULL, [COL_BODY] = c->body,
		[COL_STATUS] = status, [COL_REASONS] = reasons_json, [COL_SUBMITTED_AT] = c->submitted_at,
		[COL_SOURCE_TOPIC] = topic, [COL_SOURCE_PARTITION] = part, [COL_SOURCE_OFFSET] = off,
	};
	if (pgarrs_add_row(r->col, vals, COL__COUNT))
		return -1;
	r->count++;
	return 0;
}

/* ---- connection ---------------------------------------------------------------------------- */

static void store_connect(struct store *s);
static void store_io_cb(uv_poll_t *h, int status, int events);

static void notice_cb(void *arg, const char *message)
{
	(void)arg;
	char msg[512];
	log_oneline(message, msg, sizeof(msg));
	log_debug("postgres notice", "notice", msg);
}

/* Counts down the handles of a closing store; the last one frees it. */
static void store_handle_closed(struct store *s)
{
	if (--s->closing_handles > 0)
		return;
	void (*cb)(void *) = s->close_cb;
	void *arg = s->close_arg;
	free(s->url);
	if (s->password)
		memset(s->password, 0, strlen(s->password));
	free(s->password);
	free(s);
	if (cb)
		cb(arg);
}

static void poll_close_cb(uv_handle_t *h)
{
	struct store *s = h->data;
	free(h);
	if (s)
		store_handle_closed(s);
}

static void timer_close_cb(uv_handle_t *h)
{
	store_handle_closed(h->data);
}

static void store_unwatch(struct store *s)
{
	if (!s->poll)
		return;
	uv_poll_stop(s->poll);
	s->poll->data = s->state == ST_CLOSED ? s : NULL;
	uv_close((uv_handle_t *)s->poll, poll_close_cb);
	s->poll = NULL;
}

/* Watches the connection's socket for the given events, re-creating the handle when the fd changed. */
static int store_watch(struct store *s, int events)
{
	int fd = PQsocket(s->conn);
	if (fd < 0)
		return -1;
	if (s->poll && s->poll_fd != fd)
		store_unwatch(s);
	if (!s->poll) {
		s->poll = malloc(sizeof(*s->poll));
		if (!s->poll || uv_poll_init(s->loop, s->poll, fd) != 0) {
			free(s->poll);
			s->poll = NULL;
			return -1;
		}
		s->poll->data = s;
		s->poll_fd = fd;
		s->poll_events = 0;
	}
	if (events != s->poll_events || !uv_is_active((uv_handle_t *)s->poll)) {
		if (uv_poll_start(s->poll, events, store_io_cb) != 0)
			return -1;
		s->poll_events = events;
	}
	return 0;
}

static void clear_batch(struct store *s)
{
	for (int i = 0; i < STORE_RES__COUNT; i++) {
		PQclear(s->res[i]); /* NULL when the callback took it */
		s->res[i] = NULL;
	}
	s->nstmt = s->stmt = s->in_stmt = s->got = 0;
	free(s->err);
	s->err = NULL;
	s->err_state[0] = '\0';
	s->err_step = STORE_STEP_NONE;
}

/* The part of the request whose results are being read (or were, when all have ended). */
static enum store_step current_step(const struct store *s)
{
	if (s->nstmt == 0)
		return STORE_STEP_NONE;
	return s->step[s->stmt < s->nstmt ? s->stmt : s->nstmt - 1];
}

/*
 * Ends the in-flight request (if any) with the error (sqlstate "" when none)
 * or the results collected. The store forgets the request before calling
 * back, so that the callback may send the next one at once; what the
 * callback does not take is freed after it.
 */
static void finish_batch(struct store *s, const char *sqlstate, const char *err, enum store_step step)
{
	store_done_cb cb = s->done_cb;
	s->done_cb = NULL;
	PGresult *res[STORE_RES__COUNT];
	char state[sizeof(s->err_state)], *owned = s->err;
	snprintf(state, sizeof(state), "%s", sqlstate ? sqlstate : "");
	memcpy(res, s->res, sizeof(res));
	memset(s->res, 0, sizeof(s->res));
	s->err = NULL; /* err may be it: freed after the callback */
	clear_batch(s);
	if (cb) {
		struct store_error e = {state, err, step};
		cb(s, err ? &e : NULL, err ? NULL : res, s->arg);
	}
	for (int i = 0; i < STORE_RES__COUNT; i++)
		PQclear(res[i]); /* NULL when the callback took it */
	free(owned);
}

static void timer_cb(uv_timer_t *t)
{
	store_connect(t->data);
}

/*
 * Drops the connection, fails any batch in flight, and schedules a reconnect
 * with backoff. A failure that repeats (PostgreSQL down) is logged once, then
 * every STALL_LOG_INTERVAL_NS with how often it happened.
 */
static void store_fail(struct store *s, const char *what)
{
	char msg[512], seen[600];
	uint64_t repeats;
	if (s->setup_failed) /* the setup's own error, already logged and kept in status */
		snprintf(msg, sizeof(msg), "%s", s->status);
	else
		log_oneline(s->conn ? PQerrorMessage(s->conn) : "", msg, sizeof(msg));
	s->setup_failed = 0;
	int was_ready = s->state == ST_READY || s->state == ST_BUSY;
	log_oneline(msg[0] ? msg : what, s->status, sizeof(s->status));
	snprintf(seen, sizeof(seen), "%s: %s", what, msg);
	if (log_repeat_hit(&s->down_log, seen, uv_hrtime(), STALL_LOG_INTERVAL_NS, &repeats)) {
		char n[24];
		snprintf(n, sizeof(n), "%llu", (unsigned long long)repeats);
		log_warn(was_ready ? "postgres connection lost" : "postgres connection failed", "during", what, "error",
			 msg, repeats ? "repeats" : NULL, n);
	}
	store_unwatch(s);
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	s->state = ST_DOWN;
	finish_batch(s, "", msg[0] ? msg : what, current_step(s));
	if (s->state == ST_CLOSED)
		return; /* the callback closed the store */
	if (was_ready && s->state_cb)
		s->state_cb(s, 0, s->arg);
	if (s->state == ST_CLOSED)
		return;
	uv_timer_start(&s->timer, timer_cb, (uint64_t)s->backoff_ms, 0);
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* Sends pending output; watches for writability while libpq has more to send. */
static int store_flush(struct store *s)
{
	int r = PQflush(s->conn);
	if (r < 0)
		return -1;
	return store_watch(s, UV_READABLE | (r == 1 ? UV_WRITABLE : 0));
}

/* Whether migrations[i] is recorded as applied (a binary with more migrations than bits applies them all). */
static int migration_applied(const struct store *s, size_t i)
{
	return migrations_count <= 64 && (s->applied >> i & 1);
}

/* The migrations not recorded yet, in order, in one transaction under the advisory lock; NULL when none (or no memory). */
static char *migrations_sql(const struct store *s, int *none)
{
	size_t cap = 512, missing = 0;
	for (size_t i = 0; i < migrations_count; i++)
		if (!migration_applied(s, i)) {
			cap += strlen(migrations[i].sql) + strlen(migrations[i].name) + 16;
			missing++;
		}
	*none = missing == 0;
	if (missing == 0)
		return NULL;
	char *sql = malloc(cap);
	if (!sql)
		return NULL;
	size_t n = (size_t)snprintf(sql, cap, "BEGIN; SELECT pg_advisory_xact_lock(%d);\n", MIGRATION_LOCK_KEY);
	for (size_t i = 0; i < migrations_count; i++)
		if (!migration_applied(s, i))
			n += (size_t)snprintf(sql + n, cap - n, "%s\n;\n", migrations[i].sql);
	n += (size_t)snprintf(sql + n, cap - n, "INSERT INTO schema_migrations (name) VALUES ");
	for (size_t i = 0, k = 0; i < migrations_count; i++)
		if (!migration_applied(s, i))
			n += (size_t)snprintf(sql + n, cap - n, "%s('%s')", k++ ? "," : "", migrations[i].name);
	snprintf(sql + n, cap - n, " ON CONFLICT DO NOTHING; COMMIT;");
	return sql;
}

/*
 * Sends the next setup step: 0 the encoding check and whether schema_migrations
 * exists, 1 the migrations it records, 2 the others, 3-8 prepared statements,
 * then pipeline mode. A step with nothing to do is skipped.
 *
 * Only migrations not recorded yet run: their ALTER TABLE ... IF NOT EXISTS
 * statements take an ACCESS EXCLUSIVE lock on comments even when there is
 * nothing to do, so re-running them at every start queued the site's reads
 * behind any open transaction, and waited a second for autovacuum to be
 * cancelled.
 */
static int setup_send(struct store *s)
{
	int ok;
	if (s->setup_step == 1 && !s->has_migrations_table)
		s->setup_step++; /* a new database: every migration runs */
	switch (s->setup_step) {
	case 0: {
		char sql[sizeof(encoding_sql) + 96];
		snprintf(sql, sizeof(sql), "%sSELECT to_regclass('schema_migrations') IS NOT NULL;", encoding_sql);
		s->has_migrations_table = 0;
		s->applied = 0;
		ok = PQsendQuery(s->conn, sql);
		break;
	}
	case 1:
		ok = PQsendQuery(s->conn, "SELECT name FROM schema_migrations");
		break;
	case 2: {
		int none;
		char *sql = migrations_sql(s, &none);
		if (none) {
			s->setup_step++;
			return setup_send(s);
		}
		ok = sql && PQsendQuery(s->conn, sql);
		free(sql);
		break;
	}
	case 3:
		ok = PQsendPrepare(s->conn, "insert_comments", insert_sql, 12, NULL);
		break;
	case 4:
		ok = PQsendPrepare(s->conn, "select_comments", select_sql, 1, NULL);
		break;
	case 5:
		ok = PQsendPrepare(s->conn, "lookup_comments", lookup_sql, 6, NULL);
		break;
	case 6:
		ok = PQsendPrepare(s->conn, "insert_each", insert_each_sql, 12, NULL);
		break;
	case 7:
		ok = PQsendPrepare(s->conn, "select_all", select_all_sql, 1, NULL);
		break;
	case 8:
		ok = PQsendPrepare(s->conn, "apply_decisions", apply_decisions_sql, DC__COUNT, NULL);
		break;
	default: {
		if (!PQenterPipelineMode(s->conn))
			return -1;
		s->state = ST_READY;
		s->backoff_ms = BACKOFF_MIN_MS;
		s->status[0] = '\0';
		uint64_t down_ns, failed = log_repeat_end(&s->down_log, uv_hrtime(), &down_ns);
		char attempts[24];
		snprintf(attempts, sizeof(attempts), "%llu", (unsigned long long)failed);
		const char *tls = PQsslInUse(s->conn) ? PQsslAttribute(s->conn, "protocol") : NULL;
		log_info("postgres ready", "migrations", migrations_count ? migrations[migrations_count - 1].name : "",
			 "tls", tls ? tls : "off", failed ? "failed_attempts" : NULL, attempts);
		if (s->state_cb)
			s->state_cb(s, 1, s->arg);
		return 0;
	}
	}
	return ok ? store_flush(s) : -1;
}

/* Step 0: whether schema_migrations exists; step 1: which migrations it records. */
static void setup_read_migrations(struct store *s, const PGresult *r)
{
	if (PQnfields(r) != 1)
		return;
	if (s->setup_step == 0) {
		s->has_migrations_table = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		return;
	}
	for (int row = 0; row < PQntuples(r); row++)
		for (size_t i = 0; i < migrations_count && i < 64; i++)
			if (strcmp(PQgetvalue(r, row, 0), migrations[i].name) == 0)
				s->applied |= (uint64_t)1 << i;
}

/* Handles the results of the setup step in flight; NULL ends a step. */
static int setup_results(struct store *s)
{
	while (s->conn && s->state == ST_SETUP && !PQisBusy(s->conn)) {
		PGresult *r = PQgetResult(s->conn);
		if (r) {
			ExecStatusType st = PQresultStatus(r);
			if (st == PGRES_TUPLES_OK && s->setup_step <= 1)
				setup_read_migrations(s, r);
			if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !s->setup_failed) {
				char msg[sizeof(s->status) - 16];
				log_oneline(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), msg, sizeof(msg));
				snprintf(s->status, sizeof(s->status), "setup failed: %s", msg);
				log_error("postgres setup failed", "step", s->setup_step <= 2 ? "migrations" : "prepare",
					  "sqlstate", PQresultErrorField(r, PG_DIAG_SQLSTATE), "error", msg);
				s->setup_failed = 1;
			}
			PQclear(r);
			continue;
		}
		if (s->setup_failed)
			return -1;
		s->setup_step++;
		if (setup_send(s))
			return -1;
	}
	return 0;
}

/* Collects the request's results, statement by statement, then the pipeline sync that ends it. */
static int batch_results(struct store *s)
{
	while (s->conn && s->state == ST_BUSY && !PQisBusy(s->conn)) {
		PGresult *r = PQgetResult(s->conn);
		if (!r) {
			/* The end of a statement's results (libpq may also answer NULL before the first one). */
			s->stmt += s->in_stmt;
			s->in_stmt = 0;
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		s->in_stmt = st != PGRES_PIPELINE_SYNC;
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			s->state = ST_READY;
			finish_batch(s, s->err_state, s->err ? s->err : (s->got == s->nstmt ? NULL : "missing results"),
				     s->err_step);
			return 0;
		}
		if (st == PGRES_TUPLES_OK && s->stmt < s->nstmt && !s->res[s->slot[s->stmt]]) {
			s->res[s->slot[s->stmt]] = r;
			s->got++;
			continue;
		}
		if (!s->err) {
			s->err_step = current_step(s);
			const char *m = st == PGRES_PIPELINE_ABORTED ? "pipeline aborted"
									: PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			const char *state = st == PGRES_PIPELINE_ABORTED ? NULL : PQresultErrorField(r, PG_DIAG_SQLSTATE);
			char msg[512];
			log_oneline(m && *m ? m : "unexpected result", msg, sizeof(msg));
			s->err = strdup(msg);
			snprintf(s->err_state, sizeof(s->err_state), "%s", state ? state : "");
		}
		PQclear(r);
	}
	return 0;
}

static void store_io_cb(uv_poll_t *h, int status, int events)
{
	struct store *s = h->data;
	if (!s || !s->conn)
		return;
	if (status < 0) {
		/* The socket failed: let libpq see it, so that its message says why (it stops at
		 * "connection to server at ... failed:" until then). */
		if (s->state == ST_CONNECTING)
			(void)PQconnectPoll(s->conn);
		else
			(void)PQconsumeInput(s->conn);
		store_fail(s, "poll");
		return;
	}
	if (s->state == ST_CONNECTING) {
		switch (PQconnectPoll(s->conn)) {
		case PGRES_POLLING_READING:
			if (store_watch(s, UV_READABLE))
				store_fail(s, "connect");
			return;
		case PGRES_POLLING_WRITING:
			if (store_watch(s, UV_WRITABLE))
				store_fail(s, "connect");
			return;
		case PGRES_POLLING_OK:
			PQsetNoticeProcessor(s->conn, notice_cb, s);
			if (PQsetnonblocking(s->conn, 1) != 0) {
				store_fail(s, "connect");
				return;
			}
			s->state = ST_SETUP;
			s->setup_step = 0;
			s->setup_failed = 0;
			if (setup_send(s))
				store_fail(s, "setup");
			return;
		default:
			store_fail(s, "connect");
			return;
		}
	}
	if ((events & UV_WRITABLE) && store_flush(s)) {
		store_fail(s, "send");
		return;
	}
	if (events & UV_READABLE) {
		if (!PQconsumeInput(s->conn)) {
			store_fail(s, "receive");
			return;
		}
		int rc = 0;
		if (s->state == ST_SETUP)
			rc = setup_results(s);
		else if (s->state == ST_BUSY)
			rc = batch_results(s);
		if (rc || (s->conn && PQstatus(s->conn) == CONNECTION_BAD))
			store_fail(s, s->state == ST_SETUP ? "setup" : "receive");
	}
}

static void store_connect(struct store *s)
{
	if (s->state == ST_CLOSED)
		return;
	/* The URL expands into its parameters; a password given apart comes after, so it wins. */
	const char *const keys[] = {"dbname", s->password ? "password" : NULL, NULL};
	const char *const values[] = {s->url, s->password, NULL};
	s->conn = PQconnectStartParams(keys, values, 1);
	if (!s->conn || PQstatus(s->conn) == CONNECTION_BAD) {
		store_fail(s, "connect");
		return;
	}
	s->state = ST_CONNECTING;
	if (store_watch(s, UV_WRITABLE))
		store_fail(s, "connect");
}

struct store *store_create(uv_loop_t *loop, const char *url, const char *password, store_state_cb state_cb,
			   void *arg)
{
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->url = strdup(url);
	s->password = password ? strdup(password) : NULL;
	if (!s->url || (password && !s->password)) {
		free(s->url);
		free(s->password);
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->state_cb = state_cb;
	s->arg = arg;
	s->backoff_ms = BACKOFF_MIN_MS;
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	store_connect(s);
	return s;
}

int store_is_ready(const struct store *s)
{
	return s->state == ST_READY || s->state == ST_BUSY;
}

const char *store_status(const struct store *s)
{
	if (store_is_ready(s))
		return "";
	return s->status[0] ? s->status : s->state == ST_SETUP ? "setting up" : "connecting";
}

/* Queues one prepared statement of a request; its result goes to slot, its failure names step. */
static int store_send(struct store *s, const char *stmt, int nparams, const char *const *params, enum store_res slot,
		      enum store_step step)
{
	if (!PQsendQueryPrepared(s->conn, stmt, nparams, params, NULL, NULL, 0))
		return 0;
	s->slot[s->nstmt] = slot;
	s->step[s->nstmt] = step;
	s->nstmt++;
	return 1;
}

/*
 * Marks a request sent: it is the one in flight until its pipeline sync
 * arrives. Its statements form one implicit transaction, which the sync commits.
 */
static int store_sent(struct store *s, int ok, store_done_cb done_cb)
{
	if (!ok || !PQpipelineSync(s->conn) || store_flush(s)) {
		store_fail(s, "send");
		return -1;
	}
	s->state = ST_BUSY;
	s->done_cb = done_cb;
	return 0;
}

int store_lookup(struct store *s, struct store_lookup *l, store_done_cb done_cb)
{
	if (s->state != ST_READY)
		return -1;
	char rate[16], dup[16];
	snprintf(rate, sizeof(rate), "%d", l->rate_window_s);
	snprintf(dup, sizeof(dup), "%d", l->duplicate_window_s);
	const char *params[LK__COUNT + 2];
	for (int i = 0; i < LK__COUNT; i++)
		if (!(params[i] = pgarr_finish(&l->col[i])))
			return -1;
	params[LK__COUNT] = rate;
	params[LK__COUNT + 1] = dup;
	int ok = store_send(s, "lookup_comments", LK__COUNT + 2, params, STORE_RES_LOOKUP, STORE_STEP_LOOKUP);
	return store_sent(s, ok, done_cb);
}

/*
 * Sends one transaction: the insert statement with the rows' arrays and the
 * read-back with their comment_ids, then the decisions; a part with nothing
 * to do is left out.
 */
static int store_send_batch(struct store *s, struct store_rows *rows, const char *insert, const char *read_back,
			    struct store_decisions *decisions, store_done_cb done_cb)
{
	if (s->state != ST_READY || (rows->count == 0 && decisions->count == 0))
		return -1;
	const char *params[COL__COUNT], *dparams[DC__COUNT];
	for (int i = 0; rows->count && i < COL__COUNT; i++)
		if (!(params[i] = pgarr_finish(&rows->col[i])))
			return -1;
	for (int i = 0; decisions->count && i < DC__COUNT; i++)
		if (!(dparams[i] = pgarr_finish(&decisions->col[i])))
			return -1;
	int ok = 1;
	if (rows->count)
		ok = store_send(s, insert, COL__COUNT, params, STORE_RES_ROWS, STORE_STEP_ROWS) &&
		     store_send(s, read_back, 1, params, STORE_RES_STORED, STORE_STEP_ROWS);
	if (ok && decisions->count)
		ok = store_send(s, "apply_decisions", DC__COUNT, dparams, STORE_RES_DECISIONS, STORE_STEP_DECISIONS);
	return store_sent(s, ok, done_cb);
}

int store_submit(struct store *s, struct store_rows *rows, struct store_decisions *decisions, store_done_cb done_cb)
{
	return store_send_batch(s, rows, "insert_comments", "select_comments", decisions, done_cb);
}

int store_submit_each(struct store *s, struct store_rows *rows, struct store_decisions *decisions,
		      store_done_cb done_cb)
{
	return store_send_batch(s, rows, "insert_each", "select_all", decisions, done_cb);
}

void store_close(struct store *s, void (*close_cb)(void *arg), void *arg)
{
	finish_batch(s, "", "closing", STORE_STEP_NONE);
	s->state = ST_CLOSED;
	s->close_cb = close_cb;
	s->close_arg = arg;
	s->closing_handles = 1 + (s->poll ? 1 : 0);
	store_unwatch(s); /* the poll handle's close callback counts down */
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, timer_close_cb);
}
