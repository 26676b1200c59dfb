/* test_terms.c - term lists: whole words and phrases on Unicode case-folded text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "terms.h"

/* A set made of the NULL-terminated list of terms; each must be accepted. */
static void set_of(struct terms *t, const char *const *list)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; list[i]; i++)
		assert_int_equal(terms_add(t, list[i]), 0);
}

/* The term of t found in text, or NULL. */
static const char *find_in(const struct terms *t, const char *text)
{
	struct words w;
	assert_int_equal(words_split(&w, text, strlen(text)), 0);
	const char *found = terms_find(t, &w);
	words_free(&w);
	return found;
}

/* Asserts that the only term in list is found (or not) in each text. */
struct probe {
	const char *text;
	const char *want; /* the stored (folded) term, or NULL */
};

static void expect_probes(const char *const *list, const struct probe *p, size_t n)
{
	struct terms t;
	set_of(&t, list);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *got = find_in(&t, p[i].text);
		if ((got == NULL) != (p[i].want == NULL) || (got && strcmp(got, p[i].want) != 0)) {
			print_error("FAIL: \"%s\" -> %s%s%s, want %s%s%s\n", p[i].text, got ? "\"" : "",
				    got ? got : "NULL", got ? "\"" : "", p[i].want ? "\"" : "",
				    p[i].want ? p[i].want : "NULL", p[i].want ? "\"" : "");
			failed++;
		}
	}
	terms_free(&t);
	assert_int_equal(failed, 0);
}

#define PROBES(list, probes) expect_probes(list, probes, sizeof(probes) / sizeof(probes[0]))

/* ---- words_split ------------------------------------------------------------------------- */

/* Asserts the folded words of text, given as one string joined by single spaces. */
static void expect_words(const char *text, size_t len, const char *want)
{
	struct words w;
	assert_int_equal(words_split(&w, text, len), 0);
	char joined[512] = "";
	size_t o = 0;
	for (size_t i = 0; i < w.n; i++) {
		assert_true(o + w.len[i] + 2 < sizeof(joined));
		if (i)
			joined[o++] = ' ';
		memcpy(joined + o, w.folded + w.start[i], w.len[i]);
		o += w.len[i];
	}
	joined[o] = '\0';
	assert_string_equal(joined, want);
	words_free(&w);
}

static void test_words_split_cuts_at_everything_but_letters_digits_marks(void **state)
{
	(void)state;
	expect_words("Hello, World!", 13, "hello world");
	expect_words("  Shut   UP!\n\tnow...", 20, "shut up now");
	expect_words("don't", 5, "don t");
	expect_words("e-mail me at 10:30", 18, "e mail me at 10 30");
	expect_words("snake_case stays one word", 25, "snake_case stays one word");
	expect_words("", 0, "");
	expect_words(" \t\n.,;!?", 8, "");
	/* only len bytes are read */
	expect_words("abc def", 3, "abc");
	/* Cyrillic, Greek, CJK and digits of other scripts are word characters */
	expect_words("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2, \xCE\x9A\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1!",
		     strlen("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2, \xCE\x9A\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1!"),
		     "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xCE\xBA\xCE\xB1\xCE\xBB\xCE\xB7\xCE\xBC\xCE\xAD\xCF\x81\xCE\xB1");
	/* U+3001 IDEOGRAPHIC COMMA separates, the ideographs do not */
	expect_words("\xE6\x97\xA5\xE6\x9C\xAC\xE3\x80\x81\xE4\xB8\xAD\xE5\x9B\xBD", 15,
		     "\xE6\x97\xA5\xE6\x9C\xAC \xE4\xB8\xAD\xE5\x9B\xBD");
	/* a combining mark stays in its word (NFD input is composed) */
	expect_words("Cafe\xCC\x81 au lait", 14, "caf\xC3\xA9 au lait");
	/* an emoji is not a word character */
	expect_words("ok\xF0\x9F\x91\x8Dgo", 8, "ok go");
}

static void test_words_split_refuses_invalid_utf8(void **state)
{
	(void)state;
	/*
	 * Bodies are validated UTF-8 before the rules see them; text that is not is
	 * refused as a whole (rules_triage then rejects with invalid_text), and the
	 * words are still safe to free.
	 */
	static const char *const bad[] = {"\xC3\xA9t\xC3\xA9 \x80 bad", "bad\xE2\x82", "\xFF", "ok \xC0\xAF"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct words w;
		assert_int_equal(words_split(&w, bad[i], strlen(bad[i])), -1);
		words_free(&w);
		words_free(&w);
	}
	/* cutting a valid text inside a sequence is the same */
	struct words w;
	assert_int_equal(words_split(&w, "caf\xC3\xA9", 4), -1);
	words_free(&w);
}

/* ---- case folding -------------------------------------------------------------------------- */

static void test_ascii_case_is_ignored(void **state)
{
	(void)state;
	static const char *const list[] = {"Idiot", NULL};
	static const struct probe p[] = {
		{"what an idiot", "idiot"},
		{"WHAT AN IDIOT", "idiot"},
		{"What An iDiOt!", "idiot"},
		{"idiotic remarks", NULL},
		{"idiots", NULL},
	};
	PROBES(list, p);
}

static void test_unicode_case_folding(void **state)
{
	(void)state;
	/*
	 * utf8proc's UTF8PROC_CASEFOLD is full case folding: sharp s (U+00DF) and
	 * capital sharp s (U+1E9E) both fold to "ss", so "STRAẞE", "Straße" and
	 * "strasse" are the same word.
	 */
	static const char *const list[] = {"stra\xC3\x9F" "e", NULL};
	static const struct probe p[] = {
		{"in der STRA\xE1\xBA\x9E" "E", "strasse"},
		{"in der Stra\xC3\x9F" "e", "strasse"},
		{"in der strasse", "strasse"},
		{"in der STRASSE", "strasse"},
		{"in der Strassenbahn", NULL},
	};
	PROBES(list, p);

	struct terms t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(terms_add(&t, "STRASSE"), 0);
	assert_string_equal(find_in(&t, "Stra\xC3\x9F" "e"), "strasse");
	/* the same folded term again is not a second entry */
	assert_int_equal(terms_add(&t, "Stra\xE1\xBA\x9E" "e"), 0);
	assert_int_equal(t.count, 1);
	terms_free(&t);

	/* Cyrillic and Greek capitals fold; final sigma folds to sigma */
	static const char *const list2[] = {"\xD0\xB4\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA", /* дурак */
					    "\xCE\xBF\xCE\xB4\xCF\x8C\xCF\x82",         /* οδός */
					    NULL};
	static const struct probe p2[] = {
		{"\xD0\x94\xD0\xA3\xD0\xA0\xD0\x90\xD0\x9A!", "\xD0\xB4\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA"},  /* ДУРАК! */
		{"\xD0\x94\xD1\x83\xD1\x80\xD0\xB0\xD0\xBA\xD0\xB8", NULL},                                /* Дураки */
		{"\xCE\x9F\xCE\x94\xCE\x8C\xCE\xA3", "\xCE\xBF\xCE\xB4\xCF\x8C\xCF\x83"},                 /* ΟΔΌΣ */
	};
	PROBES(list2, p2);
}

/* ---- whole words --------------------------------------------------------------------------- */

static void test_whole_words_only_scunthorpe(void **state)
{
	(void)state;
	static const char *const list[] = {"ass", NULL};
	static const struct probe p[] = {
		{"a class act", NULL},
		{"the grass is greener", NULL},
		{"assassin", NULL},
		{"passing by", NULL},
		{"bass", NULL},
		{"what an ass.", "ass"},
		{"ASS", "ass"},
		{"(ass)", "ass"},
		{"ass-hat", "ass"},
		{"\"ass\"", "ass"},
		{"ass", "ass"},
		{"x ass y", "ass"},
	};
	PROBES(list, p);

	static const char *const list2[] = {"cunt", NULL};
	static const struct probe p2[] = {
		{"Scunthorpe United won again", NULL},
		{"SCUNTHORPE", NULL},
	};
	PROBES(list2, p2);
}

static void test_digits_and_underscores_are_part_of_words(void **state)
{
	(void)state;
	static const char *const list[] = {"spam", NULL};
	static const struct probe p[] = {
		{"spam2", NULL},
		{"2spam", NULL},
		{"spam_bot", NULL},
		{"spam 2", "spam"},
	};
	PROBES(list, p);
}

/* ---- phrases ------------------------------------------------------------------------------- */

static void test_phrases_match_across_white_space_and_punctuation(void **state)
{
	(void)state;
	static const char *const list[] = {"shut up", NULL};
	static const struct probe p[] = {
		{"Shut   UP!", "shut up"},
		{"just shut up", "shut up"},
		{"shut\nup", "shut up"},
		{"shut\tup", "shut up"},
		{"shut, up", "shut up"},
		{"shut...up", "shut up"},
		{"SHUT-UP", "shut up"},
		{"please shut up.", "shut up"},
		{"shut upstairs", NULL},
		{"shutup", NULL},
		{"shut down up", NULL},
		{"up shut", NULL},
		{"shut", NULL},
		{"up", NULL},
	};
	PROBES(list, p);
}

static void test_overlapping_phrases_and_words(void **state)
{
	(void)state;
	/* a one-word term and a longer phrase starting with the same word */
	static const char *const list[] = {"go kill yourself", "kill yourself", "free crypto giveaway", NULL};
	static const struct probe p[] = {
		{"just go kill yourself", "go kill yourself"},
		{"kill yourself", "kill yourself"},
		{"go kill", NULL},
		{"free crypto now", NULL},
		{"FREE crypto GIVEAWAY!!!", "free crypto giveaway"},
		{"a free free crypto giveaway", "free crypto giveaway"},
	};
	PROBES(list, p);
}

static void test_max_words_is_the_longest_phrase(void **state)
{
	(void)state;
	struct terms t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(t.max_words, 0);
	assert_int_equal(terms_add(&t, "one"), 0);
	assert_int_equal(t.max_words, 1);
	assert_int_equal(terms_add(&t, "one two three"), 0);
	assert_int_equal(t.max_words, 3);
	assert_int_equal(terms_add(&t, "a b"), 0);
	assert_int_equal(t.max_words, 3);
	/* punctuation inside a term makes more words: "co-op's" is "co op s" */
	assert_int_equal(terms_add(&t, "co-op's x"), 0);
	assert_int_equal(t.max_words, 4);
	assert_int_equal(t.count, 4);
	assert_string_equal(find_in(&t, "the CO OP S X"), "co op s x");
	assert_string_equal(find_in(&t, "one, two; three"), "one");
	terms_free(&t);
}

/* ---- adding terms -------------------------------------------------------------------------- */

static void test_terms_are_normalized_when_added(void **state)
{
	(void)state;
	struct terms t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(terms_add(&t, "  Shut,   UP!! "), 0);
	assert_int_equal(t.count, 1);
	assert_int_equal(t.max_words, 2);
	/* stored folded, words joined by one space */
	assert_string_equal(find_in(&t, "shut up"), "shut up");
	/* the same term written differently is not added twice */
	assert_int_equal(terms_add(&t, "shut up"), 0);
	assert_int_equal(terms_add(&t, "SHUT UP"), 0);
	assert_int_equal(terms_add(&t, "shut-up"), 0);
	assert_int_equal(terms_add(&t, "\tshut\nup\n"), 0);
	assert_int_equal(t.count, 1);
	terms_free(&t);
}

static void test_terms_without_letters_or_digits_return_1(void **state)
{
	(void)state;
	struct terms t;
	memset(&t, 0, sizeof(t));
	assert_int_equal(terms_add(&t, ""), 1);
	assert_int_equal(terms_add(&t, "   "), 1);
	assert_int_equal(terms_add(&t, "!!!"), 1);
	assert_int_equal(terms_add(&t, "-- ... --"), 1);
	assert_int_equal(terms_add(&t, "\xF0\x9F\x92\xA9"), 1); /* an emoji alone */
	assert_int_equal(terms_add(&t, "\xE2\x80\x94"), 1);     /* an em dash */
	assert_int_equal(t.count, 0);
	assert_int_equal(t.max_words, 0);
	/* nothing was added, so nothing is found */
	assert_null(find_in(&t, "anything at all !!! \xF0\x9F\x92\xA9"));
	terms_free(&t);
	/* a digit is enough */
	memset(&t, 0, sizeof(t));
	assert_int_equal(terms_add(&t, "#1"), 0);
	assert_string_equal(find_in(&t, "we're #1!"), "1");
	terms_free(&t);
}

static void test_empty_sets(void **state)
{
	(void)state;
	struct terms t;
	memset(&t, 0, sizeof(t));
	assert_null(find_in(&t, "any text at all"));
	assert_null(find_in(&t, ""));
	terms_free(&t); /* freeing an empty set is fine, twice too */
	terms_free(&t);

	/* a set and an empty text */
	static const char *const list[] = {"word", NULL};
	set_of(&t, list);
	assert_null(find_in(&t, ""));
	assert_null(find_in(&t, "   ...   "));
	terms_free(&t);
}

static void test_many_terms_grow_the_table(void **state)
{
	(void)state;
	struct terms t;
	memset(&t, 0, sizeof(t));
	char term[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(term, sizeof(term), "term%d", i);
		assert_int_equal(terms_add(&t, term), 0);
	}
	for (int i = 0; i < 1000; i++) { /* again, in capitals: no new entries */
		snprintf(term, sizeof(term), "TERM%d", i);
		assert_int_equal(terms_add(&t, term), 0);
	}
	assert_int_equal(t.count, 1000);
	assert_true(t.nslots >= 2 * t.count);
	for (int i = 0; i < 1000; i += 37) {
		char text[64];
		snprintf(text, sizeof(text), "before TERM%d after", i);
		snprintf(term, sizeof(term), "term%d", i);
		assert_string_equal(find_in(&t, text), term);
	}
	assert_null(find_in(&t, "term1000 term-1 term"));
	terms_free(&t);
}

/* ---- non-ASCII ----------------------------------------------------------------------------- */

static void test_nfc_and_nfd_match_each_other(void **state)
{
	(void)state;
	/* term composed (é = U+00E9), text decomposed (e U+0301), and the other way round */
	static const char *const list[] = {"caf\xC3\xA9", "nai\xCC\x88ve", NULL};
	static const struct probe p[] = {
		{"un cafe\xCC\x81 noir", "caf\xC3\xA9"},
		{"un CAFE\xCC\x81 noir", "caf\xC3\xA9"},
		{"un caf\xC3\xA9 noir", "caf\xC3\xA9"},
		{"un CAF\xC3\x89 noir", "caf\xC3\xA9"},
		{"how na\xC3\xAFve", "na\xC3\xAFve"},
		{"how NAI\xCC\x88VE", "na\xC3\xAFve"},
		{"un cafe noir", NULL},
		{"a naive view", NULL},
	};
	PROBES(list, p);
}

/*
 * Found by fuzz_rules: a comment's body is NFC before it is folded, so a term must be too.
 * U+0345 COMBINING GREEK YPOGEGRAMMENI folds to a letter (iota); folded where it stands, in a
 * term typed with it before the accent, it stopped the accent from composing with the alpha,
 * and the term never matched the same text in a comment ("αί" against "άι").
 */
static void test_terms_match_bodies_whatever_their_mark_order(void **state)
{
	(void)state;
	static const char *const list[] = {
		"\xCE\xB1\xCD\x85\xCC\x81", /* alpha, ypogegrammeni, acute: not in canonical order */
		"\xCD\x85\xCC\x81x",        /* the fuzzer's: ypogegrammeni, acute, x */
		NULL,
	};
	static const struct probe p[] = {
		/* the bodies as comment_decode leaves them: NFC */
		{"a \xE1\xBE\xB4 b", "\xCE\xAC\xCE\xB9"},              /* U+1FB4 */
		{"well, \xCC\x81\xCD\x85x indeed", "\xCC\x81\xCE\xB9x"}, /* acute, ypogegrammeni, x */
	};
	PROBES(list, p);
}

static void test_non_latin_whole_words(void **state)
{
	(void)state;
	static const char *const list[] = {"\xD0\xBB\xD0\xB6\xD0\xB5\xD1\x86", /* лжец */
					   "\xE9\xA6\xAC\xE9\xB9\xBF",         /* 馬鹿 */
					   NULL};
	static const struct probe p[] = {
		{"\xD0\xA2\xD1\x8B \xD0\x9B\xD0\x96\xD0\x95\xD0\xA6!", "\xD0\xBB\xD0\xB6\xD0\xB5\xD1\x86"}, /* Ты ЛЖЕЦ! */
		{"\xD0\xBB\xD0\xB6\xD0\xB5\xD1\x86\xD1\x8B", NULL},                                        /* лжецы */
		{"\xE9\xA6\xAC\xE9\xB9\xBF\xE3\x80\x82", "\xE9\xA6\xAC\xE9\xB9\xBF"},                        /* 馬鹿。 */
	};
	PROBES(list, p);
}

/* ---- long bodies ----------------------------------------------------------------------------- */

static void test_long_bodies(void **state)
{
	(void)state;
	static const char *const list[] = {"needle", "two words", NULL};
	struct terms t;
	set_of(&t, list);
	/* 20000 words: the word arrays grow many times */
	size_t n = 20000, len = n * 6;
	char *text = malloc(len + 32);
	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		memcpy(text + i * 6, "hay.. ", 6);
	text[len] = '\0';
	assert_null(find_in(&t, text));
	memcpy(text + len, "Needle", 7);
	assert_string_equal(find_in(&t, text), "needle");
	/* a phrase at the very end, cut by the length given */
	memcpy(text + len, "TWO\nWORDS", 10);
	assert_string_equal(find_in(&t, text), "two words");
	struct words w;
	assert_int_equal(words_split(&w, text, len + 7), 0); /* "...TWO\nWO" */
	assert_int_equal(w.n, n + 2);
	assert_null(terms_find(&t, &w));
	words_free(&w);
	free(text);
	terms_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_split_cuts_at_everything_but_letters_digits_marks),
		cmocka_unit_test(test_words_split_refuses_invalid_utf8),
		cmocka_unit_test(test_ascii_case_is_ignored),
		cmocka_unit_test(test_unicode_case_folding),
		cmocka_unit_test(test_whole_words_only_scunthorpe),
		cmocka_unit_test(test_digits_and_underscores_are_part_of_words),
		cmocka_unit_test(test_phrases_match_across_white_space_and_punctuation),
		cmocka_unit_test(test_overlapping_phrases_and_words),
		cmocka_unit_test(test_max_words_is_the_longest_phrase),
		cmocka_unit_test(test_terms_are_normalized_when_added),
		cmocka_unit_test(test_terms_without_letters_or_digits_return_1),
		cmocka_unit_test(test_empty_sets),
		cmocka_unit_test(test_many_terms_grow_the_table),
		cmocka_unit_test(test_nfc_and_nfd_match_each_other),
		cmocka_unit_test(test_terms_match_bodies_whatever_their_mark_order),
		cmocka_unit_test(test_non_latin_whole_words),
		cmocka_unit_test(test_long_bodies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
