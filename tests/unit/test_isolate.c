/* test_isolate.c - row isolation: which errors a row can cause, and the outcomes of storing rows one at a time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "batch.h"
#include "isolate.h"

static struct config cfg = {.topic_submitted = "comment-submitted", .topic_rejected = "comment-rejected"};

static void test_row_can_cause(void **state)
{
	(void)state;
	const char *yes[] = {"22001", "22P02", "22003", "23514", "23505", "23503", "23502", "54000", "P0001", "P0004"};
	const char *no[] = {NULL, "", "08006", "42501", "25006", "53100", "57014", "55P03", "40001", "40P01", "XX000",
			    "42P01", "2200", "220011"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!isolate_row_can_cause(yes[i]))
			fail_msg("%s is one row's to cause", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (isolate_row_can_cause(no[i]))
			fail_msg("%s is not one row's to cause", no[i] ? no[i] : "(null)");
}

/* A batch of n well-formed comments, each added to the rows as the lookup would (coordinates 7/100+i). */
static void make_batch(struct batch *b, int n)
{
	memset(b, 0, sizeof(*b));
	b->cfg = &cfg;
	b->cap = (size_t)n;
	b->slots = calloc((size_t)n, sizeof(*b->slots));
	b->out = calloc((size_t)n, sizeof(*b->out));
	b->lookup_slot = calloc((size_t)n, sizeof(size_t));
	b->row_slot = calloc((size_t)n, sizeof(size_t));
	for (int i = 0; i < n; i++) {
		struct slot *s = &b->slots[b->n++];
		char ev[512];
		int len = snprintf(ev, sizeof(ev),
				   "{\"schema_version\":1,\"comment_id\":\"00000000-0000-4000-8000-00000000000%d\","
				   "\"article_id\":\"a-1\",\"author\":{\"id\":\"reader-%d\",\"display_name\":\"R %d\"},"
				   "\"body\":\"Comment number %d, long enough to pass the minimum of fifty characters.\","
				   "\"submitted_at\":\"2026-11-29T10:00:00Z\"}",
				   i, i, i, i);
		s->kind = SLOT_COMMENT;
		s->topic = cfg.topic_submitted;
		s->partition = 7;
		s->offset = 100 + i;
		s->payload = strdup(ev);
		s->len = (size_t)len;
		s->row_ix = -1;
		assert_int_equal(comment_decode(s->payload, s->len, &s->c, &s->v), OUTCOME_PUBLISH);
		assert_int_equal(batch_add_row(b, s), 0);
	}
}

static PGresult *result(int ncols, const char *const *names)
{
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[16];
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < ncols; i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].typid = 25; /* text */
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(r, ncols, attrs));
	return r;
}

static void set(PGresult *r, int row, int col, const char *v)
{
	assert_true(PQsetvalue(r, row, col, (char *)v, v ? (int)strlen(v) : -1));
}

static PGresult *outcomes(int n, const char *const *outcome, const char *const *code, const char *const *msg)
{
	static const char *const names[] = {"ord", "outcome", "error_code", "error_message"};
	PGresult *r = result(4, names);
	for (int i = 0; i < n; i++) {
		char ord[16];
		snprintf(ord, sizeof(ord), "%d", i + 1);
		set(r, i, EACH_ORD, ord);
		set(r, i, EACH_OUTCOME, outcome[i]);
		set(r, i, EACH_ERROR_CODE, code[i]);
		set(r, i, EACH_ERROR_MESSAGE, msg[i]);
	}
	return r;
}

/* A stored row (enum store_out) for slot i of b, from the coordinates partition/offset. */
static void add_row(PGresult *r, int row, const struct batch *b, int i, int partition, int offset)
{
	char part[16], off[24];
	snprintf(part, sizeof(part), "%d", partition);
	snprintf(off, sizeof(off), "%d", offset);
	const struct comment *c = &b->slots[i].c;
	const char *vals[] = {c->comment_id, c->article_id, c->author_id, c->display_name, NULL, c->body, "published",
			      "[]", "2026-11-29T10:00:00.000000Z", "2026-11-29T10:00:01.000000Z", "comment-submitted",
			      part, off};
	for (int col = 0; col < 13; col++)
		set(r, row, col, vals[col]);
}

static PGresult *rows_result(void)
{
	static const char *const names[] = {"comment_id", "article_id", "author_id", "author_display_name",
					    "parent_id", "body", "status", "reasons", "submitted_at", "accepted_at",
					    "source_topic", "source_partition", "source_offset"};
	return result(13, names);
}

/* Inserted, refused, skipped from its own coordinates (a replay) and from others (a duplicate). */
static void test_apply_outcomes(void **state)
{
	(void)state;
	struct batch b;
	make_batch(&b, 4);
	const char *outcome[] = {"inserted", "refused", "skipped", "skipped"};
	const char *code[] = {NULL, "23514", NULL, NULL};
	const char *msg[] = {NULL, "new row for relation \"comments\" violates check constraint \"no_forbidden\"", NULL,
			     NULL};
	PGresult *res[2] = {outcomes(4, outcome, code, msg), rows_result()};
	add_row(res[1], 0, &b, 3, 3, 55); /* comment 3, stored before from 3/55 */
	add_row(res[1], 1, &b, 0, 7, 100);
	add_row(res[1], 2, &b, 2, 7, 102);
	int refused = -1;
	assert_null(isolate_apply(&b, res, &refused));
	assert_int_equal(refused, 1);
	assert_int_equal(b.slots[0].result, RES_PUBLISHED);
	assert_int_equal(b.slots[0].replay, 0);
	assert_int_equal(b.slots[1].result, RES_REJECTED);
	assert_int_equal(b.slots[1].v.reject, REASON_STORAGE_REFUSED);
	assert_string_equal(b.slots[1].v.detail, "PostgreSQL refused to store the comment (23514): new row for relation "
						 "\"comments\" violates check constraint \"no_forbidden\"");
	json_t *ev = json_loads(b.slots[1].event, 0, NULL);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "reason"), "code")), "storage_refused");
	assert_string_equal(json_string_value(json_object_get(ev, "comment_id")), b.slots[1].c.comment_id);
	json_decref(ev);
	assert_int_equal(b.slots[2].result, RES_PUBLISHED);
	assert_int_equal(b.slots[2].replay, 1);
	assert_int_equal(b.slots[3].result, RES_DUPLICATE);
	PQclear(res[0]);
	PQclear(res[1]);
	batch_free(&b);
}

/* PostgreSQL's message is cut to fit the detail without splitting a character, and the event stays valid JSON. */
static void test_long_message_cut_between_characters(void **state)
{
	(void)state;
	struct batch b;
	make_batch(&b, 1);
	char msg[600];
	size_t n = 0;
	while (n + 2 < sizeof(msg))
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "\xC3\xA9");
	const char *outcome[] = {"refused"}, *code[] = {"22001"}, *msgs[] = {msg};
	PGresult *res[2] = {outcomes(1, outcome, code, msgs), rows_result()};
	int refused;
	assert_null(isolate_apply(&b, res, &refused));
	assert_true(strlen(b.slots[0].v.detail) < COMMENT_DETAIL_LEN);
	json_t *ev = json_loads(b.slots[0].event, 0, NULL);
	assert_non_null(ev);
	json_decref(ev);
	PQclear(res[0]);
	PQclear(res[1]);
	batch_free(&b);
}

static void test_unexpected_answers_are_errors(void **state)
{
	(void)state;
	struct batch b;
	make_batch(&b, 2);
	const char *outcome[] = {"inserted", "inserted"}, *code[] = {NULL, NULL}, *msg[] = {NULL, NULL};
	int refused;
	/* one outcome for two rows */
	PGresult *res[2] = {outcomes(1, outcome, code, msg), rows_result()};
	assert_string_equal(isolate_apply(&b, res, &refused), "row isolation returned the wrong number of rows");
	PQclear(res[0]);
	/* inserted, but its row is not there */
	res[0] = outcomes(2, outcome, code, msg);
	add_row(res[1], 0, &b, 0, 7, 100);
	assert_string_equal(isolate_apply(&b, res, &refused), "a stored comment was not found");
	PQclear(res[0]);
	/* out of order */
	res[0] = outcomes(2, outcome, code, msg);
	set(res[0], 0, EACH_ORD, "2");
	set(res[0], 1, EACH_ORD, "1");
	assert_string_equal(isolate_apply(&b, res, &refused), "row isolation returned the rows out of order");
	PQclear(res[0]);
	PQclear(res[1]);
	batch_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_can_cause),
		cmocka_unit_test(test_apply_outcomes),
		cmocka_unit_test(test_long_message_cut_between_characters),
		cmocka_unit_test(test_unexpected_answers_are_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
