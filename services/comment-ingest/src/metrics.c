/* metrics.c - the service's counters and histograms, rendered as Prometheus text. */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct metrics metrics;

static const double batch_bounds[METRICS_BATCH_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
							    0.25, 0.5, 1, 2.5, 5};

void metrics_observe_batch(double seconds)
{
	for (int i = 0; i < METRICS_BATCH_BUCKETS; i++)
		if (seconds <= batch_bounds[i])
			metrics.batch_buckets[i]++;
	metrics.batch_count++;
	metrics.batch_sum_seconds += seconds;
}

static const double phase_bounds[METRICS_PHASE_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
							    0.1, 0.25, 0.5, 1, 2.5, 5};
static const char *const phase_names[MP__COUNT] = {"fetch", "collect", "lookup", "store", "wait",
						   "build", "produce", "offsets", "commit"};

void metrics_observe_phase(enum metrics_phase ph, double seconds)
{
	if (seconds < 0)
		seconds = 0; /* a record timestamp from a clock ahead of ours */
	for (int i = 0; i < METRICS_PHASE_BUCKETS; i++)
		if (seconds <= phase_bounds[i])
			metrics.phase_buckets[ph][i]++;
	metrics.phase_count[ph]++;
	metrics.phase_sum_seconds[ph] += seconds;
}

struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return;
		b->p = np;
		b->cap = cap;
	}
}

static void counter(struct sbuf *b, const char *name, const char *help, uint64_t v)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
		  (unsigned long long)v);
}

char *metrics_render(size_t *len)
{
	struct sbuf b = {0};
	counter(&b, "comment_ingest_consumed_total", "comment-submitted events consumed and committed.", metrics.consumed);
	counter(&b, "comment_ingest_published_total", "Comments stored and published.", metrics.published);
	counter(&b, "comment_ingest_held_total", "Comments stored as pending and sent to moderation.", metrics.held);
	sb_printf(&b, "# HELP comment_ingest_rejected_total Events rejected, by reason code.\n"
		      "# TYPE comment_ingest_rejected_total counter\n");
	for (int r = 1; r < REASON__COUNT; r++)
		if (reason_outcome((enum reason)r) == OUTCOME_REJECT && reason_for((enum reason)r, REASON_FOR_COMMENTS))
			sb_printf(&b, "comment_ingest_rejected_total{reason=\"%s\"} %llu\n",
				  reason_code((enum reason)r), (unsigned long long)metrics.rejected[r]);
	counter(&b, "comment_ingest_duplicate_total", "Events whose comment_id was already stored from other coordinates.", metrics.duplicate);
	counter(&b, "comment_ingest_replayed_total", "Events replayed from the coordinates they were stored from (output re-emitted).", metrics.replayed);
	counter(&b, "comment_ingest_decisions_consumed_total", "moderation-decided events consumed and committed.", metrics.decisions_consumed);
	sb_printf(&b, "# HELP comment_ingest_decisions_applied_total Moderation decisions applied, by the status change they made.\n"
		      "# TYPE comment_ingest_decisions_applied_total counter\n");
	for (int from = 0; from < STATUS__COUNT; from++)
		for (int k = 0; k < 2; k++) {
			enum comment_status to;
			if (decision_transition((enum decision_kind)k, (enum comment_status)from, &to))
				sb_printf(&b, "comment_ingest_decisions_applied_total{from=\"%s\",to=\"%s\"} %llu\n",
					  comment_status_name((enum comment_status)from), comment_status_name(to),
					  (unsigned long long)metrics.decisions_applied[from][to]);
		}
	counter(&b, "comment_ingest_decisions_noop_total", "Moderation decisions that changed nothing (e.g. approving a published comment).", metrics.decisions_noop);
	counter(&b, "comment_ingest_decisions_duplicate_total", "Moderation decisions whose decision_id was already recorded from other coordinates.", metrics.decisions_duplicate);
	sb_printf(&b, "# HELP comment_ingest_decisions_rejected_total Moderation decisions rejected (moderation-decision-rejected), by reason code.\n"
		      "# TYPE comment_ingest_decisions_rejected_total counter\n");
	for (int r = 1; r < REASON__COUNT; r++)
		if (reason_for((enum reason)r, REASON_FOR_DECISIONS))
			sb_printf(&b, "comment_ingest_decisions_rejected_total{reason=\"%s\"} %llu\n",
				  reason_code((enum reason)r), (unsigned long long)metrics.decisions_rejected[r]);
	counter(&b, "comment_ingest_decisions_replayed_total", "Moderation decisions replayed from the coordinates they were recorded from (event re-emitted).", metrics.decisions_replayed);
	counter(&b, "comment_ingest_batches_total", "Batches committed.", metrics.batches);
	counter(&b, "comment_ingest_transaction_aborts_total", "Kafka transactions aborted and retried.", metrics.tx_aborts);
	counter(&b, "comment_ingest_pauses_total", "Times consumption was paused: PostgreSQL unreachable, or a retry waiting after a failed batch.", metrics.pauses);
	counter(&b, "comment_ingest_postgres_reconnects_total", "PostgreSQL connection attempts after a loss.", metrics.pg_reconnects);
	counter(&b, "comment_ingest_row_isolations_total", "Batches PostgreSQL refused that were stored again one row at a time.", metrics.isolations);
	sb_printf(&b, "# HELP comment_ingest_batch_failures_total Batches that failed and were replayed, by stage and cause.\n"
		      "# TYPE comment_ingest_batch_failures_total counter\n");
	for (int st = 0; st < STAGE__COUNT; st++)
		for (int c = 0; c < CAUSE__COUNT; c++)
			sb_printf(&b, "comment_ingest_batch_failures_total{stage=\"%s\",cause=\"%s\"} %llu\n",
				  stall_stage_name((enum stall_stage)st), stall_cause_name((enum stall_cause)c),
				  (unsigned long long)metrics.batch_failures[st][c]);
	sb_printf(&b, "# HELP comment_ingest_last_commit_timestamp_seconds Unix time of the last batch committed in Kafka (0: none yet).\n"
		      "# TYPE comment_ingest_last_commit_timestamp_seconds gauge\n"
		      "comment_ingest_last_commit_timestamp_seconds %.3f\n", metrics.last_commit_seconds);
	sb_printf(&b, "# HELP comment_ingest_ready 1 while /readyz answers 200 (see /readyz for why not).\n"
		      "# TYPE comment_ingest_ready gauge\ncomment_ingest_ready %d\n", metrics.ready);
	sb_printf(&b, "# HELP comment_ingest_consumer_lag_messages Input messages not yet committed, per assigned partition: "
		      "the last stable offset minus the committed offset.\n"
		      "# TYPE comment_ingest_consumer_lag_messages gauge\n");
	for (size_t i = 0; i < metrics.lag_n; i++) /* topic names are [a-zA-Z0-9._-]: nothing to escape */
		sb_printf(&b, "comment_ingest_consumer_lag_messages{topic=\"%s\",partition=\"%d\"} %lld\n",
			  metrics.lag[i].topic, (int)metrics.lag[i].partition, (long long)metrics.lag[i].messages);
	uint64_t since = metrics.uncommitted_since_ns, now = uv_hrtime();
	sb_printf(&b, "# HELP comment_ingest_oldest_uncommitted_age_seconds How long ago the oldest message consumed "
		      "and not yet committed in Kafka was consumed (0: none).\n"
		      "# TYPE comment_ingest_oldest_uncommitted_age_seconds gauge\n"
		      "comment_ingest_oldest_uncommitted_age_seconds %.3f\n",
		  since && now > since ? (double)(now - since) / 1e9 : 0.0);
	sb_printf(&b, "# HELP comment_ingest_stalled 1 while the batch path is stalled (see /readyz for why).\n"
		      "# TYPE comment_ingest_stalled gauge\ncomment_ingest_stalled %d\n", metrics.stalled);
	sb_printf(&b, "# HELP comment_ingest_backlog_messages Messages collected, in flight, or fetched and waiting in the consumer.\n"
		      "# TYPE comment_ingest_backlog_messages gauge\ncomment_ingest_backlog_messages %zu\n", metrics.backlog);
	sb_printf(&b, "# HELP comment_ingest_batch_duration_seconds Time from a batch's first message to its Kafka commit.\n"
		      "# TYPE comment_ingest_batch_duration_seconds histogram\n");
	for (int i = 0; i < METRICS_BATCH_BUCKETS; i++)
		sb_printf(&b, "comment_ingest_batch_duration_seconds_bucket{le=\"%g\"} %llu\n", batch_bounds[i],
			  (unsigned long long)metrics.batch_buckets[i]);
	sb_printf(&b, "comment_ingest_batch_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		  (unsigned long long)metrics.batch_count);
	sb_printf(&b, "comment_ingest_batch_duration_seconds_sum %.6f\n", metrics.batch_sum_seconds);
	sb_printf(&b, "comment_ingest_batch_duration_seconds_count %llu\n", (unsigned long long)metrics.batch_count);
	sb_printf(&b, "# HELP comment_ingest_phase_duration_seconds Where the time goes: fetch per message "
		      "(record timestamp to taken), the other phases per batch.\n"
		      "# TYPE comment_ingest_phase_duration_seconds histogram\n");
	for (int ph = 0; ph < MP__COUNT; ph++) {
		for (int i = 0; i < METRICS_PHASE_BUCKETS; i++)
			sb_printf(&b, "comment_ingest_phase_duration_seconds_bucket{phase=\"%s\",le=\"%g\"} %llu\n",
				  phase_names[ph], phase_bounds[i], (unsigned long long)metrics.phase_buckets[ph][i]);
		sb_printf(&b, "comment_ingest_phase_duration_seconds_bucket{phase=\"%s\",le=\"+Inf\"} %llu\n",
			  phase_names[ph], (unsigned long long)metrics.phase_count[ph]);
		sb_printf(&b, "comment_ingest_phase_duration_seconds_sum{phase=\"%s\"} %.6f\n", phase_names[ph],
			  metrics.phase_sum_seconds[ph]);
		sb_printf(&b, "comment_ingest_phase_duration_seconds_count{phase=\"%s\"} %llu\n", phase_names[ph],
			  (unsigned long long)metrics.phase_count[ph]);
	}
	sb_printf(&b, "# HELP comment_ingest_http_connections Open connections on the HTTP port.\n"
		      "# TYPE comment_ingest_http_connections gauge\ncomment_ingest_http_connections %llu\n",
		  (unsigned long long)metrics.http_connections);
	counter(&b, "comment_ingest_http_evicted_total", "HTTP connections answered 503 and closed at HTTP_MAX_CONNECTIONS to make room: the oldest still reading its request.", metrics.http_evicted);
	counter(&b, "comment_ingest_http_refused_total", "New HTTP connections answered 503 and closed at HTTP_MAX_CONNECTIONS, every open one answering.", metrics.http_refused);
	sb_printf(&b, "# HELP comment_ingest_http_timeouts_total HTTP connections cut by a timeout: request, idle or write.\n"
		      "# TYPE comment_ingest_http_timeouts_total counter\n"
		      "comment_ingest_http_timeouts_total{timeout=\"request\"} %llu\n"
		      "comment_ingest_http_timeouts_total{timeout=\"idle\"} %llu\n"
		      "comment_ingest_http_timeouts_total{timeout=\"write\"} %llu\n",
		  (unsigned long long)metrics.http_request_timeouts, (unsigned long long)metrics.http_idle_timeouts,
		  (unsigned long long)metrics.http_write_timeouts);
	*len = b.len;
	return b.p;
}
