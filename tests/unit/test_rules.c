/* test_rules.c - moderation triage: links are held for a moderator, plain text is published. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "comment.h"
#include "reason.h"
#include "rules.h"

/* Triage of a comment whose body is body, from a fresh PUBLISH verdict. */
static enum outcome triage(const struct rules *r, const char *body, struct verdict *v)
{
	struct comment c;
	memset(&c, 0, sizeof(c));
	memset(v, 0, sizeof(*v));
	c.body = (char *)body;
	v->outcome = OUTCOME_PUBLISH;
	return rules_triage(r, &c, 0, v);
}

static const char *const held_bodies[] = {
	"see http://example.com for details",
	"see https://example.com/a?b=c for details",
	"HTTP://EXAMPLE.COM in capitals",
	"Https://Example.com mixed case",
	"www.example.com at the very start",
	"visit www.example.com today",
	"visit WWW.EXAMPLE.COM today",
	"(www.example.com) in brackets",
	"line one\nwww.example.com on line two",
	"\"www.example.com\" in quotes",
	"a link at the end: https://x.y",
	"glued:http://example.com",
	"ww.example.com is a host name all the same",
	"httpx://example.com is not http, but example.com is a host",
};

static const char *const published_bodies[] = {
	"A plain comment without any link in it, just words and punctuation.",
	"awww. that is so cute, what a lovely picture of the puppies.",
	"Awww. and AWWW. are feelings, not hosts.",
	"http:/ is not a link and neither is https:/ or http//",
	"wwwexample is one word",
	"the world wide web (www) has no dot here",
	"",
};

static void test_defaults_hold_links(void **state)
{
	(void)state;
	struct rules r;
	memset(&r, 0x5A, sizeof(r));
	rules_defaults(&r);
	assert_int_equal(r.hold_links, 1);
}

static void test_links_are_held(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	int failed = 0;
	for (size_t i = 0; i < sizeof(held_bodies) / sizeof(held_bodies[0]); i++) {
		struct verdict v;
		enum outcome o = triage(&r, held_bodies[i], &v);
		if (o != OUTCOME_HOLD || v.outcome != OUTCOME_HOLD || v.hold_mask != (1u << REASON_CONTAINS_LINK)) {
			print_error("FAIL: \"%s\" -> outcome %d mask %#x, want HOLD with contains_link\n", held_bodies[i],
				    (int)o, v.hold_mask);
			failed++;
		}
		/* a hold is not a rejection */
		if (v.reject != REASON_NONE) {
			print_error("FAIL: \"%s\" set reject %d\n", held_bodies[i], (int)v.reject);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_plain_text_is_published(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	int failed = 0;
	for (size_t i = 0; i < sizeof(published_bodies) / sizeof(published_bodies[0]); i++) {
		struct verdict v;
		enum outcome o = triage(&r, published_bodies[i], &v);
		if (o != OUTCOME_PUBLISH || v.outcome != OUTCOME_PUBLISH || v.hold_mask != 0) {
			print_error("FAIL: \"%s\" -> outcome %d mask %#x, want PUBLISH\n", published_bodies[i], (int)o,
				    v.hold_mask);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_hold_links_off_publishes_links(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	r.hold_links = 0;
	for (size_t i = 0; i < sizeof(held_bodies) / sizeof(held_bodies[0]); i++) {
		struct verdict v;
		assert_int_equal(triage(&r, held_bodies[i], &v), OUTCOME_PUBLISH);
		assert_int_equal(v.outcome, OUTCOME_PUBLISH);
		assert_int_equal(v.hold_mask, 0);
	}
}

static void test_hold_keeps_outcome_and_mask(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	struct verdict v;
	assert_int_equal(triage(&r, "read https://example.com now", &v), OUTCOME_HOLD);
	assert_int_equal(v.outcome, OUTCOME_HOLD);
	assert_true(v.hold_mask & (1u << REASON_CONTAINS_LINK));
	assert_int_equal(v.hold_mask, 1u << REASON_CONTAINS_LINK);
	/* a second triage of the same verdict changes nothing */
	struct comment c;
	memset(&c, 0, sizeof(c));
	c.body = (char *)"read https://example.com now";
	assert_int_equal(rules_triage(&r, &c, 0, &v), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, 1u << REASON_CONTAINS_LINK);
	/* the reason is a hold reason with a readable detail */
	assert_int_equal(reason_outcome(REASON_CONTAINS_LINK), OUTCOME_HOLD);
	assert_string_equal(reason_code(REASON_CONTAINS_LINK), "contains_link");
	char d[COMMENT_DETAIL_LEN];
	rules_hold_detail(REASON_CONTAINS_LINK, "", d, sizeof(d));
	assert_non_null(strstr(d, "link"));
}

static void test_rejected_verdict_is_left_alone(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	struct comment c;
	memset(&c, 0, sizeof(c));
	c.body = NULL; /* a rejected comment may have no body: triage must not look at it */
	struct verdict v;
	memset(&v, 0, sizeof(v));
	verdict_reject(&v, REASON_BODY_TOO_SHORT, "body too short");
	assert_int_equal(rules_triage(&r, &c, 0, &v), OUTCOME_REJECT);
	assert_int_equal(v.outcome, OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_BODY_TOO_SHORT);
	assert_int_equal(v.hold_mask, 0);
}

/* The wire names of SPEC, in one place: a renamed code would break consumers. */
static void test_reason_codes_match_spec(void **state)
{
	(void)state;
	static const struct {
		enum reason r;
		const char *code;
		enum outcome outcome;
	} table[] = {
		{REASON_MALFORMED_JSON, "malformed_json", OUTCOME_REJECT},
		{REASON_NOT_AN_OBJECT, "not_an_object", OUTCOME_REJECT},
		{REASON_MISSING_FIELD, "missing_field", OUTCOME_REJECT},
		{REASON_INVALID_TYPE, "invalid_type", OUTCOME_REJECT},
		{REASON_INVALID_UUID, "invalid_uuid", OUTCOME_REJECT},
		{REASON_INVALID_FIELD, "invalid_field", OUTCOME_REJECT},
		{REASON_INVALID_SUBMITTED_AT, "invalid_submitted_at", OUTCOME_REJECT},
		{REASON_UNSUPPORTED_SCHEMA_VERSION, "unsupported_schema_version", OUTCOME_REJECT},
		{REASON_INVALID_TEXT, "invalid_text", OUTCOME_REJECT},
		{REASON_BODY_TOO_SHORT, "body_too_short", OUTCOME_REJECT},
		{REASON_BODY_TOO_LONG, "body_too_long", OUTCOME_REJECT},
		{REASON_SUBMITTED_IN_FUTURE, "submitted_in_future", OUTCOME_REJECT},
		{REASON_SUBMITTED_TOO_OLD, "submitted_too_old", OUTCOME_REJECT},
		{REASON_BANNED_TERM, "banned_term", OUTCOME_REJECT},
		{REASON_DUPLICATE_CONTENT, "duplicate_content", OUTCOME_REJECT},
		{REASON_CONTAINS_LINK, "contains_link", OUTCOME_HOLD},
		{REASON_CONTAINS_EMAIL, "contains_email", OUTCOME_HOLD},
		{REASON_CONTAINS_PHONE, "contains_phone", OUTCOME_HOLD},
		{REASON_SUSPECT_TERM, "suspect_term", OUTCOME_HOLD},
		{REASON_SHOUTING, "shouting", OUTCOME_HOLD},
		{REASON_REPEATED_CHARACTERS, "repeated_characters", OUTCOME_HOLD},
		{REASON_FIRST_COMMENT, "first_comment", OUTCOME_HOLD},
		{REASON_RATE_LIMITED, "rate_limited", OUTCOME_HOLD},
	};
	assert_int_equal(sizeof(table) / sizeof(table[0]), REASON__COUNT - 1);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(reason_code(table[i].r), table[i].code);
		assert_int_equal(reason_outcome(table[i].r), table[i].outcome);
	}
	/* out of range is safe */
	assert_non_null(reason_code(REASON__COUNT));
	assert_int_equal(reason_outcome(REASON__COUNT), OUTCOME_REJECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_hold_links),
		cmocka_unit_test(test_links_are_held),
		cmocka_unit_test(test_plain_text_is_published),
		cmocka_unit_test(test_hold_links_off_publishes_links),
		cmocka_unit_test(test_hold_keeps_outcome_and_mask),
		cmocka_unit_test(test_rejected_verdict_is_left_alone),
		cmocka_unit_test(test_reason_codes_match_spec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
