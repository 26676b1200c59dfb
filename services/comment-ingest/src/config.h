/* config.h - service configuration from environment variables, with defaults that match `make up`. */
#ifndef CI_CONFIG_H
#define CI_CONFIG_H

#include <stddef.h>

#include "kconf.h"

#define CONFIG_DEFAULT_BOOTSTRAP "127.0.0.1:9092"
#define CONFIG_DEFAULT_DATABASE_URL "postgresql://comment_ingest@127.0.0.1:25432/comment_ingest"

struct config {
	char *kafka_bootstrap;
	char *group_id;
	char *transactional_id;
	char *group_instance_id; /* group.instance.id: static membership */
	char *topic_submitted;
	char *topic_decided;   /* input: moderation decisions */
	char *topic_published;
	char *topic_moderation;
	char *topic_rejected;
	char *topic_moderated;          /* output: comments a moderator rejected */
	char *topic_decision_rejected;  /* output: bad moderation decisions */
	char *database_url;
	char *database_password; /* DATABASE_PASSWORD(_FILE), a secret; NULL: libpq's (the URL, PGPASSWORD, PGPASSFILE) */
	struct kconf kconf;       /* Kafka security and KAFKA_CONFIG_FILE (kconf.c), for every Kafka client */
	char *http_addr;
	int http_port;
	/* the HTTP port against hostile clients (http.c) */
	int http_max_connections;
	int http_request_timeout_ms;
	int http_idle_timeout_ms;
	int http_write_timeout_ms;
	int batch_max_messages;
	int batch_max_wait_ms;
	int session_timeout_ms;
	int transaction_timeout_ms;
	int stall_timeout_ms;
	int log_level;
	char *rules_file; /* NULL: the built-in rules */
};

/* Looks a variable up; tests pass their own, production passes getenv. */
typedef const char *(*config_getenv_fn)(const char *name);

/*
 * Fills cfg from the environment. Returns 0, or -1 with a one-line
 * explanation in err (which names the variable, never a secret value).
 */
int config_load(struct config *cfg, config_getenv_fn get, char *err, size_t errlen);
void config_free(struct config *cfg);

/*
 * Writes a loggable form of url, rebuilt from what libpq parses: user, host,
 * port and database, with ":***" where a password was given. Nothing else
 * (query parameters included) is copied, so no spelling of a secret survives.
 */
void config_redact_url(const char *url, char *out, size_t outlen);

/* Prints the documented variables and defaults (for --help). */
void config_print_help(void);

#endif
