/* test_comment.c - comment_decode: every outcome and reason code of a comment-submitted event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <utf8proc.h>

#include "comment.h"
#include "events.h"
#include "reason.h"

#define CID "123e4567-e89b-42d3-a456-426614174000"
#define CID_UPPER "123E4567-E89B-42D3-A456-426614174ABC"
#define CID_UPPER_CANON "123e4567-e89b-42d3-a456-426614174abc"
#define PID "00000000-0000-4000-8000-000000000001"
#define AID "article-42"
/* 76 ASCII characters */
#define BODY "This is a perfectly ordinary comment about the article, long enough to pass."
#define TS "2026-01-31T10:00:00Z"
#define TS_CANON "2026-01-31T10:00:00.000000Z"
#define TS_US INT64_C(1769853600000000)

/* The valid minimal event, as a jansson object the tests then change. */
static json_t *base_event(void)
{
	json_t *ev = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}, s:s, s:s}", "schema_version", 1, "comment_id", CID,
			       "article_id", AID, "author", "id", "u-1", "display_name", "Priya S", "body", BODY,
			       "submitted_at", TS);
	assert_non_null(ev);
	return ev;
}

static char *dump(json_t *ev, size_t *len)
{
	char *s = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	assert_non_null(s);
	*len = strlen(s);
	return s;
}

/* Sets (value != NULL) or removes (value == NULL) a member at "key" or "author.key". */
static void mutate(json_t *ev, const char *path, json_t *value)
{
	json_t *obj = ev;
	const char *key = path;
	if (strncmp(path, "author.", 7) == 0) {
		obj = json_object_get(ev, "author");
		key = path + 7;
	}
	if (value)
		assert_int_equal(json_object_set_new(obj, key, value), 0);
	else
		json_object_del(obj, key);
}

/* ---- expectations ---------------------------------------------------------------------------- */

struct expect {
	enum outcome outcome;
	enum reason reason;
	const char *comment_id; /* expected c.comment_id; "" when unknown */
	const char *article_id; /* expected c.article_id; NULL when unknown */
};

/* Decodes payload and compares with e; prints what differs. Returns 1 when the case failed. */
static int check_case(const char *name, const char *payload, size_t len, const struct expect *e)
{
	struct comment c;
	struct verdict v;
	enum outcome o = comment_decode(payload, len, &c, &v);
	const char *why = NULL;
	if (o != e->outcome || v.outcome != e->outcome)
		why = "outcome";
	else if (v.reject != e->reason)
		why = "reason";
	else if (v.hold_mask != 0)
		why = "hold_mask";
	else if (e->outcome == OUTCOME_REJECT && v.detail[0] == '\0')
		why = "empty detail";
	else if (strcmp(c.comment_id, e->comment_id) != 0)
		why = "comment_id";
	else if (e->article_id ? !c.article_id || strcmp(c.article_id, e->article_id) != 0 : c.article_id != NULL)
		why = "article_id";
	else if (e->outcome == OUTCOME_PUBLISH &&
		 (!c.author_id || !c.display_name || !c.body || c.body_graphemes < COMMENT_BODY_MIN ||
		  c.body_graphemes > COMMENT_BODY_MAX || strlen(c.submitted_at) != 27))
		why = "published comment incomplete";
	if (why)
		print_error("FAIL [%s] %s: got outcome %d reason %s (\"%s\") comment_id \"%s\" article_id %s; "
			    "want outcome %d reason %s comment_id \"%s\" article_id %s\n",
			    name, why, (int)o, reason_code(v.reject), v.detail, c.comment_id,
			    c.article_id ? c.article_id : "NULL", (int)e->outcome, reason_code(e->reason), e->comment_id,
			    e->article_id ? e->article_id : "NULL");
	comment_clear(&c);
	return why != NULL;
}

/* ---- raw payloads ---------------------------------------------------------------------------- */

#define OK_FIELDS                                                                                         \
	"\"comment_id\":\"" CID "\",\"article_id\":\"" AID "\",\"author\":{\"id\":\"u-1\",\"display_name\":\"Priya S\"}," \
	"\"submitted_at\":\"" TS "\""
#define VALID "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\"}"

#define PUB {OUTCOME_PUBLISH, REASON_NONE, CID, AID}
#define REJ(r) {OUTCOME_REJECT, r, CID, AID}
#define REJ_ANON(r) {OUTCOME_REJECT, r, "", NULL}

struct raw_case {
	const char *name;
	const char *payload;
	size_t len; /* 0: strlen(payload) */
	struct expect e;
};

#define RAW(name, lit, e) {name, lit, sizeof(lit) - 1, e}

static const struct raw_case raw_cases[] = {
	RAW("valid minimal event", VALID, PUB),
	RAW("empty payload", "", REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("white space only", "  \n ", REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("truncated object", "{\"schema_version\":1,", REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("not json at all", "hello", REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("trailing garbage", VALID " x", REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("two objects", VALID VALID, REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("single quotes", "{'schema_version':1}", REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("array", "[]", REJ_ANON(REASON_NOT_AN_OBJECT)),
	RAW("array of an event", "[" VALID "]", REJ_ANON(REASON_NOT_AN_OBJECT)),
	RAW("number", "42", REJ_ANON(REASON_NOT_AN_OBJECT)),
	RAW("string", "\"comment\"", REJ_ANON(REASON_NOT_AN_OBJECT)),
	RAW("null", "null", REJ_ANON(REASON_NOT_AN_OBJECT)),
	RAW("true", "true", REJ_ANON(REASON_NOT_AN_OBJECT)),
	RAW("duplicate top-level key", "{\"schema_version\":1,\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\"}",
	    REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("duplicate body key", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\",\"body\":\"x\"}",
	    REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("duplicate nested key",
	    "{\"schema_version\":1,\"comment_id\":\"" CID "\",\"article_id\":\"" AID "\","
	    "\"author\":{\"id\":\"u-1\",\"id\":\"u-2\",\"display_name\":\"P\"},\"submitted_at\":\"" TS "\",\"body\":\"" BODY "\"}",
	    REJ_ANON(REASON_MALFORMED_JSON)),
	RAW("invalid UTF-8 in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\xff\xfe\"}",
	    REJ_ANON(REASON_INVALID_TEXT)),
	RAW("overlong UTF-8 in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\xc0\xaf\"}",
	    REJ_ANON(REASON_INVALID_TEXT)),
	RAW("encoded surrogate in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\xed\xa0\x80\"}",
	    REJ_ANON(REASON_INVALID_TEXT)),
	RAW("invalid UTF-8 outside strings", "\xff{}", REJ_ANON(REASON_INVALID_TEXT)),
	RAW("escaped NUL in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\\u0000\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("bidi override in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\\u202e\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("bidi isolate in body (raw bytes)", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"\xe2\x81\xa6" BODY "\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("escape character in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\\u001b[2J\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("C1 NEL in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\\u0085\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("lone CR in body", "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\\rmore\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("NUL in display_name",
	    "{\"schema_version\":1,\"comment_id\":\"" CID "\",\"article_id\":\"" AID "\","
	    "\"author\":{\"id\":\"u-1\",\"display_name\":\"Pri\\u0000ya\"},\"submitted_at\":\"" TS "\",\"body\":\"" BODY "\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("newline in display_name",
	    "{\"schema_version\":1,\"comment_id\":\"" CID "\",\"article_id\":\"" AID "\","
	    "\"author\":{\"id\":\"u-1\",\"display_name\":\"Priya\\nS\"},\"submitted_at\":\"" TS "\",\"body\":\"" BODY "\"}",
	    REJ(REASON_INVALID_TEXT)),
	RAW("NUL in article_id",
	    "{\"schema_version\":1,\"comment_id\":\"" CID "\",\"article_id\":\"a\\u0000b\","
	    "\"author\":{\"id\":\"u-1\",\"display_name\":\"P\"},\"submitted_at\":\"" TS "\",\"body\":\"" BODY "\"}",
	    ((struct expect){OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL})),
	RAW("NUL in comment_id",
	    "{\"schema_version\":1,\"comment_id\":\"123e4567-e89b-42d3-a456-42661417400\\u0000\",\"article_id\":\"" AID "\","
	    "\"author\":{\"id\":\"u-1\",\"display_name\":\"P\"},\"submitted_at\":\"" TS "\",\"body\":\"" BODY "\"}",
	    ((struct expect){OUTCOME_REJECT, REASON_INVALID_UUID, "", AID})),
	RAW("schema_version beyond 64 bits", "{\"schema_version\":123456789012345678901234567890," OK_FIELDS ",\"body\":\"" BODY "\"}",
	    REJ(REASON_INVALID_TYPE)),
	RAW("unknown field beyond 64 bits", "{\"n\":123456789012345678901234567890,\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\"}",
	    PUB),
	RAW("unknown fields everywhere",
	    "{\"schema_version\":1,\"x\":{\"y\":[1,2,{}]},\"comment_id\":\"" CID "\",\"article_id\":\"" AID "\","
	    "\"author\":{\"id\":\"u-1\",\"display_name\":\"P\",\"avatar\":null},\"submitted_at\":\"" TS "\","
	    "\"body\":\"" BODY "\",\"trace\":\"abc\"}",
	    PUB),
};

static void test_raw_payloads(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++)
		failed += check_case(raw_cases[i].name, raw_cases[i].payload, raw_cases[i].len, &raw_cases[i].e);
	assert_int_equal(failed, 0);
}

/* ---- mutations of the valid event ------------------------------------------------------------ */

struct mut_case {
	const char *name;
	const char *path;
	const char *value_json; /* NULL: remove the member */
	struct expect e;
};

#define A129 "a1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567x"
#define A128 "a1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
#define N64 "Priya Sundaram-Venkataraman of the Long Names Society Chapter 12"
#define N65 "Priya Sundaram-Venkataraman of the Long Names Society Chapter 123"

static const struct mut_case mut_cases[] = {
	{"unknown top-level field", "extra", "{\"nested\":[1,2,3]}", PUB},
	{"unknown author field", "author.avatar_url", "\"https://example.com/a.png\"", PUB},
	{"parent_id null", "parent_id", "null", PUB},
	{"parent_id uuid", "parent_id", "\"" PID "\"", PUB},
	/* wrong types */
	{"comment_id number", "comment_id", "123", {OUTCOME_REJECT, REASON_INVALID_TYPE, "", AID}},
	{"comment_id object", "comment_id", "{}", {OUTCOME_REJECT, REASON_INVALID_TYPE, "", AID}},
	{"article_id number", "article_id", "42", {OUTCOME_REJECT, REASON_INVALID_TYPE, CID, NULL}},
	{"body number", "body", "42", REJ(REASON_INVALID_TYPE)},
	{"body array", "body", "[\"" BODY "\"]", REJ(REASON_INVALID_TYPE)},
	{"author string", "author", "\"Priya S\"", REJ(REASON_INVALID_TYPE)},
	{"author array", "author", "[]", REJ(REASON_INVALID_TYPE)},
	{"author.id number", "author.id", "7", REJ(REASON_INVALID_TYPE)},
	{"author.display_name bool", "author.display_name", "true", REJ(REASON_INVALID_TYPE)},
	{"schema_version string", "schema_version", "\"1\"", REJ(REASON_INVALID_TYPE)},
	{"schema_version 1.5", "schema_version", "1.5", REJ(REASON_INVALID_TYPE)},
	{"schema_version 1e300", "schema_version", "1e300", REJ(REASON_INVALID_TYPE)},
	{"schema_version true", "schema_version", "true", REJ(REASON_INVALID_TYPE)},
	/* 1.0 is the integer 1 as JSON Schema counts it (comment.c accepts it on purpose) */
	{"schema_version 1.0", "schema_version", "1.0", PUB},
	{"schema_version 2.0", "schema_version", "2.0", REJ(REASON_UNSUPPORTED_SCHEMA_VERSION)},
	{"submitted_at number", "submitted_at", "1769853600", REJ(REASON_INVALID_TYPE)},
	{"parent_id number", "parent_id", "5", REJ(REASON_INVALID_TYPE)},
	/* missing fields */
	{"missing schema_version", "schema_version", NULL, REJ(REASON_MISSING_FIELD)},
	{"missing comment_id", "comment_id", NULL, {OUTCOME_REJECT, REASON_MISSING_FIELD, "", AID}},
	{"null comment_id", "comment_id", "null", {OUTCOME_REJECT, REASON_MISSING_FIELD, "", AID}},
	{"missing article_id", "article_id", NULL, {OUTCOME_REJECT, REASON_MISSING_FIELD, CID, NULL}},
	{"missing author", "author", NULL, REJ(REASON_MISSING_FIELD)},
	{"missing author.id", "author.id", NULL, REJ(REASON_MISSING_FIELD)},
	{"missing author.display_name", "author.display_name", NULL, REJ(REASON_MISSING_FIELD)},
	{"missing body", "body", NULL, REJ(REASON_MISSING_FIELD)},
	{"null body", "body", "null", REJ(REASON_MISSING_FIELD)},
	{"missing submitted_at", "submitted_at", NULL, REJ(REASON_MISSING_FIELD)},
	/* schema version */
	{"schema_version 2", "schema_version", "2", REJ(REASON_UNSUPPORTED_SCHEMA_VERSION)},
	{"schema_version 0", "schema_version", "0", REJ(REASON_UNSUPPORTED_SCHEMA_VERSION)},
	{"schema_version -1", "schema_version", "-1", REJ(REASON_UNSUPPORTED_SCHEMA_VERSION)},
	/* uuids */
	{"comment_id not a uuid", "comment_id", "\"not-a-uuid\"", {OUTCOME_REJECT, REASON_INVALID_UUID, "", AID}},
	{"comment_id without hyphens", "comment_id", "\"123e4567e89b42d3a456426614174000\"",
	 {OUTCOME_REJECT, REASON_INVALID_UUID, "", AID}},
	{"comment_id in braces", "comment_id", "\"{" CID "}\"", {OUTCOME_REJECT, REASON_INVALID_UUID, "", AID}},
	{"comment_id empty", "comment_id", "\"\"", {OUTCOME_REJECT, REASON_INVALID_UUID, "", AID}},
	/* 36 characters, the last one not hex: c.comment_id must stay empty ("empty until known valid") */
	{"comment_id 36 chars, last not hex", "comment_id", "\"123e4567-e89b-42d3-a456-42661417400z\"",
	 {OUTCOME_REJECT, REASON_INVALID_UUID, "", AID}},
	{"comment_id 36 chars, hyphen misplaced", "comment_id", "\"123e4567-e89b-42d3-a4564-26614174000\"",
	 {OUTCOME_REJECT, REASON_INVALID_UUID, "", AID}},
	{"comment_id upper case", "comment_id", "\"" CID_UPPER "\"", {OUTCOME_PUBLISH, REASON_NONE, CID_UPPER_CANON, AID}},
	{"parent_id not a uuid", "parent_id", "\"parent\"", REJ(REASON_INVALID_UUID)},
	{"parent_id empty", "parent_id", "\"\"", REJ(REASON_INVALID_UUID)},
	/* article_id */
	{"article_id with space", "article_id", "\"article 42\"", {OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL}},
	{"article_id 129 chars", "article_id", "\"" A129 "\"", {OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL}},
	{"article_id 128 chars", "article_id", "\"" A128 "\"", {OUTCOME_PUBLISH, REASON_NONE, CID, A128}},
	{"article_id empty", "article_id", "\"\"", {OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL}},
	{"article_id starts with '-'", "article_id", "\"-42\"", {OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL}},
	{"article_id with slash", "article_id", "\"news/42\"", {OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL}},
	{"article_id non-ASCII", "article_id", "\"caf\\u00e9\"", {OUTCOME_REJECT, REASON_INVALID_FIELD, CID, NULL}},
	{"article_id punctuation", "article_id", "\"news:2026.01_31-x\"", {OUTCOME_PUBLISH, REASON_NONE, CID, "news:2026.01_31-x"}},
	/* author */
	{"display_name 65 chars", "author.display_name", "\"" N65 "\"", REJ(REASON_INVALID_FIELD)},
	{"display_name 64 chars", "author.display_name", "\"" N64 "\"", PUB},
	{"display_name empty", "author.display_name", "\"\"", REJ(REASON_INVALID_FIELD)},
	{"display_name white space", "author.display_name", "\" \\u00a0 \"", REJ(REASON_INVALID_FIELD)},
	{"author.id empty", "author.id", "\"\"", REJ(REASON_INVALID_FIELD)},
	{"author.id 129 chars", "author.id", "\"" A129 "\"", REJ(REASON_INVALID_FIELD)},
	/* body */
	{"body empty", "body", "\"\"", REJ(REASON_BODY_TOO_SHORT)},
	{"body white space only", "body", "\"   \\n\\t \\u00a0\\u3000 \\r\\n  \"", REJ(REASON_BODY_TOO_SHORT)},
	{"body zero-width only", "body",
	 "\"\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b"
	 "\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b"
	 "\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b"
	 "\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\\u200b\"",
	 REJ(REASON_BODY_TOO_SHORT)},
	/* submitted_at */
	{"submitted_at impossible date", "submitted_at", "\"2026-02-30T00:00:00Z\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at no zone", "submitted_at", "\"2026-01-31T10:00:00\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at space separator", "submitted_at", "\"2026-01-31 10:00:00Z\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at date only", "submitted_at", "\"2026-01-31\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at month 13", "submitted_at", "\"2026-13-01T00:00:00Z\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at hour 24", "submitted_at", "\"2026-01-31T24:00:00Z\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at empty", "submitted_at", "\"\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at epoch seconds as string", "submitted_at", "\"1769853600\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	/* passes RFC 3339 but PostgreSQL has no year 0: the batch insert would fail on every retry */
	{"submitted_at year 0", "submitted_at", "\"0000-01-01T00:00:00Z\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at year 0 after offset", "submitted_at", "\"0001-01-01T00:00:00+01:00\"", REJ(REASON_INVALID_SUBMITTED_AT)},
	{"submitted_at trailing space", "submitted_at", "\"2026-01-31T10:00:00Z \"", REJ(REASON_INVALID_SUBMITTED_AT)},
};

static int run_mutation(const struct mut_case *mc)
{
	json_t *value = NULL;
	if (mc->value_json) {
		json_error_t err;
		value = json_loads(mc->value_json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
		if (!value)
			fail_msg("case %s: bad test value %s: %s", mc->name, mc->value_json, err.text);
	}
	json_t *ev = base_event();
	mutate(ev, mc->path, value);
	size_t len;
	char *payload = dump(ev, &len);
	json_decref(ev);
	int failed = check_case(mc->name, payload, len, &mc->e);
	free(payload);
	return failed;
}

static void test_mutations(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(mut_cases) / sizeof(mut_cases[0]); i++)
		failed += run_mutation(&mut_cases[i]);
	assert_int_equal(failed, 0);
}

/* ---- the valid event in detail --------------------------------------------------------------- */

static void test_valid_minimal_event_fields(void **state)
{
	(void)state;
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(VALID, strlen(VALID), &c, &v), OUTCOME_PUBLISH);
	assert_int_equal(v.outcome, OUTCOME_PUBLISH);
	assert_int_equal(v.reject, REASON_NONE);
	assert_int_equal(v.hold_mask, 0);
	assert_string_equal(c.comment_id, CID);
	assert_string_equal(c.parent_id, "");
	assert_string_equal(c.article_id, AID);
	assert_string_equal(c.author_id, "u-1");
	assert_string_equal(c.display_name, "Priya S");
	assert_string_equal(c.body, BODY);
	assert_int_equal(c.body_graphemes, strlen(BODY));
	assert_int_equal(c.submitted_us, TS_US);
	assert_string_equal(c.submitted_at, TS_CANON);
	comment_clear(&c);
	assert_null(c.body);
	assert_null(c.article_id);
	assert_string_equal(c.comment_id, "");
}

static void test_parent_id_canonicalized(void **state)
{
	(void)state;
	json_t *ev = base_event();
	mutate(ev, "parent_id", json_string("ABCDEF01-2345-4789-ABCD-EF0123456789"));
	size_t len;
	char *p = dump(ev, &len);
	json_decref(ev);
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_PUBLISH);
	assert_string_equal(c.parent_id, "abcdef01-2345-4789-abcd-ef0123456789");
	comment_clear(&c);
	free(p);
}

static void test_submitted_at_variants(void **state)
{
	(void)state;
	static const struct {
		const char *in, *canon;
	} ok[] = {
		{"2026-01-31T10:00:00Z", "2026-01-31T10:00:00.000000Z"},
		{"2026-01-31T15:30:00+05:30", "2026-01-31T10:00:00.000000Z"},
		{"2026-01-31T02:00:00-08:00", "2026-01-31T10:00:00.000000Z"},
		{"2026-01-31T10:00:00.5Z", "2026-01-31T10:00:00.500000Z"},
		{"2026-01-31T10:00:00.123456789Z", "2026-01-31T10:00:00.123456Z"},
		{"2026-01-31t10:00:00z", "2026-01-31T10:00:00.000000Z"},
		{"2026-01-01T01:00:00+02:00", "2025-12-31T23:00:00.000000Z"},
		{"2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000000Z"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		print_message("submitted_at %s\n", ok[i].in);
		json_t *ev = base_event();
		mutate(ev, "submitted_at", json_string(ok[i].in));
		size_t len;
		char *p = dump(ev, &len);
		json_decref(ev);
		struct comment c;
		struct verdict v;
		assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_PUBLISH);
		assert_string_equal(c.submitted_at, ok[i].canon);
		comment_clear(&c);
		free(p);
	}
}

/* ---- bodies built at run time ---------------------------------------------------------------- */

/* Repeats unit n times between prefix and suffix. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
	char *s = malloc(pl + ul * n + sl + 1);
	assert_non_null(s);
	memcpy(s, prefix, pl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + pl + i * ul, unit, ul);
	memcpy(s + pl + ul * n, suffix, sl + 1);
	return s;
}

/* Decodes the base event with body replaced; returns the outcome and keeps c for inspection. */
static enum outcome decode_body(const char *body, struct comment *c, struct verdict *v)
{
	json_t *ev = base_event();
	mutate(ev, "body", json_string(body));
	size_t len;
	char *p = dump(ev, &len);
	json_decref(ev);
	enum outcome o = comment_decode(p, len, c, v);
	free(p);
	return o;
}

struct body_case {
	const char *name;
	const char *unit; /* one grapheme as sent */
	const char *stored_unit; /* the same grapheme after NFC */
	size_t n;
	enum reason reason; /* REASON_NONE: published */
};

#define E_DECOMPOSED "e\xCC\x81"
#define E_COMPOSED "\xC3\xA9"
#define THUMBS "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"
#define FAMILY "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7"
#define FLAG "\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8"

static const struct body_case body_cases[] = {
	{"49 ascii", "x", "x", 49, REASON_BODY_TOO_SHORT},
	{"50 ascii", "x", "x", 50, REASON_NONE},
	{"500 ascii", "x", "x", 500, REASON_NONE},
	{"501 ascii", "x", "x", 501, REASON_BODY_TOO_LONG},
	{"49 decomposed e", E_DECOMPOSED, E_COMPOSED, 49, REASON_BODY_TOO_SHORT},
	{"50 decomposed e", E_DECOMPOSED, E_COMPOSED, 50, REASON_NONE},
	{"500 decomposed e", E_DECOMPOSED, E_COMPOSED, 500, REASON_NONE},
	{"501 decomposed e", E_DECOMPOSED, E_COMPOSED, 501, REASON_BODY_TOO_LONG},
	{"50 composed e", E_COMPOSED, E_COMPOSED, 50, REASON_NONE},
	{"49 thumbs with tone", THUMBS, THUMBS, 49, REASON_BODY_TOO_SHORT},
	{"50 thumbs with tone", THUMBS, THUMBS, 50, REASON_NONE},
	{"500 thumbs with tone", THUMBS, THUMBS, 500, REASON_NONE},
	{"501 thumbs with tone", THUMBS, THUMBS, 501, REASON_BODY_TOO_LONG},
	{"50 families", FAMILY, FAMILY, 50, REASON_NONE},
	{"500 families", FAMILY, FAMILY, 500, REASON_NONE},
	{"501 families", FAMILY, FAMILY, 501, REASON_BODY_TOO_LONG},
	{"50 a+zwsp", "a\xE2\x80\x8B", "a\xE2\x80\x8B", 50, REASON_NONE},
};

static void test_body_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *bc = &body_cases[i];
		print_message("body: %s\n", bc->name);
		char *body = repeat("", bc->unit, bc->n, "");
		struct comment c;
		struct verdict v;
		enum outcome o = decode_body(body, &c, &v);
		if (bc->reason == REASON_NONE) {
			if (o != OUTCOME_PUBLISH)
				print_message("  rejected: %s %s\n", reason_code(v.reject), v.detail);
			assert_int_equal(o, OUTCOME_PUBLISH);
			assert_int_equal(c.body_graphemes, bc->n);
			char *want = repeat("", bc->stored_unit, bc->n, "");
			/* trailing ZWSP is trimmed */
			size_t wl = strlen(want);
			if (strcmp(bc->unit, "a\xE2\x80\x8B") == 0)
				want[wl - 3] = '\0';
			assert_string_equal(c.body, want);
			free(want);
		} else {
			assert_int_equal(o, OUTCOME_REJECT);
			assert_string_equal(reason_code(v.reject), reason_code(bc->reason));
			assert_string_equal(c.comment_id, CID);
			assert_string_equal(c.article_id, AID);
			assert_null(c.body);
		}
		comment_clear(&c);
		free(body);
	}
}

static void test_body_padding_does_not_count(void **state)
{
	(void)state;
	/* 49 visible characters padded to well over 50 code points */
	char *body = repeat(" \xC2\xA0\n\t\xE3\x80\x80", "y", 49, "\r\n \xE2\x80\x8B\xE2\x80\x8B   ");
	struct comment c;
	struct verdict v;
	assert_int_equal(decode_body(body, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "body_too_short");
	comment_clear(&c);
	free(body);

	/* 49 visible plus zero-width characters inside */
	body = repeat("", "z\xE2\x80\x8B", 49, "");
	assert_int_equal(decode_body(body, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "body_too_short");
	comment_clear(&c);
	free(body);
}

/* A body of invisible characters is not 60 characters as a reader counts them. */
static void test_invisible_body_too_short(void **state)
{
	(void)state;
	static const char *const units[] = {
		"\xC2\xAD",     /* U+00AD soft hyphen */
		"\xE2\x81\xA3", /* U+2063 invisible separator */
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *body = repeat("", units[i], 60, "");
		struct comment c;
		struct verdict v;
		enum outcome o = decode_body(body, &c, &v);
		if (o != OUTCOME_REJECT)
			print_error("60 x U+%s: outcome %d, body_graphemes %zu\n", i ? "2063" : "00AD", (int)o,
				    c.body_graphemes);
		comment_clear(&c);
		free(body);
		assert_int_equal(o, OUTCOME_REJECT);
		assert_string_equal(reason_code(v.reject), "body_too_short");
	}
}

static void test_stored_body_is_nfc_and_trimmed(void **state)
{
	(void)state;
	const char *in = "  \xC2\xA0\r\n"
			 "Cafe\xCC\x81 au lait, \xC3\xA9t\xC3\xA9 comme hiver:\r\n"
			 "a comment long enough to pass the limit.\r\n"
			 " \xE3\x80\x80\n";
	const char *want = "Caf\xC3\xA9 au lait, \xC3\xA9t\xC3\xA9 comme hiver:\n"
			   "a comment long enough to pass the limit.";
	struct comment c;
	struct verdict v;
	assert_int_equal(decode_body(in, &c, &v), OUTCOME_PUBLISH);
	assert_string_equal(c.body, want);
	assert_int_equal(c.body_graphemes, 71);
	comment_clear(&c);

	/* display_name is cleaned too */
	json_t *ev = base_event();
	mutate(ev, "author.display_name", json_string(" \xC2\xA0Zo\xC3\xAB\xE3\x80\x80"));
	size_t len;
	char *p = dump(ev, &len);
	json_decref(ev);
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_PUBLISH);
	assert_string_equal(c.display_name, "Zo\xC3\xAB");
	comment_clear(&c);
	free(p);

	ev = base_event();
	mutate(ev, "author.display_name", json_string("Zoe\xCC\x88"));
	p = dump(ev, &len);
	json_decref(ev);
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_PUBLISH);
	assert_string_equal(c.display_name, "Zo\xC3\xAB");
	comment_clear(&c);
	free(p);
}

/* ---- hostile inputs -------------------------------------------------------------------------- */

/* A huge field in an event under COMMENT_PAYLOAD_MAX is read, so the rejection names the comment. */
static void test_huge_body_rejected(void **state)
{
	(void)state;
	size_t n = COMMENT_PAYLOAD_MAX - 4096;
	char *body = malloc(n + 1);
	assert_non_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	body[n] = '\0';
	struct comment c;
	struct verdict v;
	assert_int_equal(decode_body(body, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "body_too_long");
	assert_string_equal(c.comment_id, CID);
	assert_string_equal(c.article_id, AID);
	assert_true(strlen(v.detail) < COMMENT_DETAIL_LEN);
	comment_clear(&c);

	/* article_id and comment_id of the same size */
	json_t *ev = base_event();
	mutate(ev, "article_id", json_string(body));
	size_t len;
	char *p = dump(ev, &len);
	json_decref(ev);
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "invalid_field");
	assert_null(c.article_id);
	comment_clear(&c);
	free(p);

	ev = base_event();
	mutate(ev, "comment_id", json_string(body));
	p = dump(ev, &len);
	json_decref(ev);
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "invalid_uuid");
	assert_string_equal(c.comment_id, "");
	comment_clear(&c);
	free(p);
	free(body);
}

/*
 * An event over COMMENT_PAYLOAD_MAX is rejected unread (payload_too_large): no
 * event the rules accept comes near it, and the loop does not parse megabytes.
 */
static void test_oversized_event_rejected_unread(void **state)
{
	(void)state;
	size_t n = 1024 * 1024;
	char *body = malloc(n + 1);
	assert_non_null(body);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	body[n] = '\0';
	struct comment c;
	struct verdict v;
	assert_int_equal(decode_body(body, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "payload_too_large");
	assert_non_null(strstr(v.detail, "at most 262144"));
	assert_string_equal(c.comment_id, "");
	assert_null(c.article_id);
	comment_clear(&c);
	free(body);

	/* one byte over the limit, and exactly at it */
	char *p = malloc(COMMENT_PAYLOAD_MAX + 1);
	assert_non_null(p);
	memset(p, ' ', COMMENT_PAYLOAD_MAX + 1);
	p[0] = '{';
	p[COMMENT_PAYLOAD_MAX - 1] = '}';
	assert_int_equal(comment_decode(p, COMMENT_PAYLOAD_MAX, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "missing_field");
	comment_clear(&c);
	assert_int_equal(comment_decode(p, COMMENT_PAYLOAD_MAX + 1, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "payload_too_large");
	comment_clear(&c);
	free(p);
}

/* author.id is indexed: more than COMMENT_AUTHOR_ID_MAX_BYTES in UTF-8 is field_too_large, even within 128 characters. */
static void test_author_id_byte_limit(void **state)
{
	(void)state;
	/* 128 graphemes of q and three combining marks (no precomposed form, 7 bytes each): 896 bytes */
	char *id = repeat("", "q\xCC\x81\xCC\x82\xCC\x83", 128, "");
	json_t *ev = base_event();
	mutate(ev, "author.id", json_string(id));
	size_t len;
	char *p = dump(ev, &len);
	json_decref(ev);
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "field_too_large");
	assert_non_null(strstr(v.detail, "author.id is 896 bytes"));
	assert_string_equal(c.comment_id, CID);
	comment_clear(&c);
	free(p);
	free(id);

	/* 73 such graphemes are 511 bytes: stored */
	id = repeat("", "q\xCC\x81\xCC\x82\xCC\x83", 73, "");
	ev = base_event();
	mutate(ev, "author.id", json_string(id));
	p = dump(ev, &len);
	json_decref(ev);
	assert_int_equal(comment_decode(p, len, &c, &v), OUTCOME_PUBLISH);
	assert_int_equal(strlen(c.author_id), 511);
	comment_clear(&c);
	free(p);
	free(id);
}

/*
 * A body of 60 letters and one cluster of 20000 alternating combining marks
 * (80 KB): NFC's canonical ordering of the marks must not take seconds, as
 * comment_decode runs on the service's event loop (pipeline.c batch_run).
 */
static void test_combining_mark_flood_is_fast(void **state)
{
	(void)state;
	size_t pairs = 20000;
	char *body = repeat("The quick brown fox jumps over the lazy dog, twice, and more", "\xCC\x81\xCC\x96", pairs, "");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct comment c;
	struct verdict v;
	enum outcome o = decode_body(body, &c, &v);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("decode of a %zu-byte body: outcome %d %s, %.3f s\n", strlen(body), (int)o,
		      reason_code(v.reject), elapsed);
	comment_clear(&c);
	free(body);
	assert_true(elapsed < 0.5);
}

static void test_deep_nesting_does_not_crash(void **state)
{
	(void)state;
	size_t n = 100000;
	char *p = malloc(2 * n + 64);
	assert_non_null(p);
	/* 100k '[' */
	memset(p, '[', n);
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(p, n, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "malformed_json");
	comment_clear(&c);

	/* balanced 100k '[' ... ']' */
	memset(p + n, ']', n);
	assert_int_equal(comment_decode(p, 2 * n, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "malformed_json");
	comment_clear(&c);

	/* inside an otherwise valid event: {"schema_version":1,"x":[[[[...]]]] ...} */
	char *q = malloc(2 * n + sizeof(VALID) + 16);
	assert_non_null(q);
	size_t off = 0;
	memcpy(q, "{\"x\":", 5);
	off = 5;
	memset(q + off, '[', n);
	off += n;
	memset(q + off, ']', n);
	off += n;
	q[off++] = ',';
	memcpy(q + off, VALID + 1, sizeof(VALID) - 2);
	off += sizeof(VALID) - 2;
	assert_int_equal(comment_decode(q, off, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "malformed_json");
	comment_clear(&c);

	/* deep objects */
	off = 0;
	for (size_t i = 0; i < n / 8; i++) {
		memcpy(p + off, "{\"a\":", 5);
		off += 5;
	}
	assert_int_equal(comment_decode(p, off, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "malformed_json");
	comment_clear(&c);
	free(q);
	free(p);
}

static void test_every_prefix_is_rejected(void **state)
{
	(void)state;
	size_t n = strlen(VALID);
	for (size_t i = 0; i < n; i++) {
		/* an exact-size copy, so that ASan catches a read past len */
		char *p = malloc(i ? i : 1);
		assert_non_null(p);
		memcpy(p, VALID, i);
		struct comment c;
		struct verdict v;
		enum outcome o = comment_decode(p, i, &c, &v);
		if (o != OUTCOME_REJECT || v.reject != REASON_MALFORMED_JSON)
			fail_msg("prefix of %zu bytes: outcome %d reason %s", i, (int)o, reason_code(v.reject));
		comment_clear(&c);
		free(p);
	}
	/* and NULL */
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(NULL, 0, &c, &v), OUTCOME_REJECT);
	assert_string_equal(reason_code(v.reject), "malformed_json");
	comment_clear(&c);
}

static void test_escaped_lone_surrogate_rejected(void **state)
{
	(void)state;
	/* "\ud800" cannot become UTF-8: either code is acceptable, publishing is not. */
	static const char p[] = "{\"schema_version\":1," OK_FIELDS ",\"body\":\"" BODY "\\ud800\"}";
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(p, sizeof(p) - 1, &c, &v), OUTCOME_REJECT);
	assert_true(v.reject == REASON_MALFORMED_JSON || v.reject == REASON_INVALID_TEXT);
	assert_null(c.body);
	comment_clear(&c);
}

static void test_decode_resets_previous_state(void **state)
{
	(void)state;
	struct comment c;
	struct verdict v;
	assert_int_equal(comment_decode(VALID, strlen(VALID), &c, &v), OUTCOME_PUBLISH);
	comment_clear(&c);
	assert_int_equal(comment_decode("[]", 2, &c, &v), OUTCOME_REJECT);
	assert_string_equal(c.comment_id, "");
	assert_null(c.body);
	assert_string_equal(reason_code(v.reject), "not_an_object");
	comment_clear(&c);
}

static void test_verdict_reject_formats_and_truncates(void **state)
{
	(void)state;
	struct verdict v;
	memset(&v, 0, sizeof(v));
	v.hold_mask = 1u << REASON_CONTAINS_LINK;
	assert_int_equal(verdict_reject(&v, REASON_INVALID_FIELD, "%s has %d", "x", 3), OUTCOME_REJECT);
	assert_int_equal(v.outcome, OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_INVALID_FIELD);
	assert_int_equal(v.hold_mask, 0);
	assert_string_equal(v.detail, "x has 3");
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	verdict_reject(&v, REASON_MALFORMED_JSON, "%s", big);
	assert_int_equal(strlen(v.detail), COMMENT_DETAIL_LEN - 1);
}

/* True when s is well-formed UTF-8 (a C string). */
static int valid_utf8(const char *s)
{
	size_t n = strlen(s), i = 0;
	while (i < n) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
		if (k <= 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

/*
 * Found by fuzz_decide: jansson quotes the text near a syntax error byte by byte, so the
 * quote can end inside a UTF-8 sequence ('"\<lead byte>'). The detail then was not UTF-8,
 * events_rejected could not build the comment-rejected event, and the message failed its
 * batch on every retry: a poison message.
 */
static void test_malformed_json_detail_is_utf8(void **state)
{
	(void)state;
	static const char *const payloads[] = {
		"{\"body\": \"\\\xc3\xa9\"}",             /* an invalid escape before a 2-byte character */
		"{\"body\": \"\\\xe2\x82\xac\"}",         /* ... a 3-byte one */
		"{\"body\": \"\\\xf0\x9f\x91\x8d\"}",     /* ... a 4-byte one */
		"\xc3\xa9",                               /* an invalid token that starts with a 2-byte character */
		"{\"schema_version\": 1, \"x\": \xe2\x82\xac}",
		"[tru\xc3\xa9]",
	};
	static const struct source src = {"comment-submitted", 0, 7};
	int failed = 0;
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		struct comment c;
		struct verdict v;
		enum outcome o = comment_decode(payloads[i], strlen(payloads[i]), &c, &v);
		char *event = events_rejected(&src, payloads[i], strlen(payloads[i]), &c, &v);
		if (o != OUTCOME_REJECT || v.reject != REASON_MALFORMED_JSON || !v.detail[0] || !valid_utf8(v.detail) ||
		    !event) {
			print_error("FAIL: payload %zu -> outcome %d %s, detail \"%s\" (%s UTF-8), event %s\n", i, (int)o,
				    reason_code(v.reject), v.detail, valid_utf8(v.detail) ? "" : "not", event ? "built" : "NULL");
			failed++;
		}
		free(event);
		comment_clear(&c);
	}
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_minimal_event_fields),
		cmocka_unit_test(test_raw_payloads),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_parent_id_canonicalized),
		cmocka_unit_test(test_submitted_at_variants),
		cmocka_unit_test(test_body_lengths),
		cmocka_unit_test(test_body_padding_does_not_count),
		cmocka_unit_test(test_invisible_body_too_short),
		cmocka_unit_test(test_stored_body_is_nfc_and_trimmed),
		cmocka_unit_test(test_huge_body_rejected),
		cmocka_unit_test(test_oversized_event_rejected_unread),
		cmocka_unit_test(test_author_id_byte_limit),
		cmocka_unit_test(test_combining_mark_flood_is_fast),
		cmocka_unit_test(test_deep_nesting_does_not_crash),
		cmocka_unit_test(test_every_prefix_is_rejected),
		cmocka_unit_test(test_escaped_lone_surrogate_rejected),
		cmocka_unit_test(test_decode_resets_previous_state),
		cmocka_unit_test(test_verdict_reject_formats_and_truncates),
		cmocka_unit_test(test_malformed_json_detail_is_utf8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
