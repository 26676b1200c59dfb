/*
 * test_rules_reference.c - the rules path decides exactly as its reference (rules_ref.c) did.
 *
 * The rules path (comment_decode, text_clean, words and terms, rules_triage) takes fast paths
 * for ASCII, NFC text and whole words. rules_ref.c is that path as it was before, kept as it
 * was. Every input here goes through both, and everything they produce must be equal: the
 * outcome, reason, holds, detail and term, and every field of the comment, byte for byte.
 * The inputs: every code point in a few settings, the fuzz seeds of fuzz_decide, and random
 * texts and events built from fragments that reach each rule and each Unicode corner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <utf8proc.h>

#include "comment.h"
#include "rules.h"
#include "terms.h"
#include "text.h"
#include "timefmt.h"

#include "rules_ref.c"
#include "ref_compare.h"

#define NOW "2026-01-31T10:20:00Z" /* the fuzz seeds are stamped with it */
#define SEEDS "tests/fuzz/corpus/decide"
#define RANDOM_TEXTS 20000
#define RANDOM_EVENTS 20000

/* ---- inputs ----------------------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rng ^= rng >> 12; /* xorshift64* */
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static size_t below(size_t n)
{
	return (size_t)(rnd() % n);
}

/* Pieces of text that reach every rule and the corners of Unicode text handling. */
static const char *const fragments[] = {
	/* words, terms of both rule sets, in every case */
	"the", "The", " ", " ", " ", "  ", "a", "Z", "of", "and", "comment", "Council", "x", "ok", "OK",
	"idiot", "Idiot", "IDIOTS", "idiot_", "idiot2", "_idiot", "moron", "liar", "stupid", "scum", "traitor",
	"propaganda", "Propaganda", "shut", "up", "shut up", "SHUT  UP", "kill", "Kill", "yourself", "YourSelf",
	"go", "kill yourself", "go kill yourself", "buy", "followers", "buy followers", "casino", "bonus",
	"free", "crypto", "giveaway", "free crypto giveaway", "scunthorpe", "a b c d e", "a b c d", "b c d e",
	/* links, e-mail, phones, shouting, runs */
	"http://", "https://", "HTTP://", "Https://", "httpx://", "http:/", "www.", "WWW.", "ww.", "awww.",
	"example", ".com", ".COM", ".Com", ".io", ".uk", ".app", ".info", ".in", ".In", ".de", ".co", ".xyz",
	".comx", ".", ".", "..", "x.y", "/x", "@", "@", "a@b.co", "reader@example.org", "me@x", "@example.com",
	"x.@y.z", "a+b@c.de", "+", "(", ")", "-", "555", "123", "4567", "2023", "1999", "2026-01-31",
	"2026-01-311", "20", "9", "0", "12345678", "+91 98765 43210", "(555) 123-4567", "555.123.4567",
	"AAAAAAAAA", "aaaaaaaaaaa", "!!!!!!!!!!", "Sooooooooo", "zzzz", "SHOUT", "LOUD NOISES", "WHY",
	"I", "E", ",", "!", "?", "'", "\"", "_", "/", "\\", "~", "#", "*", "=", ":", ";",
	/* white space and line ends */
	"\n", "\n", "\t", "\r\n", "\r", "\n\n", "\r\n\r\n", " \t ",
	/* Latin-1 and decomposed accents, case folding */
	"\xC3\xA9", "e\xCC\x81", "\xC3\x89", "caf\xC3\xA9", "CAF\xC3\x89", "Caf\xC3\xA9 noir", "cafe\xCC\x81",
	"\xC3\x9F", "stra\xC3\x9F" "e", "STRASSE", "\xE1\xBA\x9E", "\xEF\xAC\x81ne", "\xEF\xAC\x80",
	"\xC4\xB0stanbul", "\xC4\xB1", "\xCE\xA3", "\xCF\x82", "\xCF\x83", "\xCE\xA3\xCE\x8A\xCE\xA3\xCE\xA5\xCE\xA6\xCE\x9F\xCE\xA3",
	"\xD0\x94", "\xD0\xB4\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA", "\xD0\x94\xD0\xA3\xD0\xA0\xD0\x90\xD0\x9A",
	"\xD0\xB9", "\xD0\xB8\xCC\x86", "\xC7\x84", "\xC7\x85", "\xC7\xB0", "\xC5\x89", "\xE2\x84\xAA",
	"\xE2\x84\xAB", "\xE2\x84\xA6", "\xCE\x90", "\xC3\x85", "A\xCC\x8A", "\xC3\xB1", "n\xCC\x83",
	"\xC2\xB5", "\xC3\xBF", "\xC3\x98", "\xC2\xAA", "\xC2\xB2", "\xC2\xBC",
	/* what folds to ASCII: Kelvin sign, long s, ligatures; an ASCII word next to letters beyond it */
	"\xE2\x84\xAA" "ill", "\xE2\x84\xAA" "ELVIN", "\xC5\xBF", "\xC5\xBF" "cum", "\xEF\xAC\x81", "go caf\xC3\xA9",
	"idiot\xD0\xB4", "\xD0\xB4idiot", "x \xD0\x94\xD0\xA3\xD0\xA0\xD0\x90\xD0\x9A", "ok\xE2\x80\x94", "\xE2\x80\x94ok",
	/* marks and letters that fold or compose with the ASCII before them */
	"idiot\xCC\x96", "J\xCC\x8C", "KILL\xCC\x8C", "\xE1\xBA\xA1", "\xE2\x84\xA6", "kil\xC4\xBA", "\xC4\xB9ill",
	"s\xCC\x96", "\xE1\xBA\x9B", "\xEA\xB0\x81ok", "ok\xE3\x81\x8C", "\xC3\xA9\xCC\x96", "\xC3\x89\xCC\x81\xCC\x96",
	"\xC7\x98\xCD\x85", "idiot\xC3\xA9", "\xC3\xA9idiot",
	/* Prepend joins what follows (GB9b) */
	"\xD8\x85", "\xD8\x85" "a", "\xE0\xA5\x8E",
	/* marks: alone, stacked, out of order, excluded and non-starter decompositions */
	"\xCC\x81", "\xCC\x96", "\xCC\x81\xCC\x96", "\xCC\x96\xCC\x81", "\xCD\x84", "\xCD\x80", "\xCD\x85",
	"q\xCC\x81", "\xCC\x88\xCC\x81", "\xE0\xA5\x98", "\xE0\xA4\x95\xE0\xA4\xBC", "\xF0\x9D\x85\x9E",
	"\xCC\xB8", "=\xCC\xB8", "\xE2\x89\xA0",
	/* Hangul: syllables, jamo that compose */
	"\xEA\xB0\x80", "\xEA\xB0\x81", "\xE1\x84\x80", "\xE1\x85\xA1", "\xE1\x86\xA8", "\xE1\x84\x80\xE1\x85\xA1",
	"\xEA\xB0\x80\xE1\x86\xA8", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4",
	/* Japanese with voiced marks, CJK */
	"\xE3\x81\x8C", "\xE3\x81\x8B\xE3\x82\x99", "\xE3\x82\x99", "\xE6\x97\xA5\xE6\x9C\xAC",
	"\xE5\xB9\xB3\xE5\x92\x8C\xE3\x82\x92\xE9\xA1\x98\xE3\x81\xA3\xE3\x81\xA6",
	/* Indic and Bengali, Oriya two-part vowels */
	"\xE0\xA4\xB6\xE0\xA4\xBE\xE0\xA4\x82\xE0\xA4\xA4\xE0\xA4\xBF", "\xE0\xA5\x8B", "\xE0\xA6\x95\xE0\xA6\xBE",
	"\xE0\xA7\x87\xE0\xA6\xBE", "\xE0\xAD\x87\xE0\xAC\xBE", "\xE0\xAD\x87\xE0\xAD\x96", "\xE0\xA7\x8B",
	/* zero-width and invisible, white space beyond ASCII */
	"\xE2\x80\x8B", "\xE2\x80\x8D", "\xEF\xBB\xBF", "\xC2\xAD", "\xE2\x81\xA0", "\xC2\xA0", "\xE3\x80\x80",
	"\xE2\x80\x83", "\xE2\x80\xAF", "\xE2\x80\xA8", "\xE2\x80\xA9", "\xF3\xA0\x80\x81", "\xE1\x85\x9F",
	/* emoji: skin tones, ZWJ families, flags, variation selectors */
	"\xF0\x9F\x99\x8F", "\xF0\x9F\x8F\xBD", "\xF0\x9F\x99\x8F\xF0\x9F\x8F\xBD",
	"\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7", "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7",
	"\xF0\x9F\x87\xBA", "\xF0\x9F\x95\x8A\xEF\xB8\x8F", "\xEF\xB8\x8F", "\xE2\x80\x94", "\xE2\x80\x99",
	/* letters and digits of other kinds */
	"\xE2\x92\xB6", "\xE2\x91\xA0", "\xD9\xA3", "\xF0\x9D\x90\x80", "\xC7\xB1", "\xE2\x85\xA0",
};
#define NFRAGMENTS (sizeof(fragments) / sizeof(fragments[0]))

/* What text_clean refuses: controls, a lone CR, bidi controls, broken UTF-8 (NULs come from json_text). */
static const char *const refused[] = {
	"\xE2\x80\xAA", "\xE2\x81\xA6", "\xC2\x85", "\x7F", "\x01", "\x1B", "\r", "\xC3", "\xFF",
	"\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\xAF", "\xE2\x82",
};
#define NREFUSED (sizeof(refused) / sizeof(refused[0]))

/*
 * Fills buf (cap bytes, NUL-terminated) with up to max random fragments; unless clean_only, one
 * in 200 is refused and one text in 16 has a random byte. Returns the length.
 */
static size_t random_text(char *buf, size_t cap, size_t max, int clean_only)
{
	size_t n = 0, k = 1 + below(max);
	for (size_t i = 0; i < k; i++) {
		const char *f = !clean_only && below(200) == 0 ? refused[below(NREFUSED)] : fragments[below(NFRAGMENTS)];
		size_t fl = strlen(f);
		if (n + fl + 1 > cap)
			break;
		memcpy(buf + n, f, fl);
		n += fl;
	}
	/* sometimes a long run of one fragment */
	if (below(8) == 0) {
		const char *f = fragments[below(NFRAGMENTS)];
		size_t fl = strlen(f);
		for (size_t r = below(40); r > 0 && n + fl + 1 <= cap; r--) {
			memcpy(buf + n, f, fl);
			n += fl;
		}
	}
	if (!clean_only && below(16) == 0 && n > 0)
		buf[below(n)] = (char)rnd();
	buf[n] = '\0';
	return n;
}

/* ---- comparing -------------------------------------------------------------------------------- */

static void print_input(const char *what, const char *s, size_t n)
{
	print_error("%s (%zu bytes): \"", what, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch < 0x7F && ch != '\\' && ch != '"')
			print_error("%c", ch);
		else
			print_error("\\x%02X", ch);
	}
	print_error("\"\n");
}

static void check_clean(const char *s, size_t n, int multiline)
{
	struct text t;
	struct ref_text r;
	enum text_status st = text_clean(s, n, multiline, &t);
	enum text_status rst = ref_text_clean(s, n, multiline, &r);
	int same = st == rst && t.len == r.len && t.graphemes == r.graphemes && t.ascii == r.ascii &&
		   ref_same_str(t.s, r.s) && (!t.s || memcmp(t.s, r.s, t.len + 1) == 0);
	if (!same) {
		print_input("text_clean differs on", s, n);
		print_error("multiline %d: status %d/%d, len %zu/%zu, graphemes %zu/%zu, ascii %d/%d\n", multiline,
			    (int)st, (int)rst, t.len, r.len, t.graphemes, r.graphemes, t.ascii, r.ascii);
		if (t.s && r.s)
			print_input("got", t.s, t.len), print_input("want", r.s, r.len);
	}
	free(t.s);
	free(r.s);
	assert_true(same);
}

/* words_split and the reference fold s the same and cut it into the same words. */
static void check_words(const char *s, size_t n)
{
	struct words w;
	struct ref_words r;
	int rc = words_split(&w, s, n), rrc = ref_words_split(&r, s, n);
	int same = ref_same_words(rc, &w, rrc, &r);
	if (!same) {
		print_input("words_split differs on", s, n);
		print_error("rc %d/%d, %zu/%zu words\n", rc, rrc, w.n, r.n);
		if (w.folded && r.folded)
			print_input("got", w.folded, strlen(w.folded)), print_input("want", r.folded, strlen(r.folded));
	}
	words_free(&w);
	ref_words_free(&r);
	assert_true(same);
}

static void print_verdicts(const struct verdict *a, const struct verdict *b)
{
	print_error("got  outcome %d reject %d holds %#x detail \"%s\" term \"%s\"\n", (int)a->outcome, (int)a->reject,
		    a->hold_mask, a->detail, a->term);
	print_error("want outcome %d reject %d holds %#x detail \"%s\" term \"%s\"\n", (int)b->outcome, (int)b->reject,
		    b->hold_mask, b->detail, b->term);
}

/* rules_triage and the reference agree on a body as comment_decode leaves it. */
static void check_triage(const struct rules *rules, const struct ref_rules *ref, const char *body, int ascii,
			 int64_t submitted_us, int64_t now_us)
{
	struct verdict v, rv;
	int same = ref_triage_both(rules, ref, body, ascii, submitted_us, now_us, &v, &rv);
	if (!same) {
		print_input("rules_triage differs on", body, strlen(body));
		print_verdicts(&v, &rv);
	}
	assert_true(same);
}

/* comment_decode then rules_triage, as the service runs them, and the reference agree. */
static void check_event(const struct rules *rules, const struct ref_rules *ref, const char *payload, size_t len,
			int64_t now_us)
{
	struct comment c, rc;
	struct verdict v, rv;
	enum outcome o = comment_decode(payload, len, &c, &v);
	enum outcome ro = ref_comment_decode(payload, len, &rc, &rv);
	int same = o == ro && ref_same_verdict(&v, &rv) && ref_same_comment(&c, &rc);
	if (same && o == OUTCOME_PUBLISH) {
		o = rules_triage(rules, &c, now_us, &v);
		ro = ref_rules_triage(ref, &rc, now_us, &rv);
		same = o == ro && ref_same_verdict(&v, &rv);
	}
	if (!same) {
		print_input("the event decides differently", payload, len);
		print_verdicts(&v, &rv);
		print_error("body got %s\nbody want %s\n", c.body ? c.body : "NULL", rc.body ? rc.body : "NULL");
	}
	comment_clear(&c);
	ref_comment_clear(&rc);
	assert_true(same);
}

/* ---- rule sets -------------------------------------------------------------------------------- */

/* Terms in many scripts and forms, phrases up to five words, and tight thresholds. */
static const char wide_rules[] =
	"{\"version\":1,"
	"\"banned_terms\":[\"kill yourself\",\"go kill yourself\",\"free crypto giveaway\",\"CAF\xC3\x89 noir\","
	"\"\xD0\xB4\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA\",\"a b c d e\",\"\xE2\x84\xAA\",\"\xE6\x97\xA5\xE6\x9C\xAC\"],"
	"\"suspect_terms\":[\"idiot\",\"idiots\",\"shut up\",\"propaganda\",\"caf\xC3\xA9\",\"stra\xC3\x9F" "e\","
	"\"\xCE\xA3\xCE\x8A\xCE\xA3\xCE\xA5\xCE\xA6\xCE\x9F\xCE\xA3\",\"\xEF\xAC\x81ne\",\"\xC4\xB0stanbul\",\"ok\","
	"\"\xEA\xB0\x80\",\"\xE3\x81\x8C\",\"e\xCC\x81t\xC3\xA9\",\"123\",\"_\",\"scunthorpe\",\"\xC7\xB0\","
	"\"b c d\",\"x\",\"\xE0\xA4\xB6\xE0\xA4\xBE\xE0\xA4\x82\xE0\xA4\xA4\xE0\xA4\xBF\",\"\xE2\x91\xA0\"],"
	"\"phones\":{\"min_digits\":5},\"shouting\":{\"min_letters\":5,\"uppercase_ratio\":0.5},"
	"\"repeated_characters\":{\"max_run\":3}}";

/* Terms that start with an ASCII word, which text beyond ASCII can still fold to. */
static const char ascii_first_rules[] =
	"{\"version\":1,"
	"\"banned_terms\":[\"kill yourself\",\"strasse\",\"go caf\xC3\xA9\",\"kelvin\"],"
	"\"suspect_terms\":[\"idiot\",\"fine\",\"scum\",\"s\",\"ok\",\"a b c d e\",\"x \xD0\xB4\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA\"]}";

#define NSETS 4

struct sets {
	struct rules r[NSETS];
	struct ref_rules ref[NSETS];
};

/* The built-in defaults (no terms), the production file, wide_rules and ascii_first_rules, in both implementations. */
static void load_sets(struct sets *s)
{
	char err[512];
	static char file[16384];
	FILE *f = fopen("deploy/rules/default.json", "rb");
	assert_non_null(f);
	size_t n = fread(file, 1, sizeof(file), f);
	fclose(f);
	rules_defaults(&s->r[0]);
	ref_rules_defaults(&s->ref[0]);
	assert_int_equal(rules_parse(file, n, &s->r[1], err, sizeof(err)), 0);
	assert_int_equal(ref_rules_parse(file, n, &s->ref[1], err, sizeof(err)), 0);
	assert_int_equal(rules_parse(wide_rules, strlen(wide_rules), &s->r[2], err, sizeof(err)), 0);
	assert_int_equal(ref_rules_parse(wide_rules, strlen(wide_rules), &s->ref[2], err, sizeof(err)), 0);
	assert_int_equal(rules_parse(ascii_first_rules, strlen(ascii_first_rules), &s->r[3], err, sizeof(err)), 0);
	assert_int_equal(ref_rules_parse(ascii_first_rules, strlen(ascii_first_rules), &s->ref[3], err, sizeof(err)), 0);
}

static void free_sets(struct sets *s)
{
	for (int i = 0; i < NSETS; i++) {
		rules_free(&s->r[i]);
		ref_rules_free(&s->ref[i]);
	}
}

static int64_t now_us(void)
{
	int64_t t;
	assert_int_equal(timefmt_parse_rfc3339(NOW, strlen(NOW), &t), 0);
	return t;
}

/* ---- tests ------------------------------------------------------------------------------------ */

/* Encodes c as UTF-8, surrogates too (so that they are refused as the bytes would be). */
static size_t encode(int32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xC0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xE0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		out[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	out[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/*
 * What the NFC fast path rests on, for every code point of this utf8proc: a boundary
 * (text_nfc_boundary) has combining class 0, normalizes to itself, and never composes with
 * what precedes it, since no canonical decomposition holds it, or a starter that comes of
 * it, after its first place (a composition pair (F, S) decomposes to F's then S's code
 * points). Below U+0300 the first code point of a decomposition is a starter. And no ASCII
 * character is zero-width, and printable ASCII is of Grapheme_Cluster_Break Other, as the
 * trimming and counting of ASCII assume.
 */
static void test_nfc_boundaries_are_what_normalization_leaves_alone(void **state)
{
	(void)state;
	size_t boundaries = 0;
	for (int32_t c = 0; c < 0x110000; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		const utf8proc_property_t *p = utf8proc_get_property(c);
		if (c < 0x80)
			assert_false(p->ignorable);
		if (c >= 0x20 && c < 0x7F) /* counting graphemes takes printable ASCII as Other */
			assert_int_equal(p->boundclass, UTF8PROC_BOUNDCLASS_OTHER);
		utf8proc_int32_t d[32];
		int bc = 0;
		utf8proc_ssize_t n = utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &bc);
		assert_true(n >= 1 && n <= 32);
		for (utf8proc_ssize_t i = 1; i < n; i++)
			if (utf8proc_get_property(d[i])->combining_class == 0 && text_nfc_boundary(d[i])) {
				print_error("U+%04X decomposes with the boundary U+%04X after its first place\n", (unsigned)c,
					    (unsigned)d[i]);
				fail();
			}
		if (c < 0x300)
			assert_int_equal(utf8proc_get_property(d[0])->combining_class, 0);
		if (!text_nfc_boundary(c))
			continue;
		boundaries++;
		assert_int_equal(p->combining_class, 0);
		char s[4];
		size_t len = encode(c, s);
		utf8proc_uint8_t *nfc = NULL;
		utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfc,
						  UTF8PROC_STABLE | UTF8PROC_COMPOSE);
		if (m != (utf8proc_ssize_t)len || memcmp(nfc, s, len) != 0) {
			print_error("the boundary U+%04X is not its own NFC\n", (unsigned)c);
			fail();
		}
		free(nfc);
	}
	print_message("%zu code points are NFC boundaries\n", boundaries);
	assert_true(boundaries > 200000);
}

/*
 * Every code point alone, after a letter and before a mark, and after an accent, in both modes,
 * cleaned and cut into folded words.
 */
static void test_every_code_point_cleans_and_folds_the_same(void **state)
{
	(void)state;
	static const char *const before[] = {"", "a", "e", "\xE1\x84\x80", "\xEA\xB0\x80"};
	static const char *const after[] = {"", "b", "\xCC\x81", "\xE1\x85\xA1", "\xE1\x86\xA8", "\xE3\x82\x99"};
	for (int32_t c = 0; c < 0x110000; c++) {
		char s[32];
		size_t n = 0;
		const char *b = before[(size_t)c % 5], *a = after[(size_t)c % 6];
		memcpy(s, b, strlen(b));
		n += strlen(b);
		n += encode(c, s + n);
		memcpy(s + n, a, strlen(a));
		n += strlen(a);
		check_clean(s, n, c & 1);
		check_words(s, n);
	}
}

static void test_random_texts_clean_and_fold_the_same(void **state)
{
	(void)state;
	static char buf[8192];
	for (int i = 0; i < RANDOM_TEXTS; i++) {
		size_t n = random_text(buf, sizeof(buf), i % 10 == 0 ? 400 : 40, 0);
		check_clean(buf, n, 0);
		check_clean(buf, n, 1);
		check_words(buf, n);
	}
}

static void test_random_bodies_triage_the_same(void **state)
{
	(void)state;
	static struct sets s;
	static char buf[8192];
	load_sets(&s);
	int64_t now = now_us();
	for (int i = 0; i < RANDOM_TEXTS; i++) {
		size_t n = random_text(buf, sizeof(buf), i % 10 == 0 ? 400 : 60, 1);
		struct text t;
		if (text_clean(buf, n, 1, &t) != TEXT_OK)
			continue;
		for (int k = 0; k < NSETS; k++)
			check_triage(&s.r[k], &s.ref[k], t.s, t.ascii, now, now);
		/* and every body the general way, as a body that is not ASCII goes */
		check_triage(&s.r[2], &s.ref[2], t.s, 0, now, now);
		free(t.s);
	}
	free_sets(&s);
}

/* Appends s[0..n) as the inside of a JSON string; bytes from 0x80 go as they are, valid or not. */
static size_t json_text(char *out, size_t o, size_t cap, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o + 8 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\%c", ch);
		else if (ch < 0x20)
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
	return o;
}

/* A member that is not what its key wants, or a key that is almost a known one. */
static size_t odd_member(char *out, size_t o, size_t cap)
{
	static const char *const keys[] = {"comment_id", "article_id", "author", "body", "submitted_at", "parent_id",
					   "schema_version", "Body", "body\\u0000", "bod\\u0079", "extra", "id",
					   "display_name", ""};
	static const char *const values[] = {"null", "1", "-2.5e300", "true", "[]", "{}", "[\"x\"]",
					     "{\"id\":\"u\",\"display_name\":\"U\"}", "\"\"", "\"\\u0000\"",
					     "123456789012345678901234567890"};
	return o + (size_t)snprintf(out + o, cap - o, "\"%s\":%s,", keys[below(14)], values[below(11)]);
}

/* A comment-submitted event: mostly well-formed, each field sometimes missing or odd. */
static size_t random_event(char *out, size_t cap)
{
	static const char *const times[] = {NOW, "2026-01-31T10:19:00.123456Z", "2026-01-31T12:20:00+02:00",
					    "2026-01-31T10:26:00Z", "2026-01-20T10:20:00Z", "2025-01-31T10:20:00Z",
					    "2026-01-31 10:20:00", "2026-02-30T10:20:00Z", "2026-01-31T10:20:00.123456789Z"};
	static const char *const ids[] = {"3f2504e0-4f89-41d3-9a0c-0305e82c3301", "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
					  "3f2504e0-4f89-41d3-9a0c-0305e82c330", "not-a-uuid", ""};
	static const char *const articles[] = {"article-1", "a.b_c:d-e", "-x", "", "caf\xC3\xA9", "a b"};
	char text[4096];
	size_t o = 0, n;
	int drop = below(4) == 0 ? (int)below(8) : -1; /* a field left out */
	o += (size_t)snprintf(out + o, cap - o, "{");
	if (below(8) == 0)
		o = odd_member(out, o, cap); /* a duplicate of a later key makes the event malformed */
	if (drop != 0)
		o += (size_t)snprintf(out + o, cap - o, "\"schema_version\":%s,",
				      below(10) ? "1" : below(2) ? "1.0" : below(2) ? "2" : "\"1\"");
	if (drop != 1)
		o += (size_t)snprintf(out + o, cap - o, "\"comment_id\":\"%s\",", ids[below(10) ? 0 : below(5)]);
	if (drop != 2)
		o += (size_t)snprintf(out + o, cap - o, "\"article_id\":\"%s\",", articles[below(10) ? 0 : below(6)]);
	if (drop != 3 && below(20) == 0) {
		o += (size_t)snprintf(out + o, cap - o, "\"author\":{");
		o = odd_member(out, o, cap);
		o += (size_t)snprintf(out + o, cap - o, "\"x\":1},");
	} else if (drop != 3) {
		o += (size_t)snprintf(out + o, cap - o, "\"author\":{\"id\":\"");
		n = random_text(text, 64, below(3) ? 2 : 6, 0);
		o = json_text(out, o, cap, text, n);
		o += (size_t)snprintf(out + o, cap - o, "\",\"display_name\":\"");
		n = random_text(text, 128, below(3) ? 3 : 20, 0);
		o = json_text(out, o, cap, text, n);
		o += (size_t)snprintf(out + o, cap - o, "\"},");
	}
	if (drop != 4) {
		o += (size_t)snprintf(out + o, cap - o, "\"body\":\"");
		n = random_text(text, sizeof(text), below(10) ? 80 : 400, below(4) != 0);
		o = json_text(out, o, cap, text, n);
		o += (size_t)snprintf(out + o, cap - o, "\",");
	}
	if (drop != 5 && below(3) == 0)
		o += (size_t)snprintf(out + o, cap - o, "\"parent_id\":%s,", below(2) ? "null" : "\"3f2504e0-4f89-41d3-9a0c-0305e82c3302\"");
	o += (size_t)snprintf(out + o, cap - o, "\"submitted_at\":\"%s\"}", times[below(5) ? 0 : below(9)]);
	return o;
}

/* The fuzz seeds of fuzz_decide (every reason code has one) and random events, under each rule set. */
static void test_events_decide_the_same(void **state)
{
	(void)state;
	static struct sets s;
	load_sets(&s);
	int64_t now = now_us();
	DIR *d = opendir(SEEDS);
	assert_non_null(d);
	struct dirent *e;
	size_t seeds = 0;
	static char buf[300 * 1024];
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", SEEDS, e->d_name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		for (int k = 0; k < NSETS; k++)
			check_event(&s.r[k], &s.ref[k], buf, n, now);
		seeds++;
	}
	closedir(d);
	assert_true(seeds > 100);
	for (int i = 0; i < RANDOM_EVENTS; i++) {
		size_t n = random_event(buf, 16384);
		check_event(&s.r[i % NSETS], &s.ref[i % NSETS], buf, n, now);
	}
	free_sets(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nfc_boundaries_are_what_normalization_leaves_alone),
		cmocka_unit_test(test_every_code_point_cleans_and_folds_the_same),
		cmocka_unit_test(test_random_texts_clean_and_fold_the_same),
		cmocka_unit_test(test_random_bodies_triage_the_same),
		cmocka_unit_test(test_events_decide_the_same),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
