/*
 * fuzz_reference.c - libFuzzer target: the rules path decides exactly as its reference did.
 *
 * tests/unit/rules_ref.c is the rules path as it was before it was made fast (see
 * test_rules_reference.c). The input goes through both: as a raw comment-submitted message
 * value (comment_decode, then rules_triage under each rule set), as text (text_clean single-line
 * and multiline, words_split), and, when it cleans, as a body for rules_triage. The rule sets
 * are the built-in defaults (no terms), the production rules (deploy/rules/default.json, or
 * $FUZZ_RULES_FILE) and a set of terms in several scripts with tight thresholds. Everything
 * the two produce must be equal, byte for byte; a difference aborts. The clock is fixed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "comment.h"
#include "rules.h"
#include "terms.h"
#include "text.h"
#include "timefmt.h"

#include "../unit/rules_ref.c"
#include "../unit/ref_compare.h"

#define NOW "2026-01-31T10:20:00Z" /* the decide seeds are stamped with it */
#define NSETS 3

/* Terms that start with words beyond ASCII, or that text beyond ASCII folds to, and tight thresholds. */
static const char wide_rules[] =
	"{\"version\":1,"
	"\"banned_terms\":[\"kill yourself\",\"strasse\",\"go caf\xC3\xA9\",\"\xD0\xB4\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA\","
	"\"\xE6\x97\xA5\xE6\x9C\xAC\",\"a b c d e\",\"\xE2\x84\xAA\"],"
	"\"suspect_terms\":[\"idiot\",\"fine\",\"scum\",\"s\",\"ok\",\"caf\xC3\xA9\",\"\xCE\xA3\xCE\x8A\xCE\xA3\xCE\xA5\xCE\xA6\xCE\x9F\xCE\xA3\","
	"\"\xEA\xB0\x80\",\"\xE3\x81\x8C\",\"e\xCC\x81t\xC3\xA9\",\"123\",\"_\",\"\xE0\xA4\xB6\xE0\xA4\xBE\xE0\xA4\x82\xE0\xA4\xA4\xE0\xA4\xBF\"],"
	"\"phones\":{\"min_digits\":5},\"shouting\":{\"min_letters\":5,\"uppercase_ratio\":0.5},"
	"\"repeated_characters\":{\"max_run\":3}}";

static struct rules sets[NSETS];
static struct ref_rules ref_sets[NSETS];
static int64_t now_us;

static void load(int k, const char *json, size_t len)
{
	char err[512];
	if (rules_parse(json, len, &sets[k], err, sizeof(err)) != 0)
		check_fail("rules set %d does not load: %s", k, err);
	if (ref_rules_parse(json, len, &ref_sets[k], err, sizeof(err)) != 0)
		check_fail("rules set %d does not load in the reference: %s", k, err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *path = getenv("FUZZ_RULES_FILE");
	static char file[1 << 16];
	FILE *f = fopen(path && *path ? path : "deploy/rules/default.json", "rb");
	if (!f)
		check_fail("cannot read the production rules (run from the repository root)");
	size_t n = fread(file, 1, sizeof(file), f);
	fclose(f);
	rules_defaults(&sets[0]);
	ref_rules_defaults(&ref_sets[0]);
	load(1, file, n);
	load(2, wide_rules, strlen(wide_rules));
	if (timefmt_parse_rfc3339(NOW, strlen(NOW), &now_us) != 0)
		check_fail("cannot parse %s", NOW);
	return 0;
}

static void check_verdicts(const struct verdict *v, const struct verdict *rv, const char *what)
{
	CHECK(ref_same_verdict(v, rv),
	      "%s: outcome %d/%d, reject %d/%d, holds %#x/%#x, detail \"%s\"/\"%s\", term \"%s\"/\"%s\"", what,
	      (int)v->outcome, (int)rv->outcome, (int)v->reject, (int)rv->reject, v->hold_mask, rv->hold_mask,
	      v->detail, rv->detail, v->term, rv->term);
}

static void check_triage(int k, const char *body, int ascii)
{
	struct verdict v, rv;
	ref_triage_both(&sets[k], &ref_sets[k], body, ascii, now_us, now_us, &v, &rv);
	check_verdicts(&v, &rv, "rules_triage of a body");
}

static void as_event(const char *data, size_t size)
{
	struct comment c, rc;
	struct verdict v, rv;
	comment_decode(data, size, &c, &v);
	ref_comment_decode(data, size, &rc, &rv);
	check_verdicts(&v, &rv, "comment_decode");
	CHECK(ref_same_comment(&c, &rc),
	      "comment_decode: the comments differ (body \"%s\" / \"%s\")", c.body ? c.body : "NULL",
	      rc.body ? rc.body : "NULL");
	if (v.outcome == OUTCOME_PUBLISH) {
		for (int k = 0; k < NSETS; k++) {
			struct verdict tv = v, trv = rv;
			rules_triage(&sets[k], &c, now_us, &tv);
			ref_rules_triage(&ref_sets[k], &rc, now_us, &trv);
			check_verdicts(&tv, &trv, "rules_triage of the event");
		}
	}
	comment_clear(&c);
	ref_comment_clear(&rc);
}

static void as_text(const char *data, size_t size)
{
	for (int multiline = 0; multiline < 2; multiline++) {
		struct text t;
		struct ref_text r;
		enum text_status st = text_clean(data, size, multiline, &t), rst = ref_text_clean(data, size, multiline, &r);
		CHECK(st == rst && t.len == r.len && t.graphemes == r.graphemes && t.ascii == r.ascii &&
			      (!t.s) == (!r.s) && (!t.s || memcmp(t.s, r.s, t.len + 1) == 0),
		      "text_clean (multiline %d): status %d/%d, len %zu/%zu, graphemes %zu/%zu, ascii %d/%d", multiline,
		      (int)st, (int)rst, t.len, r.len, t.graphemes, r.graphemes, t.ascii, r.ascii);
		if (st == TEXT_OK && multiline) {
			for (int k = 0; k < NSETS; k++)
				check_triage(k, t.s, t.ascii);
			check_triage(2, t.s, 0); /* the general way, as a body beyond ASCII goes */
		}
		free(t.s);
		free(r.s);
	}
	struct words w;
	struct ref_words rw;
	int rc = words_split(&w, data, size), rrc = ref_words_split(&rw, data, size);
	CHECK(ref_same_words(rc, &w, rrc, &rw), "words_split: rc %d/%d, %zu/%zu words", rc, rrc, w.n, rw.n);
	words_free(&w);
	ref_words_free(&rw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	as_event((const char *)data, size);
	if (size <= COMMENT_BODY_MAX * COMMENT_MAX_BYTES_PER_CHAR) /* longer text never reaches text_clean */
		as_text((const char *)data, size);
	return 0;
}
