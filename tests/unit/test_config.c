/* test_config.c - configuration from the environment: defaults, invalid values, and no secret in messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define SECRET "S3cr3tPassw0rd"

/* The fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	for (const char *const *p = fake_env; p && p[0]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

static int load(const char *const *env, struct config *cfg, char *err, size_t errlen)
{
	fake_env = env;
	err[0] = '\0';
	return config_load(cfg, fake_getenv, err, errlen);
}

static void test_defaults_with_empty_env(void **state)
{
	(void)state;
	static const char *const env[] = {NULL};
	struct config cfg;
	char err[256];
	assert_int_equal(load(env, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kafka_bootstrap, "127.0.0.1:9092");
	assert_string_equal(cfg.group_id, "comment-ingest");
	char host[256] = "";
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	char want_txid[300];
	snprintf(want_txid, sizeof(want_txid), "comment-ingest-%s", host);
	assert_string_equal(cfg.transactional_id, want_txid);
	assert_string_equal(cfg.group_instance_id, want_txid);
	assert_string_equal(cfg.topic_submitted, "comment-submitted");
	assert_string_equal(cfg.topic_published, "comment-published");
	assert_string_equal(cfg.topic_moderation, "moderation-needed");
	assert_string_equal(cfg.topic_rejected, "comment-rejected");
	assert_string_equal(cfg.topic_decided, "moderation-decided");
	assert_string_equal(cfg.topic_moderated, "comment-moderated");
	assert_string_equal(cfg.topic_decision_rejected, "moderation-decision-rejected");
	assert_string_equal(cfg.database_url, "postgresql://comment_ingest@127.0.0.1:25432/comment_ingest");
	assert_string_equal(cfg.http_addr, "0.0.0.0");
	assert_int_equal(cfg.http_port, 8080);
	assert_int_equal(cfg.http_max_connections, 256);
	assert_int_equal(cfg.http_request_timeout_ms, 5000);
	assert_int_equal(cfg.http_idle_timeout_ms, 2000);
	assert_int_equal(cfg.http_write_timeout_ms, 5000);
	assert_int_equal(cfg.batch_max_messages, 1000);
	assert_int_equal(cfg.batch_max_wait_ms, 0);
	assert_int_equal(cfg.session_timeout_ms, 45000);
	assert_int_equal(cfg.transaction_timeout_ms, 60000);
	assert_int_equal(cfg.stall_timeout_ms, 30000);
	assert_null(cfg.rules_file);
	assert_int_equal(cfg.log_level, LOG_INFO);
	config_free(&cfg);
	assert_null(cfg.database_url);
}

static void test_overrides(void **state)
{
	(void)state;
	static const char *const env[] = {
		"KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092",
		"KAFKA_GROUP_ID", "g",
		"KAFKA_TRANSACTIONAL_ID", "comment-ingest-7",
		"TOPIC_SUBMITTED", "in",
		"TOPIC_PUBLISHED", "out-pub",
		"TOPIC_MODERATION", "out-mod",
		"TOPIC_REJECTED", "out-rej",
		"TOPIC_DECIDED", "in-dec",
		"TOPIC_MODERATED", "out-moderated",
		"TOPIC_DECISION_REJECTED", "out-dec-rej",
		"DATABASE_URL", "postgres://u:" SECRET "@db:5432/x?sslmode=require",
		"HTTP_ADDR", "127.0.0.1",
		"HTTP_PORT", "65535",
		"BATCH_MAX_MESSAGES", "1",
		"BATCH_MAX_WAIT_MS", "0",
		"KAFKA_SESSION_TIMEOUT_MS", "6000",
		"KAFKA_TRANSACTION_TIMEOUT_MS", "10000",
		"STALL_TIMEOUT_MS", "1000",
		"RULES_FILE", "/etc/comment-ingest/rules.json",
		"LOG_LEVEL", "debug",
		NULL,
	};
	struct config cfg;
	char err[256];
	assert_int_equal(load(env, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kafka_bootstrap, "kafka-1:9092,kafka-2:9092");
	assert_string_equal(cfg.group_id, "g");
	assert_string_equal(cfg.transactional_id, "comment-ingest-7");
	assert_string_equal(cfg.group_instance_id, "comment-ingest-7"); /* follows the transactional id */
	assert_string_equal(cfg.topic_submitted, "in");
	assert_string_equal(cfg.topic_published, "out-pub");
	assert_string_equal(cfg.topic_moderation, "out-mod");
	assert_string_equal(cfg.topic_rejected, "out-rej");
	assert_string_equal(cfg.topic_decided, "in-dec");
	assert_string_equal(cfg.topic_moderated, "out-moderated");
	assert_string_equal(cfg.topic_decision_rejected, "out-dec-rej");
	assert_string_equal(cfg.database_url, "postgres://u:" SECRET "@db:5432/x?sslmode=require");
	assert_string_equal(cfg.http_addr, "127.0.0.1");
	assert_int_equal(cfg.http_port, 65535);
	assert_int_equal(cfg.batch_max_messages, 1);
	assert_int_equal(cfg.batch_max_wait_ms, 0);
	assert_int_equal(cfg.session_timeout_ms, 6000);
	assert_int_equal(cfg.transaction_timeout_ms, 10000);
	assert_int_equal(cfg.stall_timeout_ms, 1000);
	assert_string_equal(cfg.rules_file, "/etc/comment-ingest/rules.json");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	config_free(&cfg);

	static const char *const levels[][3] = {{"LOG_LEVEL", "warn", NULL}, {"LOG_LEVEL", "error", NULL},
						{"LOG_LEVEL", "info", NULL}};
	static const int want[] = {LOG_WARN, LOG_ERROR, LOG_INFO};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(load(levels[i], &cfg, err, sizeof(err)), 0);
		assert_int_equal(cfg.log_level, want[i]);
		config_free(&cfg);
	}
	static const char *const edges[] = {"HTTP_PORT", "1", "BATCH_MAX_MESSAGES", "100000", "BATCH_MAX_WAIT_MS",
					    "60000", NULL};
	assert_int_equal(load(edges, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.http_port, 1);
	assert_int_equal(cfg.batch_max_messages, 100000);
	assert_int_equal(cfg.batch_max_wait_ms, 60000);
	config_free(&cfg);
}

/* KAFKA_GROUP_INSTANCE_ID: its own value when set, whatever the transactional id. */
static void test_group_instance_id(void **state)
{
	(void)state;
	static const char *const env[] = {"KAFKA_TRANSACTIONAL_ID", "tx-7", "KAFKA_GROUP_INSTANCE_ID", "member-7", NULL};
	struct config cfg;
	char err[256];
	assert_int_equal(load(env, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.transactional_id, "tx-7");
	assert_string_equal(cfg.group_instance_id, "member-7");
	config_free(&cfg);
	assert_null(cfg.group_instance_id);
}

struct bad_case {
	const char *var;   /* the variable the message must name */
	const char *value; /* the bad value */
};

static const struct bad_case bad_cases[] = {
	{"HTTP_PORT", "0"},
	{"HTTP_PORT", "70000"},
	{"HTTP_PORT", "65536"},
	{"HTTP_PORT", "abc"},
	{"HTTP_PORT", "80x"},
	{"HTTP_PORT", "-1"},
	{"HTTP_PORT", ""},
	{"HTTP_PORT", "99999999999999999999"},
	{"HTTP_MAX_CONNECTIONS", "0"},
	{"HTTP_MAX_CONNECTIONS", "10001"},
	{"HTTP_MAX_CONNECTIONS", "many"},
	{"HTTP_REQUEST_TIMEOUT_MS", "99"},
	{"HTTP_REQUEST_TIMEOUT_MS", "300001"},
	{"HTTP_IDLE_TIMEOUT_MS", "99"},
	{"HTTP_IDLE_TIMEOUT_MS", "300001"},
	{"HTTP_IDLE_TIMEOUT_MS", "5001"}, /* over the default request timeout */
	{"HTTP_WRITE_TIMEOUT_MS", "99"},
	{"HTTP_WRITE_TIMEOUT_MS", "300001"},
	{"HTTP_WRITE_TIMEOUT_MS", ""},
	{"BATCH_MAX_MESSAGES", "0"},
	{"BATCH_MAX_MESSAGES", "100001"},
	{"BATCH_MAX_MESSAGES", "ten"},
	{"BATCH_MAX_WAIT_MS", "-1"},
	{"BATCH_MAX_WAIT_MS", "60001"},
	{"KAFKA_SESSION_TIMEOUT_MS", "5999"},
	{"KAFKA_SESSION_TIMEOUT_MS", "300001"},
	{"KAFKA_TRANSACTION_TIMEOUT_MS", "9999"},
	{"KAFKA_TRANSACTION_TIMEOUT_MS", "900001"},
	{"STALL_TIMEOUT_MS", "999"},
	{"STALL_TIMEOUT_MS", "3600001"},
	{"LOG_LEVEL", "loud"},
	{"LOG_LEVEL", "INFO"},
	{"LOG_LEVEL", ""},
	{"DATABASE_URL", "mysql://x"},
	{"DATABASE_URL", "mysql://root:" SECRET "@db/x"},
	{"DATABASE_URL", "host=db password=" SECRET},
	{"DATABASE_URL", ""},
	{"KAFKA_BOOTSTRAP_SERVERS", ""},
	{"TOPIC_SUBMITTED", ""},
	{"KAFKA_GROUP_INSTANCE_ID", ""},
	/* an output topic equal to the input topic */
	{"TOPIC_SUBMITTED", "comment-published"},
	{"TOPIC_SUBMITTED", "moderation-needed"},
	{"TOPIC_SUBMITTED", "comment-rejected"},
	{"TOPIC_DECIDED", ""},
	{"TOPIC_MODERATED", ""},
	{"TOPIC_DECISION_REJECTED", ""},
	/* the two inputs are one topic, or an output is the decisions' input */
	{"TOPIC_DECIDED", "comment-submitted"},
	{"TOPIC_SUBMITTED", "moderation-decided"},
	{"TOPIC_DECIDED", "comment-published"},
	{"TOPIC_DECIDED", "comment-moderated"},
	{"TOPIC_DECIDED", "moderation-decision-rejected"},
};

static void test_invalid_values(void **state)
{
	(void)state;
	int failed = 0;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *bc = &bad_cases[i];
		/* a valid DATABASE_URL with a password in the environment, unless the case sets its own */
		const char *env[] = {bc->var, bc->value, "DATABASE_URL",
				     "postgresql://comment_ingest:" SECRET "@127.0.0.1:25432/comment_ingest", NULL};
		struct config cfg;
		char err[256];
		int rc = load(env, &cfg, err, sizeof(err));
		const char *why = NULL;
		if (rc != -1)
			why = "accepted";
		else if (!strstr(err, bc->var))
			why = "message does not name the variable";
		else if (strstr(err, SECRET))
			why = "message contains the password";
		else if (strchr(err, '\n'))
			why = "message is more than one line";
		else if (cfg.database_url || cfg.topic_submitted)
			why = "cfg not released";
		if (why) {
			print_error("FAIL %s=\"%s\": %s (rc %d, message \"%s\")\n", bc->var, bc->value, why, rc, err);
			failed++;
		}
		if (rc == 0)
			config_free(&cfg);
	}
	assert_int_equal(failed, 0);
}

/* The HTTP limits: each bound is accepted, and the idle timeout may equal the request timeout but not exceed
 * it (the message names both variables). */
static void test_http_limits(void **state)
{
	(void)state;
	struct config cfg;
	char err[256];
	static const char *const low[] = {"HTTP_MAX_CONNECTIONS", "1", "HTTP_REQUEST_TIMEOUT_MS", "100",
					  "HTTP_IDLE_TIMEOUT_MS", "100", "HTTP_WRITE_TIMEOUT_MS", "100", NULL};
	assert_int_equal(load(low, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.http_max_connections, 1);
	assert_int_equal(cfg.http_request_timeout_ms, 100);
	assert_int_equal(cfg.http_idle_timeout_ms, 100);
	assert_int_equal(cfg.http_write_timeout_ms, 100);
	config_free(&cfg);
	static const char *const high[] = {"HTTP_MAX_CONNECTIONS", "10000", "HTTP_REQUEST_TIMEOUT_MS", "300000",
					   "HTTP_IDLE_TIMEOUT_MS", "300000", "HTTP_WRITE_TIMEOUT_MS", "300000", NULL};
	assert_int_equal(load(high, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.http_max_connections, 10000);
	assert_int_equal(cfg.http_request_timeout_ms, 300000);
	assert_int_equal(cfg.http_idle_timeout_ms, 300000);
	assert_int_equal(cfg.http_write_timeout_ms, 300000);
	config_free(&cfg);
	static const char *const over[] = {"HTTP_REQUEST_TIMEOUT_MS", "1000", "HTTP_IDLE_TIMEOUT_MS", "1001", NULL};
	assert_int_equal(load(over, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "HTTP_IDLE_TIMEOUT_MS"));
	assert_non_null(strstr(err, "HTTP_REQUEST_TIMEOUT_MS"));
	assert_null(cfg.database_url);
}

static void test_output_topic_equal_to_input(void **state)
{
	(void)state;
	static const char *const vars[] = {"TOPIC_PUBLISHED", "TOPIC_MODERATION", "TOPIC_REJECTED", "TOPIC_MODERATED",
					   "TOPIC_DECISION_REJECTED"};
	static const char *const inputs[] = {"TOPIC_SUBMITTED", "TOPIC_DECIDED"};
	for (int in = 0; in < 2; in++) {
		for (int i = 0; i < 5; i++) {
			const char *env[] = {inputs[in], "same-topic", vars[i], "same-topic", NULL};
			struct config cfg;
			char err[256];
			assert_int_equal(load(env, &cfg, err, sizeof(err)), -1);
			assert_non_null(strstr(err, inputs[in]));
			assert_non_null(strstr(err, vars[i]));
		}
	}
}

static void test_error_message_fits_small_buffer(void **state)
{
	(void)state;
	static const char *const env[] = {"BATCH_MAX_MESSAGES", "0", NULL};
	struct config cfg;
	char err[8];
	memset(err, 'X', sizeof(err));
	assert_int_equal(load(env, &cfg, err, sizeof(err)), -1);
	assert_non_null(memchr(err, '\0', sizeof(err)));
}

/* ---- config_redact_url ----------------------------------------------------------------------- */

static void redact(const char *url, char *out, size_t outlen)
{
	memset(out, 'X', outlen);
	config_redact_url(url, out, outlen);
	assert_non_null(memchr(out, '\0', outlen));
}

static void test_redact_user_password(void **state)
{
	(void)state;
	char out[256];
	redact("postgresql://comment_ingest:" SECRET "@127.0.0.1:25432/comment_ingest", out, sizeof(out));
	assert_string_equal(out, "postgresql://comment_ingest:***@127.0.0.1:25432/comment_ingest");
	redact("postgres://u:" SECRET "@db/x?sslmode=require", out, sizeof(out));
	assert_string_equal(out, "postgresql://u:***@db/x");
	redact("postgresql://:" SECRET "@db/x", out, sizeof(out));
	assert_string_equal(out, "postgresql://:***@db/x");
	redact("postgresql://u:p%40" SECRET "@db/x", out, sizeof(out));
	assert_string_equal(out, "postgresql://u:***@db/x");
}

/* Without a password, user, host, port and database come through; query parameters never do. */
static void test_redact_without_password_unchanged(void **state)
{
	(void)state;
	char out[256];
	static const char *const cases[][2] = {
		{"postgresql://comment_ingest@127.0.0.1:25432/comment_ingest",
		 "postgresql://comment_ingest@127.0.0.1:25432/comment_ingest"},
		{"postgresql://127.0.0.1:25432/comment_ingest", "postgresql://127.0.0.1:25432/comment_ingest"},
		{"postgresql://db/x?sslmode=require&application_name=ingest", "postgresql://db/x"},
		{"postgresql://", "postgresql://"},
		{"", "postgresql://"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		redact(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
}

static void test_redact_query_password(void **state)
{
	(void)state;
	char out[256];
	redact("postgresql://db/x?password=" SECRET, out, sizeof(out));
	assert_null(strstr(out, SECRET));
	assert_string_equal(out, "postgresql://:***@db/x");
	redact("postgresql://u@db/x?sslmode=require&password=" SECRET "&application_name=a", out, sizeof(out));
	assert_null(strstr(out, SECRET));
	assert_string_equal(out, "postgresql://u:***@db/x");
	redact("postgresql://u:" SECRET "@db/x?password=" SECRET "2", out, sizeof(out));
	assert_null(strstr(out, SECRET));
	assert_non_null(strstr(out, "postgresql://u:***@db/x"));
}

/* libpq percent-decodes query keywords: "pass%77ord" is password (checked with PQconninfoParse). */
static void test_redact_encoded_password_keyword(void **state)
{
	(void)state;
	char out[256];
	redact("postgresql://db/x?pass%77ord=" SECRET, out, sizeof(out));
	assert_null(strstr(out, SECRET));
	redact("postgresql://db/x?%70assword=" SECRET, out, sizeof(out));
	assert_null(strstr(out, SECRET));
}

/* An '@' in the query is not a credentials separator (libpq stops at the first '/'). */
static void test_redact_at_sign_in_query_only(void **state)
{
	(void)state;
	char out[256];
	redact("postgresql://db:5432/x?application_name=me@home", out, sizeof(out));
	assert_string_equal(out, "postgresql://db:5432/x");
}

static void test_redact_truncated_never_leaks(void **state)
{
	(void)state;
	static const char *const urls[] = {
		"postgresql://comment_ingest:" SECRET "@127.0.0.1:25432/comment_ingest",
		"postgresql://u@db/x?password=" SECRET,
		"postgresql://u:" SECRET "@db/x?password=" SECRET,
	};
	for (size_t u = 0; u < sizeof(urls) / sizeof(urls[0]); u++) {
		for (size_t n = 1; n <= strlen(urls[u]) + 2; n++) {
			char out[256];
			redact(urls[u], out, n);
			assert_true(strlen(out) < n);
			/* not even a prefix of the password longer than 3 characters */
			assert_null(strstr(out, "S3cr"));
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_with_empty_env),
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_group_instance_id),
		cmocka_unit_test(test_invalid_values),
		cmocka_unit_test(test_http_limits),
		cmocka_unit_test(test_output_topic_equal_to_input),
		cmocka_unit_test(test_error_message_fits_small_buffer),
		cmocka_unit_test(test_redact_user_password),
		cmocka_unit_test(test_redact_without_password_unchanged),
		cmocka_unit_test(test_redact_query_password),
		cmocka_unit_test(test_redact_encoded_password_keyword),
		cmocka_unit_test(test_redact_at_sign_in_query_only),
		cmocka_unit_test(test_redact_truncated_never_leaks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
