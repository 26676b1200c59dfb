/* test_secret.c - secrets from NAME or NAME_FILE, masked in every log line; DATABASE_PASSWORD(_FILE). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "secret.h"

#define SECRET "S3cr3t-Pa55w0rd"

/* The fake environment: NULL-terminated name/value pairs. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
	for (const char *const *p = fake_env; p && p[0]; p += 2)
		if (strcmp(p[0], name) == 0)
			return p[1];
	return NULL;
}

static int forget(void **state)
{
	(void)state;
	secret_forget_all();
	return 0;
}

/* A temporary file holding len bytes of data; its path goes to path (freed by the caller with unlink). */
static void temp_file(char *path, size_t pathlen, const char *data, size_t len)
{
	snprintf(path, pathlen, "/tmp/test_secret_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* ---- secret_take ------------------------------------------------------------------------------ */

static void test_take_value(void **state)
{
	(void)state;
	static const char *const env[] = {"X_PASSWORD", SECRET, NULL};
	char *v = NULL, err[256] = "";
	fake_env = env;
	assert_int_equal(secret_take(&v, fake_getenv, "X_PASSWORD", err, sizeof(err)), 0);
	assert_string_equal(v, SECRET);
	assert_true(secret_found("a " SECRET " b"));
	free(v);
}

static void test_take_unset(void **state)
{
	(void)state;
	static const char *const env[] = {NULL};
	char *v = (char *)"x", err[256] = "";
	fake_env = env;
	assert_int_equal(secret_take(&v, fake_getenv, "X_PASSWORD", err, sizeof(err)), 0);
	assert_null(v);
}

/* The file's trailing line breaks go (LF and CRLF), as with the official database images; others stay. */
static void test_take_file_trailing_newlines(void **state)
{
	(void)state;
	static const char *const contents[][2] = {
		{SECRET "\n", SECRET},
		{SECRET "\r\n", SECRET},
		{SECRET "\n\n\n", SECRET},
		{SECRET, SECRET},
		{" " SECRET " \n", " " SECRET " "},
		{"two\nlines\n", "two\nlines"},
	};
	for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
		char path[64], *v = NULL, err[256] = "";
		temp_file(path, sizeof(path), contents[i][0], strlen(contents[i][0]));
		const char *env[] = {"X_PASSWORD_FILE", path, NULL};
		fake_env = env;
		assert_int_equal(secret_take(&v, fake_getenv, "X_PASSWORD", err, sizeof(err)), 0);
		assert_string_equal(v, contents[i][1]);
		assert_true(secret_found(contents[i][1]));
		free(v);
		unlink(path);
	}
}

/* Each error names the variable (and the file), never the value. */
static void test_take_errors(void **state)
{
	(void)state;
	char empty_path[64], nul_path[64], newline_path[64];
	temp_file(empty_path, sizeof(empty_path), "", 0);
	temp_file(nul_path, sizeof(nul_path), SECRET "\0tail", sizeof(SECRET) + 4);
	temp_file(newline_path, sizeof(newline_path), "\n\r\n", 3);
	const struct {
		const char *env[5];
		const char *want;
	} cases[] = {
		{{"X_PASSWORD", SECRET, "X_PASSWORD_FILE", "/etc/hostname", NULL},
		 "X_PASSWORD and X_PASSWORD_FILE are both set; set one of them"},
		{{"X_PASSWORD", "", NULL}, "X_PASSWORD must not be empty"},
		{{"X_PASSWORD_FILE", "", NULL}, "X_PASSWORD_FILE must not be empty"},
		{{"X_PASSWORD_FILE", "/nonexistent/secret", NULL},
		 "X_PASSWORD_FILE: cannot read /nonexistent/secret: No such file or directory"},
		{{"X_PASSWORD_FILE", empty_path, NULL}, "is empty"},
		{{"X_PASSWORD_FILE", newline_path, NULL}, "is empty"},
		{{"X_PASSWORD_FILE", nul_path, NULL}, "holds a NUL byte"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *v = NULL, err[256] = "";
		fake_env = cases[i].env;
		assert_int_equal(secret_take(&v, fake_getenv, "X_PASSWORD", err, sizeof(err)), -1);
		assert_null(v);
		assert_non_null(strstr(err, cases[i].want));
		assert_null(strstr(err, SECRET));
	}
	unlink(empty_path);
	unlink(nul_path);
	unlink(newline_path);
}

static void test_take_file_too_large(void **state)
{
	(void)state;
	size_t n = SECRET_FILE_MAX + 1;
	char *big = malloc(n), path[64], *v = NULL, err[256] = "";
	memset(big, 'a', n);
	temp_file(path, sizeof(path), big, n);
	const char *env[] = {"X_PASSWORD_FILE", path, NULL};
	fake_env = env;
	assert_int_equal(secret_take(&v, fake_getenv, "X_PASSWORD", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	free(big);
	unlink(path);
}

/* ---- redaction ---------------------------------------------------------------------------------- */

static void test_redact(void **state)
{
	(void)state;
	assert_null(secret_redact("nothing registered: " SECRET));
	assert_int_equal(secret_register(SECRET), 0);
	assert_int_equal(secret_register(""), 0); /* ignored: it would match everywhere */
	char *r = secret_redact("a=" SECRET ", b=" SECRET SECRET ".");
	assert_string_equal(r, "a=***, b=******.");
	free(r);
	assert_null(secret_redact("no secret here"));
	assert_null(secret_redact(NULL));
	/* Two secrets where one starts the other: the longer one is masked whole. */
	assert_int_equal(secret_register("abc"), 0);
	assert_int_equal(secret_register("abcdef"), 0);
	r = secret_redact("x abcdef y abc z");
	assert_string_equal(r, "x *** y *** z");
	free(r);
}

/* A cut output never holds part of a secret, only part of the mask. */
static void test_redact_into_cut(void **state)
{
	(void)state;
	assert_int_equal(secret_register(SECRET), 0);
	char out[8];
	assert_int_equal(secret_redact_into("ab" SECRET "cd", out, sizeof(out)), 1);
	assert_string_equal(out, "ab***cd");
	char small[4];
	assert_int_equal(secret_redact_into(SECRET, small, sizeof(small)), 1);
	assert_string_equal(small, "***");
	char tiny[3];
	secret_redact_into(SECRET, tiny, sizeof(tiny));
	assert_string_equal(tiny, "**");
	assert_int_equal(secret_redact_into("plain", out, sizeof(out)), 0);
	assert_string_equal(out, "plain");
}

static void test_forget_all(void **state)
{
	(void)state;
	assert_int_equal(secret_register(SECRET), 0);
	assert_true(secret_found(SECRET));
	secret_forget_all();
	assert_false(secret_found(SECRET));
}

/* What log_msg writes to stdout, for one call. */
static char *capture_log(const char *msg, const char *key, const char *value)
{
	char path[] = "/tmp/test_secret_log_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stdout);
	int saved = dup(1);
	dup2(fd, 1);
	log_msg(LOG_WARN, msg, key, value, (const char *)NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	static char buf[4096];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	buf[n] = '\0';
	return buf;
}

/* Every log line, whoever wrote its text (librdkafka's lines are forwarded through log_msg), is masked. */
static void test_log_lines_are_masked(void **state)
{
	(void)state;
	assert_int_equal(secret_register(SECRET), 0);
	char *line = capture_log("librdkafka", "detail", "[thrd:main]: sasl.password = " SECRET " (debug)");
	assert_null(strstr(line, SECRET));
	assert_non_null(strstr(line, "\"detail\":\"[thrd:main]: sasl.password = *** (debug)\""));
	line = capture_log("connect with " SECRET, "k", "v");
	assert_null(strstr(line, SECRET));
	assert_non_null(strstr(line, "\"msg\":\"connect with ***\""));
	line = capture_log("no secret", "k", "plain value");
	assert_non_null(strstr(line, "\"k\":\"plain value\""));
}

/* ---- DATABASE_PASSWORD(_FILE) ------------------------------------------------------------------ */

static void test_database_password_value_and_file(void **state)
{
	(void)state;
	struct config cfg;
	char err[512] = "", path[64];
	static const char *const env[] = {"DATABASE_PASSWORD", SECRET, NULL};
	fake_env = env;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.database_password, SECRET);
	assert_true(secret_found(SECRET));
	config_free(&cfg);
	assert_null(cfg.database_password);
	secret_forget_all();

	temp_file(path, sizeof(path), SECRET "\n", strlen(SECRET) + 1);
	const char *env_file[] = {"DATABASE_PASSWORD_FILE", path, NULL};
	fake_env = env_file;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.database_password, SECRET);
	config_free(&cfg);
	unlink(path);

	static const char *const none[] = {NULL};
	fake_env = none;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_null(cfg.database_password);
	config_free(&cfg);
}

/* A password inside DATABASE_URL is a secret too, and cannot be given twice. */
static void test_database_password_in_url(void **state)
{
	(void)state;
	struct config cfg;
	char err[512] = "";
	static const char *const env[] = {"DATABASE_URL", "postgresql://u:" SECRET "@db/x", NULL};
	fake_env = env;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_null(cfg.database_password);
	assert_true(secret_found("password " SECRET));
	config_free(&cfg);

	static const char *const both[] = {"DATABASE_URL", "postgresql://u:" SECRET "@db/x", "DATABASE_PASSWORD", "other",
					   NULL};
	fake_env = both;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_string_equal(err, "DATABASE_URL holds a password and DATABASE_PASSWORD is set; keep one");
	static const char *const both_q[] = {"DATABASE_URL", "postgresql://u@db/x?password=" SECRET,
					     "DATABASE_PASSWORD_FILE", "/etc/hostname", NULL};
	fake_env = both_q;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_string_equal(err, "DATABASE_URL holds a password and DATABASE_PASSWORD_FILE is set; keep one");

	static const char *const twice[] = {"DATABASE_PASSWORD", SECRET, "DATABASE_PASSWORD_FILE", "/etc/hostname", NULL};
	fake_env = twice;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_string_equal(err, "DATABASE_PASSWORD and DATABASE_PASSWORD_FILE are both set; set one of them");
	assert_null(strstr(err, SECRET));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_take_value, forget),
		cmocka_unit_test_teardown(test_take_unset, forget),
		cmocka_unit_test_teardown(test_take_file_trailing_newlines, forget),
		cmocka_unit_test_teardown(test_take_errors, forget),
		cmocka_unit_test_teardown(test_take_file_too_large, forget),
		cmocka_unit_test_teardown(test_redact, forget),
		cmocka_unit_test_teardown(test_redact_into_cut, forget),
		cmocka_unit_test_teardown(test_forget_all, forget),
		cmocka_unit_test_teardown(test_log_lines_are_masked, forget),
		cmocka_unit_test_teardown(test_database_password_value_and_file, forget),
		cmocka_unit_test_teardown(test_database_password_in_url, forget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
