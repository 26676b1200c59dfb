/* metrics.h - the service's counters and histograms, rendered as Prometheus text. */
#ifndef CI_METRICS_H
#define CI_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "decision.h"
#include "reason.h"
#include "stall.h"

#define METRICS_BATCH_BUCKETS 10
#define METRICS_PHASE_BUCKETS 12

/* Where a comment's time goes, stage by stage (comment_ingest_phase_duration_seconds). */
enum metrics_phase {
	MP_FETCH,   /* per message: its record timestamp to the service taking it */
	MP_COLLECT, /* per batch, from here on: its first message to the front taking it */
	MP_LOOKUP,  /* the PostgreSQL lookup */
	MP_STORE,   /* the history rules and the PostgreSQL insert and commit */
	MP_WAIT,    /* stored, waiting in the Kafka stage's queue for the transaction in flight */
	MP_BUILD,   /* building the output events, off the loop */
	MP_PRODUCE, /* handing the events to the producer (after the offsets: kafka_commit) */
	MP_OFFSETS, /* begin_transaction and send_offsets_to_transaction */
	MP_COMMIT,  /* the deliveries and commit_transaction */
	MP__COUNT
};

#define METRICS_TOPIC_MAX 256 /* Kafka topic names are at most 249 characters */

/* One assigned partition's consumer lag (lag.c publishes them). */
struct metrics_lag {
	char topic[METRICS_TOPIC_MAX];
	int32_t partition;
	int64_t messages;
};

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
	uint64_t phase_buckets[MP__COUNT][METRICS_PHASE_BUCKETS]; /* cumulative counts per upper bound */
	uint64_t phase_count[MP__COUNT];
	double phase_sum_seconds[MP__COUNT];
	double last_commit_seconds; /* Unix time of the last committed batch; 0 before the first */
	int stalled;                /* the gauges stall_backlog sets each second */
	size_t backlog;
	int ready;                     /* /readyz's verdict, set when /metrics is rendered */
	uint64_t uncommitted_since_ns; /* uv_hrtime() when the oldest message consumed and not committed was
					  consumed; 0: every consumed message is committed (pipeline.c) */
	struct metrics_lag *lag;       /* per assigned partition whose lag is known; owned by lag.c */
	size_t lag_n, lag_cap;
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
void metrics_observe_phase(enum metrics_phase ph, double seconds);

/* Renders the Prometheus text exposition into a malloc'ed string (caller frees). */
char *metrics_render(size_t *len);

#endif
