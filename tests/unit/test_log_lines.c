/* test_log_lines.c - threads that log at once still write one whole JSON object per line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <uv.h>

#include "log.h"

#define THREADS 4
#define LINES 3000

/* One logging thread: librdkafka's, a transaction's worker or the lag thread beside the loop. */
static void log_many(void *arg)
{
	char who[16], detail[300];
	snprintf(who, sizeof(who), "%d", (int)(intptr_t)arg);
	memset(detail, 'x', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (int i = 0; i < LINES; i++)
		log_info("from a thread", "thread", who, "detail", detail + (i % 200));
}

static void test_concurrent_lines_stay_whole(void **state)
{
	(void)state;
	FILE *f = tmpfile(); /* stdout goes to it while the threads log */
	assert_non_null(f);
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(f), STDOUT_FILENO), STDOUT_FILENO);

	uv_thread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(uv_thread_create(&t[i], log_many, (void *)(intptr_t)i), 0);
	for (int i = 0; i < THREADS; i++)
		uv_thread_join(&t[i]);
	fflush(stdout);
	assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
	close(saved);

	rewind(f);
	char *line = NULL;
	size_t cap = 0;
	int lines = 0, whole = 0, per_thread[THREADS] = {0};
	while (getline(&line, &cap, f) > 0) {
		lines++;
		json_t *o = json_loads(line, 0, NULL);
		const char *who = o ? json_string_value(json_object_get(o, "thread")) : NULL;
		const char *msg = o ? json_string_value(json_object_get(o, "msg")) : NULL;
		if (json_is_object(o) && who && msg && strcmp(msg, "from a thread") == 0) {
			whole++;
			int w = atoi(who);
			if (w >= 0 && w < THREADS)
				per_thread[w]++;
		}
		json_decref(o);
	}
	free(line);
	fclose(f);
	assert_int_equal(lines, THREADS * LINES);
	assert_int_equal(whole, THREADS * LINES);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(per_thread[i], LINES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_lines_stay_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
