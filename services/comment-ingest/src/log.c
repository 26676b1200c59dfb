/* log.c - structured logging: one JSON object per line on stdout. */
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void log_set_level(enum log_level level) { current_level = level; }

int log_enabled(enum log_level level) { return level >= current_level; }

void log_msg(enum log_level level, const char *msg, ...)
{
	if (!log_enabled(level))
		return;

	struct timespec ts;
	struct tm tm;
	char stamp[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	json_t *o = json_object();
	json_object_set_new(o, "ts", json_string(stamp));
	json_object_set_new(o, "level", json_string(level_names[level]));
	/* json_stringn_nocheck would keep invalid UTF-8; sanitize instead. */
	json_t *m = json_string(msg);
	json_object_set_new(o, "msg", m ? m : json_string("(invalid utf-8)"));

	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		json_t *jv = v ? json_string(v) : json_null();
		json_object_set_new(o, k, jv ? jv : json_string("(invalid utf-8)"));
	}
	va_end(ap);

	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		fputs(line, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(line);
	}
	json_decref(o);
}
