/*
 * fuzz_rules.c - libFuzzer target: the rules-file parser (rules_parse) on arbitrary bytes.
 *
 * The input is the text of a rules file. A file that does not load must leave the rules alone
 * and say why in a message the log can carry (UTF-8). A file that loads is then used as the
 * service would after a SIGHUP: fixed comments (links, e-mail, phone, shouting, a long run; in
 * ASCII and not) are triaged and their hold reasons built, and a comment that holds one of the
 * file's first terms, written as in the file, must be rejected (banned) or held (suspect) for
 * it. Then rules_free; leaks are LeakSanitizer's.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "comment.h"
#include "events.h"
#include "reason.h"
#include "rules.h"
#include "text.h"

#define NOW_US INT64_C(1769854800000000) /* 2026-01-31T10:20:00Z */
#define TERMS_TRIED 4                   /* per list: enough to meet phrases, cheap enough to stay fast */

static const char *const fixed_bodies[] = {
	"CALL 555-123-4567 OR VISIT WWW.EXAMPLE.COM OR MAIL ME@EXAMPLE.FR NOW!!!!!!!!!! or see example.com/x",
	"A calm comment about the council budget, the bus routes 2026-01-31 and the library hours.",
	"\xd0\xa1\xd0\x9e\xd0\x92\xd0\x95\xd0\xa2 \xd0\x94\xd0\x9e\xd0\x9b\xd0\x96\xd0\x95\xd0\x9d "
	"\xd0\x9e\xd0\x91\xd0\xaa\xd0\xaf\xd0\xa1\xd0\x9d\xd0\x98\xd0\xa2\xd0\xac \xd0\x91\xd0\xae\xd0\x94\xd0\x96"
	"\xd0\x95\xd0\xa2 caf\xc3\xa9 \xe2\x80\x94 sooooooooooo +91 98765 43210",
};

/* Triages body (cleaned first, as comment_decode would) at NOW. Returns -1 when it does not clean. */
static int triage(const struct rules *r, const char *body, size_t len, struct verdict *v)
{
	struct text t;
	if (text_clean(body, len, 1, &t) != TEXT_OK)
		return -1;
	struct comment c;
	memset(&c, 0, sizeof(c));
	memset(v, 0, sizeof(*v));
	c.body = t.s;
	c.body_graphemes = t.graphemes;
	c.body_ascii = t.ascii;
	c.submitted_us = NOW_US;
	v->outcome = OUTCOME_PUBLISH;
	rules_triage(r, &c, NOW_US, v);
	free(t.s);
	return 0;
}

/* A verdict the pipeline can store and publish: its reasons build, as JSON with a detail each. */
static void check_verdict(const struct verdict *v)
{
	if (v->outcome == OUTCOME_REJECT) {
		CHECK(v->hold_mask == 0 && reason_outcome(v->reject) == OUTCOME_REJECT && v->detail[0] &&
			      check_utf8(v->detail, strlen(v->detail)),
		      "a rejection with holds, a hold code or a bad detail (%s)", reason_code(v->reject));
		return;
	}
	CHECK((v->outcome == OUTCOME_HOLD) == (v->hold_mask != 0), "outcome %d with hold mask %#x", (int)v->outcome,
	      v->hold_mask);
	char *reasons = events_hold_reasons(v);
	CHECK(reasons, "events_hold_reasons built nothing");
	json_t *arr = json_loads(reasons, JSON_REJECT_DUPLICATES, NULL);
	CHECK(json_is_array(arr), "the hold reasons are not a JSON array: %s", reasons);
	size_t i;
	json_t *item;
	json_array_foreach(arr, i, item)
	{
		size_t dlen;
		const char *detail = check_member_string(item, "detail", &dlen);
		CHECK(dlen > 0 && dlen == strlen(detail), "reasons[%zu].detail is empty or holds a NUL: %s", i, reasons);
	}
	json_decref(arr);
	free(reasons);
}

/*
 * The first terms of a list, as written in the file, between two words: the comment must
 * meet a banned term (rejected) or a suspect one (held; or rejected, for a banned term of the
 * file that it holds too). Terms match whole words on folded NFC text, whatever their case
 * and spacing, so this holds for every term that loaded.
 */
static void check_terms_match(const struct rules *r, json_t *list, int banned)
{
	size_t i;
	json_t *term;
	json_array_foreach(list, i, term)
	{
		if (i >= TERMS_TRIED)
			break;
		size_t n = json_string_length(term);
		char *body = malloc(n + 16);
		CHECK(body, "out of memory");
		memcpy(body, "well, ", 6);
		memcpy(body + 6, json_string_value(term), n);
		memcpy(body + 6 + n, " indeed", 8);
		struct verdict v;
		if (triage(r, body, n + 13, &v) == 0) {
			check_verdict(&v);
			if (banned)
				CHECK(v.outcome == OUTCOME_REJECT && v.reject == REASON_BANNED_TERM,
				      "banned_terms[%zu] is not found in \"%s\" (outcome %d)", i, body, (int)v.outcome);
			else
				CHECK((v.outcome == OUTCOME_HOLD && (v.hold_mask & (1u << REASON_SUSPECT_TERM))) ||
					      (v.outcome == OUTCOME_REJECT && v.reject == REASON_BANNED_TERM),
				      "suspect_terms[%zu] is not found in \"%s\" (outcome %d)", i, body, (int)v.outcome);
		}
		free(body);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rules r, before;
	char err[256];
	rules_defaults(&r);
	r.hold_links = 42; /* a value no file sets: a failed load must leave it */
	memcpy(&before, &r, sizeof(r));
	memset(err, 0x7F, sizeof(err));

	int rc = rules_parse((const char *)data, size, &r, err, sizeof(err));
	if (rc != 0) {
		CHECK(rc == -1, "rules_parse returned %d", rc);
		CHECK(memcmp(&r, &before, sizeof(r)) == 0, "a file that did not load changed the rules");
		size_t n = strnlen(err, sizeof(err));
		CHECK(n > 0 && n < sizeof(err), "the error message is empty or not terminated");
		CHECK(check_utf8(err, n), "the error message is not UTF-8, so the log cannot carry it: %s", err);
		return 0;
	}

	for (size_t i = 0; i < sizeof(fixed_bodies) / sizeof(fixed_bodies[0]); i++) {
		struct verdict v;
		CHECK(triage(&r, fixed_bodies[i], strlen(fixed_bodies[i]), &v) == 0, "a fixed body does not clean");
		check_verdict(&v);
	}
	/* the file parsed: read its term lists again, as written */
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	CHECK(json_is_object(root), "a file that loaded does not parse again");
	json_t *banned = json_object_get(root, "banned_terms"), *suspect = json_object_get(root, "suspect_terms");
	if (banned)
		check_terms_match(&r, banned, 1);
	if (suspect)
		check_terms_match(&r, suspect, 0);
	json_decref(root);
	rules_free(&r);
	return 0;
}
