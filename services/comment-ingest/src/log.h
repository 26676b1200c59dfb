/* log.h - structured logging: one JSON object per line on stdout. */
#ifndef CI_LOG_H
#define CI_LOG_H

#include <stdarg.h>

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

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__, (const char *)NULL)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__, (const char *)NULL)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__, (const char *)NULL)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__, (const char *)NULL)

#endif
