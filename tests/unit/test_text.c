/* test_text.c - text_clean: validation, NFC, trimming and counting graphemes as a reader does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "text.h"

/* Sizes of string literals, so that embedded NULs survive. */
#define LIT(s) (s), (sizeof(s) - 1)

/* Cleans in and expects TEXT_OK with the given bytes and grapheme count. */
static void expect_clean(const char *in, size_t inlen, int multiline, const char *want, size_t wantlen,
			 size_t graphemes)
{
	struct text t;
	enum text_status st = text_clean(in, inlen, multiline, &t);
	assert_int_equal(st, TEXT_OK);
	assert_non_null(t.s);
	assert_int_equal(t.len, wantlen);
	assert_memory_equal(t.s, want, wantlen);
	assert_int_equal(t.s[t.len], '\0');
	assert_int_equal(t.graphemes, graphemes);
	free(t.s);
}

/* Cleans in and expects the failure st with out zeroed. */
static void expect_fail(const char *in, size_t inlen, int multiline, enum text_status want)
{
	struct text t;
	memset(&t, 0xA5, sizeof(t)); /* out must be zeroed on failure */
	enum text_status st = text_clean(in, inlen, multiline, &t);
	assert_int_equal(st, want);
	assert_null(t.s);
	assert_int_equal(t.len, 0);
	assert_int_equal(t.graphemes, 0);
}

static void test_nfc_composed_and_decomposed_e_are_identical(void **state)
{
	(void)state;
	/* U+00E9 vs U+0065 U+0301 */
	expect_clean(LIT("\xC3\xA9"), 0, LIT("\xC3\xA9"), 1);
	expect_clean(LIT("e\xCC\x81"), 0, LIT("\xC3\xA9"), 1);
	expect_clean(LIT("caf\xC3\xA9"), 1, LIT("caf\xC3\xA9"), 4);
	expect_clean(LIT("cafe\xCC\x81"), 1, LIT("caf\xC3\xA9"), 4);
	/* A mark with no precomposed form stays decomposed but is still one grapheme. */
	expect_clean(LIT("q\xCC\x81"), 0, LIT("q\xCC\x81"), 1);
	/* Hangul jamo compose to one syllable: U+1100 U+1161 -> U+AC00 */
	expect_clean(LIT("\xE1\x84\x80\xE1\x85\xA1"), 0, LIT("\xEA\xB0\x80"), 1);
}

static void test_emoji_with_skin_tone_is_one_grapheme(void **state)
{
	(void)state;
	/* U+1F44D U+1F3FD */
	expect_clean(LIT("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), 0, LIT("\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD"), 1);
	expect_clean(LIT("ok \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!"), 0, LIT("ok \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!"), 5);
}

#define FLAG_US "\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8"
#define FLAG_GB "\xF0\x9F\x87\xAC\xF0\x9F\x87\xA7"
#define RI_U "\xF0\x9F\x87\xBA"
#define MAN "\xF0\x9F\x91\xA8"
#define WOMAN "\xF0\x9F\x91\xA9"
#define GIRL "\xF0\x9F\x91\xA7"
#define BOY "\xF0\x9F\x91\xA6"
#define ZWJ "\xE2\x80\x8D"
#define ZWSP "\xE2\x80\x8B"

static void test_flags_count_one_each(void **state)
{
	(void)state;
	expect_clean(LIT(FLAG_US), 0, LIT(FLAG_US), 1);
	expect_clean(LIT(FLAG_US FLAG_GB), 0, LIT(FLAG_US FLAG_GB), 2);
	/* Three regional indicators: a pair and a lone one. */
	expect_clean(LIT(FLAG_US RI_U), 0, LIT(FLAG_US RI_U), 2);
	expect_clean(LIT("a" FLAG_US "b"), 0, LIT("a" FLAG_US "b"), 3);
}

/*
 * A Prepend character (U+0605 ARABIC NUMBER MARK ABOVE) joins what follows it (GB9b), ASCII
 * too; other pairs of ASCII and Other code points stay apart. (fuzz_reference found a build
 * that counted "\u0605a" as two.)
 */
static void test_prepend_joins_what_follows(void **state)
{
	(void)state;
	expect_clean(LIT("\xD8\x85"
			 "a"),
		     0, LIT("\xD8\x85"
			    "a"),
		     1);
	expect_clean(LIT("x\xD8\x85"
			 "1y"),
		     0, LIT("x\xD8\x85"
			    "1y"),
		     3);
	expect_clean(LIT("ab\xD0\x94\xD0\xB4"
			 "c"),
		     0, LIT("ab\xD0\x94\xD0\xB4"
			    "c"),
		     5);
}

static void test_zwj_family_is_one_grapheme(void **state)
{
	(void)state;
	expect_clean(LIT(MAN ZWJ WOMAN ZWJ GIRL), 0, LIT(MAN ZWJ WOMAN ZWJ GIRL), 1);
	expect_clean(LIT(MAN ZWJ WOMAN ZWJ GIRL ZWJ BOY), 0, LIT(MAN ZWJ WOMAN ZWJ GIRL ZWJ BOY), 1);
	expect_clean(LIT("x" MAN ZWJ WOMAN ZWJ GIRL "y"), 0, LIT("x" MAN ZWJ WOMAN ZWJ GIRL "y"), 3);
}

static void test_edges_trimmed_and_not_counted(void **state)
{
	(void)state;
	/* space, NBSP, U+3000, U+2003, newline, tab on both sides (multiline) */
	expect_clean(LIT(" \t\n\xC2\xA0\xE3\x80\x80\xE2\x80\x83hello world \xE3\x80\x80\xC2\xA0\n\n \t"), 1,
		     LIT("hello world"), 11);
	/* single line: NBSP and U+3000 and U+202F */
	expect_clean(LIT("\xC2\xA0\xE3\x80\x80  Priya S\xE2\x80\xAF\xC2\xA0 "), 0, LIT("Priya S"), 7);
	/* inner white space is kept and counted */
	expect_clean(LIT("a\xC2\xA0\xC2\xA0"
			 "b"),
		     0, LIT("a\xC2\xA0\xC2\xA0"
			    "b"),
		     4);
	/* CRLF at the edges of multiline text is trimmed too */
	expect_clean(LIT("\r\nhi\r\n"), 1, LIT("hi"), 2);
	/* only white space: empty, 0 graphemes */
	expect_clean(LIT(" \xC2\xA0\xE3\x80\x80 "), 0, LIT(""), 0);
	expect_clean(LIT("\n\t \r\n"), 1, LIT(""), 0);
}

static void test_zero_width_clusters_not_counted(void **state)
{
	(void)state;
	expect_clean(LIT(ZWSP), 0, LIT(""), 0);
	expect_clean(LIT(ZWSP ZWSP ZWSP), 0, LIT(""), 0);
	/* inside the text the bytes stay, but they do not count */
	expect_clean(LIT("a" ZWSP ZWSP ZWSP "b"), 0, LIT("a" ZWSP ZWSP ZWSP "b"), 2);
	/* at the edges they are trimmed */
	expect_clean(LIT(ZWSP " ab " ZWSP), 0, LIT("ab"), 2);
	/* U+2060 word joiner and U+FEFF inside */
	expect_clean(LIT("a\xE2\x81\xA0\xEF\xBB\xBF"
			 "b"),
		     0,
		     LIT("a\xE2\x81\xA0\xEF\xBB\xBF"
			 "b"),
		     2);
}

/*
 * Other default-ignorable code points are just as invisible as U+200B:
 * U+00AD soft hyphen, U+2061..U+2064 invisible operators, U+206A..U+206F
 * deprecated format characters, U+E0001 language tag. Each forms its own
 * cluster (Grapheme_Cluster_Break=Control) and must not count.
 */
static void test_invisible_clusters_not_counted(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
		size_t graphemes;
	} cases[] = {
		{LIT("a\xC2\xAD\xC2\xAD\xC2\xAD"
		     "b"),
		 2},                                                    /* U+00AD x3 */
		{LIT("a\xE2\x81\xA1\xE2\x81\xA2\xE2\x81\xA3\xE2\x81\xA4z"), 2}, /* U+2061..U+2064 */
		{LIT("a\xE2\x81\xAA\xE2\x81\xAF"
		     "b"),
		 2},                                   /* U+206A, U+206F */
		{LIT("a\xF3\xA0\x80\x81z"), 2},        /* U+E0001 */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct text t;
		assert_int_equal(text_clean(cases[i].s, cases[i].n, 0, &t), TEXT_OK);
		if (t.graphemes != cases[i].graphemes)
			print_error("case %zu: %zu graphemes, want %zu\n", i, t.graphemes, cases[i].graphemes);
		size_t got = t.graphemes;
		free(t.s);
		assert_int_equal(got, cases[i].graphemes);
	}
}

static void test_crlf_becomes_lf_in_multiline(void **state)
{
	(void)state;
	expect_clean(LIT("line one\r\nline two"), 1, LIT("line one\nline two"), 17);
	expect_clean(LIT("a\r\n\r\nb"), 1, LIT("a\n\nb"), 4);
	expect_clean(LIT("a\n\tb"), 1, LIT("a\n\tb"), 4);
}

static void test_lone_cr_rejected(void **state)
{
	(void)state;
	expect_fail(LIT("a\rb"), 1, TEXT_CONTROL);
	expect_fail(LIT("a\r\rb"), 1, TEXT_CONTROL);
	expect_fail(LIT("a\n\rb"), 1, TEXT_CONTROL);
	expect_fail(LIT("ab\r"), 1, TEXT_CONTROL);
	expect_fail(LIT("a\rb"), 0, TEXT_CONTROL);
}

static void test_tab_newline_rejected_single_line(void **state)
{
	(void)state;
	expect_fail(LIT("a\tb"), 0, TEXT_CONTROL);
	expect_fail(LIT("a\nb"), 0, TEXT_CONTROL);
	expect_fail(LIT("a\r\nb"), 0, TEXT_CONTROL);
	expect_fail(LIT("ab\n"), 0, TEXT_CONTROL);
	expect_fail(LIT("\tab"), 0, TEXT_CONTROL);
	expect_fail(LIT("a\x0B"
			"b"),
		    1, TEXT_CONTROL); /* vertical tab is never allowed */
	expect_fail(LIT("a\x0C"
			"b"),
		    1, TEXT_CONTROL); /* form feed */
}

static void test_invalid_utf8_rejected(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{LIT("\xC0\xAF")},             /* overlong '/' (2 bytes) */
		{LIT("\xC1\xBF")},             /* overlong (2 bytes) */
		{LIT("\xE0\x80\xAF")},         /* overlong '/' (3 bytes) */
		{LIT("\xF0\x80\x80\xAF")},     /* overlong '/' (4 bytes) */
		{LIT("\x80")},                 /* lone continuation */
		{LIT("abc\xBF")},              /* lone continuation after ASCII */
		{LIT("\xED\xA0\x80")},         /* U+D800 high surrogate encoded */
		{LIT("\xED\xBF\xBF")},         /* U+DFFF low surrogate encoded */
		{LIT("\xED\xA0\xBD\xED\xB8\x80")}, /* CESU-8 surrogate pair */
		{LIT("\xE2\x82")},             /* truncated 3-byte sequence */
		{LIT("x\xF0\x9F\x91")},        /* truncated 4-byte sequence */
		{LIT("\xC3")},                 /* truncated 2-byte sequence */
		{LIT("\xC3(")},                /* bad continuation */
		{LIT("\xF4\x90\x80\x80")},     /* above U+10FFFF */
		{LIT("\xF8\x88\x80\x80\x80")}, /* 5-byte form */
		{LIT("\xFE")},
		{LIT("\xFF")},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("invalid utf-8 case %zu\n", i);
		expect_fail(bad[i].s, bad[i].n, 0, TEXT_INVALID_UTF8);
		expect_fail(bad[i].s, bad[i].n, 1, TEXT_INVALID_UTF8);
	}
}

static void test_nul_rejected(void **state)
{
	(void)state;
	expect_fail(LIT("a\0b"), 0, TEXT_NUL);
	expect_fail(LIT("a\0b"), 1, TEXT_NUL);
	expect_fail(LIT("\0"), 1, TEXT_NUL);
	expect_fail(LIT("ab\0"), 1, TEXT_NUL);
}

static void test_c0_c1_controls_rejected(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{LIT("a\x01z")},     /* C0 SOH */
		{LIT("a\x1B[31mz")}, /* C0 ESC, as in terminal colour codes */
		{LIT("a\x1Fz")},     /* C0 unit separator */
		{LIT("a\x7Fz")},     /* DEL */
		{LIT("a\xC2\x80z")}, /* U+0080 C1 */
		{LIT("a\xC2\x85z")}, /* U+0085 NEL, a C1 control */
		{LIT("a\xC2\x9Bz")}, /* U+009B CSI */
		{LIT("a\xC2\x9Fz")}, /* U+009F C1 */
		{LIT("\xC2\x85")},   /* NEL alone: a control, not white space to trim */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("control case %zu\n", i);
		expect_fail(bad[i].s, bad[i].n, 0, TEXT_CONTROL);
		expect_fail(bad[i].s, bad[i].n, 1, TEXT_CONTROL);
	}
	/* U+00A0 is just past C1: allowed */
	expect_clean(LIT("a\xC2\xA0z"), 0, LIT("a\xC2\xA0z"), 3);
}

static void test_bidi_controls_rejected(void **state)
{
	(void)state;
	/* U+202A..U+202E: E2 80 AA..AE; U+2066..U+2069: E2 81 A6..A9 */
	for (unsigned b = 0xAA; b <= 0xAE; b++) {
		char s[] = {'a', (char)0xE2, (char)0x80, (char)b, 'z'};
		print_message("bidi U+202%X\n", 0xA + (b - 0xAA));
		expect_fail(s, sizeof(s), 0, TEXT_BIDI);
		expect_fail(s, sizeof(s), 1, TEXT_BIDI);
	}
	for (unsigned b = 0xA6; b <= 0xA9; b++) {
		char s[] = {'a', (char)0xE2, (char)0x81, (char)b, 'z'};
		expect_fail(s, sizeof(s), 0, TEXT_BIDI);
		expect_fail(s, sizeof(s), 1, TEXT_BIDI);
	}
	/* at the edge, where it would otherwise be trimmed away */
	expect_fail(LIT("abc\xE2\x80\xAE"), 1, TEXT_BIDI);
	/* the neighbour U+202F (narrow no-break space) stays allowed inside */
	expect_clean(LIT("a\xE2\x80\xAFz"), 0, LIT("a\xE2\x80\xAFz"), 3);
}

static void test_empty_string_ok(void **state)
{
	(void)state;
	expect_clean("", 0, 0, "", 0, 0);
	expect_clean("", 0, 1, "", 0, 0);
}

static void test_length_is_respected(void **state)
{
	(void)state;
	/* only inlen bytes are read: the rest of the buffer is ignored */
	expect_clean("abcdef", 3, 0, LIT("abc"), 3);
	/* a cut in the middle of a multi-byte sequence is invalid */
	expect_fail("\xC3\xA9", 1, 0, TEXT_INVALID_UTF8);
}

static void test_status_details_distinct(void **state)
{
	(void)state;
	enum text_status all[] = {TEXT_INVALID_UTF8, TEXT_NUL, TEXT_CONTROL, TEXT_BIDI};
	for (size_t i = 0; i < 4; i++) {
		const char *d = text_status_detail(all[i]);
		assert_non_null(d);
		assert_true(strlen(d) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d, text_status_detail(all[j]));
	}
	assert_non_null(strstr(text_status_detail(TEXT_INVALID_UTF8), "UTF-8"));
	assert_non_null(strstr(text_status_detail(TEXT_NUL), "NUL"));
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Canonical ordering must not be quadratic: "a" followed by alternating
 * U+0301 (ccc 230) and U+0316 (ccc 220) makes a naive sort move every mark.
 * 20000 pairs are 80 KB, well inside one Kafka message; the service decodes
 * on its event loop, so seconds here stall the whole consumer.
 */
static void test_long_combining_sequence_is_fast(void **state)
{
	(void)state;
	size_t pairs = 20000, n = 1 + 4 * pairs;
	char *s = malloc(n);
	assert_non_null(s);
	s[0] = 'a';
	for (size_t i = 0; i < pairs; i++)
		memcpy(s + 1 + 4 * i, "\xCC\x81\xCC\x96", 4);
	struct text t;
	double t0 = now();
	enum text_status st = text_clean(s, n, 1, &t);
	double elapsed = now() - t0;
	print_message("text_clean of %zu bytes of combining marks: status %d, %.3f s\n", n, (int)st, elapsed);
	if (st == TEXT_OK)
		assert_int_equal(t.graphemes, 1);
	free(t.s);
	free(s);
	assert_true(elapsed < 0.5);
}

static void test_utf8_prefix_stops_before_a_broken_character(void **state)
{
	(void)state;
	assert_int_equal(text_utf8_prefix(LIT("")), 0);
	assert_int_equal(text_utf8_prefix(LIT("caf\xC3\xA9")), 5);
	assert_int_equal(text_utf8_prefix(LIT("near '\"\\\xC3'")), 8); /* a lead byte, then a quote */
	assert_int_equal(text_utf8_prefix(LIT("ab\xE2\x82")), 2);      /* cut inside a character */
	assert_int_equal(text_utf8_prefix(LIT("ab\xED\xA0\x80")), 2);  /* a surrogate */
}

/* A cut keeps whole characters: an incomplete last character goes, a complete one stays. */
static void test_utf8_cut_keeps_whole_characters(void **state)
{
	(void)state;
	assert_int_equal(text_utf8_cut(LIT("")), 0);
	assert_int_equal(text_utf8_cut(LIT("abc")), 3);
	assert_int_equal(text_utf8_cut(LIT("ab\xE2\x82\xAC")), 5); /* the euro sign, whole */
	assert_int_equal(text_utf8_cut(LIT("ab\xE2\x82")), 2);      /* two of its three bytes */
	assert_int_equal(text_utf8_cut(LIT("ab\xE2")), 2);
	assert_int_equal(text_utf8_cut(LIT("a\xF0\x9F\x98\x80")), 5);
	assert_int_equal(text_utf8_cut(LIT("a\xF0\x9F\x98")), 1);
	assert_int_equal(text_utf8_cut(LIT("\xC3")), 0);
	assert_int_equal(text_utf8_cut(LIT("a\x80\x80\x80\x80")), 5); /* not UTF-8: left as it is */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_cut_keeps_whole_characters),
		cmocka_unit_test(test_nfc_composed_and_decomposed_e_are_identical),
		cmocka_unit_test(test_emoji_with_skin_tone_is_one_grapheme),
		cmocka_unit_test(test_flags_count_one_each),
		cmocka_unit_test(test_prepend_joins_what_follows),
		cmocka_unit_test(test_zwj_family_is_one_grapheme),
		cmocka_unit_test(test_edges_trimmed_and_not_counted),
		cmocka_unit_test(test_zero_width_clusters_not_counted),
		cmocka_unit_test(test_invisible_clusters_not_counted),
		cmocka_unit_test(test_crlf_becomes_lf_in_multiline),
		cmocka_unit_test(test_lone_cr_rejected),
		cmocka_unit_test(test_tab_newline_rejected_single_line),
		cmocka_unit_test(test_invalid_utf8_rejected),
		cmocka_unit_test(test_nul_rejected),
		cmocka_unit_test(test_c0_c1_controls_rejected),
		cmocka_unit_test(test_bidi_controls_rejected),
		cmocka_unit_test(test_empty_string_ok),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_status_details_distinct),
		cmocka_unit_test(test_long_combining_sequence_is_fast),
		cmocka_unit_test(test_utf8_prefix_stops_before_a_broken_character),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
