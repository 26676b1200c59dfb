/* test_stall.c - stall detection: failure causes, the backoff, and when the batch path counts as stalled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "stall.h"

#define S(x) ((uint64_t)(x) * 1000000000ULL) /* seconds as nanoseconds */

static void test_cause_of_sqlstate(void **state)
{
	(void)state;
	static const struct {
		const char *sqlstate;
		enum stall_cause cause;
	} cases[] = {
		{NULL, CAUSE_CONNECTION},     {"", CAUSE_CONNECTION},      {"08006", CAUSE_CONNECTION},
		{"57P01", CAUSE_CONNECTION},  {"23514", CAUSE_CONSTRAINT}, {"23505", CAUSE_CONSTRAINT},
		{"22001", CAUSE_DATA},        {"54000", CAUSE_LIMIT},      {"P0001", CAUSE_TRIGGER},
		{"42501", CAUSE_PERMISSION},  {"25006", CAUSE_READ_ONLY},  {"53100", CAUSE_RESOURCES},
		{"57014", CAUSE_TIMEOUT},     {"55P03", CAUSE_TIMEOUT},    {"40001", CAUSE_CONFLICT},
		{"40P01", CAUSE_CONFLICT},    {"42P01", CAUSE_SERVER},     {"XX000", CAUSE_SERVER},
		{"2351", CAUSE_CONNECTION}, /* not a SQLSTATE */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum stall_cause got = stall_cause_of_sqlstate(cases[i].sqlstate);
		if (got != cases[i].cause)
			fail_msg("%s: got %s, want %s", cases[i].sqlstate ? cases[i].sqlstate : "(null)",
				 stall_cause_name(got), stall_cause_name(cases[i].cause));
	}
	for (int c = 0; c < CAUSE__COUNT; c++)
		assert_string_not_equal(stall_cause_name((enum stall_cause)c), "unknown");
	for (int st = 0; st < STAGE__COUNT; st++)
		assert_string_not_equal(stall_stage_name((enum stall_stage)st), "unknown");
	assert_string_equal(stall_cause_name(CAUSE__COUNT), "unknown");
}

/* The backoff doubles from STALL_BACKOFF_MIN_MS to STALL_BACKOFF_MAX_MS, and a commit starts it again. */
static void test_backoff_grows_and_resets(void **state)
{
	(void)state;
	struct stall s;
	stall_init(&s, 30000, S(100));
	int want[] = {500, 1000, 2000, 4000, 8000, 10000, 10000};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(stall_failure(&s, STAGE_STORE, CAUSE_CONSTRAINT, "refused", S(100 + i)), want[i]);
	assert_int_equal(s.failures, 7);
	stall_commit(&s, S(120));
	assert_int_equal(s.failures, 0);
	assert_int_equal(stall_failure(&s, STAGE_KAFKA, CAUSE_KAFKA, "aborted", S(121)), 500);
}

static void test_failures_are_counted_by_stage_and_cause(void **state)
{
	(void)state;
	memset(&metrics, 0, sizeof(metrics));
	struct stall s;
	stall_init(&s, 30000, 0);
	stall_failure(&s, STAGE_STORE, CAUSE_CONSTRAINT, "x", S(1));
	stall_failure(&s, STAGE_STORE, CAUSE_CONSTRAINT, "x", S(2));
	stall_failure(&s, STAGE_LOOKUP, CAUSE_CONNECTION, "y", S(3));
	assert_int_equal(metrics.batch_failures[STAGE_STORE][CAUSE_CONSTRAINT], 2);
	assert_int_equal(metrics.batch_failures[STAGE_LOOKUP][CAUSE_CONNECTION], 1);
	assert_int_equal(metrics.batch_failures[STAGE_KAFKA][CAUSE_KAFKA], 0);
	assert_true(metrics.last_commit_seconds == 0);
	stall_commit(&s, S(4));
	assert_true(metrics.last_commit_seconds > 1.7e9); /* a Unix time */
}

/* Failing again and again: stalled only once the run is longer than the timeout; a commit ends it. */
static void test_stalled_after_failing_for_the_timeout(void **state)
{
	(void)state;
	struct stall s;
	char why[384];
	stall_init(&s, 5000, S(10));
	stall_failure(&s, STAGE_STORE, CAUSE_CONSTRAINT, "new row violates check constraint \"refuse\"", S(10));
	assert_int_equal(stall_check(&s, S(12), why, sizeof(why)), 0);
	assert_non_null(strstr(why, "retrying after 1 failures"));
	stall_failure(&s, STAGE_STORE, CAUSE_CONSTRAINT, "new row violates check constraint \"refuse\"", S(14));
	assert_int_equal(stall_check(&s, S(15), why, sizeof(why)), 0);
	assert_int_equal(stall_check(&s, S(16), why, sizeof(why)), 1);
	assert_non_null(strstr(why, "batches keep failing: 2 failures in 6 s"));
	assert_non_null(strstr(why, "store, constraint"));
	assert_non_null(strstr(why, "check constraint \"refuse\""));
	stall_commit(&s, S(17));
	assert_int_equal(stall_check(&s, S(18), why, sizeof(why)), 0);
	assert_string_equal(why, "moving");
}

/*
 * Failures and a backlog together: whichever limit is reached first, the
 * reason given is the failure, which is what the operator must fix.
 */
static void test_a_failure_is_the_reason_whichever_limit_comes_first(void **state)
{
	(void)state;
	struct stall s;
	char why[384];
	stall_init(&s, 3000, S(0));
	stall_backlog(&s, 0, S(10));
	stall_backlog(&s, 1000, S(11));
	stall_failure(&s, STAGE_STORE, CAUSE_CONSTRAINT, "refused", S(12));
	assert_int_equal(stall_check(&s, S(14), why, sizeof(why)), 1); /* 4 s without progress, 2 s failing */
	assert_string_equal(why, "batches keep failing: 1 failures in 2 s (store, constraint): refused");
}

/* No commit for the timeout is a stall only while something waits; an idle pipeline is not late. */
static void test_stalled_without_progress_only_with_a_backlog(void **state)
{
	(void)state;
	struct stall s;
	char why[384];
	stall_init(&s, 5000, S(0));
	stall_backlog(&s, 0, S(100));
	assert_int_equal(stall_check(&s, S(100), why, sizeof(why)), 0);
	assert_int_equal(metrics.stalled, 0);
	stall_backlog(&s, 1000, S(101));
	stall_backlog(&s, 1000, S(105));
	assert_int_equal(s.stalled, 0);
	stall_backlog(&s, 1000, S(106));
	assert_int_equal(s.stalled, 1);
	assert_int_equal(metrics.stalled, 1);
	assert_int_equal((int)metrics.backlog, 1000);
	assert_int_equal(stall_check(&s, S(106), why, sizeof(why)), 1);
	assert_non_null(strstr(why, "no batch committed for 6 s with 1000 messages waiting"));
	stall_commit(&s, S(107));
	stall_backlog(&s, 400, S(108));
	assert_int_equal(s.stalled, 0);
	assert_int_equal(metrics.stalled, 0);
}

/* The readiness entry says what it is doing, with the stage and cause of a failing run. */
static void test_json(void **state)
{
	(void)state;
	struct stall s;
	stall_init(&s, 5000, S(0));
	json_t *j = stall_json(&s, S(1));
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_null(json_object_get(j, "cause"));
	json_decref(j);
	stall_failure(&s, STAGE_STORE, CAUSE_READ_ONLY, "cannot execute INSERT in a read-only transaction", S(1));
	j = stall_json(&s, S(9));
	assert_true(json_is_true(json_object_get(j, "ok"))); /* not sampled since: as the gauge says */
	json_decref(j);
	stall_backlog(&s, 0, S(9));
	j = stall_json(&s, S(9));
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_string_equal(json_string_value(json_object_get(j, "cause")), "read_only");
	assert_string_equal(json_string_value(json_object_get(j, "stage")), "store");
	assert_int_equal(json_integer_value(json_object_get(j, "failures")), 1);
	assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "read-only transaction"));
	json_decref(j);
}

/* A progress time sampled after the caller's now (an idle service at /readyz) is no age, not 584 years. */
static void test_json_progress_after_now(void **state)
{
	(void)state;
	struct stall s;
	stall_init(&s, 5000, S(0));
	stall_backlog(&s, 0, S(10));
	json_t *j = stall_json(&s, S(10) - 1000);
	assert_true(json_real_value(json_object_get(j, "last_progress_age_s")) == 0.0);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cause_of_sqlstate),
		cmocka_unit_test(test_backoff_grows_and_resets),
		cmocka_unit_test(test_failures_are_counted_by_stage_and_cause),
		cmocka_unit_test(test_stalled_after_failing_for_the_timeout),
		cmocka_unit_test(test_a_failure_is_the_reason_whichever_limit_comes_first),
		cmocka_unit_test(test_stalled_without_progress_only_with_a_backlog),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_progress_after_now),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
