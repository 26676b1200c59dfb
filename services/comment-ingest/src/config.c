/* config.c - service configuration from environment variables, with defaults that match `make up`. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "log.h"
#include "secret.h"

struct var_doc {
	const char *name;
	const char *def;
	const char *help;
};

static const struct var_doc vars[] = {
	{"KAFKA_BOOTSTRAP_SERVERS", CONFIG_DEFAULT_BOOTSTRAP, "Kafka bootstrap servers"},
	{"KAFKA_GROUP_ID", "comment-ingest", "consumer group shared by all instances"},
	{"KAFKA_TRANSACTIONAL_ID", "comment-ingest-<hostname>", "stable per instance; fences a zombie predecessor"},
	{"KAFKA_GROUP_INSTANCE_ID", "the value of KAFKA_TRANSACTIONAL_ID", "static group membership: stable per instance; a restart takes its partitions back at once"},
	{"TOPIC_SUBMITTED", "comment-submitted", "input: submitted comments"},
	{"TOPIC_DECIDED", "moderation-decided", "input: moderators' decisions (approve, reject)"},
	{"TOPIC_PUBLISHED", "comment-published", "output: accepted comments, and comments a moderator approved"},
	{"TOPIC_MODERATION", "moderation-needed", "output: held comments"},
	{"TOPIC_REJECTED", "comment-rejected", "output: rejected submissions"},
	{"TOPIC_MODERATED", "comment-moderated", "output: comments a moderator rejected or took down"},
	{"TOPIC_DECISION_REJECTED", "moderation-decision-rejected", "output: bad moderation decisions"},
	{"DATABASE_URL", CONFIG_DEFAULT_DATABASE_URL, "PostgreSQL connection URI (password never logged)"},
	{"DATABASE_PASSWORD", "(none)", "PostgreSQL password on top of DATABASE_URL; or DATABASE_PASSWORD_FILE, a file holding it"},
	{"HTTP_ADDR", "0.0.0.0", "health endpoint address"},
	{"HTTP_PORT", "8080", "health endpoint port (/healthz, /readyz, /metrics)"},
	{"HTTP_MAX_CONNECTIONS", "256", "open HTTP connections; at the limit the oldest one still reading is closed (1-10000)"},
	{"HTTP_REQUEST_TIMEOUT_MS", "5000", "an HTTP connection's time to send its whole request, in ms (100-300000)"},
	{"HTTP_IDLE_TIMEOUT_MS", "2000", "the longest pause between two bytes of a request, in ms (100-300000, at most HTTP_REQUEST_TIMEOUT_MS)"},
	{"HTTP_WRITE_TIMEOUT_MS", "5000", "the time to write a response to a client that does not read it, in ms (100-300000)"},
	{"BATCH_MAX_MESSAGES", "1000", "messages per batch (1-100000)"},
	{"BATCH_MAX_WAIT_MS", "0", "how long a batch may keep filling once the pipeline can take it, in ms; 0: at once (0-60000)"},
	{"KAFKA_SESSION_TIMEOUT_MS", "45000", "how long the group waits for a crashed instance (6000-300000)"},
	{"KAFKA_TRANSACTION_TIMEOUT_MS", "60000", "a batch's Kafka transaction; deliveries give up 5 s before it (10000-900000)"},
	{"STALL_TIMEOUT_MS", "30000", "/readyz answers 503 when batches keep failing, or none commits despite a backlog, for this long (1000-3600000)"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"RULES_FILE", "(built-in rules)", "moderation rules file (JSON); reloaded on SIGHUP"},
};

void config_print_help(void)
{
	printf("Environment variables (default):\n");
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		printf("  %-24s %s (default: %s)\n", vars[i].name, vars[i].help, vars[i].def);
	kconf_print_help();
}

/*
 * The PostgreSQL password: DATABASE_PASSWORD(_FILE), or one inside
 * DATABASE_URL, never both. Either is registered as a secret, so no log line
 * shows it whatever prints it.
 */
static int take_database_password(struct config *cfg, config_getenv_fn get, char *err, size_t errlen)
{
	int in_url = 0, rc = 0;
	PQconninfoOption *parsed = PQconninfoParse(cfg->database_url, NULL);
	if (!parsed) {
		snprintf(err, errlen, "DATABASE_URL is not a valid PostgreSQL connection URI");
		return -1;
	}
	for (PQconninfoOption *o = parsed; o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) {
			in_url = 1;
			rc = secret_register(o->val);
		}
	}
	PQconninfoFree(parsed);
	if (rc || secret_take(&cfg->database_password, get, "DATABASE_PASSWORD", err, errlen))
		return -1;
	if (in_url && cfg->database_password) {
		snprintf(err, errlen, "DATABASE_URL holds a password and DATABASE_PASSWORD%s is set; keep one",
			 get("DATABASE_PASSWORD") ? "" : "_FILE");
		return -1;
	}
	return 0;
}

static int take_string(char **dst, config_getenv_fn get, const char *name, const char *def,
		       char *err, size_t errlen)
{
	const char *v = get(name);
	if (!v)
		v = def;
	if (*v == '\0') {
		snprintf(err, errlen, "%s must not be empty", name);
		return -1;
	}
	*dst = strdup(v);
	return *dst ? 0 : -1;
}

static int take_int(int *dst, config_getenv_fn get, const char *name, int def, int min, int max,
		    char *err, size_t errlen)
{
	const char *v = get(name);
	if (!v) {
		*dst = def;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < min || n > max) {
		snprintf(err, errlen, "%s must be an integer from %d to %d", name, min, max);
		return -1;
	}
	*dst = (int)n;
	return 0;
}

/* The HTTP port's limits against hostile clients, one block; the idle timeout cannot exceed the request's. */
static int take_http_limits(struct config *cfg, config_getenv_fn get, char *err, size_t errlen)
{
	if (take_int(&cfg->http_max_connections, get, "HTTP_MAX_CONNECTIONS", 256, 1, 10000, err, errlen) ||
	    take_int(&cfg->http_request_timeout_ms, get, "HTTP_REQUEST_TIMEOUT_MS", 5000, 100, 300000, err, errlen) ||
	    take_int(&cfg->http_idle_timeout_ms, get, "HTTP_IDLE_TIMEOUT_MS", 2000, 100, 300000, err, errlen) ||
	    take_int(&cfg->http_write_timeout_ms, get, "HTTP_WRITE_TIMEOUT_MS", 5000, 100, 300000, err, errlen))
		return -1;
	if (cfg->http_idle_timeout_ms > cfg->http_request_timeout_ms) {
		snprintf(err, errlen, "HTTP_IDLE_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS (%d)",
			 cfg->http_request_timeout_ms);
		return -1;
	}
	return 0;
}

int config_load(struct config *cfg, config_getenv_fn get, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	char host[HOST_NAME_MAX + 1] = "localhost";
	char txid_default[HOST_NAME_MAX + 32];
	gethostname(host, sizeof(host) - 1);
	snprintf(txid_default, sizeof(txid_default), "comment-ingest-%s", host);

	if (take_string(&cfg->kafka_bootstrap, get, "KAFKA_BOOTSTRAP_SERVERS", CONFIG_DEFAULT_BOOTSTRAP, err, errlen) ||
	    take_string(&cfg->group_id, get, "KAFKA_GROUP_ID", "comment-ingest", err, errlen) ||
	    take_string(&cfg->transactional_id, get, "KAFKA_TRANSACTIONAL_ID", txid_default, err, errlen) ||
	    /* one stable identity per instance: both ids fence the same predecessor */
	    take_string(&cfg->group_instance_id, get, "KAFKA_GROUP_INSTANCE_ID", cfg->transactional_id, err, errlen) ||
	    take_string(&cfg->topic_submitted, get, "TOPIC_SUBMITTED", "comment-submitted", err, errlen) ||
	    take_string(&cfg->topic_decided, get, "TOPIC_DECIDED", "moderation-decided", err, errlen) ||
	    take_string(&cfg->topic_published, get, "TOPIC_PUBLISHED", "comment-published", err, errlen) ||
	    take_string(&cfg->topic_moderation, get, "TOPIC_MODERATION", "moderation-needed", err, errlen) ||
	    take_string(&cfg->topic_rejected, get, "TOPIC_REJECTED", "comment-rejected", err, errlen) ||
	    take_string(&cfg->topic_moderated, get, "TOPIC_MODERATED", "comment-moderated", err, errlen) ||
	    take_string(&cfg->topic_decision_rejected, get, "TOPIC_DECISION_REJECTED", "moderation-decision-rejected",
			err, errlen) ||
	    take_string(&cfg->database_url, get, "DATABASE_URL", CONFIG_DEFAULT_DATABASE_URL, err, errlen) ||
	    take_string(&cfg->http_addr, get, "HTTP_ADDR", "0.0.0.0", err, errlen) ||
	    take_int(&cfg->http_port, get, "HTTP_PORT", 8080, 1, 65535, err, errlen) ||
	    take_http_limits(cfg, get, err, errlen) ||
	    take_int(&cfg->batch_max_messages, get, "BATCH_MAX_MESSAGES", 1000, 1, 100000, err, errlen) ||
	    take_int(&cfg->batch_max_wait_ms, get, "BATCH_MAX_WAIT_MS", 0, 0, 60000, err, errlen) ||
	    take_int(&cfg->session_timeout_ms, get, "KAFKA_SESSION_TIMEOUT_MS", 45000, 6000, 300000, err, errlen) ||
	    take_int(&cfg->transaction_timeout_ms, get, "KAFKA_TRANSACTION_TIMEOUT_MS", 60000, 10000, 900000, err,
		     errlen) ||
	    take_int(&cfg->stall_timeout_ms, get, "STALL_TIMEOUT_MS", 30000, 1000, 3600000, err, errlen))
		goto failed;

	const char *rules_file = get("RULES_FILE");
	if (rules_file && *rules_file && !(cfg->rules_file = strdup(rules_file)))
		goto failed;

	const char *lvl = get("LOG_LEVEL");
	cfg->log_level = log_level_parse(lvl ? lvl : "info");
	if (cfg->log_level < 0) {
		snprintf(err, errlen, "LOG_LEVEL must be one of debug, info, warn, error");
		goto failed;
	}
	if (strncmp(cfg->database_url, "postgresql://", 13) != 0 &&
	    strncmp(cfg->database_url, "postgres://", 11) != 0) {
		snprintf(err, errlen, "DATABASE_URL must start with postgresql:// or postgres://");
		goto failed;
	}
	if (strcmp(cfg->topic_decided, cfg->topic_submitted) == 0) {
		snprintf(err, errlen, "TOPIC_DECIDED must differ from TOPIC_SUBMITTED");
		goto failed;
	}
	/* An output that is also an input would feed the service its own events. */
	const char *outputs[] = {cfg->topic_published, cfg->topic_moderation, cfg->topic_rejected, cfg->topic_moderated,
				 cfg->topic_decision_rejected};
	const char *names[] = {"TOPIC_PUBLISHED", "TOPIC_MODERATION", "TOPIC_REJECTED", "TOPIC_MODERATED",
			       "TOPIC_DECISION_REJECTED"};
	for (int i = 0; i < 5; i++) {
		if (strcmp(outputs[i], cfg->topic_submitted) == 0 || strcmp(outputs[i], cfg->topic_decided) == 0) {
			snprintf(err, errlen, "%s must differ from TOPIC_SUBMITTED and TOPIC_DECIDED", names[i]);
			goto failed;
		}
	}
	if (take_database_password(cfg, get, err, errlen) || kconf_load(&cfg->kconf, get, err, errlen))
		goto failed;
	return 0;

failed:
	config_free(cfg);
	return -1;
}

void config_free(struct config *cfg)
{
	free(cfg->kafka_bootstrap);
	free(cfg->group_id);
	free(cfg->transactional_id);
	free(cfg->group_instance_id);
	free(cfg->topic_submitted);
	free(cfg->topic_decided);
	free(cfg->topic_published);
	free(cfg->topic_moderation);
	free(cfg->topic_rejected);
	free(cfg->topic_moderated);
	free(cfg->topic_decision_rejected);
	free(cfg->database_url);
	if (cfg->database_password)
		memset(cfg->database_password, 0, strlen(cfg->database_password));
	free(cfg->database_password);
	kconf_free(&cfg->kconf);
	free(cfg->http_addr);
	free(cfg->rules_file);
	memset(cfg, 0, sizeof(*cfg));
}

void config_redact_url(const char *url, char *out, size_t outlen)
{
	/* Rebuild from the fields libpq parses, so no spelling of a secret survives. */
	const char *user = "", *host = "", *port = "", *dbname = "";
	int has_password = 0;
	PQconninfoOption *opts = PQconninfoParse(url, NULL);
	if (!opts) {
		snprintf(out, outlen, "(unparsable)");
		return;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
		else if (strcmp(o->keyword, "password") == 0)
			has_password = *o->val != '\0';
	}
	snprintf(out, outlen, "postgresql://%s%s%s%s%s%s%s%s", user, has_password ? ":***" : "",
		 *user || has_password ? "@" : "", host, *port ? ":" : "", port, *dbname ? "/" : "", dbname);
	PQconninfoFree(opts);
}
