/* test_timefmt.c - RFC 3339 parsing and the canonical UTC form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "timefmt.h"

#define US(sec) ((int64_t)(sec) * INT64_C(1000000))

static int64_t parse_ok(const char *s)
{
	int64_t us = -42;
	if (timefmt_parse_rfc3339(s, strlen(s), &us) != 0)
		fail_msg("rejected: %s", s);
	return us;
}

static void assert_format(int64_t us, const char *want)
{
	char out[TIMEFMT_LEN];
	timefmt_format_utc(us, out);
	assert_string_equal(out, want);
}

static void test_epoch(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("1970-01-01T00:00:00.000000Z"), 0);
	assert_int_equal(parse_ok("1970-01-01T01:00:00+01:00"), 0);
	assert_format(0, "1970-01-01T00:00:00.000000Z");
	assert_format(1, "1970-01-01T00:00:00.000001Z");
	assert_format(-1, "1969-12-31T23:59:59.999999Z");
	assert_format(-US(1), "1969-12-31T23:59:59.000000Z");
	assert_format(-US(86400), "1969-12-31T00:00:00.000000Z");
	assert_int_equal(parse_ok("1969-12-31T23:59:59.999999Z"), -1);
}

static void test_known_values(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2026-01-31T10:00:00Z"), US(1769853600));
	assert_format(US(1769853600), "2026-01-31T10:00:00.000000Z");
	assert_int_equal(parse_ok("2000-01-01T00:00:00Z"), US(946684800));
	assert_int_equal(parse_ok("2038-01-19T03:14:08Z"), US(INT64_C(2147483648)));
	assert_format(US(INT64_C(4102444800)), "2100-01-01T00:00:00.000000Z");
	/* lower-case t and z */
	assert_int_equal(parse_ok("2026-01-31t10:00:00z"), US(1769853600));
}

static void test_offsets(void **state)
{
	(void)state;
	int64_t z = US(1769853600); /* 2026-01-31T10:00:00Z */
	assert_int_equal(parse_ok("2026-01-31T15:30:00+05:30"), z);
	assert_int_equal(parse_ok("2026-01-31T02:00:00-08:00"), z);
	assert_int_equal(parse_ok("2026-01-31T10:00:00+00:00"), z);
	assert_int_equal(parse_ok("2026-01-31T10:00:00-00:00"), z);
	assert_int_equal(parse_ok("2026-01-31T23:59:00+13:59"), z);
	assert_int_equal(parse_ok("2026-01-30T10:01:00-23:59"), z);
	/* across day, month and year boundaries */
	assert_format(parse_ok("2026-01-01T01:00:00+02:00"), "2025-12-31T23:00:00.000000Z");
	assert_format(parse_ok("2025-12-31T23:00:00-02:00"), "2026-01-01T01:00:00.000000Z");
	assert_format(parse_ok("2024-03-01T00:30:00+01:00"), "2024-02-29T23:30:00.000000Z");
	/* the fraction survives the offset */
	assert_format(parse_ok("2026-01-31T15:30:00.25+05:30"), "2026-01-31T10:00:00.250000Z");
}

static void test_fractions_truncated_to_microseconds(void **state)
{
	(void)state;
	int64_t z = US(1769853600);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.5Z"), z + 500000);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.05Z"), z + 50000);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.123Z"), z + 123000);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.000001Z"), z + 1);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.123456Z"), z + 123456);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.1234567Z"), z + 123456);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.123456789Z"), z + 123456);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.9999999Z"), z + 999999); /* truncated, not rounded */
	assert_int_equal(parse_ok("2026-01-31T10:00:00.0000009Z"), z);
	assert_int_equal(parse_ok("2026-01-31T10:00:00.000000000000000000000000000000000000001Z"), z);
	assert_format(z + 123456, "2026-01-31T10:00:00.123456Z");
	/* before the epoch, the fraction still counts forward */
	assert_format(parse_ok("1969-12-31T23:59:59.5Z"), "1969-12-31T23:59:59.500000Z");
}

static void test_leap_years(void **state)
{
	(void)state;
	int64_t us;
	assert_int_equal(timefmt_parse_rfc3339("2024-02-29T00:00:00Z", 20, &us), 0);
	assert_format(us, "2024-02-29T00:00:00.000000Z");
	assert_int_equal(parse_ok("2024-02-28T23:59:59Z") + US(1), us);
	assert_int_equal(parse_ok("2024-03-01T00:00:00Z") - US(86400), us);
	assert_int_equal(timefmt_parse_rfc3339("2000-02-29T12:00:00Z", 20, &us), 0); /* divisible by 400 */
	assert_format(us, "2000-02-29T12:00:00.000000Z");
	assert_int_equal(timefmt_parse_rfc3339("2023-02-29T00:00:00Z", 20, &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2100-02-29T00:00:00Z", 20, &us), -1); /* divisible by 100 */
	assert_int_equal(timefmt_parse_rfc3339("1900-02-29T00:00:00Z", 20, &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2024-02-30T00:00:00Z", 20, &us), -1);
	/* a leap year has 366 days */
	assert_int_equal(parse_ok("2025-01-01T00:00:00Z") - parse_ok("2024-01-01T00:00:00Z"), US(366 * 86400));
	assert_int_equal(parse_ok("2026-01-01T00:00:00Z") - parse_ok("2025-01-01T00:00:00Z"), US(365 * 86400));
	/* months of 30 and 31 days */
	assert_int_equal(timefmt_parse_rfc3339("2026-04-31T00:00:00Z", 20, &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2026-12-31T00:00:00Z", 20, &us), 0);
}

static void test_leap_second_kept_in_its_minute(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2016-12-31T23:59:60Z"), parse_ok("2016-12-31T23:59:59Z"));
	assert_int_equal(parse_ok("2016-12-31T23:59:60.5Z"), parse_ok("2016-12-31T23:59:59.5Z"));
}

static void test_round_trips(void **state)
{
	(void)state;
	static const int64_t values[] = {
		0,
		1,
		-1,
		999999,
		1000000,
		INT64_C(1769853600123456),
		INT64_C(951782400000000),   /* 2000-02-29 */
		INT64_C(-2208988800000000), /* 1900-01-01 */
		INT64_C(-62135596800000000), /* 0001-01-01 */
		INT64_C(253402300799999999), /* 9999-12-31T23:59:59.999999 */
		INT64_C(-86399999999),
	};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char out[TIMEFMT_LEN];
		timefmt_format_utc(values[i], out);
		assert_int_equal(strlen(out), 27);
		int64_t back = 0;
		if (timefmt_parse_rfc3339(out, strlen(out), &back) != 0)
			fail_msg("formatted %lld as %s, which does not parse", (long long)values[i], out);
		assert_int_equal(back, values[i]);
		/* and format(parse(s)) == s */
		char again[TIMEFMT_LEN];
		timefmt_format_utc(back, again);
		assert_string_equal(again, out);
	}
	assert_format(INT64_C(-62135596800000000), "0001-01-01T00:00:00.000000Z");
	assert_format(INT64_C(253402300799999999), "9999-12-31T23:59:59.999999Z");
}

static void test_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"2026",
		"2026-01-31",
		"2026-01-31T10:00:00",       /* no zone */
		"2026-01-31T10:00Z",         /* no seconds */
		"2026-01-31 10:00:00Z",      /* space */
		"2026-01-31_10:00:00Z",
		"2026/01/31T10:00:00Z",
		"26-01-31T10:00:00Z",
		"2026-1-31T10:00:00Z",
		"2026-01-31T10:00:00.Z",     /* empty fraction */
		"2026-01-31T10:00:00,5Z",    /* comma fraction */
		"2026-01-31T10:00:00ZZ",
		"2026-01-31T10:00:00Z ",
		" 2026-01-31T10:00:00Z",
		"2026-01-31T10:00:00+0530",  /* offset without colon */
		"2026-01-31T10:00:00+05",
		"2026-01-31T10:00:00+05:30:00",
		"2026-01-31T10:00:00+24:00",
		"2026-01-31T10:00:00+05:60",
		"2026-01-31T10:00:00 +05:30",
		"2026-01-31T10:00:00UTC",
		"2026-00-10T10:00:00Z",
		"2026-13-10T10:00:00Z",
		"2026-01-00T10:00:00Z",
		"2026-01-32T10:00:00Z",
		"2026-02-30T00:00:00Z",
		"2026-01-31T24:00:00Z",
		"2026-01-31T10:60:00Z",
		"2026-01-31T10:00:61Z",
		"2026-01-31T1a:00:00Z",
		"+2026-01-31T10:00:00Z",
		"-2026-01-31T10:00:00Z",
		"2026-01-31T10:00:00.-1Z",
		"2026-01-31T-1:00:00Z",
		"1769853600",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 12345;
		if (timefmt_parse_rfc3339(bad[i], strlen(bad[i]), &us) != -1)
			fail_msg("accepted: \"%s\"", bad[i]);
	}
	/* only len bytes count: a valid prefix with a cut zone is rejected */
	int64_t us;
	assert_int_equal(timefmt_parse_rfc3339("2026-01-31T10:00:00Z", 19, &us), -1);
	assert_int_equal(timefmt_parse_rfc3339("2026-01-31T10:00:00+05:30", 24, &us), -1);
	/* and a NUL inside is not the end */
	assert_int_equal(timefmt_parse_rfc3339("2026-01-31T10:00:00Z\0x", 22, &us), -1);
}

/*
 * A parsed time must be storable and formattable: PostgreSQL has no year 0
 * ("date/time field value out of range: 0000-01-01T00:00:00.000000Z") and a
 * year before 1 formats as "-001-...", which PostgreSQL cannot parse either.
 * A year after 9999 does not fit the canonical YYYY form.
 */
static void test_rejects_times_outside_years_1_to_9999(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"0000-01-01T00:00:00Z",
		"0000-12-31T23:59:59Z",
		"0001-01-01T00:00:00+00:01", /* 0000-12-31T23:59:00Z */
		"0001-01-01T00:30:00+01:00",
		"9999-12-31T23:59:59-00:01", /* 10000-01-01T00:00:59Z */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 0;
		if (timefmt_parse_rfc3339(bad[i], strlen(bad[i]), &us) == 0) {
			char out[TIMEFMT_LEN];
			timefmt_format_utc(us, out);
			fail_msg("accepted \"%s\" as %s", bad[i], out);
		}
	}
	/* the edges themselves are fine */
	assert_format(parse_ok("0001-01-01T00:00:00Z"), "0001-01-01T00:00:00.000000Z");
	assert_format(parse_ok("9999-12-31T23:59:59.999999Z"), "9999-12-31T23:59:59.999999Z");
	assert_format(parse_ok("9999-12-31T23:59:59+01:00"), "9999-12-31T22:59:59.000000Z");
}

/* Runs timefmt_format_utc(us) in a child, so that a sanitizer abort fails this test only. */
static int format_in_child(int64_t us)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char out[TIMEFMT_LEN];
		timefmt_format_utc(us, out);
		_exit(memchr(out, '\0', sizeof(out)) ? 0 : 3);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* timefmt.h promises room for "any int the formatter sees": extreme values must not be undefined behaviour. */
static void test_format_extremes_are_defined(void **state)
{
	(void)state;
	assert_int_equal(format_in_child(INT64_MAX), 0);
	assert_int_equal(format_in_child(INT64_MIN + 1000000), 0);
	assert_int_equal(format_in_child(INT64_MIN), 0);
}

/*
 * The formatter writes its digits by hand: it must write what
 * snprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ") of the civil UTC time does (gmtime_r here),
 * for times across the whole range, at its ends, and beyond them (clamped).
 */
static void test_format_is_what_printf_writes(void **state)
{
	(void)state;
	const int64_t lo = TIMEFMT_MIN_SECONDS * 1000000, hi = TIMEFMT_MAX_SECONDS * 1000000 + 999999;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < 200000; i++) {
		x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
		int64_t us;
		switch (i % 4) {
		case 0: us = lo + (int64_t)((x * 0x2545F4914F6CDD1DULL) % (uint64_t)(hi - lo + 1)); break;
		case 1: us = INT64_C(1769853600000000) + (int64_t)(x % UINT64_C(100000000000000)) - INT64_C(50000000000000); break;
		case 2: us = (int64_t)(x * 0x2545F4914F6CDD1DULL); break; /* mostly out of range: clamped */
		default: us = (i & 4 ? lo : hi) + (int64_t)(x % 200000) - 100000; break;
		}
		int64_t c = us < lo ? lo : us > hi ? hi : us;
		int64_t secs = c >= 0 ? c / 1000000 : -((-c + 999999) / 1000000);
		time_t t = (time_t)secs;
		struct tm tm;
		assert_non_null(gmtime_r(&t, &tm));
		char want[TIMEFMT_LEN], got[TIMEFMT_LEN];
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(c - secs * 1000000));
		timefmt_format_utc(us, got);
		if (strcmp(got, want) != 0)
			fail_msg("%lld: formatted %s, want %s", (long long)us, got, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_known_values),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_fractions_truncated_to_microseconds),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_leap_second_kept_in_its_minute),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_rejects_times_outside_years_1_to_9999),
		cmocka_unit_test(test_format_extremes_are_defined),
		cmocka_unit_test(test_format_is_what_printf_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
