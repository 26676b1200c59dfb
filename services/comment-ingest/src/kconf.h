/* kconf.h - the operator's librdkafka settings: TLS and SASL, secrets from files, more properties from a file. */
#ifndef CI_KCONF_H
#define CI_KCONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* One property of KAFKA_CONFIG_FILE. */
struct kconf_prop {
	char *name;
	char *value;
	int line;
};

/* What the operator asked for; every client the service creates gets all of it (kconf_apply). */
struct kconf {
	char *security_protocol;        /* plaintext, ssl, sasl_plaintext or sasl_ssl */
	char *sasl_mechanism;           /* PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; NULL without SASL */
	char *sasl_username;            /* NULL without SASL */
	char *sasl_password;            /* a secret; NULL without SASL */
	char *ssl_ca_location;          /* the NULLs below: librdkafka's defaults */
	char *ssl_certificate_location;
	char *ssl_key_location;
	char *ssl_key_password;         /* a secret */
	char *config_file;              /* KAFKA_CONFIG_FILE, or NULL */
	struct kconf_prop *props;       /* its properties, in the file's order */
	size_t nprops;
};

/*
 * Reads and checks the Kafka security settings and KAFKA_CONFIG_FILE: a
 * protocol or mechanism that does not exist, SASL without a username or
 * password, TLS files with a protocol that has no TLS, a file that cannot
 * be read, a property the service owns (kconf_owner) or one librdkafka
 * refuses. Secrets are registered (secret.h). Returns 0, or -1 with one line
 * in err that names the variable (and the file's line), never a secret.
 */
int kconf_load(struct kconf *kc, const char *(*get)(const char *name), char *err, size_t errlen);
void kconf_free(struct kconf *kc);

/*
 * Sets the security settings, then the file's properties, on conf. Call it
 * last, just before rd_kafka_new(), for every client: the file's properties
 * then win over the service's tuning defaults (e.g. linger.ms), and
 * kconf_load already refused the ones the service owns. Returns 0, or -1
 * with librdkafka's message (and the property) in err.
 */
int kconf_apply(const struct kconf *kc, rd_kafka_conf_t *conf, char *err, size_t errlen);

/*
 * Why KAFKA_CONFIG_FILE may not set property `name` (e.g. "it is set with
 * KAFKA_GROUP_ID"), or NULL when it may. Aliases are refused like their
 * property.
 */
const char *kconf_owner(const char *name);

/* Whether property `name` holds a secret (a password, a secret, inline PEM): its value is never logged. */
int kconf_is_sensitive(const char *name);

/* One line for the log: protocol, mechanism, user, file locations and the file's property names, no secret. */
void kconf_describe(const struct kconf *kc, char *out, size_t outlen);

/* Prints the variables and their defaults for --help, in config_print_help's layout. */
void kconf_print_help(void);

#endif
