/* bench_rules.c - throughput of the rules path (decode, normalize, validate, triage; no I/O) on one core.
 *
 * Usage: bench_rules [N] [RULES_FILE]. Builds N realistic comment-submitted events in memory
 * (seed-style bodies, some accented or with emoji, a share that is held or rejected), then times
 * comment_decode + rules_triage over them and prints events/s and the outcome mix as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "comment.h"
#include "rules.h"
#include "timefmt.h"

#include "bench_common.h"

/* Bodies draw from the first RULES_SENTENCES of bench_sentences and one in six adds one of the
 * first RULES_INTL of bench_intl (accents, emoji, other scripts). */
#define RULES_SENTENCES 11
#define RULES_INTL 5

static const char *const extras[] = {
	" More at https://example.com/analysis for anyone curious.",   /* held: link */
	" Write to me at reader@example.org if you disagree.",          /* held: e-mail */
	" THIS IS ABSOLUTELY UNACCEPTABLE AND EVERYONE KNOWS IT",       /* held: shouting */
	" Sooooooooooooo tired of this.",                               /* held: repeats */
	" What propaganda from both sides.",                            /* held: suspect term */
};

static char *make_event(unsigned i, unsigned *seed, const char *now)
{
	char body[1200] = "";
	int kind = (int)(rand_r(seed) % 100);
	if (kind < 3) /* rejected: too short */
		snprintf(body, sizeof(body), "Too short to count.");
	else {
		int n = 2 + (int)(rand_r(seed) % 3);
		for (int k = 0; k < n; k++) {
			strcat(body, k ? " " : "");
			strcat(body, bench_sentences[rand_r(seed) % RULES_SENTENCES]);
		}
		if (rand_r(seed) % 6 == 0) {
			strcat(body, " ");
			strcat(body, bench_intl[rand_r(seed) % RULES_INTL]);
		}
		if (kind >= 90)
			strcat(body, extras[rand_r(seed) % (sizeof(extras) / sizeof(extras[0]))]);
	}
	char *ev = malloc(2048);
	if (kind == 3) { /* rejected: malformed */
		snprintf(ev, 2048, "{\"schema_version\":1,\"comment_id\":\"%08x-0000-4000-8000-000000000000\",", i);
		return ev;
	}
	snprintf(ev, 2048,
		 "{\"schema_version\":1,\"comment_id\":\"%08x-%04x-4%03x-8%03x-%012x\",\"article_id\":\"article-%u\","
		 "\"author\":{\"id\":\"reader-%u\",\"display_name\":\"Reader %u\"},\"body\":\"%s\",\"submitted_at\":\"%s\"}",
		 i, i & 0xffff, i & 0xfff, (i >> 12) & 0xfff, i, i % 500, rand_r(seed) % 50000, i % 1000, body, now);
	return ev;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200000;
	struct rules rules;
	char err[512];
	rules_defaults(&rules);
	if (argc > 2 && rules_load(argv[2], &rules, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_rules: %s\n", err);
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_REALTIME, &t0);
	int64_t now = (int64_t)t0.tv_sec * 1000000;
	char nowstr[TIMEFMT_LEN];
	timefmt_format_utc(now - 60 * 1000000LL, nowstr);

	char **events = malloc(n * sizeof(char *));
	size_t *lens = malloc(n * sizeof(size_t));
	unsigned seed = 42;
	size_t bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		events[i] = make_event(i, &seed, nowstr);
		lens[i] = strlen(events[i]);
		bytes += lens[i];
	}

	unsigned counts[3] = {0};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++) {
		struct comment c;
		struct verdict v;
		if (comment_decode(events[i], lens[i], &c, &v) == OUTCOME_PUBLISH)
			rules_triage(&rules, &c, now, &v);
		counts[v.outcome]++;
		comment_clear(&c);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	/* The bound: jansson alone, parsing the same events into objects and freeing them. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++)
		json_decref(json_loadb(events[i], lens[i], JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double json_secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	printf("{\"events\":%u,\"mean_event_bytes\":%zu,\"seconds\":%.3f,\"events_per_second\":%.0f,"
	       "\"jansson_only_events_per_second\":%.0f,\"published\":%u,\"held\":%u,\"rejected\":%u}\n",
	       n, bytes / n, secs, n / secs, n / json_secs, counts[OUTCOME_PUBLISH], counts[OUTCOME_HOLD],
	       counts[OUTCOME_REJECT]);
	for (unsigned i = 0; i < n; i++)
		free(events[i]);
	free(events);
	free(lens);
	rules_free(&rules);
	return 0;
}
