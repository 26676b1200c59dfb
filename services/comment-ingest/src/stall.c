/* stall.c - stall detection: how the batch path fails and recovers, the retry backoff, and when it counts as stalled.
 *
 * The pipeline reports every failed batch (stall_failure), every committed one (stall_commit)
 * and, each second, its backlog (stall_backlog). From those this file decides how long to wait
 * before the retry, what the operator reads in the log (once per kind of failure, then how often
 * it repeats), what /metrics counts, and when /readyz must say the pipeline is stalled.
 */
#include "stall.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics.h"

static const char *const stage_names[STAGE__COUNT] = {
	[STAGE_COLLECT] = "collect", [STAGE_LOOKUP] = "lookup", [STAGE_STORE] = "store", [STAGE_KAFKA] = "kafka",
};

static const char *const cause_names[CAUSE__COUNT] = {
	[CAUSE_CONNECTION] = "connection", [CAUSE_CONSTRAINT] = "constraint", [CAUSE_DATA] = "data",
	[CAUSE_LIMIT] = "limit",           [CAUSE_TRIGGER] = "trigger",       [CAUSE_PERMISSION] = "permission",
	[CAUSE_READ_ONLY] = "read_only",   [CAUSE_RESOURCES] = "resources",   [CAUSE_TIMEOUT] = "timeout",
	[CAUSE_CONFLICT] = "conflict",     [CAUSE_SERVER] = "server",         [CAUSE_KAFKA] = "kafka_aborted",
	[CAUSE_MEMORY] = "out_of_memory",  [CAUSE_INTERNAL] = "internal",
};

const char *stall_stage_name(enum stall_stage stage)
{
	return stage >= 0 && stage < STAGE__COUNT ? stage_names[stage] : "unknown";
}

const char *stall_cause_name(enum stall_cause cause)
{
	return cause >= 0 && cause < CAUSE__COUNT ? cause_names[cause] : "unknown";
}

enum stall_cause stall_cause_of_sqlstate(const char *st)
{
	if (!st || strlen(st) != 5)
		return CAUSE_CONNECTION;
	if (strcmp(st, "42501") == 0)
		return CAUSE_PERMISSION;
	if (strcmp(st, "25006") == 0)
		return CAUSE_READ_ONLY;
	if (strcmp(st, "57014") == 0 || strcmp(st, "55P03") == 0)
		return CAUSE_TIMEOUT;
	static const struct {
		char cls[3];
		enum stall_cause cause;
	} classes[] = {
		{"08", CAUSE_CONNECTION}, {"57", CAUSE_CONNECTION}, /* admin shutdown, crash recovery */
		{"23", CAUSE_CONSTRAINT}, {"22", CAUSE_DATA},       {"54", CAUSE_LIMIT},
		{"P0", CAUSE_TRIGGER},    {"53", CAUSE_RESOURCES},  {"40", CAUSE_CONFLICT},
	};
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strncmp(st, classes[i].cls, 2) == 0)
			return classes[i].cause;
	return CAUSE_SERVER;
}

void stall_init(struct stall *s, int timeout_ms, uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	s->timeout_ns = (uint64_t)timeout_ms * 1000000ULL;
	s->progress_ns = now_ns;
}

int stall_failure(struct stall *s, enum stall_stage stage, enum stall_cause cause, const char *error,
		  uint64_t now_ns)
{
	metrics.batch_failures[stage][cause]++;
	if (s->failures == 0) {
		s->failing_since_ns = now_ns;
		s->backoff_ms = STALL_BACKOFF_MIN_MS;
	} else {
		s->backoff_ms = s->backoff_ms * 2 > STALL_BACKOFF_MAX_MS ? STALL_BACKOFF_MAX_MS : s->backoff_ms * 2;
	}
	s->failures++;
	s->stage = stage;
	s->cause = cause;
	log_oneline(error, s->error, sizeof(s->error));

	char what[sizeof(s->error) + 64];
	uint64_t repeats;
	snprintf(what, sizeof(what), "%s/%s: %s", stall_stage_name(stage), stall_cause_name(cause), s->error);
	if (log_repeat_hit(&s->log, what, now_ns, STALL_LOG_INTERVAL_NS, &repeats)) {
		char retry[24], n[24], secs[24];
		snprintf(retry, sizeof(retry), "%d", s->backoff_ms);
		snprintf(n, sizeof(n), "%llu", (unsigned long long)repeats);
		snprintf(secs, sizeof(secs), "%.1f", (double)(now_ns - s->failing_since_ns) / 1e9);
		log_warn(repeats ? "batch still failing; retrying" : "batch failed; it will be replayed", "stage",
			 stall_stage_name(stage), "cause", stall_cause_name(cause), "error", s->error, "retry_in_ms", retry,
			 "failing_for_s", secs, repeats ? "repeats" : NULL, n);
	}
	return s->backoff_ms;
}

void stall_commit(struct stall *s, uint64_t now_ns)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	metrics.last_commit_seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	s->progress_ns = now_ns;
	if (s->failures == 0)
		return;
	uint64_t for_ns;
	log_repeat_end(&s->log, now_ns, &for_ns);
	char n[24], secs[24];
	snprintf(n, sizeof(n), "%llu", (unsigned long long)s->failures);
	snprintf(secs, sizeof(secs), "%.1f", (double)(now_ns - s->failing_since_ns) / 1e9);
	log_info("batch path recovered", "failures", n, "failed_for_s", secs, "last_error", s->error);
	s->failures = 0;
	s->backoff_ms = 0;
}

void stall_backlog(struct stall *s, size_t backlog, uint64_t now_ns)
{
	char why[384];
	s->backlog = backlog;
	if (backlog == 0)
		s->progress_ns = now_ns;
	int stalled = stall_check(s, now_ns, why, sizeof(why));
	metrics.stalled = stalled;
	metrics.backlog = backlog;
	if (stalled && !s->stalled)
		log_error("pipeline stalled", "reason", why);
	else if (!stalled && s->stalled)
		log_info("pipeline no longer stalled");
	s->stalled = stalled;
}

int stall_check(const struct stall *s, uint64_t now_ns, char *why, size_t whylen)
{
	double failing = s->failures ? (double)(now_ns - s->failing_since_ns) / 1e9 : 0;
	uint64_t idle_ns = now_ns > s->progress_ns ? now_ns - s->progress_ns : 0; /* a sample newer than now_ns */
	double idle = (double)idle_ns / 1e9;
	int stalled = (s->failures && now_ns - s->failing_since_ns > s->timeout_ns) ||
		      (s->backlog && idle_ns > s->timeout_ns);
	if (s->failures) /* the failure is the reason, whichever limit was reached first */
		snprintf(why, whylen, "%s %llu failures in %.0f s (%s, %s): %s",
			 stalled ? "batches keep failing:" : "retrying after", (unsigned long long)s->failures,
			 failing, stall_stage_name(s->stage), stall_cause_name(s->cause), s->error);
	else if (stalled)
		snprintf(why, whylen, "no batch committed for %.0f s with %zu messages waiting", idle, s->backlog);
	else
		snprintf(why, whylen, "moving");
	return stalled;
}

json_t *stall_json(const struct stall *s, uint64_t now_ns)
{
	char why[384];
	stall_check(s, now_ns, why, sizeof(why));
	int stalled = s->stalled; /* as last sampled, like the gauge */
	uint64_t idle_ns = now_ns > s->progress_ns ? now_ns - s->progress_ns : 0; /* a sample newer than now_ns */
	double age_s = (double)(idle_ns / 100000000ULL) / 10; /* tenths of a second */
	json_t *o = json_pack("{s:b, s:s, s:I, s:f, s:I}", "ok", !stalled, "detail", why, "failures",
			      (json_int_t)s->failures, "last_progress_age_s", age_s, "backlog", (json_int_t)s->backlog);
	if (o && s->failures) {
		json_object_set_new(o, "stage", json_string(stall_stage_name(s->stage)));
		json_object_set_new(o, "cause", json_string(stall_cause_name(s->cause)));
	}
	return o;
}
