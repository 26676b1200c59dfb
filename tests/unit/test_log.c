/* test_log.c - logging helpers: library errors as one line, and conditions that repeat logged once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

static void test_oneline_joins_lines(void **state)
{
	(void)state;
	char out[256];
	log_oneline("connection to server at \"127.0.0.1\", port 2 failed: Connection refused\n"
		    "\tIs the server running on that host and accepting TCP/IP connections?\n",
		    out, sizeof(out));
	assert_string_equal(out, "connection to server at \"127.0.0.1\", port 2 failed: Connection refused "
				 "Is the server running on that host and accepting TCP/IP connections?");
	log_oneline("ERROR:  a\r\n\r\n  DETAIL:\tb  \n\n", out, sizeof(out));
	assert_string_equal(out, "ERROR:  a DETAIL: b");
	log_oneline(NULL, out, sizeof(out));
	assert_string_equal(out, "");
	log_oneline("\n\n", out, sizeof(out));
	assert_string_equal(out, "");
}

/* A cut never leaves half a UTF-8 character behind. */
static void test_oneline_cuts_between_characters(void **state)
{
	(void)state;
	char out[6];
	log_oneline("ab\xE2\x82\xAC" "cd", out, sizeof(out)); /* "ab€cd": room for 5 bytes */
	assert_string_equal(out, "ab\xE2\x82\xAC");
	char out4[5];
	log_oneline("ab\xE2\x82\xAC" "cd", out4, sizeof(out4)); /* room for 4: the euro sign does not fit */
	assert_string_equal(out4, "ab");
	char out3[4];
	log_oneline("a\xF0\x9F\x98\x80", out3, sizeof(out3));
	assert_string_equal(out3, "a");
	char out2[2];
	log_oneline("\xC3\xA9", out2, sizeof(out2));
	assert_string_equal(out2, "");
}

/* Logged the first time, then only when it changes or after the interval, with the count meanwhile. */
static void test_repeat(void **state)
{
	(void)state;
	struct log_repeat r = {0};
	uint64_t n = 99, for_ns;
	assert_int_equal(log_repeat_hit(&r, "refused", 1000, 100, &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(log_repeat_hit(&r, "refused", 1010, 100, &n), 0);
	assert_int_equal(log_repeat_hit(&r, "refused", 1050, 100, &n), 0);
	assert_int_equal(log_repeat_hit(&r, "refused", 1101, 100, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(log_repeat_hit(&r, "read-only", 1102, 100, &n), 1);
	assert_int_equal(n, 0);
	assert_int_equal(log_repeat_end(&r, 1200, &for_ns), 5);
	assert_int_equal(for_ns, 200);
	assert_int_equal(log_repeat_end(&r, 1300, &for_ns), 0);
	assert_int_equal(log_repeat_hit(&r, "refused", 2000, 100, &n), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oneline_joins_lines),
		cmocka_unit_test(test_oneline_cuts_between_characters),
		cmocka_unit_test(test_repeat),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
