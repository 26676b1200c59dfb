/* test_kconf.c - Kafka security settings and KAFKA_CONFIG_FILE: checks, the refused properties, the built conf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "config.h"
#include "kconf.h"
#include "secret.h"

#define SECRET "Kafka-S3cret-pw"
#define KEY_SECRET "Key-S3cret-pw"

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

/* A readable PEM-looking file (kconf only checks that it can be read; librdkafka parses it). */
static char pem_path[64];

static int make_pem(void **state)
{
	(void)state;
	snprintf(pem_path, sizeof(pem_path), "/tmp/test_kconf_pem_XXXXXX");
	int fd = mkstemp(pem_path);
	assert_true(fd >= 0);
	const char text[] = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	return 0;
}

static int remove_pem(void **state)
{
	(void)state;
	unlink(pem_path);
	return 0;
}

/* A KAFKA_CONFIG_FILE with these contents; the path goes to path. */
static void config_file(char *path, size_t pathlen, const char *contents)
{
	snprintf(path, pathlen, "/tmp/test_kconf_props_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, contents, strlen(contents)), (ssize_t)strlen(contents));
	close(fd);
}

static int load(const char *const *env, struct kconf *kc, char *err, size_t errlen)
{
	fake_env = env;
	err[0] = '\0';
	return kconf_load(kc, fake_getenv, err, errlen);
}

/* The value of property name on a conf built from kc. */
static const char *built(const struct kconf *kc, const char *name)
{
	static char value[512];
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(kconf_apply(kc, conf, err, sizeof(err)), 0);
	size_t n = sizeof(value);
	assert_int_equal(rd_kafka_conf_get(conf, name, value, &n), RD_KAFKA_CONF_OK);
	rd_kafka_conf_destroy(conf);
	return value;
}

/* ---- the named settings ------------------------------------------------------------------------- */

static void test_defaults_are_plaintext(void **state)
{
	(void)state;
	static const char *const env[] = {NULL};
	struct kconf kc;
	char err[256];
	assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
	assert_string_equal(kc.security_protocol, "plaintext");
	assert_null(kc.sasl_mechanism);
	assert_null(kc.sasl_password);
	assert_null(kc.ssl_ca_location);
	assert_int_equal(kc.nprops, 0);
	assert_string_equal(built(&kc, "security.protocol"), "plaintext");
	kconf_free(&kc);
}

/* SASL_SSL with SCRAM: every setting reaches the librdkafka configuration. */
static void test_sasl_ssl_scram_is_built(void **state)
{
	(void)state;
	const char *env[] = {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
			     "KAFKA_SASL_USERNAME", "comment_ingest", "KAFKA_SASL_PASSWORD", SECRET,
			     "KAFKA_SSL_CA_LOCATION", pem_path, NULL};
	struct kconf kc;
	char err[256];
	assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
	assert_string_equal(built(&kc, "security.protocol"), "sasl_ssl");
	assert_string_equal(built(&kc, "sasl.mechanisms"), "SCRAM-SHA-512");
	assert_string_equal(built(&kc, "sasl.username"), "comment_ingest");
	assert_string_equal(built(&kc, "sasl.password"), SECRET);
	assert_string_equal(built(&kc, "ssl.ca.location"), pem_path);
	assert_true(secret_found(SECRET)); /* registered: no log line shows it */
	char line[512];
	kconf_describe(&kc, line, sizeof(line));
	assert_null(strstr(line, SECRET));
	assert_non_null(strstr(line, "security.protocol=sasl_ssl sasl.mechanism=SCRAM-SHA-512 sasl.username=comment_ingest"));
	kconf_free(&kc);
}

/* PLAIN and SCRAM-SHA-256 are passed as given, the names in any case. */
static void test_plain_and_scram_256_are_built(void **state)
{
	(void)state;
	const char *const mechanisms[][2] = {{"PLAIN", "PLAIN"}, {"plain", "PLAIN"}, {"scram-sha-256", "SCRAM-SHA-256"}};
	for (size_t i = 0; i < 3; i++) {
		const char *env[] = {"KAFKA_SECURITY_PROTOCOL", "sasl_plaintext", "KAFKA_SASL_MECHANISM", mechanisms[i][0],
				     "KAFKA_SASL_USERNAME", "u", "KAFKA_SASL_PASSWORD", SECRET, NULL};
		struct kconf kc;
		char err[256];
		assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
		assert_string_equal(built(&kc, "security.protocol"), "sasl_plaintext");
		assert_string_equal(built(&kc, "sasl.mechanisms"), mechanisms[i][1]);
		assert_string_equal(built(&kc, "sasl.password"), SECRET);
		kconf_free(&kc);
	}
}

/* Mutual TLS: certificate, key and the key's password from a file. */
static void test_mutual_tls_is_built(void **state)
{
	(void)state;
	char pw_path[64];
	config_file(pw_path, sizeof(pw_path), KEY_SECRET "\n");
	const char *env[] = {"KAFKA_SECURITY_PROTOCOL", "ssl", "KAFKA_SSL_CA_LOCATION", pem_path,
			     "KAFKA_SSL_CERTIFICATE_LOCATION", pem_path, "KAFKA_SSL_KEY_LOCATION", pem_path,
			     "KAFKA_SSL_KEY_PASSWORD_FILE", pw_path, NULL};
	struct kconf kc;
	char err[256];
	assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
	assert_string_equal(built(&kc, "security.protocol"), "ssl");
	assert_string_equal(built(&kc, "ssl.certificate.location"), pem_path);
	assert_string_equal(built(&kc, "ssl.key.location"), pem_path);
	assert_string_equal(built(&kc, "ssl.key.password"), KEY_SECRET);
	assert_true(secret_found(KEY_SECRET));
	char line[512];
	kconf_describe(&kc, line, sizeof(line));
	assert_null(strstr(line, KEY_SECRET));
	assert_non_null(strstr(line, "(key password set)"));
	kconf_free(&kc);
	unlink(pw_path);
}

/* "probe" asks librdkafka to find the system's CAs; it is not a file. */
static void test_ca_probe(void **state)
{
	(void)state;
	static const char *const env[] = {"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_CA_LOCATION", "probe", NULL};
	struct kconf kc;
	char err[256];
	assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
	assert_string_equal(built(&kc, "ssl.ca.location"), "probe");
	kconf_free(&kc);
}

/* One clear message for each mistake; never the secret. */
static void test_invalid_settings(void **state)
{
	(void)state;
	const struct {
		const char *env[13];
		const char *want;
	} cases[] = {
		{{"KAFKA_SECURITY_PROTOCOL", "TLS", NULL}, "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"},
		{{"KAFKA_SECURITY_PROTOCOL", "", NULL}, "KAFKA_SECURITY_PROTOCOL must be one of"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "GSSAPI", "KAFKA_SASL_USERNAME", "u",
		  "KAFKA_SASL_PASSWORD", SECRET, NULL},
		 "KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_USERNAME", "u", "KAFKA_SASL_PASSWORD", SECRET, NULL},
		 "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_MECHANISM"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_PASSWORD", SECRET, NULL},
		 "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "u", NULL},
		 "KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "",
		  "KAFKA_SASL_PASSWORD", SECRET, NULL},
		 "KAFKA_SASL_USERNAME must not be empty"},
		{{"KAFKA_SASL_MECHANISM", "PLAIN", NULL},
		 "KAFKA_SASL_MECHANISM is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT uses no SASL"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SASL_USERNAME", "u", NULL},
		 "KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL=SSL uses no SASL"},
		{{"KAFKA_SASL_PASSWORD", SECRET, NULL}, "KAFKA_SASL_PASSWORD is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "u",
		  "KAFKA_SASL_PASSWORD", SECRET, "KAFKA_SSL_CA_LOCATION", "/etc/hostname", NULL},
		 "KAFKA_SSL_CA_LOCATION is set but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT uses no TLS"},
		{{"KAFKA_SSL_KEY_PASSWORD", SECRET, NULL}, "KAFKA_SSL_KEY_PASSWORD is set but KAFKA_SECURITY_PROTOCOL=PLAINTEXT"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_CERTIFICATE_LOCATION", "/etc/hostname", NULL},
		 "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_KEY_LOCATION", "/etc/hostname", NULL},
		 "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_KEY_PASSWORD", SECRET, NULL},
		 "KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY_LOCATION"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem", NULL},
		 "KAFKA_SSL_CA_LOCATION: cannot read /nonexistent/ca.pem: No such file or directory"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_CERTIFICATE_LOCATION", "/nonexistent/c.pem",
		  "KAFKA_SSL_KEY_LOCATION", "/etc/hostname", NULL},
		 "KAFKA_SSL_CERTIFICATE_LOCATION: cannot read /nonexistent/c.pem"},
		{{"KAFKA_SECURITY_PROTOCOL", "SSL", "KAFKA_SSL_CERTIFICATE_LOCATION", "/etc/hostname",
		  "KAFKA_SSL_KEY_LOCATION", "/etc", NULL},
		 "KAFKA_SSL_KEY_LOCATION: cannot read /etc: Is a directory"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "u",
		  "KAFKA_SASL_PASSWORD", SECRET, "KAFKA_SASL_PASSWORD_FILE", "/etc/hostname", NULL},
		 "KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE are both set"},
		{{"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "PLAIN", "KAFKA_SASL_USERNAME", "u",
		  "KAFKA_SASL_PASSWORD_FILE", "/nonexistent/pw", NULL},
		 "KAFKA_SASL_PASSWORD_FILE: cannot read /nonexistent/pw: No such file or directory"},
		{{"KAFKA_CONFIG_FILE", "/nonexistent/kafka.properties", NULL},
		 "KAFKA_CONFIG_FILE: cannot read /nonexistent/kafka.properties: No such file or directory"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kconf kc;
		char err[256];
		if (load(cases[i].env, &kc, err, sizeof(err)) != -1)
			fail_msg("case %zu (%s) was accepted", i, cases[i].want);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		assert_null(strstr(err, SECRET));
		assert_null(kc.security_protocol); /* freed on failure */
		secret_forget_all();
	}
}

/* ---- KAFKA_CONFIG_FILE ------------------------------------------------------------------------- */

static void test_config_file_is_applied(void **state)
{
	(void)state;
	char path[64];
	config_file(path, sizeof(path),
		    "# tuning\n"
		    "\n"
		    "linger.ms=20\n"
		    "  ! a Java-style comment\n"
		    "  compression.codec =  zstd  \r\n"
		    "client.rack=rack-a=b\n"
		    "ssl.endpoint.identification.algorithm=none\n"
		    "sasl.oauthbearer.config=principal=x secret=" SECRET "\n"
		    "queued.max.messages.kbytes=2048");
	const char *env[] = {"KAFKA_CONFIG_FILE", path, NULL};
	struct kconf kc;
	char err[256];
	assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
	assert_int_equal(kc.nprops, 6);
	assert_string_equal(built(&kc, "linger.ms"), "20");
	assert_string_equal(built(&kc, "compression.codec"), "zstd");
	assert_string_equal(built(&kc, "client.rack"), "rack-a=b"); /* the value is the rest after the first '=' */
	assert_string_equal(built(&kc, "ssl.endpoint.identification.algorithm"), "none");
	assert_string_equal(built(&kc, "queued.max.messages.kbytes"), "2048");
	assert_int_equal(kc.props[1].line, 5);
	/* A property that holds a secret is registered (its whole value); the description has the names only. */
	assert_true(secret_found("principal=x secret=" SECRET));
	char line[512];
	kconf_describe(&kc, line, sizeof(line));
	assert_null(strstr(line, SECRET));
	assert_non_null(strstr(line, "linger.ms,compression.codec,client.rack"));
	kconf_free(&kc);
	unlink(path);
}

/* The file goes on last: it wins over what the service set before (its tuning defaults). */
static void test_config_file_wins_over_defaults(void **state)
{
	(void)state;
	char path[64], err[256], value[64];
	config_file(path, sizeof(path), "linger.ms=50\n");
	const char *env[] = {"KAFKA_CONFIG_FILE", path, NULL};
	struct kconf kc;
	assert_int_equal(load(env, &kc, err, sizeof(err)), 0);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)), RD_KAFKA_CONF_OK);
	assert_int_equal(kconf_apply(&kc, conf, err, sizeof(err)), 0);
	size_t n = sizeof(value);
	assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", value, &n), RD_KAFKA_CONF_OK);
	assert_string_equal(value, "50");
	rd_kafka_conf_destroy(conf);
	kconf_free(&kc);
	unlink(path);
}

/* Every property the service owns is refused with the line, the name and who owns it. */
static void test_owned_properties_are_refused(void **state)
{
	(void)state;
	static const char *const names[] = {
		"bootstrap.servers", "metadata.broker.list", "group.id", "group.instance.id", "transactional.id",
		"transaction.timeout.ms", "message.timeout.ms", "delivery.timeout.ms", "session.timeout.ms",
		"security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
		"ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
		"isolation.level", "enable.auto.commit", "auto.commit.enable", "enable.auto.offset.store",
		"offset.store.method", "auto.offset.reset", "enable.partition.eof", "partition.assignment.strategy",
		"enable.idempotence", "acks", "request.required.acks", "statistics.interval.ms", "log.queue",
		"error_cb", "rebalance_cb", "log_cb", "stats_cb",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[64], contents[256], err[256], want[128];
		snprintf(contents, sizeof(contents), "linger.ms=5\n%s=" SECRET "\n", names[i]);
		config_file(path, sizeof(path), contents);
		const char *env[] = {"KAFKA_CONFIG_FILE", path, NULL};
		struct kconf kc;
		assert_non_null(kconf_owner(names[i]));
		if (load(env, &kc, err, sizeof(err)) != -1)
			fail_msg("%s was not refused", names[i]);
		snprintf(want, sizeof(want), "KAFKA_CONFIG_FILE line 2: %s ", names[i]);
		if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, kconf_owner(names[i])))
			fail_msg("%s: got \"%s\"", names[i], err);
		assert_null(strstr(err, SECRET));
		unlink(path);
		secret_forget_all();
	}
	assert_string_equal(kconf_owner("group.id"), "is set with KAFKA_GROUP_ID");
	assert_null(kconf_owner("linger.ms"));
	assert_null(kconf_owner("debug"));
}

/* The refused list names real librdkafka properties (a misspelt entry would refuse nothing). */
static void test_owned_names_exist_in_librdkafka(void **state)
{
	(void)state;
	static const char *const names[] = {
		"bootstrap.servers", "metadata.broker.list", "group.id", "group.instance.id", "transactional.id",
		"transaction.timeout.ms", "message.timeout.ms", "delivery.timeout.ms", "session.timeout.ms",
		"security.protocol", "sasl.mechanism", "sasl.mechanisms", "sasl.username", "sasl.password",
		"ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
		"isolation.level", "enable.auto.commit", "auto.commit.enable", "enable.auto.offset.store",
		"offset.store.method", "auto.offset.reset", "enable.partition.eof", "partition.assignment.strategy",
		"enable.idempotence", "acks", "request.required.acks", "statistics.interval.ms", "log.queue",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		rd_kafka_conf_t *conf = rd_kafka_conf_new();
		char err[256], value[512];
		size_t n = sizeof(value);
		/* A global property answers conf_get; a topic-level one (e.g. auto.offset.reset) goes to the default topic conf. */
		rd_kafka_conf_res_t r = rd_kafka_conf_get(conf, names[i], value, &n);
		if (r == RD_KAFKA_CONF_UNKNOWN) {
			rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
			n = sizeof(value);
			r = rd_kafka_topic_conf_get(tc, names[i], value, &n);
			rd_kafka_topic_conf_destroy(tc);
		}
		if (r == RD_KAFKA_CONF_UNKNOWN && rd_kafka_conf_set(conf, names[i], "x", err, sizeof(err)) == RD_KAFKA_CONF_UNKNOWN)
			fail_msg("%s is not a librdkafka property", names[i]);
		rd_kafka_conf_destroy(conf);
	}
}

static void test_config_file_errors(void **state)
{
	(void)state;
	const struct {
		const char *contents;
		const char *want;
	} cases[] = {
		{"linger.ms=5\nno-equals-sign\n", "KAFKA_CONFIG_FILE line 2: expected name=value"},
		{"=5\n", "KAFKA_CONFIG_FILE line 1: no property name before '='"},
		{"linger.ms=5\n\nlinger.ms=6\n", "KAFKA_CONFIG_FILE line 3: linger.ms is already set on line 1"},
		{"# x\nfoo.bar=1\n", "KAFKA_CONFIG_FILE line 2: No such configuration property: \"foo.bar\""},
		{"linger.ms=soon\n", "KAFKA_CONFIG_FILE line 1: Invalid value for configuration property \"queue.buffering.max.ms\""},
		{"compression.codec=fast\n", "KAFKA_CONFIG_FILE line 1: Invalid value \"fast\" for configuration property \"compression.codec\""},
		{"message.max.bytes=10\n", "KAFKA_CONFIG_FILE line 1: Configuration property \"message.max.bytes\" value 10 is outside allowed range 1000..1000000000"},
		{"opaque=1\n", "KAFKA_CONFIG_FILE line 1: Property \"opaque\" must be set through dedicated"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[64], err[256];
		config_file(path, sizeof(path), cases[i].contents);
		const char *env[] = {"KAFKA_CONFIG_FILE", path, NULL};
		struct kconf kc;
		if (load(env, &kc, err, sizeof(err)) != -1)
			fail_msg("case %zu was accepted", i);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		assert_null(strchr(err, '\n')); /* one line, whatever librdkafka wrote */
		unlink(path);
	}
}

/* librdkafka's message about a secret property's value never shows the value. */
static void test_librdkafka_message_is_masked(void **state)
{
	(void)state;
	char path[64], err[256];
	/* An enum property that would quote its value, named like a secret so that the value is registered. */
	config_file(path, sizeof(path), "ssl.keystore.password=" SECRET "\nssl.endpoint.identification.algorithm=" SECRET "\n");
	const char *env[] = {"KAFKA_CONFIG_FILE", path, NULL};
	struct kconf kc;
	assert_int_equal(load(env, &kc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "KAFKA_CONFIG_FILE line 2: Invalid value \"***\""));
	assert_null(strstr(err, SECRET));
	unlink(path);
}

/* config_load takes the Kafka settings too: a bad one fails the whole configuration. */
static void test_config_load_includes_kafka_settings(void **state)
{
	(void)state;
	struct config cfg;
	char err[512];
	static const char *const bad[] = {"KAFKA_SECURITY_PROTOCOL", "SASL_TLS", NULL};
	fake_env = bad;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), -1);
	assert_string_equal(err, "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
	const char *good[] = {"KAFKA_SECURITY_PROTOCOL", "SASL_SSL", "KAFKA_SASL_MECHANISM", "SCRAM-SHA-256",
			      "KAFKA_SASL_USERNAME", "u", "KAFKA_SASL_PASSWORD", SECRET, NULL};
	fake_env = good;
	assert_int_equal(config_load(&cfg, fake_getenv, err, sizeof(err)), 0);
	assert_string_equal(cfg.kconf.sasl_mechanism, "SCRAM-SHA-256");
	config_free(&cfg);
	assert_null(cfg.kconf.sasl_password);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults_are_plaintext, forget),
		cmocka_unit_test_teardown(test_sasl_ssl_scram_is_built, forget),
		cmocka_unit_test_teardown(test_plain_and_scram_256_are_built, forget),
		cmocka_unit_test_teardown(test_mutual_tls_is_built, forget),
		cmocka_unit_test_teardown(test_ca_probe, forget),
		cmocka_unit_test_teardown(test_invalid_settings, forget),
		cmocka_unit_test_teardown(test_config_file_is_applied, forget),
		cmocka_unit_test_teardown(test_config_file_wins_over_defaults, forget),
		cmocka_unit_test_teardown(test_owned_properties_are_refused, forget),
		cmocka_unit_test_teardown(test_owned_names_exist_in_librdkafka, forget),
		cmocka_unit_test_teardown(test_config_file_errors, forget),
		cmocka_unit_test_teardown(test_librdkafka_message_is_masked, forget),
		cmocka_unit_test_teardown(test_config_load_includes_kafka_settings, forget),
	};
	return cmocka_run_group_tests(tests, make_pem, remove_pem);
}
