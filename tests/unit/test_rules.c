/* test_rules.c - moderation triage: links are held for a moderator, plain text is published. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <utf8proc.h>

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
		{REASON_PAYLOAD_TOO_LARGE, "payload_too_large", OUTCOME_REJECT},
		{REASON_FIELD_TOO_LARGE, "field_too_large", OUTCOME_REJECT},
		{REASON_STORAGE_REFUSED, "storage_refused", OUTCOME_REJECT},
		{REASON_INVALID_DECIDED_AT, "invalid_decided_at", OUTCOME_REJECT},
		{REASON_DECIDED_IN_FUTURE, "decided_in_future", OUTCOME_REJECT},
		{REASON_UNKNOWN_COMMENT, "unknown_comment", OUTCOME_REJECT},
		{REASON_ARTICLE_MISMATCH, "article_mismatch", OUTCOME_REJECT},
		{REASON_STALE_DECISION, "stale_decision", OUTCOME_REJECT},
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
	assert_false(reason_for(REASON__COUNT, REASON_FOR_COMMENTS));
	/* the inputs each code is given for: a decision never gets a comment's content codes, and back */
	static const enum reason decisions_only[] = {REASON_INVALID_DECIDED_AT, REASON_DECIDED_IN_FUTURE,
						     REASON_UNKNOWN_COMMENT, REASON_ARTICLE_MISMATCH,
						     REASON_STALE_DECISION};
	static const enum reason both[] = {REASON_MALFORMED_JSON, REASON_NOT_AN_OBJECT, REASON_MISSING_FIELD,
					   REASON_INVALID_TYPE, REASON_INVALID_UUID, REASON_INVALID_FIELD,
					   REASON_UNSUPPORTED_SCHEMA_VERSION, REASON_INVALID_TEXT,
					   REASON_PAYLOAD_TOO_LARGE, REASON_FIELD_TOO_LARGE};
	for (size_t i = 0; i < sizeof(decisions_only) / sizeof(decisions_only[0]); i++) {
		assert_true(reason_for(decisions_only[i], REASON_FOR_DECISIONS));
		assert_false(reason_for(decisions_only[i], REASON_FOR_COMMENTS));
	}
	for (size_t i = 0; i < sizeof(both) / sizeof(both[0]); i++)
		assert_true(reason_for(both[i], REASON_FOR_DECISIONS) && reason_for(both[i], REASON_FOR_COMMENTS));
	int for_decisions = 0;
	for (int r = 0; r < REASON__COUNT; r++)
		for_decisions += reason_for((enum reason)r, REASON_FOR_DECISIONS);
	assert_int_equal(for_decisions, 15);
	assert_false(reason_for(REASON_BODY_TOO_SHORT, REASON_FOR_DECISIONS));
	assert_false(reason_for(REASON_CONTAINS_LINK, REASON_FOR_DECISIONS));
}

/* ==== the full rule set ===================================================================== */

#define NOW_US INT64_C(1800000000000000) /* 2027-01-15T08:00:00Z */
#define SEC INT64_C(1000000)
#define BIT(r) (1u << (r))

/* Triage of body submitted at submitted_us, at now_us, from a fresh PUBLISH verdict. */
static enum outcome triage_at(const struct rules *r, const char *body, int64_t submitted_us, int64_t now_us,
			      struct verdict *v)
{
	struct comment c;
	memset(&c, 0, sizeof(c));
	memset(v, 0, sizeof(*v));
	c.body = (char *)body;
	c.submitted_us = submitted_us;
	/* as comment_decode sets it; the rules take ASCII fast paths */
	c.body_ascii = 1;
	for (const char *p = body; *p; p++)
		c.body_ascii &= (unsigned char)*p < 0x80;
	v->outcome = OUTCOME_PUBLISH;
	enum outcome o = rules_triage(r, &c, now_us, v);
	if (c.body_ascii) {
		/* the general path decides the same */
		struct verdict slow;
		memset(&slow, 0, sizeof(slow));
		c.body_ascii = 0;
		assert_int_equal(rules_triage(r, &c, now_us, &slow), o);
		assert_int_equal(slow.hold_mask, v->hold_mask);
		assert_int_equal(slow.reject, v->reject);
	}
	return o;
}

/* One body and the exact hold mask it must get (0: published). */
struct held {
	const char *body;
	unsigned mask;
};

static int check_masks(const struct rules *r, const struct held *cases, size_t n)
{
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		struct verdict v;
		enum outcome o = triage_at(r, cases[i].body, NOW_US, NOW_US, &v);
		enum outcome want = cases[i].mask ? OUTCOME_HOLD : OUTCOME_PUBLISH;
		if (o != want || v.outcome != want || v.hold_mask != cases[i].mask || v.reject != REASON_NONE) {
			print_error("FAIL: \"%s\" -> outcome %d mask %#x, want outcome %d mask %#x\n", cases[i].body,
				    (int)o, v.hold_mask, (int)want, cases[i].mask);
			failed++;
		}
	}
	return failed;
}

#define CHECK_MASKS(r, cases) assert_int_equal(check_masks(r, cases, sizeof(cases) / sizeof(cases[0])), 0)

/* True when s is valid UTF-8. */
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

static void test_defaults_match_the_rules_file(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	assert_int_equal(r.banned.count, 0);
	assert_int_equal(r.suspect.count, 0);
	assert_int_equal(r.hold_emails, 1);
	assert_int_equal(r.hold_phones, 1);
	assert_int_equal(r.phone_min_digits, 9);
	assert_int_equal(r.hold_shouting, 1);
	assert_int_equal(r.shouting_min_letters, 20);
	assert_true(r.shouting_ratio == 0.7);
	assert_int_equal(r.hold_repeats, 1);
	assert_int_equal(r.repeat_max_run, 8);
	assert_int_equal(r.hold_first_comment, 0);
	assert_int_equal(r.rate_max_comments, 5);
	assert_int_equal(r.rate_window_s, 60);
	assert_int_equal(r.duplicate_window_s, 86400);
	assert_int_equal(r.max_skew_s, 300);
	assert_int_equal(r.max_age_s, 7 * 86400);
	rules_free(&r);
}

/* ---- the submission time window ------------------------------------------------------------ */

static void test_submitted_at_window(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	struct verdict v;
	const char *body = "an ordinary comment";
	/* now, and exactly at either limit: accepted */
	assert_int_equal(triage_at(&r, body, NOW_US, NOW_US, &v), OUTCOME_PUBLISH);
	assert_int_equal(triage_at(&r, body, NOW_US + 300 * SEC, NOW_US, &v), OUTCOME_PUBLISH);
	assert_int_equal(triage_at(&r, body, NOW_US - 7 * 86400 * SEC, NOW_US, &v), OUTCOME_PUBLISH);
	/* one microsecond beyond: rejected */
	assert_int_equal(triage_at(&r, body, NOW_US + 300 * SEC + 1, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.outcome, OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_IN_FUTURE);
	assert_int_equal(v.hold_mask, 0);
	assert_non_null(strstr(v.detail, "300"));
	assert_int_equal(triage_at(&r, body, NOW_US - 7 * 86400 * SEC - 1, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_TOO_OLD);
	assert_non_null(strstr(v.detail, "604800"));
	/* far away both ways */
	assert_int_equal(triage_at(&r, body, INT64_C(0), NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_TOO_OLD);
	assert_int_equal(triage_at(&r, body, NOW_US + 86400 * SEC, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_IN_FUTURE);
	/* the window wins over holds: a link submitted too early is rejected, not held */
	assert_int_equal(triage_at(&r, "see https://example.com", NOW_US + 301 * SEC, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_IN_FUTURE);
	assert_int_equal(v.hold_mask, 0);

	/* configured limits */
	r.max_skew_s = 0;
	r.max_age_s = 60;
	assert_int_equal(triage_at(&r, body, NOW_US, NOW_US, &v), OUTCOME_PUBLISH);
	assert_int_equal(triage_at(&r, body, NOW_US + 1, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_IN_FUTURE);
	assert_int_equal(triage_at(&r, body, NOW_US - 60 * SEC, NOW_US, &v), OUTCOME_PUBLISH);
	assert_int_equal(triage_at(&r, body, NOW_US - 60 * SEC - 1, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_SUBMITTED_TOO_OLD);
	/* the largest values rules_load accepts do not overflow */
	r.max_skew_s = 100000000;
	r.max_age_s = 100000000;
	assert_int_equal(triage_at(&r, body, NOW_US + 100000000 * SEC, NOW_US, &v), OUTCOME_PUBLISH);
	assert_int_equal(triage_at(&r, body, NOW_US - 100000000 * SEC, NOW_US, &v), OUTCOME_PUBLISH);
	rules_free(&r);
}

/* ---- banned and suspect terms -------------------------------------------------------------- */

static void rules_with_terms(struct rules *r)
{
	rules_defaults(r);
	assert_int_equal(terms_add(&r->banned, "kill yourself"), 0);
	assert_int_equal(terms_add(&r->banned, "casino bonus"), 0);
	assert_int_equal(terms_add(&r->suspect, "idiot"), 0);
	assert_int_equal(terms_add(&r->suspect, "shut up"), 0);
}

static void test_banned_term_rejects(void **state)
{
	(void)state;
	struct rules r;
	rules_with_terms(&r);
	struct verdict v;
	assert_int_equal(triage_at(&r, "Just KILL   yourself.", NOW_US, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_BANNED_TERM);
	assert_int_equal(v.hold_mask, 0);
	assert_true(strlen(v.detail) > 0);
	/* a banned term wins over everything that holds, suspect terms included */
	assert_int_equal(triage_at(&r, "CASINO BONUS at https://spam.example.com, you idiot!!!!!!!!!!", NOW_US, NOW_US, &v),
			 OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_BANNED_TERM);
	assert_int_equal(v.hold_mask, 0);
	/* whole words only */
	assert_int_equal(triage_at(&r, "skill yourself up; casinos bonuses", NOW_US, NOW_US, &v), OUTCOME_PUBLISH);
	/* non-ASCII text around the term goes through the Unicode path */
	assert_int_equal(triage_at(&r, "\xC3\x89" "coute: kill yourself \xE2\x80\x94 non.", NOW_US, NOW_US, &v),
			 OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_BANNED_TERM);
	rules_free(&r);
}

static void test_suspect_term_holds_and_names_the_term(void **state)
{
	(void)state;
	struct rules r;
	rules_with_terms(&r);
	struct verdict v;
	assert_int_equal(triage_at(&r, "What an IDIOT.", NOW_US, NOW_US, &v), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_SUSPECT_TERM));
	assert_string_equal(v.term, "idiot");
	assert_int_equal(triage_at(&r, "Oh, shut... up", NOW_US, NOW_US, &v), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_SUSPECT_TERM));
	assert_string_equal(v.term, "shut up");
	/* with another hold reason: both */
	assert_int_equal(triage_at(&r, "idiot, see www.example.com", NOW_US, NOW_US, &v), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_SUSPECT_TERM) | BIT(REASON_CONTAINS_LINK));
	assert_string_equal(v.term, "idiot");
	/* not a whole word */
	assert_int_equal(triage_at(&r, "idiotic; shut upstairs", NOW_US, NOW_US, &v), OUTCOME_PUBLISH);
	assert_string_equal(v.term, "");
	rules_free(&r);
}

static void test_long_suspect_term_is_kept_whole_or_cut_on_a_character(void **state)
{
	(void)state;
	/* "кремлёвская государственная пропаганда": 74 bytes, longer than verdict.term */
	const char *term = "\xD0\xBA\xD1\x80\xD0\xB5\xD0\xBC\xD0\xBB\xD1\x91\xD0\xB2\xD1\x81\xD0\xBA\xD0\xB0\xD1\x8F "
			   "\xD0\xB3\xD0\xBE\xD1\x81\xD1\x83\xD0\xB4\xD0\xB0\xD1\x80\xD1\x81\xD1\x82\xD0\xB2\xD0\xB5\xD0\xBD"
			   "\xD0\xBD\xD0\xB0\xD1\x8F "
			   "\xD0\xBF\xD1\x80\xD0\xBE\xD0\xBF\xD0\xB0\xD0\xB3\xD0\xB0\xD0\xBD\xD0\xB4\xD0\xB0";
	assert_true(strlen(term) >= sizeof(((struct verdict *)0)->term));
	struct rules r;
	rules_defaults(&r);
	assert_int_equal(terms_add(&r.suspect, term), 0);
	struct verdict v;
	enum outcome o = triage_at(&r, term, NOW_US, NOW_US, &v);
	rules_free(&r); /* before any assertion, so that a failure leaks nothing */
	assert_int_equal(o, OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_SUSPECT_TERM));
	/* the term goes into a moderation-needed event: it must stay valid UTF-8 */
	if (!valid_utf8(v.term))
		print_error("FAIL: verdict.term is cut inside a UTF-8 sequence: %zu bytes of a %zu-byte term\n",
			    strlen(v.term), strlen(term));
	assert_true(valid_utf8(v.term));
	char d[COMMENT_DETAIL_LEN];
	rules_hold_detail(REASON_SUSPECT_TERM, v.term, d, sizeof(d));
	assert_true(valid_utf8(d));
}

/* ---- links --------------------------------------------------------------------------------- */

static void test_links_bare_hosts_and_abbreviations(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	static const struct held cases[] = {
		{"see example.com for details", 1u << REASON_CONTAINS_LINK},
		{"EXAMPLE.ORG in capitals", 1u << REASON_CONTAINS_LINK},
		{"spam.ru/x is a path", 1u << REASON_CONTAINS_LINK},
		{"read news.bbc.co.uk today", 1u << REASON_CONTAINS_LINK},
		{"see example.com, then leave", 1u << REASON_CONTAINS_LINK},
		{"(example.com)", 1u << REASON_CONTAINS_LINK},
		{"example.info", 1u << REASON_CONTAINS_LINK},
		{"ftp or not: http://10.0.0.1/x", 1u << REASON_CONTAINS_LINK},
		{"Built with Node.js and Vue.js", 0},
		{"e.g. this, i.e. that", 0},
		{"the U.S. economy and the U.K. one", 0},
		{"version 1.2.3 costs 3.50 dollars", 0},
		{"hello.world is not a host", 0},
		{"a sentence.And another one", 0},
		{"that was great.In fact, it was", 0},
		{"GREAT.IN CAPITALS IS A HOST ALL THE SAME", 1u << REASON_CONTAINS_LINK | 1u << REASON_SHOUTING},
		{"www. alone", 0},
		{"the .com bubble", 0},
	};
	CHECK_MASKS(&r, cases);
	rules_free(&r);
}

/* A bare host at the end of a sentence: the full stop is not part of the host name. */
static void test_links_at_the_end_of_a_sentence(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	static const struct held cases[] = {
		{"Read all about it on example.com.", 1u << REASON_CONTAINS_LINK},
		{"Sources: spam.ru. Trust me.", 1u << REASON_CONTAINS_LINK},
	};
	CHECK_MASKS(&r, cases);
	rules_free(&r);
}

/* ---- e-mail addresses ---------------------------------------------------------------------- */

static void test_emails(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	/* .fr is not a top-level domain the link rule knows, so these are e-mail addresses alone */
	static const struct held cases[] = {
		{"write to jane.doe@example.fr today", 1u << REASON_CONTAINS_EMAIL},
		{"JANE+news@mail.example.fr", 1u << REASON_CONTAINS_EMAIL},
		{"(a_b-c@x-y.fr)", 1u << REASON_CONTAINS_EMAIL},
		/* with a host the link rule knows: both */
		{"jane@example.com", (1u << REASON_CONTAINS_EMAIL) | (1u << REASON_CONTAINS_LINK)},
		{"@jane thanks for the reply", 0},
		{"me@home tonight", 0},
		{"a@b.c is too short a domain", 0},
		{"meet @ 5 o'clock", 0},
		{"trailing@ at", 0},
		{"x@.fr", 0},
	};
	CHECK_MASKS(&r, cases);
	r.hold_emails = 0;
	static const struct held off[] = {{"write to jane.doe@example.fr today", 0}};
	CHECK_MASKS(&r, off);
	rules_free(&r);
}

static void test_email_at_the_end_of_a_sentence(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	static const struct held cases[] = {
		{"Write to jane@example.fr.", 1u << REASON_CONTAINS_EMAIL},
		/* neither rule sees this one today */
		{"Write to jane@example.com.", (1u << REASON_CONTAINS_EMAIL) | (1u << REASON_CONTAINS_LINK)},
	};
	CHECK_MASKS(&r, cases);
	rules_free(&r);
}

/* ---- phone numbers ------------------------------------------------------------------------- */

static void test_phones(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	static const struct held cases[] = {
		{"call +44 20 7946 0958 now", 1u << REASON_CONTAINS_PHONE},
		{"call 555-123-4567", 1u << REASON_CONTAINS_PHONE},
		{"call (555) 123 4567", 1u << REASON_CONTAINS_PHONE},
		{"call 555.123.4567", 1u << REASON_CONTAINS_PHONE},
		{"exactly nine: 123456789", 1u << REASON_CONTAINS_PHONE},
		{"exactly nine: 123 456 789", 1u << REASON_CONTAINS_PHONE},
		{"fifteen: +123 456 789 012 345", 1u << REASON_CONTAINS_PHONE},
		{"eight: 1234 5678", 0},
		{"on 2026-01-31 it rained", 0},
		{"from 2026-01-31 to 2026-02-28", 0},
		{"it cost 1,234,567,890 dollars", 0},
		{"sixteen digits: 1234 5678 9012 3456", 0},
		{"scores 3-1, 2-0 and 4-4", 0},
		{"no digits at all (none) + nothing", 0},
		{"on 2026-01-31 10:15 it rained", 0},
		{"the seasons 2023 2024 2025 were long", 0},
		{"call +91 98765 43210 today", 1u << REASON_CONTAINS_PHONE},
	};
	CHECK_MASKS(&r, cases);
	r.phone_min_digits = 5;
	static const struct held five[] = {{"ext 12345", 1u << REASON_CONTAINS_PHONE}, {"ext 1234", 0}};
	CHECK_MASKS(&r, five);
	r.hold_phones = 0;
	static const struct held off[] = {{"call 555-123-4567", 0}};
	CHECK_MASKS(&r, off);
	rules_free(&r);
}

/* ---- shouting ------------------------------------------------------------------------------ */

static void test_shouting(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	static const struct held cases[] = {
		/* 20 letters, all capitals: at the minimum */
		{"ABCDEFGHIJ KLMNOPQRST", 1u << REASON_SHOUTING},
		/* 19 letters: too few to tell */
		{"ABCDEFGHIJ KLMNOPQRS", 0},
		/* 14 of 20 capitals is exactly 0.7 */
		{"ABCDEFGHIJ KLMNopqrst", 1u << REASON_SHOUTING},
		/* 13 of 20 is less */
		{"ABCDEFGHIJ KLMnopqrst", 0},
		/* digits, spaces and punctuation are not letters */
		{"ABCDEFGHIJ 2026 !!! KLMNOPQRS", 0},
		{"ABCDEFGHIJ, KLMNOPQRST!!! 2026", 1u << REASON_SHOUTING},
		/* non-ASCII capitals count: "ПРИВЕТ КАК ДЕЛА У ТЕБЯ СЕГОДНЯ" (25 letters) */
		{"\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2 \xD0\x9A\xD0\x90\xD0\x9A \xD0\x94\xD0\x95\xD0\x9B\xD0\x90 "
		 "\xD0\xA3 \xD0\xA2\xD0\x95\xD0\x91\xD0\xAF \xD0\xA1\xD0\x95\xD0\x93\xD0\x9E\xD0\x94\xD0\x9D\xD0\xAF",
		 1u << REASON_SHOUTING},
		/* "ÄÖÜ ÉÈÊ ÀÂ ÇÑ ÅØ ÆŒ ÎÏ ÔÛ ÙŸ" (20 letters) */
		{"\xC3\x84\xC3\x96\xC3\x9C \xC3\x89\xC3\x88\xC3\x8A \xC3\x80\xC3\x82 \xC3\x87\xC3\x91 \xC3\x85\xC3\x98 "
		 "\xC3\x86\xC5\x92 \xC3\x8E\xC3\x8F \xC3\x94\xC3\x9B \xC3\x99\xC5\xB8",
		 1u << REASON_SHOUTING},
		/* the same in lower case */
		{"\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBA\xD0\xB0\xD0\xBA \xD0\xB4\xD0\xB5\xD0\xBB\xD0\xB0 "
		 "\xD1\x83 \xD1\x82\xD0\xB5\xD0\xB1\xD1\x8F \xD1\x81\xD0\xB5\xD0\xB3\xD0\xBE\xD0\xB4\xD0\xBD\xD1\x8F",
		 0},
		/* letters without case (CJK) are neither: 5 capitals are too few */
		{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE6\x96\x87\xE7\xAB\xA0\xE3\x81\xA7\xE3\x81\x99\xE3\x81\xAD"
		 "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE6\x96\x87\xE7\xAB\xA0\xE3\x81\xA7\xE3\x81\x99 ABCDE",
		 0},
	};
	CHECK_MASKS(&r, cases);
	/* thresholds are settings */
	r.shouting_min_letters = 5;
	r.shouting_ratio = 1.0;
	static const struct held tuned[] = {{"ABCDE", 1u << REASON_SHOUTING}, {"ABCDe", 0}, {"ABCD", 0}};
	CHECK_MASKS(&r, tuned);
	r.hold_shouting = 0;
	static const struct held off[] = {{"ABCDEFGHIJ KLMNOPQRST", 0}};
	CHECK_MASKS(&r, off);
	rules_free(&r);
}

/* ---- repeated characters ------------------------------------------------------------------- */

static void test_repeated_characters(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	static const struct held cases[] = {
		{"soooooooo good", 0},                              /* 8 o's: the maximum run */
		{"sooooooooo good", 1u << REASON_REPEATED_CHARACTERS}, /* 9 */
		{"what!!!!!!!!!", 1u << REASON_REPEATED_CHARACTERS},
		{"what!!!!!!!!", 0},
		{"wait.........", 1u << REASON_REPEATED_CHARACTERS},
		/* white space never counts */
		{"a                              b", 0},
		{"a\n\n\n\n\n\n\n\n\n\n\n\nb", 0},
		{"a\t\t\t\t\t\t\t\t\t\t\tb", 0},
		/* runs broken by a space are not one run */
		{"aaaa aaaa aaaa aaaa", 0},
		/* non-ASCII characters and emoji are characters too */
		{"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 1u << REASON_REPEATED_CHARACTERS},
		{"\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F"
		 "\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82",
		 1u << REASON_REPEATED_CHARACTERS},
		{"\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F\x98\x82\xF0\x9F"
		 "\x98\x82\xF0\x9F\x98\x82",
		 0},
	};
	CHECK_MASKS(&r, cases);
	r.repeat_max_run = 2;
	static const struct held tuned[] = {{"aa", 0}, {"aaa", 1u << REASON_REPEATED_CHARACTERS}};
	CHECK_MASKS(&r, tuned);
	r.hold_repeats = 0;
	static const struct held off[] = {{"sooooooooooooooooo good", 0}};
	CHECK_MASKS(&r, off);
	rules_free(&r);
}

/* ---- several reasons ----------------------------------------------------------------------- */

static void test_several_reasons_set_every_bit(void **state)
{
	(void)state;
	struct rules r;
	rules_with_terms(&r);
	struct verdict v;
	const char *body = "YOU IDIOT, VISIT WWW.EXAMPLE.COM OR WRITE TO ME@EXAMPLE.FR OR CALL 555-123-4567 NOW!!!!!!!!!!";
	assert_int_equal(triage_at(&r, body, NOW_US, NOW_US, &v), OUTCOME_HOLD);
	unsigned want = BIT(REASON_SUSPECT_TERM) | BIT(REASON_CONTAINS_LINK) | BIT(REASON_CONTAINS_EMAIL) |
			BIT(REASON_CONTAINS_PHONE) | BIT(REASON_SHOUTING) | BIT(REASON_REPEATED_CHARACTERS);
	assert_int_equal(v.hold_mask, want);
	assert_string_equal(v.term, "idiot");
	assert_int_equal(v.reject, REASON_NONE);
	/* every bit is a hold reason */
	for (int i = 0; i < REASON__COUNT; i++)
		if (v.hold_mask & BIT(i))
			assert_int_equal(reason_outcome((enum reason)i), OUTCOME_HOLD);
	rules_free(&r);
}

/* ---- history ------------------------------------------------------------------------------- */

static enum outcome history(const struct rules *r, struct history h, struct verdict *v, enum outcome start,
			    unsigned mask)
{
	memset(v, 0, sizeof(*v));
	v->outcome = start;
	v->hold_mask = mask;
	return rules_apply_history(r, &h, v);
}

static void test_history_duplicate_content_rejects(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	struct verdict v;
	struct history dup = {.author_has_comments = 1, .author_recent = 0, .duplicate_content = 1};
	assert_int_equal(history(&r, dup, &v, OUTCOME_PUBLISH, 0), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_DUPLICATE_CONTENT);
	assert_true(strlen(v.detail) > 0);
	/* also when triage held it: the hold reasons go */
	assert_int_equal(history(&r, dup, &v, OUTCOME_HOLD, BIT(REASON_CONTAINS_LINK)), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_DUPLICATE_CONTENT);
	assert_int_equal(v.hold_mask, 0);
	/* a window of 0 turns the rule off */
	r.duplicate_window_s = 0;
	assert_int_equal(history(&r, dup, &v, OUTCOME_PUBLISH, 0), OUTCOME_PUBLISH);
	assert_int_equal(v.hold_mask, 0);
	rules_free(&r);
}

static void test_history_first_comment_only_when_enabled(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	struct verdict v;
	struct history first = {0};
	struct history known = {.author_has_comments = 1};
	/* off by default */
	assert_int_equal(history(&r, first, &v, OUTCOME_PUBLISH, 0), OUTCOME_PUBLISH);
	assert_int_equal(v.hold_mask, 0);
	r.hold_first_comment = 1;
	assert_int_equal(history(&r, first, &v, OUTCOME_PUBLISH, 0), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_FIRST_COMMENT));
	assert_int_equal(history(&r, known, &v, OUTCOME_PUBLISH, 0), OUTCOME_PUBLISH);
	/* added to the reasons triage found */
	assert_int_equal(history(&r, first, &v, OUTCOME_HOLD, BIT(REASON_SHOUTING)), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_SHOUTING) | BIT(REASON_FIRST_COMMENT));
	rules_free(&r);
}

static void test_history_rate_limit(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	struct verdict v;
	struct history h = {.author_has_comments = 1, .author_recent = 4};
	assert_int_equal(history(&r, h, &v, OUTCOME_PUBLISH, 0), OUTCOME_PUBLISH);
	h.author_recent = 5; /* at the maximum */
	assert_int_equal(history(&r, h, &v, OUTCOME_PUBLISH, 0), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_RATE_LIMITED));
	h.author_recent = 500;
	assert_int_equal(history(&r, h, &v, OUTCOME_HOLD, BIT(REASON_CONTAINS_LINK)), OUTCOME_HOLD);
	assert_int_equal(v.hold_mask, BIT(REASON_CONTAINS_LINK) | BIT(REASON_RATE_LIMITED));
	/* 0 turns it off */
	r.rate_max_comments = 0;
	assert_int_equal(history(&r, h, &v, OUTCOME_PUBLISH, 0), OUTCOME_PUBLISH);
	assert_int_equal(v.hold_mask, 0);
	rules_free(&r);
}

static void test_history_leaves_a_rejection_alone(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	r.hold_first_comment = 1;
	struct verdict v;
	memset(&v, 0, sizeof(v));
	verdict_reject(&v, REASON_BANNED_TERM, "banned");
	struct history h = {.author_has_comments = 0, .author_recent = 99, .duplicate_content = 1};
	assert_int_equal(rules_apply_history(&r, &h, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_BANNED_TERM);
	assert_string_equal(v.detail, "banned");
	assert_int_equal(v.hold_mask, 0);
	rules_free(&r);
}

/* ---- rules_load ---------------------------------------------------------------------------- */

/* Writes text to a new temporary file; path receives its name. */
static void write_temp(char path[64], const char *text)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, 64, "%s/rules-XXXXXX", dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	assert_int_equal(close(fd), 0);
}

static void test_load_default_rules_file(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	char err[512] = "";
	int rc = rules_load("deploy/rules/default.json", &r, err, sizeof(err));
	if (rc != 0)
		print_error("rules_load: %s (run from the repository root)\n", err);
	assert_int_equal(rc, 0);
	/* the switches are the built-in defaults */
	struct rules d;
	rules_defaults(&d);
	assert_int_equal(r.hold_links, d.hold_links);
	assert_int_equal(r.hold_emails, d.hold_emails);
	assert_int_equal(r.hold_phones, d.hold_phones);
	assert_int_equal(r.phone_min_digits, d.phone_min_digits);
	assert_int_equal(r.hold_shouting, d.hold_shouting);
	assert_int_equal(r.shouting_min_letters, d.shouting_min_letters);
	assert_true(r.shouting_ratio == d.shouting_ratio);
	assert_int_equal(r.hold_repeats, d.hold_repeats);
	assert_int_equal(r.repeat_max_run, d.repeat_max_run);
	assert_int_equal(r.hold_first_comment, d.hold_first_comment);
	assert_int_equal(r.rate_max_comments, d.rate_max_comments);
	assert_int_equal(r.rate_window_s, d.rate_window_s);
	assert_int_equal(r.duplicate_window_s, d.duplicate_window_s);
	assert_int_equal(r.max_skew_s, d.max_skew_s);
	assert_int_equal(r.max_age_s, d.max_age_s);
	/* and the terms are there */
	assert_int_equal(r.banned.count, 5);
	assert_int_equal(r.banned.max_words, 3);
	assert_int_equal(r.suspect.count, 11);
	assert_int_equal(r.suspect.max_words, 2);
	struct verdict v;
	assert_int_equal(triage_at(&r, "please go kill yourself", NOW_US, NOW_US, &v), OUTCOME_REJECT);
	assert_int_equal(v.reject, REASON_BANNED_TERM);
	assert_int_equal(triage_at(&r, "pure Propaganda", NOW_US, NOW_US, &v), OUTCOME_HOLD);
	assert_string_equal(v.term, "propaganda");
	rules_free(&r);
	rules_free(&d);
}

static void test_load_partial_file_keeps_defaults(void **state)
{
	(void)state;
	char path[64];
	write_temp(path, "{\"version\": 1, \"links\": {\"hold\": false}, \"shouting\": {\"uppercase_ratio\": 1},"
			 " \"rate_limit\": {\"max_comments\": 0},"
			 " \"submitted_at\": {\"max_future_seconds\": 0, \"max_age_seconds\": 60},"
			 " \"suspect_terms\": [\"Foo Bar\", \"foo   bar\"], \"banned_terms\": []}");
	struct rules r, old;
	rules_defaults(&r);
	assert_int_equal(terms_add(&r.banned, "old"), 0);
	old = r;
	char err[256] = "";
	assert_int_equal(rules_load(path, &r, err, sizeof(err)), 0);
	rules_free(&old); /* the caller frees its old rules */
	assert_int_equal(r.hold_links, 0);
	assert_int_equal(r.hold_emails, 1);
	assert_true(r.shouting_ratio == 1.0);
	assert_int_equal(r.shouting_min_letters, 20);
	assert_int_equal(r.rate_max_comments, 0);
	assert_int_equal(r.rate_window_s, 60);
	assert_int_equal(r.max_skew_s, 0);
	assert_int_equal(r.max_age_s, 60);
	assert_int_equal(r.banned.count, 0);
	assert_int_equal(r.suspect.count, 1);
	rules_free(&r);
	unlink(path);

	/* the smallest file */
	write_temp(path, "{\"version\": 1}");
	rules_defaults(&r);
	assert_int_equal(rules_load(path, &r, err, sizeof(err)), 0);
	assert_int_equal(r.hold_links, 1);
	assert_int_equal(r.max_age_s, 7 * 86400);
	rules_free(&r);
	unlink(path);
}

static void test_load_rejects_malformed_files(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want; /* part of the message */
	} bad[] = {
		{"{\"version\": 1,", "line"},
		{"", "line"},
		{"{\"version\": 1} trailing", "line"},
		{"{\"version\": 1, \"version\": 1}", "version"},
		{"[1, 2]", "JSON object"},
		{"{\"version\": 1, \"link\": {\"hold\": true}}", "link is not a known section"},
		{"{\"version\": 1, \"Links\": {}}", "Links is not a known section"},
		{"{\"version\": 1, \"links\": {\"hold\": true, \"hodl\": false}}", "links.hodl is not a known setting"},
		{"{\"version\": 1, \"rate_limit\": {\"window\": 60}}", "rate_limit.window is not a known setting"},
		{"{\"version\": 1, \"links\": true}", "links must be an object"},
		{"{\"version\": 1, \"links\": {\"hold\": 1}}", "links.hold must be true or false"},
		{"{\"version\": 1, \"emails\": {\"hold\": \"yes\"}}", "emails.hold must be true or false"},
		{"{\"version\": 1, \"phones\": {\"min_digits\": \"9\"}}", "phones.min_digits must be a whole number"},
		{"{\"version\": 1, \"phones\": {\"min_digits\": 9.5}}", "phones.min_digits must be a whole number"},
		{"{\"version\": 1, \"phones\": {\"min_digits\": -1}}", "phones.min_digits must be a whole number"},
		{"{\"version\": 1, \"repeated_characters\": {\"max_run\": 100000001}}", "repeated_characters.max_run"},
		{"{\"version\": 1, \"shouting\": {\"uppercase_ratio\": 1.5}}", "shouting.uppercase_ratio must be a number from 0 to 1"},
		{"{\"version\": 1, \"shouting\": {\"uppercase_ratio\": -0.1}}", "shouting.uppercase_ratio"},
		{"{\"version\": 1, \"shouting\": {\"min_letters\": null}}", "shouting.min_letters"},
		{"{\"version\": 1, \"submitted_at\": {\"max_age_seconds\": false}}", "submitted_at.max_age_seconds"},
		{"{\"version\": 1, \"banned_terms\": \"casino\"}", "banned_terms must be an array of strings"},
		{"{\"version\": 1, \"suspect_terms\": {\"idiot\": true}}", "suspect_terms must be an array of strings"},
		{"{\"version\": 1, \"suspect_terms\": [\"idiot\", 3]}", "suspect_terms[1] must be a string"},
		{"{\"version\": 1, \"banned_terms\": [\"ok\", \"!!!\"]}", "banned_terms[1] has no letters or digits"},
		{"{\"version\": 1, \"suspect_terms\": [\"   \"]}", "suspect_terms[0] has no letters or digits"},
		{"{\"links\": {\"hold\": true}}", "version must be 1"},
		{"{\"version\": 2}", "version must be 1"},
		{"{\"version\": \"1\"}", "version must be 1"},
		{"{\"version\": 0}", "version must be 1"},
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[64];
		write_temp(path, bad[i].text);
		struct rules r, before;
		rules_defaults(&r);
		r.hold_links = 42; /* a value no file sets */
		assert_int_equal(terms_add(&r.suspect, "sentinel"), 0);
		memcpy(&before, &r, sizeof(r));
		char err[512];
		memset(err, 0, sizeof(err));
		int rc = rules_load(path, &r, err, sizeof(err));
		if (rc != -1 || memcmp(&before, &r, sizeof(r)) != 0 || !strstr(err, bad[i].want) || !strstr(err, path)) {
			print_error("FAIL: %s -> rc %d, message \"%s\" (want -1, \"%s\" and the path, r untouched)\n",
				    bad[i].text, rc, err, bad[i].want);
			failed++;
		}
		rules_free(&r);
		unlink(path);
	}
	assert_int_equal(failed, 0);
}

static void test_load_missing_file_and_small_buffer(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	char err[256] = "";
	assert_int_equal(rules_load("/nonexistent/rules.json", &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/rules.json"));
	assert_int_equal(r.hold_links, 1);
	/* a short buffer is truncated, not overrun */
	char small[8];
	memset(small, 'x', sizeof(small));
	assert_int_equal(rules_load("/nonexistent/rules.json", &r, small, sizeof(small)), -1);
	assert_int_equal(small[7], '\0');
	rules_free(&r);
}

/* rules_parse: the same rules from bytes in memory, with no terminator and no path in the messages. */
static void test_parse_rules_from_memory(void **state)
{
	(void)state;
	struct rules r;
	rules_defaults(&r);
	char err[256] = "";
	/* only len bytes count: what follows is not read */
	static const char text[] = "{\"version\": 1, \"links\": {\"hold\": false},"
				   " \"suspect_terms\": [\"Shut   UP\"]} and trailing garbage";
	size_t len = strlen(text) - strlen(" and trailing garbage");
	assert_int_equal(rules_parse(text, len, &r, err, sizeof(err)), 0);
	assert_int_equal(r.hold_links, 0);
	assert_int_equal(r.hold_emails, 1);
	assert_int_equal(r.suspect.count, 1);
	assert_int_equal(r.suspect.max_words, 2);
	struct verdict v;
	assert_int_equal(triage_at(&r, "oh shut up already", NOW_US, NOW_US, &v), OUTCOME_HOLD);
	assert_string_equal(v.term, "shut up");
	rules_free(&r);

	static const struct {
		const char *text;
		size_t len;
		const char *want;
	} bad[] = {
		{text, sizeof(text) - 1, "line 1"},             /* the garbage now counts */
		{"{\"version\": 1}\0", 15, "line"},             /* a NUL byte after the object */
		{"{\"version\": 1", 13, "line"},
		{"", 0, "line"},
		{"[1, 2]", 6, "the rules file must hold a JSON object"},
		{"{\"version\": 1, \"link\": {}}", 26, "link is not a known section"},
		{"{\"version\": 2}", 14, "version must be 1"},
		{"{\"version\": 1, \"banned_terms\": [\"!!\"]}", 38, "banned_terms[0] has no letters or digits"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rules before;
		rules_defaults(&r);
		assert_int_equal(terms_add(&r.banned, "sentinel"), 0);
		memcpy(&before, &r, sizeof(r));
		memset(err, 0, sizeof(err));
		int rc = rules_parse(bad[i].text, bad[i].len, &r, err, sizeof(err));
		if (rc != -1 || memcmp(&before, &r, sizeof(r)) != 0 || !strstr(err, bad[i].want)) {
			print_error("FAIL: case %zu -> rc %d, message \"%s\" (want -1, \"%s\", r untouched)\n", i, rc,
				    err, bad[i].want);
			fail();
		}
		rules_free(&r);
	}
}

/*
 * Found by fuzz_rules: a message that is not UTF-8 reaches the log as "(invalid utf-8)", so an
 * operator whose SIGHUP failed never learns why. jansson's text near a syntax error can end
 * inside a character, and a long unknown key is cut wherever the buffer ends.
 */
static void test_parse_error_message_is_utf8(void **state)
{
	(void)state;
	char key[2 * 200 + 1];
	for (int i = 0; i < 200; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2); /* 200 x U+00E9 */
	key[400] = '\0';
	char long_key[512];
	snprintf(long_key, sizeof(long_key), "{\"version\": 1, \"%s\": {}}", key);
	const char *const files[] = {
		"{\"version\": 1, \"banned_terms\": [\"\\\xc3\xa9\"]}", /* an invalid escape before a 2-byte character */
		"{\"version\": 1, \"suspect_terms\": [\"\\\xe2\x82\xac\"]}",
		long_key,
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct rules r;
		rules_defaults(&r);
		char err[256];
		memset(err, 0, sizeof(err));
		assert_int_equal(rules_parse(files[i], strlen(files[i]), &r, err, sizeof(err)), -1);
		if (!err[0] || !valid_utf8(err)) {
			print_error("FAIL: file %zu -> rules_parse message \"%s\" is empty or not UTF-8\n", i, err);
			fail();
		}
		/* and through rules_load, which puts the path in front */
		char path[64];
		write_temp(path, files[i]);
		memset(err, 0, sizeof(err));
		assert_int_equal(rules_load(path, &r, err, sizeof(err)), -1);
		if (!strstr(err, path) || !valid_utf8(err)) {
			print_error("FAIL: file %zu -> rules_load message \"%s\" has no path or is not UTF-8\n", i, err);
			fail();
		}
		unlink(path);
		rules_free(&r);
	}
}

/* ---- details ------------------------------------------------------------------------------- */

static void test_hold_detail_for_every_hold_reason(void **state)
{
	(void)state;
	char seen[REASON__COUNT][COMMENT_DETAIL_LEN];
	int nseen = 0;
	for (int i = 0; i < REASON__COUNT; i++) {
		if (reason_outcome((enum reason)i) != OUTCOME_HOLD)
			continue;
		char d[COMMENT_DETAIL_LEN];
		memset(d, 0, sizeof(d));
		rules_hold_detail((enum reason)i, "idiot", d, sizeof(d));
		assert_true(strlen(d) > 10);
		assert_true(valid_utf8(d));
		/* each reason has its own words */
		for (int j = 0; j < nseen; j++)
			if (strcmp(seen[j], d) == 0) {
				print_error("FAIL: %s has the same detail as another reason: %s\n",
					    reason_code((enum reason)i), d);
				fail();
			}
		snprintf(seen[nseen++], COMMENT_DETAIL_LEN, "%s", d);
		/* only the suspect term detail names the term */
		assert_int_equal(strstr(d, "idiot") != NULL, i == REASON_SUSPECT_TERM);
	}
	assert_int_equal(nseen, 8);
	char d[COMMENT_DETAIL_LEN];
	rules_hold_detail(REASON_CONTAINS_LINK, "", d, sizeof(d));
	assert_non_null(strstr(d, "link"));
	rules_hold_detail(REASON_CONTAINS_EMAIL, "", d, sizeof(d));
	assert_non_null(strstr(d, "e-mail"));
	rules_hold_detail(REASON_CONTAINS_PHONE, "", d, sizeof(d));
	assert_non_null(strstr(d, "phone"));
	rules_hold_detail(REASON_SHOUTING, "", d, sizeof(d));
	assert_non_null(strstr(d, "capital"));
	rules_hold_detail(REASON_REPEATED_CHARACTERS, "", d, sizeof(d));
	assert_non_null(strstr(d, "repeats"));
	rules_hold_detail(REASON_FIRST_COMMENT, "", d, sizeof(d));
	assert_non_null(strstr(d, "first"));
	rules_hold_detail(REASON_RATE_LIMITED, "", d, sizeof(d));
	assert_non_null(strstr(d, "many comments"));
	rules_hold_detail(REASON_SUSPECT_TERM, "shut up", d, sizeof(d));
	assert_non_null(strstr(d, "\"shut up\""));
	/* a reason that is not a hold still gets a readable detail */
	rules_hold_detail(REASON_BODY_TOO_SHORT, "", d, sizeof(d));
	assert_true(strlen(d) > 0);
	/* a small buffer is truncated and terminated */
	char small[6];
	rules_hold_detail(REASON_CONTAINS_LINK, "", small, sizeof(small));
	assert_int_equal(strlen(small), 5);
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
		cmocka_unit_test(test_defaults_match_the_rules_file),
		cmocka_unit_test(test_submitted_at_window),
		cmocka_unit_test(test_banned_term_rejects),
		cmocka_unit_test(test_suspect_term_holds_and_names_the_term),
		cmocka_unit_test(test_long_suspect_term_is_kept_whole_or_cut_on_a_character),
		cmocka_unit_test(test_links_bare_hosts_and_abbreviations),
		cmocka_unit_test(test_links_at_the_end_of_a_sentence),
		cmocka_unit_test(test_emails),
		cmocka_unit_test(test_email_at_the_end_of_a_sentence),
		cmocka_unit_test(test_phones),
		cmocka_unit_test(test_shouting),
		cmocka_unit_test(test_repeated_characters),
		cmocka_unit_test(test_several_reasons_set_every_bit),
		cmocka_unit_test(test_history_duplicate_content_rejects),
		cmocka_unit_test(test_history_first_comment_only_when_enabled),
		cmocka_unit_test(test_history_rate_limit),
		cmocka_unit_test(test_history_leaves_a_rejection_alone),
		cmocka_unit_test(test_load_default_rules_file),
		cmocka_unit_test(test_load_partial_file_keeps_defaults),
		cmocka_unit_test(test_load_rejects_malformed_files),
		cmocka_unit_test(test_load_missing_file_and_small_buffer),
		cmocka_unit_test(test_parse_rules_from_memory),
		cmocka_unit_test(test_parse_error_message_is_utf8),
		cmocka_unit_test(test_hold_detail_for_every_hold_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
