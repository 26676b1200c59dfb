/* kconf.c - the operator's librdkafka settings: TLS and SASL, secrets from files, more properties from a file. */
#include "kconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"

#define CONFIG_FILE_MAX (1024 * 1024)

/* ---- the properties the service owns ------------------------------------------------------ */

struct owned {
	const char *name;
	const char *why; /* completes "KAFKA_CONFIG_FILE line N: <name> <why>" */
};

/*
 * What KAFKA_CONFIG_FILE may not set, aliases included (librdkafka 2.0.2's
 * CONFIGURATION.md): what a variable sets, and what the effectively-once
 * pipeline depends on. Properties named *_cb and the pointers (opaque,
 * default_topic_conf) librdkafka itself refuses to take from a string.
 */
static const struct owned owned[] = {
	{"bootstrap.servers", "is set with KAFKA_BOOTSTRAP_SERVERS"},
	{"metadata.broker.list", "is set with KAFKA_BOOTSTRAP_SERVERS"},
	{"group.id", "is set with KAFKA_GROUP_ID"},
	{"group.instance.id", "is set with KAFKA_GROUP_INSTANCE_ID"},
	{"transactional.id", "is set with KAFKA_TRANSACTIONAL_ID"},
	{"transaction.timeout.ms", "is set with KAFKA_TRANSACTION_TIMEOUT_MS"},
	{"message.timeout.ms", "follows KAFKA_TRANSACTION_TIMEOUT_MS (a delivery gives up 5 s before the transaction)"},
	{"delivery.timeout.ms", "follows KAFKA_TRANSACTION_TIMEOUT_MS (a delivery gives up 5 s before the transaction)"},
	{"session.timeout.ms", "is set with KAFKA_SESSION_TIMEOUT_MS"},
	{"security.protocol", "is set with KAFKA_SECURITY_PROTOCOL"},
	{"sasl.mechanism", "is set with KAFKA_SASL_MECHANISM"},
	{"sasl.mechanisms", "is set with KAFKA_SASL_MECHANISM"},
	{"sasl.username", "is set with KAFKA_SASL_USERNAME"},
	{"sasl.password", "is set with KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"},
	{"ssl.ca.location", "is set with KAFKA_SSL_CA_LOCATION"},
	{"ssl.certificate.location", "is set with KAFKA_SSL_CERTIFICATE_LOCATION"},
	{"ssl.key.location", "is set with KAFKA_SSL_KEY_LOCATION"},
	{"ssl.key.password", "is set with KAFKA_SSL_KEY_PASSWORD or KAFKA_SSL_KEY_PASSWORD_FILE"},
	{"isolation.level", "is the service's own: read_committed, only committed input is processed"},
	{"enable.auto.commit", "is the service's own: offsets move only inside its Kafka transactions"},
	{"auto.commit.enable", "is the service's own: offsets move only inside its Kafka transactions"},
	{"enable.auto.offset.store", "is the service's own: offsets move only inside its Kafka transactions"},
	{"offset.store.method", "is the service's own: offsets move only inside its Kafka transactions"},
	{"auto.offset.reset", "is the service's own: earliest, a new consumer group loses nothing"},
	{"enable.partition.eof", "is the service's own: its consumer loop takes no end-of-partition events"},
	{"partition.assignment.strategy", "is the service's own: it handles eager rebalances, not cooperative ones"},
	{"enable.idempotence", "is the service's own: the transactional producer needs it"},
	{"acks", "is the service's own: the transactional producer needs acks=all"},
	{"request.required.acks", "is the service's own: the transactional producer needs acks=all"},
	{"statistics.interval.ms", "is the service's own: readiness comes from librdkafka's statistics"},
	{"log.queue", "is the service's own: librdkafka's log lines are served on the service's loop"},
};

const char *kconf_owner(const char *name)
{
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
		if (strcmp(name, owned[i].name) == 0)
			return owned[i].why;
	size_t n = strlen(name);
	if (n > 3 && strcmp(name + n - 3, "_cb") == 0)
		return "is the service's own: it sets every callback";
	return NULL;
}

int kconf_is_sensitive(const char *name)
{
	size_t n = strlen(name);
	return strstr(name, "password") || strstr(name, "secret") || strcmp(name, "sasl.oauthbearer.config") == 0 ||
	       (n > 4 && strcmp(name + n - 4, ".pem") == 0);
}

/* ---- the variables ------------------------------------------------------------------------- */

struct var_doc {
	const char *name;
	const char *def;
	const char *help;
};

static const struct var_doc vars[] = {
	{"KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (librdkafka security.protocol)"},
	{"KAFKA_SASL_MECHANISM", "(none)", "with SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
	{"KAFKA_SASL_USERNAME", "(none)", "with SASL_*: the user"},
	{"KAFKA_SASL_PASSWORD", "(none)", "with SASL_*: the password; or KAFKA_SASL_PASSWORD_FILE, a file holding it"},
	{"KAFKA_SSL_CA_LOCATION", "(system CAs)", "with SSL/SASL_SSL: CA certificate(s) that verify the broker (PEM file or directory)"},
	{"KAFKA_SSL_CERTIFICATE_LOCATION", "(none)", "mutual TLS: the client certificate (PEM)"},
	{"KAFKA_SSL_KEY_LOCATION", "(none)", "mutual TLS: the client's private key (PEM)"},
	{"KAFKA_SSL_KEY_PASSWORD", "(none)", "the key's password if it is encrypted; or KAFKA_SSL_KEY_PASSWORD_FILE"},
	{"KAFKA_CONFIG_FILE", "(none)", "more librdkafka properties, one name=value a line (README lists those refused)"},
};

void kconf_print_help(void)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		printf("  %-24s %s (default: %s)\n", vars[i].name, vars[i].help, vars[i].def);
}

/* One of the words in `allowed` (case-insensitive), copied in the spelling of `spelling`; -1 when none. */
static int pick(char **dst, const char *v, const char *const *allowed, const char *const *spelling)
{
	for (int i = 0; allowed[i]; i++)
		if (strcasecmp(v, allowed[i]) == 0)
			return (*dst = strdup(spelling[i])) ? 0 : -1;
	return -1;
}

/* A plain (not secret) setting; *dst stays NULL when unset. */
static int take_plain(char **dst, const char *(*get)(const char *), const char *name, char *err, size_t errlen)
{
	const char *v = get(name);
	*dst = NULL;
	if (!v)
		return 0;
	if (!*v) {
		snprintf(err, errlen, "%s must not be empty", name);
		return -1;
	}
	if (!(*dst = strdup(v))) {
		snprintf(err, errlen, "out of memory reading %s", name);
		return -1;
	}
	return 0;
}

/* The file (or, where allowed, the directory) that a *_LOCATION variable names can be opened for reading. */
static int check_readable(const char *var, const char *path, int directory_ok, char *err, size_t errlen)
{
	if (!path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot read %s: %s", var, path, strerror(errno));
		return -1;
	}
	char probe;
	ssize_t r = read(fd, &probe, 1);
	int e = errno;
	close(fd);
	if (r < 0 && !(directory_ok && e == EISDIR)) {
		snprintf(err, errlen, "%s: cannot read %s: %s", var, path, strerror(e));
		return -1;
	}
	if (r == 0) {
		snprintf(err, errlen, "%s: %s is empty", var, path);
		return -1;
	}
	return 0;
}

static int check_security(struct kconf *kc, const char *(*get)(const char *), char *err, size_t errlen)
{
	static const char *const protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", NULL};
	static const char *const protocols_rd[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl", NULL};
	static const char *const mechanisms[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};
	const char *v = get("KAFKA_SECURITY_PROTOCOL");
	if (pick(&kc->security_protocol, v ? v : "PLAINTEXT", protocols, protocols_rd)) {
		snprintf(err, errlen, "KAFKA_SECURITY_PROTOCOL must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL");
		return -1;
	}
	int sasl = strncmp(kc->security_protocol, "sasl_", 5) == 0;
	int tls = strcmp(kc->security_protocol, "ssl") == 0 || strcmp(kc->security_protocol, "sasl_ssl") == 0;
	const char *protocol = protocols[0];
	for (int i = 0; protocols_rd[i]; i++)
		if (strcmp(kc->security_protocol, protocols_rd[i]) == 0)
			protocol = protocols[i];

	if ((v = get("KAFKA_SASL_MECHANISM")) && pick(&kc->sasl_mechanism, v, mechanisms, mechanisms)) {
		snprintf(err, errlen, "KAFKA_SASL_MECHANISM must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512");
		return -1;
	}
	if (take_plain(&kc->sasl_username, get, "KAFKA_SASL_USERNAME", err, errlen) ||
	    secret_take(&kc->sasl_password, get, "KAFKA_SASL_PASSWORD", err, errlen) ||
	    take_plain(&kc->ssl_ca_location, get, "KAFKA_SSL_CA_LOCATION", err, errlen) ||
	    take_plain(&kc->ssl_certificate_location, get, "KAFKA_SSL_CERTIFICATE_LOCATION", err, errlen) ||
	    take_plain(&kc->ssl_key_location, get, "KAFKA_SSL_KEY_LOCATION", err, errlen) ||
	    secret_take(&kc->ssl_key_password, get, "KAFKA_SSL_KEY_PASSWORD", err, errlen))
		return -1;

	if (sasl) {
		const char *missing = !kc->sasl_mechanism ? "KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"
				      : !kc->sasl_username ? "KAFKA_SASL_USERNAME"
				      : !kc->sasl_password ? "KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE"
							   : NULL;
		if (missing) {
			snprintf(err, errlen, "KAFKA_SECURITY_PROTOCOL=%s needs %s", protocol, missing);
			return -1;
		}
	} else {
		const char *extra = kc->sasl_mechanism ? "KAFKA_SASL_MECHANISM"
				    : kc->sasl_username ? "KAFKA_SASL_USERNAME"
				    : kc->sasl_password ? "KAFKA_SASL_PASSWORD"
							: NULL;
		if (extra) {
			snprintf(err, errlen, "%s is set but KAFKA_SECURITY_PROTOCOL=%s uses no SASL (SASL_SSL or SASL_PLAINTEXT does)",
				 extra, protocol);
			return -1;
		}
	}
	if (!tls) {
		const char *extra = kc->ssl_ca_location ? "KAFKA_SSL_CA_LOCATION"
				    : kc->ssl_certificate_location ? "KAFKA_SSL_CERTIFICATE_LOCATION"
				    : kc->ssl_key_location ? "KAFKA_SSL_KEY_LOCATION"
				    : kc->ssl_key_password ? "KAFKA_SSL_KEY_PASSWORD"
							   : NULL;
		if (extra) {
			snprintf(err, errlen, "%s is set but KAFKA_SECURITY_PROTOCOL=%s uses no TLS (SSL or SASL_SSL does)",
				 extra, protocol);
			return -1;
		}
	}
	if (!kc->ssl_certificate_location != !kc->ssl_key_location) {
		snprintf(err, errlen, "KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION go together (mutual TLS)");
		return -1;
	}
	if (kc->ssl_key_password && !kc->ssl_key_location) {
		snprintf(err, errlen, "KAFKA_SSL_KEY_PASSWORD is set without KAFKA_SSL_KEY_LOCATION");
		return -1;
	}
	/* "probe": librdkafka looks for the system's CA store itself. */
	int ca_probe = kc->ssl_ca_location && strcmp(kc->ssl_ca_location, "probe") == 0;
	if ((!ca_probe && check_readable("KAFKA_SSL_CA_LOCATION", kc->ssl_ca_location, 1, err, errlen)) ||
	    check_readable("KAFKA_SSL_CERTIFICATE_LOCATION", kc->ssl_certificate_location, 0, err, errlen) ||
	    check_readable("KAFKA_SSL_KEY_LOCATION", kc->ssl_key_location, 0, err, errlen))
		return -1;
	return 0;
}

/* ---- KAFKA_CONFIG_FILE ---------------------------------------------------------------------- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static int add_prop(struct kconf *kc, const char *name, const char *value, int line)
{
	struct kconf_prop *grown = realloc(kc->props, (kc->nprops + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	kc->props = grown;
	struct kconf_prop *p = &kc->props[kc->nprops];
	p->name = strdup(name);
	p->value = strdup(value);
	p->line = line;
	if (!p->name || !p->value) {
		free(p->name);
		free(p->value);
		return -1;
	}
	kc->nprops++;
	return 0;
}

/*
 * Reads KAFKA_CONFIG_FILE: one `name=value` a line, the value being the
 * rest of the line after the first '=' (surrounding blanks dropped);
 * blank lines and lines starting with # or ! are comments. No escapes and no
 * continuation lines: any name or value is written as it is.
 */
static int read_config_file(struct kconf *kc, char *err, size_t errlen)
{
	const char *path = kc->config_file;
	char *buf = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "KAFKA_CONFIG_FILE: cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (!(buf = malloc(CONFIG_FILE_MAX + 1))) {
		snprintf(err, errlen, "out of memory reading KAFKA_CONFIG_FILE");
		goto failed;
	}
	size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f) || n > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "KAFKA_CONFIG_FILE: cannot read %s: %s", path,
			 n > CONFIG_FILE_MAX ? "larger than 1 MiB" : strerror(errno ? errno : EIO));
		goto failed;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		snprintf(err, errlen, "KAFKA_CONFIG_FILE: %s holds a NUL byte", path);
		goto failed;
	}
	int line = 0;
	for (char *next = buf, *s; next;) {
		s = next;
		next = strchr(s, '\n');
		if (next)
			*next++ = '\0';
		line++;
		s = trim(s);
		if (!*s || *s == '#' || *s == '!')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "KAFKA_CONFIG_FILE line %d: expected name=value", line);
			goto failed;
		}
		*eq = '\0';
		char *name = trim(s), *value = trim(eq + 1);
		if (!*name) {
			snprintf(err, errlen, "KAFKA_CONFIG_FILE line %d: no property name before '='", line);
			goto failed;
		}
		const char *why = kconf_owner(name);
		if (why) {
			snprintf(err, errlen, "KAFKA_CONFIG_FILE line %d: %s %s; remove it from the file", line, name, why);
			goto failed;
		}
		for (size_t i = 0; i < kc->nprops; i++) {
			if (strcmp(kc->props[i].name, name) == 0) {
				snprintf(err, errlen, "KAFKA_CONFIG_FILE line %d: %s is already set on line %d", line, name,
					 kc->props[i].line);
				goto failed;
			}
		}
		if ((kconf_is_sensitive(name) && secret_register(value)) || add_prop(kc, name, value, line)) {
			snprintf(err, errlen, "out of memory reading KAFKA_CONFIG_FILE");
			goto failed;
		}
	}
	memset(buf, 0, n);
	free(buf);
	fclose(f);
	return 0;

failed:
	if (buf) {
		memset(buf, 0, CONFIG_FILE_MAX + 1);
		free(buf);
	}
	fclose(f);
	return -1;
}

/* ---- loading and applying ------------------------------------------------------------------- */

int kconf_load(struct kconf *kc, const char *(*get)(const char *name), char *err, size_t errlen)
{
	memset(kc, 0, sizeof(*kc));
	if (check_security(kc, get, err, errlen) ||
	    take_plain(&kc->config_file, get, "KAFKA_CONFIG_FILE", err, errlen) ||
	    (kc->config_file && read_config_file(kc, err, errlen)))
		goto failed;

	/* A trial run on a scratch configuration: librdkafka's own refusals (an unknown property, a value
	 * out of range) come now, as a configuration error, not when the clients are made. */
	rd_kafka_conf_t *trial = rd_kafka_conf_new();
	int rc = kconf_apply(kc, trial, err, errlen);
	rd_kafka_conf_destroy(trial);
	if (rc)
		goto failed;
	return 0;

failed:
	kconf_free(kc);
	return -1;
}

static void free_secret(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void kconf_free(struct kconf *kc)
{
	free(kc->security_protocol);
	free(kc->sasl_mechanism);
	free(kc->sasl_username);
	free_secret(kc->sasl_password);
	free(kc->ssl_ca_location);
	free(kc->ssl_certificate_location);
	free(kc->ssl_key_location);
	free_secret(kc->ssl_key_password);
	free(kc->config_file);
	for (size_t i = 0; i < kc->nprops; i++) {
		free(kc->props[i].name);
		free_secret(kc->props[i].value);
	}
	free(kc->props);
	memset(kc, 0, sizeof(*kc));
}

/* Sets one property; librdkafka's message (secrets masked) names the variable it came from. */
static int set_one(rd_kafka_conf_t *conf, const char *name, const char *value, const char *from, int line,
		   char *err, size_t errlen)
{
	char msg[512];
	if (!value || rd_kafka_conf_set(conf, name, value, msg, sizeof(msg)) == RD_KAFKA_CONF_OK)
		return 0;
	char one[512], safe[512];
	log_oneline(msg, one, sizeof(one));
	secret_redact_into(one, safe, sizeof(safe));
	if (line)
		snprintf(err, errlen, "%s line %d: %s", from, line, safe);
	else
		snprintf(err, errlen, "%s: %s", from, safe);
	return -1;
}

int kconf_apply(const struct kconf *kc, rd_kafka_conf_t *conf, char *err, size_t errlen)
{
	if (set_one(conf, "security.protocol", kc->security_protocol, "KAFKA_SECURITY_PROTOCOL", 0, err, errlen) ||
	    set_one(conf, "sasl.mechanism", kc->sasl_mechanism, "KAFKA_SASL_MECHANISM", 0, err, errlen) ||
	    set_one(conf, "sasl.username", kc->sasl_username, "KAFKA_SASL_USERNAME", 0, err, errlen) ||
	    set_one(conf, "sasl.password", kc->sasl_password, "KAFKA_SASL_PASSWORD", 0, err, errlen) ||
	    set_one(conf, "ssl.ca.location", kc->ssl_ca_location, "KAFKA_SSL_CA_LOCATION", 0, err, errlen) ||
	    set_one(conf, "ssl.certificate.location", kc->ssl_certificate_location, "KAFKA_SSL_CERTIFICATE_LOCATION", 0,
		    err, errlen) ||
	    set_one(conf, "ssl.key.location", kc->ssl_key_location, "KAFKA_SSL_KEY_LOCATION", 0, err, errlen) ||
	    set_one(conf, "ssl.key.password", kc->ssl_key_password, "KAFKA_SSL_KEY_PASSWORD", 0, err, errlen))
		return -1;
	for (size_t i = 0; i < kc->nprops; i++)
		if (set_one(conf, kc->props[i].name, kc->props[i].value, "KAFKA_CONFIG_FILE", kc->props[i].line, err,
			    errlen))
			return -1;
	return 0;
}

void kconf_describe(const struct kconf *kc, char *out, size_t outlen)
{
	size_t n = 0;
	int w;
#define ADD(...)                                                                     \
	do {                                                                         \
		if (n < outlen && (w = snprintf(out + n, outlen - n, __VA_ARGS__)) > 0) \
			n += (size_t)w;                                              \
	} while (0)
	if (outlen == 0)
		return;
	out[0] = '\0';
	ADD("security.protocol=%s", kc->security_protocol ? kc->security_protocol : "plaintext");
	if (kc->sasl_mechanism)
		ADD(" sasl.mechanism=%s sasl.username=%s", kc->sasl_mechanism, kc->sasl_username);
	if (kc->ssl_ca_location)
		ADD(" ssl.ca.location=%s", kc->ssl_ca_location);
	if (kc->ssl_certificate_location)
		ADD(" ssl.certificate.location=%s ssl.key.location=%s%s", kc->ssl_certificate_location,
		    kc->ssl_key_location, kc->ssl_key_password ? " (key password set)" : "");
	if (kc->nprops) {
		ADD(" %s:", kc->config_file);
		for (size_t i = 0; i < kc->nprops; i++)
			ADD("%s%s", i ? "," : " ", kc->props[i].name);
	}
#undef ADD
}
