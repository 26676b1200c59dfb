/*
 * decide.c - the service's verdict on raw comment-submitted message values, one per line.
 *
 * Reads stdin: one event per line, each line the base64 (RFC 4648, standard alphabet, with
 * padding) of the raw Kafka message value, so that any bytes can be fed: invalid UTF-8,
 * NULs, newlines, an empty message (an empty line). Writes stdout: one JSON object per
 * input line, in order,
 *
 *   {"outcome":"publish"|"hold"|"reject","reason":"<code>"|null,"holds":["<code>",...],"detail":"..."}
 *
 * reason is the rejection code (null unless outcome is reject), holds the hold codes in
 * reason-table order (empty unless outcome is hold), detail the rejection detail ("" otherwise).
 * The verdict is the service's: comment_decode, then rules_triage with the built-in default
 * rules (rules_defaults: no terms) and now = the current time. History rules (first comment,
 * rate, duplicate content) need PostgreSQL and are not applied.
 *
 * Exit status 0; 2 on a line that is not base64 or on an I/O error.
 * Used by tests/contract/test_corpus.py; built by `make build/asan/tools/decide`.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comment.h"
#include "reason.h"
#include "rules.h"

static const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_PUBLISH: return "publish";
	case OUTCOME_HOLD: return "hold";
	case OUTCOME_REJECT: return "reject";
	}
	return "unknown";
}

/* Decodes standard base64 with padding into out (room for 3 * n / 4 bytes). Returns the length or -1. */
static long b64_decode(const char *in, size_t n, unsigned char *out)
{
	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			 ch == '+' || ch == '/' || (ch == '=' && i >= n - 2 && (i == n - 1 || in[n - 1] == '='));
		if (!ok)
			return -1;
	}
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	len -= (in[n - 1] == '=') + (in[n - 2] == '=');
	return len;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(void)
{
	struct rules rules;
	rules_defaults(&rules);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;
	int rc = 0;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		unsigned char *payload = malloc((size_t)n / 4 * 3 + 4);
		long len = payload ? b64_decode(line, (size_t)n, payload) : -1;
		if (len < 0) {
			fprintf(stderr, "decide: line %lu is not base64\n", lineno);
			free(payload);
			rc = 2;
			break;
		}
		struct comment c;
		struct verdict v;
		if (comment_decode((const char *)payload, (size_t)len, &c, &v) == OUTCOME_PUBLISH)
			rules_triage(&rules, &c, now_us(), &v);

		json_t *holds = json_array();
		for (int r = 0; r < REASON__COUNT; r++)
			if (v.outcome == OUTCOME_HOLD && (v.hold_mask & (1u << r)))
				json_array_append_new(holds, json_string(reason_code((enum reason)r)));
		json_t *out = json_pack("{s:s, s:o, s:o, s:s}", "outcome", outcome_name(v.outcome), "reason",
					v.outcome == OUTCOME_REJECT ? json_string(reason_code(v.reject)) : json_null(),
					"holds", holds, "detail", v.outcome == OUTCOME_REJECT ? v.detail : "");
		char *s = out ? json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (!s || puts(s) == EOF || fflush(stdout) != 0) {
			fprintf(stderr, "decide: cannot write the verdict of line %lu\n", lineno);
			rc = 2;
		}
		free(s);
		json_decref(out);
		comment_clear(&c);
		free(payload);
		if (rc)
			break;
	}
	free(line);
	rules_free(&rules);
	if (ferror(stdin)) {
		fprintf(stderr, "decide: cannot read stdin\n");
		rc = 2;
	}
	return rc;
}
