/* log.h - structured logging: one JSON object per line on stdout. */
#ifndef CI_LOG_H
#define CI_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parses "debug"|"info"|"warn"|"error"; returns -1 when unknown. */
int log_level_parse(const char *s);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

/*
 * Writes {"ts":..,"level":..,"msg":msg, k1:v1, ...}. The variadic part is
 * NULL-terminated pairs of (const char *key, const char *value); values are
 * JSON-escaped strings. Use log_kv_int() style helpers by formatting first.
 */
void log_msg(enum log_level level, const char *msg, ...);

/*
 * Copies a library's error text (libpq, librdkafka) into out as one line:
 * every line break, with the indentation after it, becomes one space, and
 * trailing white space goes. A cut to outlen never splits a UTF-8 character.
 */
void log_oneline(const char *in, char *out, size_t outlen);

/*
 * A condition that repeats, such as a batch that keeps failing: logged the
 * first time, then counted, and logged again only when it changes or every
 * interval with how often it happened meanwhile.
 */
struct log_repeat {
	char what[256];     /* the condition, as last logged */
	uint64_t repeats;   /* occurrences since it was last logged */
	uint64_t total;     /* occurrences since it began */
	uint64_t since_ns;  /* when it began (uv_hrtime) */
	uint64_t logged_ns; /* when it was last logged */
};

/*
 * Records one occurrence of what at now_ns. Returns 1 when it is to be logged
 * now: the first time, when what differs from the last, or when interval_ns
 * passed since it was last logged; then *repeats is how often it happened
 * since (0 the first time). Returns 0 otherwise.
 */
int log_repeat_hit(struct log_repeat *r, const char *what, uint64_t now_ns, uint64_t interval_ns,
		   uint64_t *repeats);

/* Ends the condition. Returns how often it happened (0 when it was not on) and its duration in *for_ns. */
uint64_t log_repeat_end(struct log_repeat *r, uint64_t now_ns, uint64_t *for_ns);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__, (const char *)NULL)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__, (const char *)NULL)

#endif
