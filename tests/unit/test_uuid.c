/* test_uuid.c - uuid_canonical parsing and deterministic version 5 event ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "uuid.h"

#define LIT(s) (s), (sizeof(s) - 1)

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 8-4-4-4-12 lower-case hex, NUL-terminated. */
static void assert_canonical_form(const char *u)
{
	assert_int_equal(strlen(u), 36);
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(u[i], '-');
		else
			assert_true(is_lower_hex(u[i]));
	}
}

static void test_canonical_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"123e4567-e89b-42d3-a456-426614174000", "123e4567-e89b-42d3-a456-426614174000"},
		{"123E4567-E89B-42D3-A456-426614174ABC", "123e4567-e89b-42d3-a456-426614174abc"},
		{"AbCdEf01-2345-6789-aBcD-eF0123456789", "abcdef01-2345-6789-abcd-ef0123456789"},
		{"00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"},
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char out[UUID_STR_LEN];
		memset(out, 'X', sizeof(out));
		assert_int_equal(uuid_canonical(ok[i].in, strlen(ok[i].in), out), 0);
		assert_string_equal(out, ok[i].out);
	}
}

static void test_canonical_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{LIT("")},
		{LIT("123e4567-e89b-42d3-a456-42661417400")},    /* 35 */
		{LIT("123e4567-e89b-42d3-a456-4266141740000")},  /* 37 */
		{LIT("123e4567e89b42d3a456426614174000")},       /* no hyphens */
		{LIT("123e4567-e89b-42d3-a456-42661417400g")},   /* 'g' */
		{LIT("123e4567-e89b-42d3-a456-42661417400 ")},   /* trailing space */
		{LIT(" 23e4567-e89b-42d3-a456-426614174000")},   /* leading space */
		{LIT("123e4567-e89b-42d3-a4564-26614174000")},   /* hyphen moved */
		{LIT("123e4567_e89b_42d3_a456_426614174000")},   /* wrong separator */
		{LIT("{23e4567-e89b-42d3-a456-42661417400}")},   /* braces */
		{LIT("urn:uuid:123e4567-e89b-42d3-a456-42661")}, /* URN */
		{LIT("123e4567-e89b-42d3-a456-42661417400\0")},  /* NUL inside the 36 */
		{LIT("123e4567-e89b-42d3-a456-4266141740\xC3\xA9")}, /* non-ASCII */
		{LIT("+23e4567-e89b-42d3-a456-426614174000")},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[UUID_STR_LEN];
		memset(out, 'X', sizeof(out));
		if (uuid_canonical(bad[i].s, bad[i].n, out) != -1)
			fail_msg("case %zu accepted: %.*s", i, (int)bad[i].n, bad[i].s);
		/* out is untouched when s is not a UUID */
		for (size_t k = 0; k < sizeof(out); k++)
			if (out[k] != 'X')
				fail_msg("case %zu: out[%zu] changed to %#x", i, k, (unsigned)(unsigned char)out[k]);
	}
}

static void test_canonical_reads_only_len(void **state)
{
	(void)state;
	char out[UUID_STR_LEN];
	/* a valid UUID followed by more text: only the first 36 bytes when len is 36 */
	const char *s = "123e4567-e89b-42d3-a456-426614174000-and-more";
	assert_int_equal(uuid_canonical(s, 36, out), 0);
	assert_string_equal(out, "123e4567-e89b-42d3-a456-426614174000");
	assert_int_equal(uuid_canonical(s, strlen(s), out), -1);
}

static void test_v5_deterministic(void **state)
{
	(void)state;
	char a[UUID_STR_LEN], b[UUID_STR_LEN];
	assert_int_equal(uuid_v5(LIT("comment-submitted/0/12/comment-rejected"), a), 0);
	assert_int_equal(uuid_v5(LIT("comment-submitted/0/12/comment-rejected"), b), 0);
	assert_string_equal(a, b);
	assert_canonical_form(a);
}

static void test_v5_version_and_variant(void **state)
{
	(void)state;
	static const char *const names[] = {"", "a", "abc", "comment-submitted/2/99/comment-rejected",
					    "123e4567-e89b-42d3-a456-426614174000/comment-published"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char u[UUID_STR_LEN];
		assert_int_equal(uuid_v5(names[i], strlen(names[i]), u), 0);
		assert_canonical_form(u);
		assert_int_equal(u[14], '5');                /* version nibble */
		assert_non_null(strchr("89ab", u[19]));      /* variant 10xx */
	}
}

static void test_v5_different_names_differ(void **state)
{
	(void)state;
	char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN];
	assert_int_equal(uuid_v5(LIT("comment-submitted/0/12/comment-rejected"), a), 0);
	assert_int_equal(uuid_v5(LIT("comment-submitted/0/13/comment-rejected"), b), 0);
	assert_int_equal(uuid_v5(LIT("comment-submitted/1/12/comment-rejected"), c), 0);
	assert_int_equal(uuid_v5(LIT("comment-submitted/0/12/comment-rejectee"), d), 0);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, d);
	assert_string_not_equal(b, c);
	/* the length counts: a prefix is a different name */
	char e[UUID_STR_LEN];
	assert_int_equal(uuid_v5("abcdef", 3, e), 0);
	char f[UUID_STR_LEN];
	assert_int_equal(uuid_v5(LIT("abc"), f), 0);
	assert_string_equal(e, f);
	assert_int_equal(uuid_v5(LIT("abcdef"), f), 0);
	assert_string_not_equal(e, f);
}

/*
 * The namespace must never change (event ids would change for replays).
 * Reference values from Python:
 *   uuid.uuid5(uuid.UUID('6f1c9e52-3b7d-4a0e-9c25-8144d60ba73f'), name)
 */
static void test_v5_known_values(void **state)
{
	(void)state;
	char u[UUID_STR_LEN];
	assert_int_equal(uuid_v5(LIT(""), u), 0);
	assert_string_equal(u, "9c391150-7414-5af9-883f-82064195ef24");
	assert_int_equal(uuid_v5(LIT("abc"), u), 0);
	assert_string_equal(u, "39de2722-812c-5303-9ab6-70d3923035ff");
	assert_int_equal(uuid_v5(LIT("comment-submitted/0/12/comment-rejected"), u), 0);
	assert_string_equal(u, "153d820e-a25d-5641-a9c1-5f51cfd112f8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_accepts),
		cmocka_unit_test(test_canonical_rejects),
		cmocka_unit_test(test_canonical_reads_only_len),
		cmocka_unit_test(test_v5_deterministic),
		cmocka_unit_test(test_v5_version_and_variant),
		cmocka_unit_test(test_v5_different_names_differ),
		cmocka_unit_test(test_v5_known_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
