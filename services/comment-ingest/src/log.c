/* log.c - structured logging: one JSON object per line on stdout. */
#include "log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "secret.h"
#include "text.h"

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

/* A string as logged: every registered secret masked (secret.h), whoever wrote the text (librdkafka included). */
static json_t *log_string(const char *s)
{
	if (!secret_found(s))
		return json_string(s);
	char *masked = secret_redact(s);
	json_t *j = json_string(masked ? masked : "***"); /* no memory for the copy: nothing of it */
	free(masked);
	return j;
}

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
	json_t *m = log_string(msg);
	json_object_set_new(o, "msg", m ? m : json_string("(invalid utf-8)"));

	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		json_t *jv = v ? log_string(v) : json_null();
		json_object_set_new(o, k, jv ? jv : json_string("(invalid utf-8)"));
	}
	va_end(ap);

	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		/* Other threads log too (librdkafka's callbacks, a transaction's worker, the lag thread): the
		 * line and its newline go out together, or two lines could share one. */
		flockfile(stdout);
		fputs(line, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		funlockfile(stdout);
		free(line);
	}
	json_decref(o);
}

void log_oneline(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	if (outlen == 0)
		return;
	for (const char *p = in ? in : ""; *p && n + 1 < outlen; p++) {
		if (*p == '\n' || *p == '\r') {
			while (p[1] == '\n' || p[1] == '\r' || p[1] == '\t' || p[1] == ' ')
				p++;
			if (n > 0 && out[n - 1] != ' ')
				out[n++] = ' ';
			continue;
		}
		out[n++] = *p == '\t' ? ' ' : *p;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[text_utf8_cut(out, n)] = '\0'; /* a cut inside a character drops its first bytes */
}

int log_repeat_hit(struct log_repeat *r, const char *what, uint64_t now_ns, uint64_t interval_ns,
		   uint64_t *repeats)
{
	int same = r->total > 0 && strncmp(r->what, what, sizeof(r->what) - 1) == 0;
	if (r->total == 0)
		r->since_ns = now_ns;
	r->total++;
	if (same && now_ns - r->logged_ns < interval_ns) {
		r->repeats++;
		return 0;
	}
	*repeats = r->repeats;
	r->repeats = 0;
	r->logged_ns = now_ns;
	snprintf(r->what, sizeof(r->what), "%s", what);
	return 1;
}

uint64_t log_repeat_end(struct log_repeat *r, uint64_t now_ns, uint64_t *for_ns)
{
	uint64_t total = r->total;
	*for_ns = total ? now_ns - r->since_ns : 0;
	memset(r, 0, sizeof(*r));
	return total;
}
