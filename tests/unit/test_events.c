/* test_events.c - the output events: comment-rejected, comment-published and moderation-needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "comment.h"
#include "events.h"
#include "reason.h"
#include "rules.h"
#include "uuid.h"

#define CID "123e4567-e89b-42d3-a456-426614174000"
#define PID "00000000-0000-4000-8000-000000000001"

static json_t *parse(const char *s)
{
	json_error_t err;
	assert_non_null(s);
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (!j)
		fail_msg("not JSON (%s): %s", err.text, s);
	assert_true(json_is_object(j));
	return j;
}

static const char *str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	return json_string_value(v);
}

static json_int_t integer(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

/* A v5 UUID in canonical lower-case form. */
static void assert_event_id(const char *u)
{
	char canon[UUID_STR_LEN];
	assert_int_equal(strlen(u), 36);
	assert_int_equal(uuid_canonical(u, 36, canon), 0);
	assert_string_equal(canon, u);
	assert_int_equal(u[14], '5');
	assert_non_null(strchr("89ab", u[19]));
}

/* Every key of obj is one of keys, and every one of keys is present. */
static void assert_keys(json_t *obj, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, keys[i]))
			fail_msg("missing key %s", keys[i]);
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		(void)v;
		int known = 0;
		for (size_t i = 0; i < n; i++)
			known |= strcmp(k, keys[i]) == 0;
		if (!known)
			fail_msg("unexpected key %s", k);
	}
}

static void assert_source(json_t *ev, const char *topic, json_int_t partition, json_int_t offset)
{
	json_t *src = json_object_get(ev, "source");
	assert_true(json_is_object(src));
	static const char *const keys[] = {"topic", "partition", "offset"};
	assert_keys(src, keys, 3);
	assert_string_equal(str(src, "topic"), topic);
	assert_int_equal(integer(src, "partition"), partition);
	assert_int_equal(integer(src, "offset"), offset);
}

/* ---- comment-rejected ------------------------------------------------------------------------ */

static const struct source SRC = {"comment-submitted", 2, 12};

static char *rejected(const struct source *src, const char *payload, size_t len, const char *cid,
		      const char *aid, enum reason r)
{
	struct comment c;
	memset(&c, 0, sizeof(c));
	if (cid)
		strcpy(c.comment_id, cid);
	c.article_id = (char *)aid;
	struct verdict v;
	memset(&v, 0, sizeof(v));
	verdict_reject(&v, r, "body must be %d to %d characters, it has %d", 50, 500, 12);
	char *out = events_rejected(src, payload, len, &c, &v);
	assert_non_null(out);
	return out;
}

static void test_rejected_fields(void **state)
{
	(void)state;
	const char *payload = "{\"schema_version\":1,\"body\":\"too short\"}";
	char *out = rejected(&SRC, payload, strlen(payload), CID, "article-42", REASON_BODY_TOO_SHORT);
	json_t *ev = parse(out);
	static const char *const keys[] = {"schema_version", "event_id", "event_type", "comment_id", "article_id",
					   "reason", "source", "payload", "payload_encoding", "payload_truncated"};
	assert_keys(ev, keys, sizeof(keys) / sizeof(keys[0]));
	assert_true(json_is_false(json_object_get(ev, "payload_truncated")));
	assert_int_equal(integer(ev, "schema_version"), 1);
	assert_event_id(str(ev, "event_id"));
	assert_string_equal(str(ev, "event_type"), "comment-rejected");
	assert_string_equal(str(ev, "comment_id"), CID);
	assert_string_equal(str(ev, "article_id"), "article-42");
	json_t *reason = json_object_get(ev, "reason");
	static const char *const rkeys[] = {"code", "detail"};
	assert_keys(reason, rkeys, 2);
	assert_string_equal(str(reason, "code"), "body_too_short");
	assert_string_equal(str(reason, "detail"), "body must be 50 to 500 characters, it has 12");
	assert_source(ev, "comment-submitted", 2, 12);
	assert_string_equal(str(ev, "payload"), payload);
	assert_string_equal(str(ev, "payload_encoding"), "utf-8");
	json_decref(ev);
	free(out);
}

static void test_rejected_unknown_ids_are_null(void **state)
{
	(void)state;
	char *out = rejected(&SRC, "[]", 2, NULL, NULL, REASON_NOT_AN_OBJECT);
	json_t *ev = parse(out);
	assert_true(json_is_null(json_object_get(ev, "comment_id")));
	assert_true(json_is_null(json_object_get(ev, "article_id")));
	assert_string_equal(str(json_object_get(ev, "reason"), "code"), "not_an_object");
	assert_string_equal(str(ev, "payload"), "[]");
	json_decref(ev);
	free(out);

	/* only the comment id known */
	out = rejected(&SRC, "{}", 2, CID, NULL, REASON_INVALID_FIELD);
	ev = parse(out);
	assert_string_equal(str(ev, "comment_id"), CID);
	assert_true(json_is_null(json_object_get(ev, "article_id")));
	json_decref(ev);
	free(out);
}

static void test_rejected_event_id_from_coordinates(void **state)
{
	(void)state;
	struct source a = {"comment-submitted", 0, 12};
	struct source b = {"comment-submitted", 0, 13};
	struct source c = {"comment-submitted", 1, 12};
	struct source d = {"other-topic", 0, 12};
	char *ea = rejected(&a, "x", 1, NULL, NULL, REASON_MALFORMED_JSON);
	char *ea2 = rejected(&a, "different payload", 17, CID, "art", REASON_MALFORMED_JSON);
	char *eb = rejected(&b, "x", 1, NULL, NULL, REASON_MALFORMED_JSON);
	char *ec = rejected(&c, "x", 1, NULL, NULL, REASON_MALFORMED_JSON);
	char *ed = rejected(&d, "x", 1, NULL, NULL, REASON_MALFORMED_JSON);
	json_t *ja = parse(ea), *ja2 = parse(ea2), *jb = parse(eb), *jc = parse(ec), *jd = parse(ed);
	const char *ida = str(ja, "event_id");
	assert_string_equal(ida, str(ja2, "event_id"));
	assert_string_not_equal(ida, str(jb, "event_id"));
	assert_string_not_equal(ida, str(jc, "event_id"));
	assert_string_not_equal(ida, str(jd, "event_id"));
	assert_string_not_equal(str(jb, "event_id"), str(jc, "event_id"));
	/* pinned: an id must survive upgrades, or replays after an upgrade would duplicate events */
	assert_string_equal(ida, "153d820e-a25d-5641-a9c1-5f51cfd112f8");
	/* the same inputs give the same bytes */
	char *ea3 = rejected(&a, "x", 1, NULL, NULL, REASON_MALFORMED_JSON);
	assert_string_equal(ea, ea3);
	json_decref(ja), json_decref(ja2), json_decref(jb), json_decref(jc), json_decref(jd);
	free(ea), free(ea2), free(eb), free(ec), free(ed), free(ea3);
}

static void test_rejected_large_offset_and_partition(void **state)
{
	(void)state;
	struct source s = {"comment-submitted", 2147483647, INT64_C(9007199254740993)};
	char *out = rejected(&s, "x", 1, NULL, NULL, REASON_MALFORMED_JSON);
	json_t *ev = parse(out);
	assert_source(ev, "comment-submitted", 2147483647, INT64_C(9007199254740993));
	json_decref(ev);
	free(out);
}

static unsigned char *b64decode(const char *s, size_t *n)
{
	size_t len = strlen(s);
	unsigned char *out = malloc(len / 4 * 3 + 1);
	assert_non_null(out);
	int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	assert_true(k >= 0);
	size_t pad = (len >= 1 && s[len - 1] == '=') + (len >= 2 && s[len - 2] == '=');
	*n = (size_t)k - pad;
	return out;
}

static void test_rejected_invalid_utf8_payload_is_base64(void **state)
{
	(void)state;
	static const struct {
		const char *p;
		size_t n;
		const char *b64;
	} cases[] = {
		{"\xff\xfe{", 3, "//57"},
		{"{\"body\":\"\xc0\xaf\"}", 14, NULL},
		{"\xed\xa0\x80", 3, "7aCA"},
		{"a\x80", 2, "YYA="},
		{"\xe2\x82", 2, "4oI="},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = rejected(&SRC, cases[i].p, cases[i].n, NULL, NULL, REASON_INVALID_TEXT);
		json_t *ev = parse(out);
		assert_string_equal(str(ev, "payload_encoding"), "base64");
		const char *b = str(ev, "payload");
		if (cases[i].b64)
			assert_string_equal(b, cases[i].b64);
		size_t n;
		unsigned char *raw = b64decode(b, &n);
		assert_int_equal(n, cases[i].n);
		assert_memory_equal(raw, cases[i].p, n);
		free(raw);
		json_decref(ev);
		free(out);
	}
}

static void test_rejected_utf8_payload_kept_as_text(void **state)
{
	(void)state;
	/* non-ASCII UTF-8, quotes, backslashes and control characters survive as a JSON string */
	static const char p[] = "{\"body\":\"caf\xc3\xa9 \\\"q\\\" \x01\x1b\t\n\xf0\x9f\x91\x8d\"}";
	char *out = rejected(&SRC, p, sizeof(p) - 1, NULL, NULL, REASON_MALFORMED_JSON);
	json_t *ev = parse(out);
	assert_string_equal(str(ev, "payload_encoding"), "utf-8");
	json_t *pl = json_object_get(ev, "payload");
	assert_int_equal(json_string_length(pl), sizeof(p) - 1);
	assert_memory_equal(json_string_value(pl), p, sizeof(p) - 1);
	json_decref(ev);
	free(out);

	/* a NUL byte is valid UTF-8: kept, escaped as \u0000 */
	static const char nul[] = "ab\0cd";
	out = rejected(&SRC, nul, 5, NULL, NULL, REASON_MALFORMED_JSON);
	assert_non_null(strstr(out, "\\u0000"));
	ev = parse(out);
	pl = json_object_get(ev, "payload");
	assert_int_equal(json_string_length(pl), 5);
	assert_memory_equal(json_string_value(pl), nul, 5);
	json_decref(ev);
	free(out);

	/* an empty payload (a tombstone) */
	out = rejected(&SRC, NULL, 0, NULL, NULL, REASON_MALFORMED_JSON);
	ev = parse(out);
	assert_string_equal(str(ev, "payload"), "");
	assert_string_equal(str(ev, "payload_encoding"), "utf-8");
	json_decref(ev);
	free(out);
}

/*
 * A 1 MB payload that is not UTF-8: its base64 would make the event larger
 * than Kafka takes (and the batch would fail forever), so the event carries
 * the first EVENTS_PAYLOAD_ECHO_MAX / 4 * 3 bytes, base64-encoded, and says so.
 */
static void test_rejected_one_megabyte_payload(void **state)
{
	(void)state;
	size_t n = 1024 * 1024 + 1;
	char *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i % 251 + 1); /* includes bytes >= 0x80: not UTF-8 */
	char *out = rejected(&SRC, p, n, NULL, NULL, REASON_INVALID_TEXT);
	assert_true(strlen(out) < EVENTS_PAYLOAD_ECHO_MAX + 1024);
	json_t *ev = parse(out);
	assert_string_equal(str(ev, "payload_encoding"), "base64");
	assert_true(json_is_true(json_object_get(ev, "payload_truncated")));
	size_t m;
	unsigned char *raw = b64decode(str(ev, "payload"), &m);
	assert_int_equal(m, EVENTS_PAYLOAD_ECHO_MAX / 4 * 3);
	assert_memory_equal(raw, p, m);
	free(raw);
	json_decref(ev);
	free(out);
	free(p);
}

/*
 * A 1 MB UTF-8 payload of control characters, each of which JSON escapes to six
 * bytes: the event keeps EVENTS_PAYLOAD_ECHO_MAX bytes of it, cut between
 * characters, and stays far below Kafka's 1 MB message limit.
 */
static void test_rejected_payload_cut_at_a_character(void **state)
{
	(void)state;
	size_t n = 1024 * 1024;
	char *p = malloc(n);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = 1;
	char *out = rejected(&SRC, p, n, NULL, NULL, REASON_MALFORMED_JSON);
	assert_true(strlen(out) < 6 * EVENTS_PAYLOAD_ECHO_MAX + 1024);
	json_t *ev = parse(out);
	assert_string_equal(str(ev, "payload_encoding"), "utf-8");
	assert_true(json_is_true(json_object_get(ev, "payload_truncated")));
	assert_int_equal(strlen(str(ev, "payload")), EVENTS_PAYLOAD_ECHO_MAX);
	json_decref(ev);
	free(out);

	/* the cut falls inside a three-byte character: it moves back before it */
	for (size_t i = 0; i + 2 < n; i += 3)
		memcpy(p + i, "\xE2\x82\xAC", 3); /* the euro sign */
	out = rejected(&SRC, p, n / 3 * 3, NULL, NULL, REASON_MALFORMED_JSON);
	ev = parse(out);
	assert_string_equal(str(ev, "payload_encoding"), "utf-8");
	assert_int_equal(strlen(str(ev, "payload")), EVENTS_PAYLOAD_ECHO_MAX / 3 * 3);
	json_decref(ev);
	free(out);

	/* at the limit exactly: whole, and not truncated */
	memset(p, 'x', EVENTS_PAYLOAD_ECHO_MAX);
	out = rejected(&SRC, p, EVENTS_PAYLOAD_ECHO_MAX, NULL, NULL, REASON_MALFORMED_JSON);
	ev = parse(out);
	assert_int_equal(strlen(str(ev, "payload")), EVENTS_PAYLOAD_ECHO_MAX);
	assert_true(json_is_false(json_object_get(ev, "payload_truncated")));
	json_decref(ev);
	free(out);
	free(p);
}

/* ---- comment-published and moderation-needed ------------------------------------------------- */

static struct stored_comment row_published(void)
{
	struct stored_comment r = {
		.comment_id = CID,
		.article_id = "article-42",
		.author_id = "u-1",
		.display_name = "Priya S",
		.parent_id = NULL,
		.body = "Caf\xc3\xa9 \"au\" lait\nwith a \\ backslash and \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
		.status = "published",
		.reasons = "[]",
		.submitted_at = "2026-01-31T10:00:00.000000Z",
		.accepted_at = "2026-01-31T10:00:01.234567Z",
		.source = {"comment-submitted", 1, 77},
	};
	return r;
}

static const char *const stored_keys[] = {"schema_version", "event_id", "event_type", "comment_id", "article_id",
					  "parent_id", "author", "body", "status", "reasons", "submitted_at",
					  "accepted_at", "source"};

static void test_stored_published(void **state)
{
	(void)state;
	struct stored_comment r = row_published();
	int held = -1;
	char *out = events_stored(&r, &held);
	assert_non_null(out);
	assert_int_equal(held, 0);
	json_t *ev = parse(out);
	assert_keys(ev, stored_keys, sizeof(stored_keys) / sizeof(stored_keys[0]));
	assert_int_equal(integer(ev, "schema_version"), 1);
	assert_event_id(str(ev, "event_id"));
	assert_string_equal(str(ev, "event_type"), "comment-published");
	assert_string_equal(str(ev, "comment_id"), CID);
	assert_string_equal(str(ev, "article_id"), "article-42");
	assert_true(json_is_null(json_object_get(ev, "parent_id")));
	json_t *author = json_object_get(ev, "author");
	static const char *const akeys[] = {"id", "display_name"};
	assert_keys(author, akeys, 2);
	assert_string_equal(str(author, "id"), "u-1");
	assert_string_equal(str(author, "display_name"), "Priya S");
	assert_string_equal(str(ev, "body"), r.body);
	assert_string_equal(str(ev, "status"), "published");
	json_t *reasons = json_object_get(ev, "reasons");
	assert_true(json_is_array(reasons));
	assert_int_equal(json_array_size(reasons), 0);
	assert_string_equal(str(ev, "submitted_at"), "2026-01-31T10:00:00.000000Z");
	assert_string_equal(str(ev, "accepted_at"), "2026-01-31T10:00:01.234567Z");
	assert_source(ev, "comment-submitted", 1, 77);
	json_decref(ev);
	free(out);
}

static void test_stored_reply_has_parent_id(void **state)
{
	(void)state;
	struct stored_comment r = row_published();
	r.parent_id = PID;
	int held;
	char *out = events_stored(&r, &held);
	json_t *ev = parse(out);
	assert_string_equal(str(ev, "parent_id"), PID);
	json_decref(ev);
	free(out);
	/* an empty parent_id (NULL from PostgreSQL as "") is null too */
	r.parent_id = "";
	out = events_stored(&r, &held);
	ev = parse(out);
	assert_true(json_is_null(json_object_get(ev, "parent_id")));
	json_decref(ev);
	free(out);
}

/* A verdict holding for the reasons in mask. */
static struct verdict held_for(unsigned mask)
{
	struct verdict v;
	memset(&v, 0, sizeof(v));
	v.outcome = OUTCOME_HOLD;
	v.hold_mask = mask;
	return v;
}

static void test_stored_pending_is_moderation_needed(void **state)
{
	(void)state;
	struct verdict link = held_for(1u << REASON_CONTAINS_LINK);
	char *reasons = events_hold_reasons(&link);
	assert_non_null(reasons);
	struct stored_comment r = row_published();
	r.status = "pending";
	r.body = "see https://example.com for the whole story, it is long enough to pass.";
	r.reasons = reasons;
	int held = -1;
	char *out = events_stored(&r, &held);
	assert_non_null(out);
	assert_int_equal(held, 1);
	json_t *ev = parse(out);
	assert_keys(ev, stored_keys, sizeof(stored_keys) / sizeof(stored_keys[0]));
	assert_string_equal(str(ev, "event_type"), "moderation-needed");
	assert_string_equal(str(ev, "status"), "pending");
	assert_event_id(str(ev, "event_id"));
	json_t *arr = json_object_get(ev, "reasons");
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 1);
	json_t *r0 = json_array_get(arr, 0);
	static const char *const rkeys[] = {"code", "detail"};
	assert_keys(r0, rkeys, 2);
	assert_string_equal(str(r0, "code"), "contains_link");
	char detail[COMMENT_DETAIL_LEN];
	rules_hold_detail(REASON_CONTAINS_LINK, "", detail, sizeof(detail));
	assert_string_equal(str(r0, "detail"), detail);
	json_decref(ev);
	free(out);
	free(reasons);
}

static void test_stored_reasons_from_jsonb_text(void **state)
{
	(void)state;
	/* PostgreSQL renders jsonb with spaces after ':' and ',' */
	struct stored_comment r = row_published();
	r.status = "pending";
	r.reasons = "[{\"code\": \"contains_link\", \"detail\": \"The comment contains a link.\"}]";
	int held;
	char *out = events_stored(&r, &held);
	assert_int_equal(held, 1);
	json_t *ev = parse(out);
	json_t *r0 = json_array_get(json_object_get(ev, "reasons"), 0);
	assert_non_null(r0);
	assert_string_equal(str(r0, "code"), "contains_link");
	assert_string_equal(str(r0, "detail"), "The comment contains a link.");
	json_decref(ev);
	free(out);
}

static void test_stored_is_byte_identical_on_replay(void **state)
{
	(void)state;
	struct verdict link = held_for(1u << REASON_CONTAINS_LINK);
	char *reasons = events_hold_reasons(&link);
	struct stored_comment pub = row_published();
	struct stored_comment pend = row_published();
	pend.status = "pending";
	pend.reasons = reasons;
	int held;
	char *a = events_stored(&pub, &held);
	char *b = events_stored(&pend, &held);
	char *a2 = events_stored(&pub, &held);
	char *b2 = events_stored(&pend, &held);
	assert_string_equal(a, a2);
	assert_string_equal(b, b2);
	/* published and moderation-needed events of one comment have different ids */
	json_t *ja = parse(a), *jb = parse(b);
	assert_string_not_equal(str(ja, "event_id"), str(jb, "event_id"));
	/* the id derives from the comment, so a row read back after a replay has the same id */
	struct stored_comment again = row_published();
	again.accepted_at = "2026-02-01T00:00:00.000000Z";
	char *c = events_stored(&again, &held);
	json_t *jc = parse(c);
	assert_string_equal(str(ja, "event_id"), str(jc, "event_id"));
	/* and other comments have other ids */
	struct stored_comment other = row_published();
	other.comment_id = PID;
	char *d = events_stored(&other, &held);
	json_t *jd = parse(d);
	assert_string_not_equal(str(ja, "event_id"), str(jd, "event_id"));
	json_decref(ja), json_decref(jb), json_decref(jc), json_decref(jd);
	free(a), free(b), free(a2), free(b2), free(c), free(d), free(reasons);
}

static void test_hold_reasons_json(void **state)
{
	(void)state;
	struct verdict nothing = held_for(0), link = held_for(1u << REASON_CONTAINS_LINK);
	char *none = events_hold_reasons(&nothing);
	assert_string_equal(none, "[]");
	free(none);
	char *one = events_hold_reasons(&link);
	json_error_t err;
	json_t *arr = json_loads(one, 0, &err);
	assert_non_null(arr);
	assert_true(json_is_array(arr));
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(str(json_array_get(arr, 0), "code"), "contains_link");
	json_decref(arr);
	free(one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rejected_fields),
		cmocka_unit_test(test_rejected_unknown_ids_are_null),
		cmocka_unit_test(test_rejected_event_id_from_coordinates),
		cmocka_unit_test(test_rejected_large_offset_and_partition),
		cmocka_unit_test(test_rejected_invalid_utf8_payload_is_base64),
		cmocka_unit_test(test_rejected_utf8_payload_kept_as_text),
		cmocka_unit_test(test_rejected_one_megabyte_payload),
		cmocka_unit_test(test_rejected_payload_cut_at_a_character),
		cmocka_unit_test(test_stored_published),
		cmocka_unit_test(test_stored_reply_has_parent_id),
		cmocka_unit_test(test_stored_pending_is_moderation_needed),
		cmocka_unit_test(test_stored_reasons_from_jsonb_text),
		cmocka_unit_test(test_stored_is_byte_identical_on_replay),
		cmocka_unit_test(test_hold_reasons_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
