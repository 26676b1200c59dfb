/* test_decision.c - moderation decisions: the life cycle, decision_decode's every reason code, PostgreSQL's answers (moderate_match) and the decisions' events. */
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
#include "decision.h"
#include "events.h"
#include "moderate.h"
#include "reason.h"
#include "uuid.h"

#define DID "0b6f3c9e-2d41-4c8a-9e57-3a1f6d2b8c40"
#define CID "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"
#define AID "ani-2026-01-31"
#define NOW "2026-01-31T11:00:00Z"
#define WHEN "2026-01-31T10:42:00Z"
#define WHEN_CANON "2026-01-31T10:42:00.000000Z"

static int64_t now_us(void)
{
	int64_t us;
	assert_int_equal(timefmt_parse_rfc3339(NOW, strlen(NOW), &us), 0);
	return us;
}

/* ---- the life cycle ------------------------------------------------------------------------- */

static void test_transitions(void **state)
{
	(void)state;
	static const struct {
		enum decision_kind k;
		enum comment_status from, to;
		int change;
	} table[] = {
		{DECISION_APPROVE, STATUS_PENDING, STATUS_PUBLISHED, 1},   /* approved */
		{DECISION_REJECT, STATUS_PENDING, STATUS_REJECTED, 1},     /* rejected */
		{DECISION_REJECT, STATUS_PUBLISHED, STATUS_REJECTED, 1},   /* taken down */
		{DECISION_APPROVE, STATUS_REJECTED, STATUS_PUBLISHED, 1},  /* restored */
		{DECISION_APPROVE, STATUS_PUBLISHED, STATUS_PUBLISHED, 0}, /* no-op */
		{DECISION_REJECT, STATUS_REJECTED, STATUS_REJECTED, 0},    /* no-op */
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		enum comment_status to = STATUS__COUNT;
		assert_int_equal(decision_transition(table[i].k, table[i].from, &to), table[i].change);
		assert_int_equal(to, table[i].to);
	}
	/* the wire names, and nothing else parses */
	const char *names[] = {"pending", "published", "rejected"};
	for (int i = 0; i < STATUS__COUNT; i++) {
		enum comment_status st;
		assert_string_equal(comment_status_name((enum comment_status)i), names[i]);
		assert_int_equal(comment_status_parse(names[i], &st), 0);
		assert_int_equal(st, i);
	}
	enum comment_status st;
	assert_int_equal(comment_status_parse("Published", &st), -1);
	assert_int_equal(comment_status_parse("", &st), -1);
	assert_int_equal(comment_status_parse(NULL, &st), -1);
	assert_string_equal(decision_kind_name(DECISION_APPROVE), "approve");
	assert_string_equal(decision_kind_name(DECISION_REJECT), "reject");
}

/* ---- decoding --------------------------------------------------------------------------------- */

static json_t *base_decision(void)
{
	json_t *ev = json_pack("{s:i, s:s, s:s, s:s, s:s, s:{s:s}, s:s, s:s}", "schema_version", 1, "decision_id", DID,
			       "comment_id", CID, "article_id", AID, "decision", "approve", "moderator", "id",
			       "moderator-7", "note", "  Checked the link.\r\nIt is fine.  ", "decided_at", WHEN);
	assert_non_null(ev);
	return ev;
}

/* Decodes ev (after set(ev)) and checks the outcome and reason; returns the decision for more checks. */
static enum outcome decode_json(json_t *ev, struct decision *d, struct verdict *v)
{
	char *s = json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(s);
	enum outcome o = decision_decode(s, strlen(s), now_us(), d, v);
	free(s);
	json_decref(ev);
	return o;
}

static void test_decode_valid(void **state)
{
	(void)state;
	struct decision d;
	struct verdict v;
	assert_int_equal(decode_json(base_decision(), &d, &v), OUTCOME_PUBLISH);
	assert_string_equal(d.decision_id, DID);
	assert_string_equal(d.comment_id, CID);
	assert_string_equal(d.article_id, AID);
	assert_int_equal(d.kind, DECISION_APPROVE);
	assert_string_equal(d.moderator_id, "moderator-7");
	assert_string_equal(d.note, "Checked the link.\nIt is fine."); /* trimmed, CRLF -> LF */
	assert_string_equal(d.decided_at, WHEN_CANON);
	decision_clear(&d);

	/* upper-case ids, an offset time, unknown fields, a null note, reject */
	json_t *ev = base_decision();
	json_object_set_new(ev, "decision_id", json_string("0B6F3C9E-2D41-4C8A-9E57-3A1F6D2B8C40"));
	json_object_set_new(ev, "decision", json_string("reject"));
	json_object_set_new(ev, "note", json_null());
	json_object_set_new(ev, "decided_at", json_string("2026-01-31T16:12:30.5+05:30"));
	json_object_set_new(ev, "tool", json_string("queue v3"));
	json_object_set_new(json_object_get(ev, "moderator"), "queue", json_string("flagged"));
	assert_int_equal(decode_json(ev, &d, &v), OUTCOME_PUBLISH);
	assert_string_equal(d.decision_id, DID);
	assert_int_equal(d.kind, DECISION_REJECT);
	assert_null(d.note);
	assert_string_equal(d.decided_at, "2026-01-31T10:42:30.500000Z");
	decision_clear(&d);

	/* an empty note is no note; exactly 500 characters is a note; 300 s ahead is allowed */
	ev = base_decision();
	json_object_set_new(ev, "note", json_string(" \t "));
	assert_int_equal(decode_json(ev, &d, &v), OUTCOME_PUBLISH);
	assert_null(d.note);
	decision_clear(&d);
	char note[501];
	memset(note, 'n', 500);
	note[500] = '\0';
	ev = base_decision();
	json_object_set_new(ev, "note", json_string(note));
	json_object_set_new(ev, "decided_at", json_string("2026-01-31T11:05:00Z"));
	assert_int_equal(decode_json(ev, &d, &v), OUTCOME_PUBLISH);
	assert_int_equal(strlen(d.note), 500);
	decision_clear(&d);
}

struct bad_case {
	const char *name;
	const char *key;   /* member to change ("moderator.id" inside moderator); NULL: raw payload */
	json_t *value;     /* new value; NULL removes it */
	const char *raw;
	enum reason reason;
	int identified; /* the decision, comment and article ids are still known */
};

static void test_every_rejection_code(void **state)
{
	(void)state;
	char long_note[502], long_id[130], wide_id[30 * 18 + 1];
	memset(long_note, 'n', 501);
	long_note[501] = '\0';
	memset(long_id, 'm', 129);
	long_id[129] = '\0';
	wide_id[0] = '\0';
	for (int i = 0; i < 30; i++) /* 30 families (man ZWJ woman ZWJ girl): 30 characters, 540 bytes */
		strcat(wide_id, "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7");
	char huge[COMMENT_PAYLOAD_MAX + 2];
	memset(huge, ' ', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	huge[0] = '{';
	huge[sizeof(huge) - 2] = '}';
	struct bad_case cases[] = {
		{"empty", NULL, NULL, "", REASON_MALFORMED_JSON, 0},
		{"truncated", NULL, NULL, "{\"decision\": ", REASON_MALFORMED_JSON, 0},
		{"not UTF-8", NULL, NULL, "{\"note\": \"\xff\"}", REASON_INVALID_TEXT, 0},
		{"an array", NULL, NULL, "[\"approve\"]", REASON_NOT_AN_OBJECT, 0},
		{"too large", NULL, NULL, huge, REASON_PAYLOAD_TOO_LARGE, 0},
		{"no schema_version", "schema_version", NULL, NULL, REASON_MISSING_FIELD, 1},
		{"schema_version 2", "schema_version", json_integer(2), NULL, REASON_UNSUPPORTED_SCHEMA_VERSION, 1},
		{"schema_version \"1\"", "schema_version", json_string("1"), NULL, REASON_INVALID_TYPE, 1},
		{"no decision_id", "decision_id", NULL, NULL, REASON_MISSING_FIELD, 0},
		{"decision_id 42", "decision_id", json_string("42"), NULL, REASON_INVALID_UUID, 0},
		{"decision_id a number", "decision_id", json_integer(42), NULL, REASON_INVALID_TYPE, 0},
		{"comment_id not a UUID", "comment_id", json_string("123"), NULL, REASON_INVALID_UUID, 0},
		{"no article_id", "article_id", NULL, NULL, REASON_MISSING_FIELD, 0},
		{"article_id with a space", "article_id", json_string("ani 2026"), NULL, REASON_INVALID_FIELD, 0},
		{"no decision", "decision", NULL, NULL, REASON_MISSING_FIELD, 1},
		{"decision maybe", "decision", json_string("maybe"), NULL, REASON_INVALID_FIELD, 1},
		{"decision APPROVE", "decision", json_string("APPROVE"), NULL, REASON_INVALID_FIELD, 1},
		{"decision true", "decision", json_true(), NULL, REASON_INVALID_TYPE, 1},
		{"no moderator", "moderator", NULL, NULL, REASON_MISSING_FIELD, 1},
		{"moderator a string", "moderator", json_string("moderator-7"), NULL, REASON_INVALID_TYPE, 1},
		{"no moderator.id", "moderator.id", NULL, NULL, REASON_MISSING_FIELD, 1},
		{"moderator.id blank", "moderator.id", json_string("   "), NULL, REASON_INVALID_FIELD, 1},
		{"moderator.id 129 characters", "moderator.id", json_string(long_id), NULL, REASON_INVALID_FIELD, 1},
		{"moderator.id with a tab", "moderator.id", json_string("mod\t7"), NULL, REASON_INVALID_TEXT, 1},
		{"moderator.id over 512 bytes", "moderator.id", NULL, NULL, REASON_FIELD_TOO_LARGE, 1},
		{"note a number", "note", json_integer(7), NULL, REASON_INVALID_TYPE, 1},
		{"note 501 characters", "note", json_string(long_note), NULL, REASON_INVALID_FIELD, 1},
		{"note with a bidi override", "note", json_string("fine \xe2\x80\xae"), NULL, REASON_INVALID_TEXT, 1},
		{"no decided_at", "decided_at", NULL, NULL, REASON_MISSING_FIELD, 1},
		{"decided_at without offset", "decided_at", json_string("2026-01-31T10:42:00"), NULL,
		 REASON_INVALID_DECIDED_AT, 1},
		{"decided_at 30 February", "decided_at", json_string("2026-02-30T10:42:00Z"), NULL,
		 REASON_INVALID_DECIDED_AT, 1},
		{"decided_at 301 s ahead", "decided_at", json_string("2026-01-31T11:05:01Z"), NULL, REASON_DECIDED_IN_FUTURE,
		 1},
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bad_case *c = &cases[i];
		struct decision d;
		struct verdict v;
		enum outcome o;
		if (c->raw) {
			o = decision_decode(c->raw, strlen(c->raw), now_us(), &d, &v);
		} else {
			json_t *ev = base_decision();
			if (strcmp(c->name, "moderator.id over 512 bytes") == 0)
				c->value = json_string(wide_id);
			json_t *obj = strncmp(c->key, "moderator.", 10) == 0 ? json_object_get(ev, "moderator") : ev;
			const char *key = strncmp(c->key, "moderator.", 10) == 0 ? c->key + 10 : c->key;
			if (c->value)
				json_object_set_new(obj, key, c->value);
			else
				json_object_del(obj, key);
			o = decode_json(ev, &d, &v);
		}
		int ok = o == OUTCOME_REJECT && v.outcome == OUTCOME_REJECT && v.reject == c->reason && v.detail[0] &&
			 reason_for(v.reject, REASON_FOR_DECISIONS);
		if (ok && c->identified)
			ok = strcmp(d.decision_id, DID) == 0 && strcmp(d.comment_id, CID) == 0 && d.article_id &&
			     strcmp(d.article_id, AID) == 0;
		if (!ok) {
			print_error("FAIL [%s]: got %s (%s), want %s\n", c->name, reason_code(v.reject), v.detail,
				    reason_code(c->reason));
			failed++;
		}
		decision_clear(&d);
	}
	assert_int_equal(failed, 0);
}

/* 128 characters of four bytes each are exactly the 512 bytes a moderator id may have. */
static void test_moderator_id_bytes(void **state)
{
	(void)state;
	char id[128 * 4 + 1] = "";
	for (int i = 0; i < 128; i++)
		strcat(id, "\xf0\x9f\x98\x80"); /* 128 x GRINNING FACE: 128 characters, 512 bytes: fits */
	json_t *ev = base_decision();
	json_object_set_new(json_object_get(ev, "moderator"), "id", json_string(id));
	struct decision d;
	struct verdict v;
	assert_int_equal(decode_json(ev, &d, &v), OUTCOME_PUBLISH);
	decision_clear(&d);
}

/* ---- PostgreSQL's answers ------------------------------------------------------------------------ */

static struct config cfg = {.topic_submitted = "comment-submitted",
			    .topic_decided = "moderation-decided",
			    .topic_published = "comment-published",
			    .topic_moderated = "comment-moderated",
			    .topic_decision_rejected = "moderation-decision-rejected"};

/* A batch of n decision slots (coordinates 2/100+i), each as moderate_take leaves it. */
static void make_batch(struct batch *b, int n, const char *const *kinds)
{
	memset(b, 0, sizeof(*b));
	b->cfg = &cfg;
	b->cap = (size_t)n;
	b->slots = calloc((size_t)n, sizeof(*b->slots));
	b->out = calloc((size_t)n, sizeof(*b->out));
	b->decision_slot = calloc((size_t)n, sizeof(size_t));
	for (int i = 0; i < n; i++) {
		struct slot *s = &b->slots[b->n++];
		char ev[512];
		snprintf(ev, sizeof(ev),
			 "{\"schema_version\":1,\"decision_id\":\"00000000-0000-4000-8000-00000000000%d\","
			 "\"comment_id\":\"" CID "\",\"article_id\":\"" AID "\",\"decision\":\"%s\","
			 "\"moderator\":{\"id\":\"moderator-7\"},\"note\":\"secret note\",\"decided_at\":\"" WHEN "\"}",
			 i, kinds[i]);
		s->kind = SLOT_DECISION;
		s->topic = cfg.topic_decided;
		s->partition = 2;
		s->offset = 100 + i;
		s->payload = strdup(ev);
		s->len = strlen(ev);
		s->row_ix = -1;
		assert_int_equal(moderate_take(b, s, now_us()), 0);
		assert_int_equal(s->result, RES_PENDING);
	}
	assert_int_equal(b->decisions.count, n);
}

static void free_batch(struct batch *b)
{
	for (int i = 0; i < STORE_RES__COUNT; i++)
		b->rows_res[i] = NULL; /* the tests' own */
	batch_free(b);
}

static PGresult *answers(void)
{
	static const char *const names[] = {"comment_id", "article_id", "author_id", "author_display_name", "parent_id",
					    "body", "status", "reasons", "submitted_at", "accepted_at", "source_topic",
					    "source_partition", "source_offset", "ord", "outcome", "replay", "from_status",
					    "to_status", "decided_at", "decision_source_topic",
					    "decision_source_partition", "decision_source_offset"};
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	PGresAttDesc attrs[22];
	memset(attrs, 0, sizeof(attrs));
	for (int i = 0; i < 22; i++) {
		attrs[i].name = (char *)names[i];
		attrs[i].typid = 25;
		attrs[i].typlen = -1;
		attrs[i].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(r, 22, attrs));
	return r;
}

static void set(PGresult *r, int row, int col, const char *v)
{
	assert_true(PQsetvalue(r, row, col, (char *)v, v ? (int)strlen(v) : -1));
}

/* Row k of the answer: the comment (known when article is not NULL) and what became of decision k. */
static void answer(PGresult *r, int k, const char *article, const char *outcome, const char *replay, const char *from,
		   const char *to, int offset)
{
	char ord[16], off[16];
	snprintf(ord, sizeof(ord), "%d", k + 1);
	snprintf(off, sizeof(off), "%d", offset);
	const char *comment[13] = {CID, article, "reader-1", "Priya S", NULL,
				   "A body that PostgreSQL stored, long enough to pass the minimum of fifty characters.",
				   "pending", "[{\"code\":\"contains_link\",\"detail\":\"A link.\"}]",
				   "2026-01-31T10:00:00.000000Z", "2026-01-31T10:00:00.412093Z", "comment-submitted", "1", "9"};
	for (int c = 0; c < 13; c++)
		set(r, k, c, article ? comment[c] : NULL);
	set(r, k, DO_ORD, ord);
	set(r, k, DO_OUTCOME, outcome);
	set(r, k, DO_REPLAY, replay);
	set(r, k, DO_FROM_STATUS, from);
	set(r, k, DO_TO_STATUS, to);
	set(r, k, DO_DECIDED_AT, WHEN_CANON);
	set(r, k, DO_SOURCE_TOPIC, "moderation-decided");
	set(r, k, DO_SOURCE_PARTITION, "2");
	set(r, k, DO_SOURCE_OFFSET, off);
}

static json_t *parse(const char *s)
{
	json_error_t err;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("not JSON (%s): %s", err.text, s);
	return j;
}

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_string(v))
		fail_msg("%s is not a string", k);
	return json_string_value(v);
}

static void test_match_every_outcome(void **state)
{
	(void)state;
	const char *kinds[] = {"approve", "reject", "approve", "reject", "approve", "approve", "reject", "approve"};
	struct batch b;
	make_batch(&b, 8, kinds);
	PGresult *r = answers();
	answer(r, 0, AID, "applied", "f", "pending", "published", 100);
	answer(r, 1, AID, "applied", "f", "published", "rejected", 101);
	answer(r, 2, AID, "noop", "f", "published", "published", 102);
	answer(r, 3, AID, "duplicate", "f", NULL, NULL, 103);
	answer(r, 4, NULL, "unknown_comment", "f", NULL, NULL, 104);
	answer(r, 5, "another-article", "article_mismatch", "f", NULL, NULL, 105);
	answer(r, 6, AID, "stale", "f", "published", NULL, 106);
	answer(r, 7, AID, "applied", "t", "rejected", "published", 99); /* a replay: the record's coordinates */
	assert_null(moderate_match(&b, r));
	b.rows_res[STORE_RES_DECISIONS] = r;

	const enum slot_result want[] = {RES_APPLIED, RES_APPLIED, RES_NOOP, RES_DUPLICATE,
					 RES_REJECTED, RES_REJECTED, RES_REJECTED, RES_APPLIED};
	for (int i = 0; i < 8; i++)
		assert_int_equal(b.slots[i].result, want[i]);
	assert_int_equal(b.slots[4].v.reject, REASON_UNKNOWN_COMMENT);
	assert_int_equal(b.slots[5].v.reject, REASON_ARTICLE_MISMATCH);
	assert_non_null(strstr(b.slots[5].v.detail, "another-article"));
	assert_int_equal(b.slots[6].v.reject, REASON_STALE_DECISION);
	assert_int_equal(b.slots[7].replay, 1);
	assert_int_equal(b.slots[0].replay, 0);
	assert_int_equal(b.slots[1].from, STATUS_PUBLISHED);
	assert_int_equal(b.slots[1].to, STATUS_REJECTED);

	/* the events, as the Kafka stage builds them */
	assert_int_equal(batch_build_events(&b), 0);
	assert_int_equal(b.nout, 6); /* 3 applied, 3 rejected; the no-op and the duplicate say nothing */
	const char *topics[] = {"comment-published", "comment-moderated", "moderation-decision-rejected",
				"moderation-decision-rejected", "moderation-decision-rejected", "comment-published"};
	for (size_t i = 0; i < b.nout; i++) {
		assert_string_equal(b.out[i].topic, topics[i]);
		assert_non_null(b.out[i].key);
		assert_memory_equal(b.out[i].key, AID, strlen(AID));
		assert_int_equal(b.out[i].key_len, strlen(AID));
		if (strcmp(topics[i], "moderation-decision-rejected") != 0) { /* only a dead letter quotes the payload */
			assert_null(strstr(b.out[i].value, "secret note"));
			assert_null(strstr(b.out[i].value, "moderator-7"));
		}
	}
	json_t *approved = parse(b.out[0].value);
	assert_string_equal(str(approved, "status"), "published");
	assert_int_equal(json_array_size(json_object_get(approved, "reasons")), 0);
	json_t *mod = json_object_get(approved, "moderation");
	assert_string_equal(str(mod, "decision_id"), "00000000-0000-4000-8000-000000000000");
	assert_string_equal(str(mod, "from_status"), "pending");
	assert_string_equal(str(mod, "decided_at"), WHEN_CANON);
	json_decref(approved);
	json_t *taken = parse(b.out[1].value);
	assert_string_equal(str(taken, "from_status"), "published");
	assert_string_equal(str(taken, "to_status"), "rejected");
	json_decref(taken);
	json_t *restored = parse(b.out[5].value);
	mod = json_object_get(restored, "moderation");
	assert_string_equal(str(mod, "from_status"), "rejected");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(mod, "source"), "offset")), 99);
	json_decref(restored);
	json_t *stale = parse(b.out[4].value);
	assert_string_equal(str(json_object_get(stale, "reason"), "code"), "stale_decision");
	assert_string_equal(str(stale, "payload"), b.slots[6].payload);
	json_decref(stale);
	PQclear(r);
	free_batch(&b);
}

/* An answer that is not a step of the life cycle, or does not fit the batch, fails the batch. */
static void test_match_refuses_impossible_answers(void **state)
{
	(void)state;
	static const struct {
		const char *kind, *outcome, *from, *to;
		int ord;
	} bad[] = {
		{"approve", "applied", "pending", "rejected", 1},  /* approve cannot reject */
		{"reject", "applied", "rejected", "rejected", 1},  /* a no-op is not applied */
		{"approve", "noop", "pending", "published", 1},    /* a change is not a no-op */
		{"approve", "applied", "held", "published", 1},    /* no such status */
		{"approve", "deleted", NULL, NULL, 1},             /* no such outcome */
		{"approve", "applied", "pending", "published", 2}, /* out of order */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *kinds[] = {bad[i].kind};
		struct batch b;
		make_batch(&b, 1, kinds);
		PGresult *r = answers();
		answer(r, 0, AID, bad[i].outcome, "f", bad[i].from, bad[i].to, 100);
		if (bad[i].ord != 1)
			set(r, 0, DO_ORD, "2");
		if (!moderate_match(&b, r))
			fail_msg("case %zu was accepted", i);
		PQclear(r);
		free_batch(&b);
	}
	const char *kinds[] = {"approve", "approve"};
	struct batch b;
	make_batch(&b, 2, kinds);
	PGresult *r = answers();
	answer(r, 0, AID, "applied", "f", "pending", "published", 100);
	assert_non_null(moderate_match(&b, r)); /* one row for two decisions */
	assert_non_null(moderate_match(&b, NULL));
	PQclear(r);
	free_batch(&b);
}

/* A malformed decision is rejected as it arrives, with its dead letter built at once. */
static void test_take_rejects_malformed(void **state)
{
	(void)state;
	struct batch b;
	memset(&b, 0, sizeof(b));
	b.cfg = &cfg;
	b.cap = 1;
	b.slots = calloc(1, sizeof(*b.slots));
	b.out = calloc(1, sizeof(*b.out));
	b.decision_slot = calloc(1, sizeof(size_t));
	struct slot *s = &b.slots[b.n++];
	s->kind = SLOT_DECISION;
	s->topic = cfg.topic_decided;
	s->partition = 0;
	s->offset = 4;
	s->payload = strdup("approve");
	s->len = 7;
	assert_int_equal(moderate_take(&b, s, now_us()), 0);
	assert_int_equal(s->result, RES_REJECTED);
	assert_int_equal(b.decisions.count, 0);
	json_t *ev = parse(s->event);
	assert_string_equal(str(ev, "event_type"), "moderation-decision-rejected");
	assert_string_equal(str(json_object_get(ev, "reason"), "code"), "malformed_json");
	assert_true(json_is_null(json_object_get(ev, "decision_id")));
	char id[UUID_STR_LEN];
	const char *name = "moderation-decided/0/4/moderation-decision-rejected";
	assert_int_equal(uuid_v5(name, strlen(name), id), 0);
	assert_string_equal(str(ev, "event_id"), id);
	json_decref(ev);
	free_batch(&b);
}

/* ---- the events' ids and bytes ----------------------------------------------------------------- */

static void test_event_ids_derive_from_the_decision(void **state)
{
	(void)state;
	struct stored_comment sc = {.comment_id = CID, .article_id = AID, .author_id = "reader-1",
				    .display_name = "Priya S", .parent_id = NULL,
				    .body = "A body long enough to be a comment, fifty characters at the very least.",
				    .status = "pending", .reasons = "[]", .submitted_at = "2026-01-31T10:00:00.000000Z",
				    .accepted_at = "2026-01-31T10:00:00.412093Z", .source = {"comment-submitted", 1, 9}};
	struct moderation m = {.decision_id = DID, .kind = DECISION_APPROVE, .from_status = "pending",
			       .to_status = "published", .decided_at = WHEN_CANON, .source = {"moderation-decided", 2, 17}};
	char *a = events_approved(&sc, &m), *a2 = events_approved(&sc, &m);
	assert_string_equal(a, a2); /* the same bytes again */
	char id[UUID_STR_LEN];
	assert_int_equal(uuid_v5(DID "/comment-published", strlen(DID "/comment-published"), id), 0);
	json_t *ev = parse(a);
	assert_string_equal(str(ev, "event_id"), id);
	assert_string_equal(str(ev, "comment_id"), CID);
	json_decref(ev);
	/* a submission's own comment-published event has another id */
	int held;
	sc.status = "published";
	char *own = events_stored(&sc, &held);
	json_t *o = parse(own);
	assert_string_not_equal(str(o, "event_id"), id);
	assert_null(json_object_get(o, "moderation"));
	json_decref(o);
	m.kind = DECISION_REJECT;
	m.to_status = "rejected";
	char *r = events_moderated(CID, AID, &m);
	assert_int_equal(uuid_v5(DID "/comment-moderated", strlen(DID "/comment-moderated"), id), 0);
	ev = parse(r);
	assert_string_equal(str(ev, "event_id"), id);
	assert_int_equal(json_object_size(ev), 11);
	json_decref(ev);
	free(a);
	free(a2);
	free(own);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_decode_valid),
		cmocka_unit_test(test_every_rejection_code),
		cmocka_unit_test(test_moderator_id_bytes),
		cmocka_unit_test(test_match_every_outcome),
		cmocka_unit_test(test_match_refuses_impossible_answers),
		cmocka_unit_test(test_take_rejects_malformed),
		cmocka_unit_test(test_event_ids_derive_from_the_decision),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
