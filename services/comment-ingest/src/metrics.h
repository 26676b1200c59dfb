/* metrics.h - the service's counters and histograms, rendered as Prometheus text. */
#ifndef CI_METRICS_H
#define CI_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "decision.h"
#include "reason.h"
#include "stall.h"

#define METRICS_BATCH_BUCKETS 10

/* Owned by the loop thread: every field is read and written there only. */
struct metrics {
	uint64_t consumed;
	uint64_t published;
	uint64_t held;
	uint64_t rejected[REASON__COUNT];
	uint64_t duplicate;
	uint64_t replayed;
	uint64_t batches;
	uint64_t tx_aborts;
	uint64_t pauses;
	uint64_t pg_reconnects;
	uint64_t isolations; /* batches whose rows were stored one at a time to find a refused row */
	/* moderation decisions: consumed = applied + noop + duplicate + rejected */
	uint64_t decisions_consumed;
	uint64_t decisions_applied[STATUS__COUNT][STATUS__COUNT]; /* [from][to] */
	uint64_t decisions_noop;
	uint64_t decisions_duplicate;
	uint64_t decisions_rejected[REASON__COUNT];
	uint64_t decisions_replayed;
	uint64_t batch_buckets[METRICS_BATCH_BUCKETS]; /* cumulative counts per upper bound */
	uint64_t batch_count;
	double batch_sum_seconds;
	uint64_t batch_failures[STAGE__COUNT][CAUSE__COUNT];
	double last_commit_seconds; /* Unix time of the last committed batch; 0 before the first */
	int stalled;                /* the gauges stall_backlog sets each second */
	size_t backlog;
	/* the operators' HTTP port (http.c) */
	uint64_t http_connections; /* open now: a gauge */
	uint64_t http_evicted;
	uint64_t http_refused;
	uint64_t http_request_timeouts;
	uint64_t http_idle_timeouts;
	uint64_t http_write_timeouts;
};

extern struct metrics metrics;

void metrics_observe_batch(double seconds);

/* Renders the Prometheus text exposition into a malloc'ed string (caller frees). */
char *metrics_render(size_t *len);

#endif
