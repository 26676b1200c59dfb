/* pipeline.c - the batch path: collect, decide, store in PostgreSQL, then commit outputs and offsets in Kafka.
 *
 * Three stages, read top-down:
 *   collecting
 *     pipeline_pump      poll the consumer, a slice per turn of the loop, also while the stages ahead
 *                        work; batch_take decodes, normalizes, validates and triages each message
 *   deciding (the front, one batch at a time)
 *     batch_run          the collected batch moves on as soon as the front is free
 *     batch_looked_up    batch_decide: replays, duplicates and the history rules
 *     batch_store        one transaction: the comments' rows, then the moderation decisions
 *     batch_stored       PostgreSQL committed: batch_match finds each comment's row; when PostgreSQL
 *                        refused the rows, row isolation (isolate.c) stores them one at a time;
 *                        moderate_match reads what became of each decision (moderate.c)
 *     batch_ready        the stored batch joins the Kafka stage's queue; the front is free again
 *   committing (txq.c)
 *     txq_start          off the loop: build the events of every queued batch from their stored
 *                        rows, then one Kafka transaction with all their events and offsets
 *     batch_committed    count the outcomes; the batches are free again
 * While a Kafka transaction is in flight, the front decides and stores the
 * next batches, which queue (txq.h bounds them) and all go into the next
 * transaction: a comment waits for the rest of one transaction at most, not
 * one per batch ahead of it. Each batch is looked up after the previous
 * one's PostgreSQL commit, so it sees its rows, and Kafka transactions commit
 * in batch order. A batch moves on when the stage ahead is free, so batches
 * grow with the load.
 *
 * A failure of any batch rewinds the consumer, once no stage is busy, to the
 * first offsets of every batch not committed in Kafka; the partitions stay
 * paused for a backoff that grows while failures repeat (stall.c), and the
 * replay rule makes the retry produce the same output.
 */
#include "pipeline.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "isolate.h"
#include "lag.h"
#include "log.h"
#include "metrics.h"
#include "moderate.h"
#include "stall.h"
#include "txq.h"

#define TICK_MS 1000 /* how often the backlog is sampled for stall detection */
/*
 * Messages taken per turn of the loop: collecting goes on while PostgreSQL
 * and Kafka work on the batches ahead, and their answers are served between
 * two slices instead of after a whole batch.
 */
#define COLLECT_SLICE 128
#define LAG_INTERVAL_MS 1000 /* how often the consumer lag is asked for (lag.c) */
/*
 * How long a stop lets the batches in flight finish before it interrupts the
 * Kafka calls that block them (a broker that is gone): the rest of a stop,
 * leaving the group included, takes at most about 4 s more, so that the
 * process ends within 10 s of SIGTERM in every state.
 */
#define STOP_GRACE_MS 4000

enum pstate {
	P_INIT,      /* initializing transactions (off the loop) */
	P_RUNNING,   /* the stages below are working */
	P_REWINDING, /* seeking back after a failure (off the loop) */
	P_CLOSING,   /* leaving the group (off the loop) */
	P_CLOSED,
};

/* The collecting batch, the front's, and those the Kafka stage holds (waiting, and in its transaction). */
#define PIPELINE_BATCHES (2 + 2 * TXQ_MAX)
/*
 * Batches keep their buffers when cleared, for the next batch to fill
 * without allocating. Full batches are never more than six at a time (the
 * collecting and front batches, TXQ_FULL_BATCHES' worth waiting and as many
 * in the transaction), and batch_spare takes the lowest free index: a batch
 * past the first six is in use only while more than six are, the small
 * batches of light load. Those give their buffers back when cleared, so that
 * the buffers of six batches at most stay with the process.
 */
#define PIPELINE_BATCHES_KEPT (2 + 2 * TXQ_FULL_BATCHES)

enum front_state {
	F_DECIDING, /* a PostgreSQL request is in flight */
	F_WAITING,  /* stored; waits for room in the Kafka stage's queue */
	F_FAILED,   /* its step failed; kept for its offsets until the rewind */
};

struct pipeline {
	uv_loop_t *loop;
	const struct config *cfg;
	struct rules rules;
	struct kafka *kafka;
	struct lag *lag;
	struct store *store;
	enum pstate state;
	int stopping;
	int exit_status;
	int store_down;  /* PostgreSQL is not ready: the partitions are paused */
	int backing_off; /* a retry waits after a failure: the partitions are paused */
	int paused;      /* either of the above, as last applied to the consumer */
	int failed;      /* a batch failed: rewind once neither stage is busy */
	int retry_ms;    /* the backoff stall_failure chose for that failure */
	int fatal;       /* the producer cannot go on, or a stop gave up on it: close once neither stage is busy */
	int revoking;    /* partitions are revoked: poll no more; release them once no batch is in flight */
	int consumer_fatal; /* the consumer failed fatally (fenced): stop, exit status 1 */
	pipeline_stopped_cb stopped_cb;
	void *arg;

	struct batch batches[PIPELINE_BATCHES];
	struct batch *collect; /* the batch being collected (maybe empty) */
	struct batch *front;   /* the batch being decided and stored, or NULL */
	enum front_state front_state;
	struct txq txq; /* the Kafka stage: stored batches, and the transaction in flight */

	struct stall stall;
	uv_timer_t timer; /* BATCH_MAX_WAIT_MS, or the backoff before a retry */
	uv_timer_t tick;  /* samples the backlog for stall detection */
	uv_timer_t stop_timer; /* STOP_GRACE_MS after a stop: interrupt what still blocks */
	uv_idle_t collect_idle; /* the next turn of the loop collects more (COLLECT_SLICE) */
	int open_handles;
	uv_work_t work;   /* init, rewind and shutdown */
	rd_kafka_topic_partition_list_t *rewind_offsets;
	int work_result;
	char work_err[512];
};

static void pipeline_pump(struct pipeline *p);
static void pipeline_settle(struct pipeline *p);
static void batch_run(struct pipeline *p);
static void front_fail(struct pipeline *p, enum stall_stage stage, enum stall_cause cause, const char *why);
static void pipeline_fail(struct pipeline *p, enum stall_stage stage, enum stall_cause cause, const char *why);
static void pipeline_rewind(struct pipeline *p);
static void pipeline_close(struct pipeline *p);
static void pipeline_sample_backlog(struct pipeline *p);

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A batch that has no stage (there is always one: PIPELINE_BATCHES counts every stage's). */
static struct batch *batch_spare(struct pipeline *p)
{
	for (int i = 0;; i++)
		if (&p->batches[i] != p->collect && &p->batches[i] != p->front && !txq_holds(&p->txq, &p->batches[i]))
			return &p->batches[i];
}

/* A batch is done with (committed, or dropped): empty again, and without its buffers past the kept ones. */
static void batch_release(struct pipeline *p, struct batch *b)
{
	if (b - p->batches < PIPELINE_BATCHES_KEPT)
		batch_clear(b);
	else
		batch_free(b); /* clears it, then frees its buffers; the next batch_take allocates them again */
}

/* Whether a stored batch waits for the Kafka stage or is in its transaction. */
static int kafka_stage_busy(const struct pipeline *p)
{
	return p->txq.ntx > 0 || p->txq.nready > 0;
}

/* Drops every batch: after a rewind, or when the producer cannot go on. */
static void pipeline_drop_batches(struct pipeline *p)
{
	for (int i = 0; i < PIPELINE_BATCHES; i++)
		batch_release(p, &p->batches[i]);
	p->front = NULL;
	txq_reset(&p->txq);
}

/* Pauses the partitions while PostgreSQL is down or a retry waits; resumes them when neither holds. */
static void pipeline_apply_pause(struct pipeline *p)
{
	int want = p->store_down || p->backing_off;
	if (want == p->paused)
		return;
	p->paused = want;
	if (want)
		metrics.pauses++;
	kafka_pause(p->kafka, want);
}

/*
 * The oldest message consumed and not committed was consumed when the oldest
 * batch still held began: after a commit or a revocation, from the batches
 * left (none: 0). A rewind keeps the figure: its messages come again.
 */
static void pipeline_note_uncommitted(struct pipeline *p)
{
	uint64_t oldest = 0;
	for (int i = 0; i < PIPELINE_BATCHES; i++)
		if (p->batches[i].n > 0 && (!oldest || p->batches[i].first_ns < oldest))
			oldest = p->batches[i].first_ns;
	metrics.uncommitted_since_ns = oldest;
}

/* ---- collecting ----------------------------------------------------------------------------- */

static void timer_pump_cb(uv_timer_t *t)
{
	pipeline_pump(t->data);
}

static void collect_idle_cb(uv_idle_t *h)
{
	uv_idle_stop(h);
	pipeline_pump(h->data);
}

/*
 * The consumer's queue may hold more messages than a slice took, and its fd
 * wakes the loop only when the queue turns non-empty: the next turn of the
 * loop goes on collecting.
 */
static void collect_later(struct pipeline *p)
{
	uv_idle_start(&p->collect_idle, collect_idle_cb);
}

/*
 * Polls the consumer into the collecting batch (up to BATCH_MAX_MESSAGES, a
 * slice of COLLECT_SLICE per turn of the loop), and hands that batch to the
 * front when the front is free: once nothing more is waiting, or when it is
 * full or BATCH_MAX_WAIT_MS old. Collecting goes on while the front and the
 * Kafka stage work, so that a full batch waits when the front frees. While
 * stopping it takes no new work; it leaves once no batch is in flight. After a revocation it polls nothing
 * until the batches in flight have committed, with the offsets of the group
 * generation that read them; then it releases the partitions. While a retry
 * waits (backing off) it polls nothing.
 */
static void pipeline_pump(struct pipeline *p)
{
	if (p->state != P_RUNNING || p->failed || p->fatal)
		return;
	struct batch *b = p->collect;
	size_t max = (size_t)p->cfg->batch_max_messages;
again:
	if (p->revoking) {
		if (p->front || kafka_stage_busy(p))
			return;
		p->revoking = 0;
		kafka_revoke_done(p->kafka);
	}
	if (p->backing_off)
		return; /* retry_cb pumps */
	int more = 0; /* the slice ended: more messages may be waiting */
	for (int taken = 0; !p->stopping && !p->revoking && !p->consumer_fatal && b->n < max; taken++) {
		if (taken == COLLECT_SLICE) {
			more = 1;
			break;
		}
		rd_kafka_message_t *m = kafka_poll(p->kafka);
		if (!m)
			break;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("kafka consume error", "error", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		if (batch_take(b, m, &p->rules, now_us())) {
			pipeline_fail(p, STAGE_COLLECT, CAUSE_MEMORY, "out of memory collecting a batch");
			return;
		}
		if (!metrics.uncommitted_since_ns)
			metrics.uncommitted_since_ns = uv_hrtime();
	}
	if (p->consumer_fatal) {
		/* The batches in flight end (a fenced consumer's offsets do not commit: their transaction
		 * aborts), then the pipeline closes and the process exits 1, for its supervisor to restart. */
		p->consumer_fatal = 0;
		pipeline_stop(p, 1);
		return;
	}
	if (p->state != P_RUNNING || p->failed)
		return; /* kafka_poll served an error */
	if (p->revoking)
		goto again; /* kafka_poll served a revocation */
	if (more)
		collect_later(p); /* also while the front is free: a batch runs once nothing more is waiting */
	if (p->front || more)
		return; /* the front's batch moves on first, then this one follows */
	if (b->n == 0) {
		if (p->stopping && !kafka_stage_busy(p))
			pipeline_close(p);
		return;
	}
	if (!store_is_ready(p->store))
		return; /* store_state pumps once PostgreSQL is ready */
	uint64_t wait_ns = (uint64_t)p->cfg->batch_max_wait_ms * 1000000, age = uv_hrtime() - b->first_ns;
	if (p->stopping || b->n >= max || age >= wait_ns) {
		batch_run(p);
		collect_later(p); /* the next batch fills while this one is decided */
	} else if (!uv_is_active((uv_handle_t *)&p->timer)) {
		uv_timer_start(&p->timer, timer_pump_cb, (wait_ns - age) / 1000000 + 1, 0);
	}
}

static void kafka_event(struct kafka *k, enum kafka_event ev, void *arg)
{
	(void)k;
	struct pipeline *p = arg;
	switch (ev) {
	case KAFKA_READABLE:
		pipeline_pump(p);
		break;
	case KAFKA_ASSIGNED:
		break;
	case KAFKA_FATAL:
		p->consumer_fatal = 1; /* pipeline_pump, which served this, stops */
		break;
	case KAFKA_REVOKED:
		lag_forget(p->lag);
		/* What was collected is not stored: its offsets stay where they are, for the new owner. */
		if (p->collect->n > 0) {
			log_info("dropping the collected batch of revoked partitions");
			uv_timer_stop(&p->timer);
			batch_release(p, p->collect);
			pipeline_note_uncommitted(p);
		}
		p->revoking = 1; /* pipeline_pump, which served this, releases the partitions */
		break;
	}
}

static void store_state(struct store *s, int ready, void *arg)
{
	(void)s;
	struct pipeline *p = arg;
	p->store_down = !ready;
	pipeline_apply_pause(p);
	if (ready)
		pipeline_pump(p); /* a batch may be waiting for PostgreSQL */
	else
		metrics.pg_reconnects++;
}

/* ---- deciding ------------------------------------------------------------------------------- */

static void batch_looked_up(struct store *st, const struct store_error *err, PGresult **res, void *arg);
static void batch_store(struct pipeline *p);
static void batch_stored(struct store *st, const struct store_error *err, PGresult **res, void *arg);
static void batch_ready(struct pipeline *p);

/* What went wrong inside the service (not in PostgreSQL) while deciding or matching a batch. */
static enum stall_cause internal_cause(const char *why)
{
	return strncmp(why, "out of memory", 13) == 0 ? CAUSE_MEMORY : CAUSE_INTERNAL;
}

/* The collected batch becomes the front's: its new comments are looked up before the rules decide them. */
static void batch_run(struct pipeline *p)
{
	struct batch *b = p->collect;
	uv_timer_stop(&p->timer);
	p->front = b;
	p->front_state = F_DECIDING;
	p->collect = batch_spare(p);
	b->phase_ns[PH_RUN] = uv_hrtime();
	b->lookup.rate_window_s = p->rules.rate_window_s;
	b->lookup.duplicate_window_s = p->rules.duplicate_window_s;
	if (b->lookup.count == 0)
		batch_store(p); /* no new comment: only decisions, or nothing, to store */
	else if (store_lookup(p->store, &b->lookup, batch_looked_up) != 0)
		front_fail(p, STAGE_LOOKUP, CAUSE_CONNECTION, "postgres unavailable");
}

/* The lookup answered: batch_decide sorts replays, duplicates and new comments, then the rows are stored. */
static void batch_looked_up(struct store *st, const struct store_error *err, PGresult **res, void *arg)
{
	(void)st;
	struct pipeline *p = arg;
	struct batch *b = p->front;
	if (err) {
		front_fail(p, STAGE_LOOKUP, stall_cause_of_sqlstate(err->sqlstate), err->message);
		return;
	}
	if (p->failed || p->fatal) {
		front_fail(p, STAGE_LOOKUP, CAUSE_INTERNAL, "an earlier batch failed");
		return;
	}
	b->phase_ns[PH_LOOKED_UP] = uv_hrtime();
	const char *why = batch_decide(b, res[STORE_RES_LOOKUP], &p->rules);
	if (why)
		front_fail(p, STAGE_LOOKUP, internal_cause(why), why);
	else
		batch_store(p);
}

/* One transaction: the batch's new comments and replays, then its moderation decisions; or nothing to store. */
static void batch_store(struct pipeline *p)
{
	struct batch *b = p->front;
	if (!batch_has_store_work(b))
		batch_ready(p);
	else if (store_submit(p->store, &b->rows, &b->decisions, batch_stored) != 0)
		front_fail(p, STAGE_STORE, CAUSE_CONNECTION, "postgres unavailable");
}

/*
 * PostgreSQL committed the batch's rows and decisions, or refused them. A
 * refusal of the rows that one row can cause sends them again one at a time
 * (row isolation), with the decisions after them: the refused ones are
 * rejected with storage_refused and the rest are stored. Any other error, a
 * refusal of the canary too, or any error applying the decisions (a decision
 * that passed validation has no value PostgreSQL can refuse) fails the batch:
 * a dependency fault, retried with backoff, that rejects nobody.
 */
static void batch_stored(struct store *st, const struct store_error *err, PGresult **res, void *arg)
{
	(void)st;
	struct pipeline *p = arg;
	struct batch *b = p->front;
	if (err && err->step == STORE_STEP_ROWS && !p->failed && !p->fatal && !b->isolated &&
	    isolate_row_can_cause(err->sqlstate)) {
		log_debug("postgres refused the batch; storing its rows one at a time", "sqlstate", err->sqlstate,
			  "error", err->message);
		metrics.isolations++;
		b->isolated = 1;
		if (store_submit_each(p->store, &b->rows, &b->decisions, batch_stored) != 0)
			front_fail(p, STAGE_STORE, CAUSE_CONNECTION, "postgres unavailable");
		return;
	}
	if (err) {
		front_fail(p, STAGE_STORE, stall_cause_of_sqlstate(err->sqlstate), err->message);
		return;
	}
	if (p->failed || p->fatal) {
		front_fail(p, STAGE_STORE, CAUSE_INTERNAL, "an earlier batch failed");
		return;
	}
	b->phase_ns[PH_STORED] = uv_hrtime();
	int refused = 0;
	const char *why = b->isolated ? isolate_apply(b, res, &refused) : batch_match(b, res);
	if (!why)
		why = moderate_match(b, res[STORE_RES_DECISIONS]);
	if (why) {
		front_fail(p, STAGE_STORE, internal_cause(why), why);
		return;
	}
	if (refused) {
		char n[16];
		snprintf(n, sizeof(n), "%d", refused);
		log_warn("postgres refused rows; they are rejected with storage_refused", "rows", n);
	}
	for (int i = 0; i < STORE_RES__COUNT; i++) {
		b->rows_res[i] = res[i];
		res[i] = NULL; /* now owned by the batch: its events are built off the loop */
	}
	batch_ready(p);
}

/* ---- committing ----------------------------------------------------------------------------- */

/*
 * The Kafka stage's transaction ended (txq.c: the events of every batch it
 * took, then one transaction with their messages and offsets). Committed:
 * each batch's outcomes count and the batch is free again. Aborted: the
 * batches keep their messages, whose offsets join the rewind.
 */
static void batch_committed(uv_work_t *w, int status)
{
	(void)status;
	struct txq *q = w->data;
	struct pipeline *p = q->tx[0]->p;
	switch (q->result) {
	case KAFKA_TX_OK:
		for (int i = 0; i < q->ntx; i++) {
			batch_account(q->tx[i]);
			lag_committed(p->lag, q->tx[i]->commit_offsets);
			batch_release(p, q->tx[i]);
		}
		txq_finish(q);
		stall_commit(&p->stall, uv_hrtime());
		pipeline_note_uncommitted(p);
		pipeline_sample_backlog(p);
		break;
	case TXQ_BUILD_FAILED:
		txq_finish(q);
		pipeline_fail(p, STAGE_KAFKA, CAUSE_MEMORY, q->err);
		return;
	case KAFKA_TX_ABORTED:
		txq_finish(q);
		metrics.tx_aborts++;
		pipeline_fail(p, STAGE_KAFKA, CAUSE_KAFKA, q->err);
		return;
	case KAFKA_TX_INTERRUPTED:
		/* The stop gave up on it: its offsets were not committed, so the next owner replays the
		 * batches from the rows PostgreSQL already has; the broker aborts the open transaction. */
		txq_finish(q);
		log_warn("stopping: the batch's Kafka transaction was abandoned; it will be replayed", "error", q->err);
		p->fatal = 1;
		pipeline_settle(p);
		return;
	default:
		txq_finish(q);
		log_error("kafka producer failed fatally; stopping", "error", q->err);
		p->fatal = 1;
		pipeline_stop(p, 1);
		return;
	}
	pipeline_settle(p);
}

/* The front batch is decided and stored: it joins the Kafka stage's queue, now or when there is room. */
static void batch_ready(struct pipeline *p)
{
	p->front_state = F_WAITING;
	pipeline_settle(p);
}

/*
 * Moves things on after either stage finished a step: a failure rewinds and
 * a fatal error closes once neither stage is busy; otherwise a waiting batch
 * commits as soon as the Kafka stage is free, and the front collects.
 */
static void pipeline_settle(struct pipeline *p)
{
	if (p->state != P_RUNNING)
		return;
	int busy = p->txq.ntx > 0 || (p->front && p->front_state == F_DECIDING);
	if (p->fatal) {
		if (!busy) {
			pipeline_drop_batches(p);
			pipeline_close(p);
		}
		return;
	}
	if (p->failed) {
		if (!busy)
			pipeline_rewind(p);
		return;
	}
	if (p->front && p->front_state == F_WAITING && txq_has_room(&p->txq, p->front)) {
		txq_push(&p->txq, p->front);
		p->front = NULL; /* the front takes the next batch at once */
	}
	txq_start(&p->txq, p->loop, batch_committed);
	if (p->front && p->front_state == F_WAITING && txq_has_room(&p->txq, p->front)) {
		txq_push(&p->txq, p->front); /* no room before: it waits for the next transaction */
		p->front = NULL;
	}
	pipeline_pump(p);
}

/* ---- failures: rewind, back off and replay ---------------------------------------------------- */

/*
 * Marks the pipeline failed; the batches not committed in Kafka are rewound
 * once neither stage is busy. Only the first failure of an episode counts
 * (stall_failure logs it, counts it and chooses the backoff); a stage that
 * then finds the pipeline failed just ends its step.
 */
static void pipeline_fail(struct pipeline *p, enum stall_stage stage, enum stall_cause cause, const char *why)
{
	if (!p->failed)
		p->retry_ms = stall_failure(&p->stall, stage, cause, why, uv_hrtime());
	p->failed = 1;
	uv_timer_stop(&p->timer);
	pipeline_settle(p);
}

/* The front batch's step failed (or found the pipeline failed): the step is over, the batch stays for its offsets. */
static void front_fail(struct pipeline *p, enum stall_stage stage, enum stall_cause cause, const char *why)
{
	p->front_state = F_FAILED;
	pipeline_fail(p, stage, cause, why);
}

static void rewind_work(uv_work_t *w)
{
	struct pipeline *p = w->data;
	if (p->rewind_offsets->cnt > 0)
		kafka_rewind(p->kafka, p->rewind_offsets);
}

/* The backoff is over: the partitions resume and the replay begins. */
static void retry_cb(uv_timer_t *t)
{
	struct pipeline *p = t->data;
	p->backing_off = 0;
	pipeline_apply_pause(p);
	pipeline_pump(p);
}

static void rewound(uv_work_t *w, int status)
{
	(void)status;
	struct pipeline *p = w->data;
	rd_kafka_topic_partition_list_destroy(p->rewind_offsets);
	p->rewind_offsets = NULL;
	pipeline_drop_batches(p);
	p->failed = 0;
	p->state = P_RUNNING;
	if (p->stopping) {
		pipeline_close(p);
		return;
	}
	p->backing_off = 1;
	pipeline_apply_pause(p);
	uv_timer_start(&p->timer, retry_cb, (uint64_t)p->retry_ms, 0);
}

/* Drops every batch and moves the consumer back to their first offsets, so that they are consumed again. */
static void pipeline_rewind(struct pipeline *p)
{
	p->state = P_REWINDING;
	uv_timer_stop(&p->timer);
	p->rewind_offsets = rd_kafka_topic_partition_list_new(8);
	for (int i = 0; i < PIPELINE_BATCHES; i++) {
		const rd_kafka_topic_partition_list_t *first = p->batches[i].first_offsets;
		for (int j = 0; first && j < first->cnt; j++)
			batch_track_offsets(NULL, p->rewind_offsets, first->elems[j].topic, first->elems[j].partition,
					    first->elems[j].offset);
	}
	p->work.data = p;
	uv_queue_work(p->loop, &p->work, rewind_work, rewound);
}

/* ---- stall detection ------------------------------------------------------------------------ */

/* The messages collected, in flight, or fetched and waiting in the consumer, for stall detection. */
static void pipeline_sample_backlog(struct pipeline *p)
{
	size_t backlog = kafka_queued(p->kafka);
	for (int i = 0; i < PIPELINE_BATCHES; i++)
		backlog += p->batches[i].n;
	stall_backlog(&p->stall, backlog, uv_hrtime());
}

/* Each second, so that a pipeline that stops moving is noticed without any event. */
static void tick_cb(uv_timer_t *t)
{
	pipeline_sample_backlog(t->data);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void init_work(uv_work_t *w)
{
	struct pipeline *p = w->data;
	p->work_err[0] = '\0';
	p->work_result = kafka_init_transactions(p->kafka, p->work_err, sizeof(p->work_err));
	if (p->work_result == 0) {
		const struct config *c = p->cfg;
		const char *const outputs[] = {c->topic_published, c->topic_moderation, c->topic_rejected,
					       c->topic_moderated, c->topic_decision_rejected};
		kafka_warm_up(p->kafka, outputs, (int)(sizeof(outputs) / sizeof(outputs[0])));
	}
}

static void init_done(uv_work_t *w, int status)
{
	(void)status;
	struct pipeline *p = w->data;
	if (p->work_result == 0) {
		log_info("kafka transactions initialized", "transactional_id", p->cfg->transactional_id);
		p->state = P_RUNNING;
		if (p->stopping)
			pipeline_close(p);
		else
			pipeline_pump(p);
		return;
	}
	if (p->work_result == KAFKA_TX_FATAL || p->stopping) {
		if (p->work_result == KAFKA_TX_INTERRUPTED)
			log_info("stopped before kafka transactions were initialized");
		else
			log_error("kafka init_transactions failed", "error", p->work_err);
		p->state = P_RUNNING;
		pipeline_stop(p, p->stopping ? p->exit_status : 1);
		return;
	}
	log_warn("kafka init_transactions failed; retrying", "error", p->work_err);
	pipeline_start(p);
}

void pipeline_start(struct pipeline *p)
{
	p->state = P_INIT;
	if (!uv_is_active((uv_handle_t *)&p->tick)) {
		stall_init(&p->stall, p->cfg->stall_timeout_ms, uv_hrtime());
		uv_timer_start(&p->tick, tick_cb, TICK_MS, TICK_MS);
	}
	p->work.data = p;
	uv_queue_work(p->loop, &p->work, init_work, init_done);
}

static void shutdown_work(uv_work_t *w)
{
	struct pipeline *p = w->data;
	lag_join(p->lag); /* its queries use the consumer: done before it goes */
	kafka_shutdown(p->kafka);
}

static void shutdown_done(uv_work_t *w, int status)
{
	(void)status;
	struct pipeline *p = w->data;
	p->state = P_CLOSED;
	log_info("left the consumer group");
	p->stopped_cb(p, p->exit_status, p->arg);
}

/* Leaves the group and destroys the Kafka clients, off the loop. */
static void pipeline_close(struct pipeline *p)
{
	if (p->state == P_CLOSING || p->state == P_CLOSED)
		return;
	p->state = P_CLOSING;
	uv_timer_stop(&p->timer);
	uv_timer_stop(&p->tick);
	uv_timer_stop(&p->stop_timer);
	uv_idle_stop(&p->collect_idle);
	if (p->revoking) {
		p->revoking = 0;
		kafka_revoke_done(p->kafka);
	}
	kafka_unwatch(p->kafka);
	p->work.data = p;
	uv_queue_work(p->loop, &p->work, shutdown_work, shutdown_done);
}

/* The grace is over: whatever still blocks on Kafka gives up, and the stop goes on. */
static void stop_timer_cb(uv_timer_t *t)
{
	struct pipeline *p = t->data;
	log_warn("stopping: interrupting the Kafka calls that still block");
	kafka_interrupt(p->kafka);
}

void pipeline_stop(struct pipeline *p, int status)
{
	if (!p->stopping || status > p->exit_status)
		p->exit_status = status;
	if (!p->stopping) {
		if (p->state == P_INIT)
			kafka_interrupt(p->kafka); /* nothing to finish: init_transactions gives up now */
		else
			uv_timer_start(&p->stop_timer, stop_timer_cb, STOP_GRACE_MS, 0);
	}
	p->stopping = 1;
	lag_stop(p->lag);
	if (p->state != P_RUNNING)
		return; /* the step in flight ends in pipeline_close */
	/* What was collected is not stored yet: drop it, its offsets stay for the next owner. */
	uv_timer_stop(&p->timer);
	p->backing_off = 0; /* a retry that waits is not needed any more */
	batch_release(p, p->collect);
	pipeline_settle(p); /* the batches in flight finish, then pipeline_close */
}

struct pipeline *pipeline_create(uv_loop_t *loop, const struct config *cfg, const struct rules *rules,
				 pipeline_stopped_cb stopped_cb, void *arg, char *err, size_t errlen)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->loop = loop;
	p->cfg = cfg;
	p->rules = *rules; /* now owned by the pipeline */
	p->stopped_cb = stopped_cb;
	p->arg = arg;
	uv_timer_init(loop, &p->timer);
	uv_timer_init(loop, &p->tick);
	uv_timer_init(loop, &p->stop_timer);
	uv_idle_init(loop, &p->collect_idle);
	p->timer.data = p->tick.data = p->stop_timer.data = p->collect_idle.data = p;
	p->open_handles = 4;
	for (int i = 0; i < PIPELINE_BATCHES; i++) {
		p->batches[i].cfg = cfg;
		p->batches[i].p = p;
	}
	p->collect = &p->batches[0];
	p->kafka = kafka_create(loop, cfg, kafka_event, p, err, errlen);
	if (!p->kafka)
		return NULL; /* the caller exits */
	txq_init(&p->txq, p->kafka, TXQ_FULL_BATCHES * (size_t)cfg->batch_max_messages);
	p->lag = lag_create(kafka_consumer(p->kafka), LAG_INTERVAL_MS);
	if (!p->lag) {
		snprintf(err, errlen, "cannot start the consumer lag thread");
		return NULL;
	}
	p->store = store_create(loop, cfg->database_url, cfg->database_password, store_state, p);
	if (!p->store) {
		snprintf(err, errlen, "cannot create the PostgreSQL connection");
		return NULL;
	}
	return p;
}

int pipeline_readiness(struct pipeline *p, char **out)
{
	char kwhy[384] = ""; /* the reason and Kafka's last error */
	int kafka_ok = p->state != P_CLOSED && kafka_is_ready(p->kafka, kwhy, sizeof(kwhy));
	int pg_ok = store_is_ready(p->store);
	int assigned = kafka_assigned(p->kafka);
	if (p->state != P_CLOSED)
		pipeline_sample_backlog(p); /* so that /readyz and the stalled gauge agree */
	uint64_t now = uv_hrtime(); /* after the sample, which may set the progress time to its own now */
	int stalled = p->stall.stalled;
	int ready = kafka_ok && pg_ok && assigned > 0 && !p->stopping && !p->store_down && !stalled &&
		    p->state != P_INIT;
	json_t *o = json_pack("{s:s, s:{s:b, s:s}, s:{s:b, s:s}, s:o, s:i, s:b, s:b}",
			      "status", ready ? "ready" : "not_ready",
			      "kafka", "ok", kafka_ok, "detail", kafka_ok ? "connected" : kwhy,
			      "postgres", "ok", pg_ok, "detail", pg_ok ? "connected" : store_status(p->store),
			      "pipeline", stall_json(&p->stall, now),
			      "partitions_assigned", assigned,
			      "paused", p->paused,
			      "stopping", p->stopping);
	if (out)
		*out = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12)) : NULL;
	json_decref(o);
	return ready;
}

void pipeline_sample_metrics(struct pipeline *p)
{
	metrics.ready = pipeline_readiness(p, NULL);
	lag_publish(p->lag);
}

static void store_closed(void *arg)
{
	struct pipeline *p = arg;
	free(p);
}

/* Every timer and the idle handle are closed: the store closes last, and its close callback frees p. */
static void handle_closed(uv_handle_t *h)
{
	struct pipeline *p = h->data;
	if (--p->open_handles == 0)
		store_close(p->store, store_closed, p);
}

void pipeline_set_rules(struct pipeline *p, const struct rules *rules)
{
	rules_free(&p->rules);
	p->rules = *rules; /* now owned by the pipeline */
}

void pipeline_free(struct pipeline *p)
{
	for (int i = 0; i < PIPELINE_BATCHES; i++)
		batch_free(&p->batches[i]);
	txq_free(&p->txq);
	rules_free(&p->rules);
	lag_free(p->lag);
	kafka_close(p->kafka);
	uv_close((uv_handle_t *)&p->timer, handle_closed);
	uv_close((uv_handle_t *)&p->tick, handle_closed);
	uv_close((uv_handle_t *)&p->stop_timer, handle_closed);
	uv_close((uv_handle_t *)&p->collect_idle, handle_closed);
}
