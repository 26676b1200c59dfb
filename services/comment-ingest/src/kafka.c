/* kafka.c - librdkafka on the loop: the group consumer, the transactional producer, and their event fds. */
#include "kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kconf.h"
#include "log.h"
#include "secret.h"

#define TX_TIMEOUT_MS 30000 /* how long a transactional call keeps trying */
#define TX_SLICE_MS 500      /* a blocking call gives up within this after kafka_interrupt() */
#define FLUSH_MS 100         /* kafka_commit's own flush, before the commit's (1-3 ms with a broker up) */
#define TX_RETRY_PAUSE_US 100000
#define KAFKA_PRODUCER_RETRY_BACKOFF_MS "2" /* see producer_kv */
#define WARM_UP_TIMEOUT_MS 2000 /* kafka_warm_up: per output topic */
#define CLOSE_TIMEOUT_MS 3000 /* leaving the group; without a coordinator it would wait a session */

/* A librdkafka queue whose io-event fd (a pipe) the loop polls. */
struct kqueue {
	rd_kafka_queue_t *q;
	int pipe[2];
	uv_poll_t poll;
};

struct kafka {
	uv_loop_t *loop;
	rd_kafka_t *consumer;
	rd_kafka_t *producer;
	struct kqueue cq; /* consumer queue (also carries the consumer's main queue) */
	struct kqueue pq; /* producer main queue */
	kafka_event_cb cb;
	void *arg;
	int assigned;
	int paused;
	int revoke_pending; /* revoked; released by kafka_revoke_done() */
	atomic_int closing;
	atomic_int consumer_up;
	atomic_int producer_up;
	atomic_int tx_ready;
	atomic_int consumer_fatal; /* e.g. fenced by another instance with our group.instance.id */
	atomic_int interrupted; /* kafka_interrupt(): the blocking calls give up */
	atomic_int flushing;    /* a worker's flush serves the producer's queue (kafka_commit) */
	int handles_open;
	uv_mutex_t error_lock;  /* error_cb and stats_cb (any polling thread) against kafka_is_ready (loop) */
	char last_error[320];   /* the last client error (name: reason) until a broker is up again, e.g. an authentication failure */
};

/* ---- callbacks served by polling (loop thread, or a worker during blocking calls) --------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum log_level l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
	log_msg(l, "librdkafka", "client", rd_kafka_name(rk), "facility", fac, "detail", buf, (const char *)NULL);
}

/*
 * A fatal error ends a client for good. For the consumer that is
 * FENCED_INSTANCE_ID: an instance with the same group.instance.id joined the
 * group (a restart of this one while it still runs, or two instances given
 * one id), and the broker gave it this member's partitions. librdkafka
 * reports a consumer's fatal error as a consumed message with
 * RD_KAFKA_RESP_ERR__FATAL (kafka_poll), served on the loop thread while the
 * pipeline runs, so the pipeline hears of it there and stops; a producer's
 * through error_cb, on the loop or in a commit's flush (kafka_commit), where
 * it is only logged: the producer's next transaction fails on its own.
 * Reported once per client.
 */
static void fatal_error(struct kafka *k, rd_kafka_t *rk)
{
	char why[512];
	int consumer = rk == k->consumer;
	if (consumer && atomic_exchange(&k->consumer_fatal, 1))
		return;
	rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
	log_error(orig == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID
			  ? "kafka consumer fenced: another instance joined the group with this KAFKA_GROUP_INSTANCE_ID"
			  : "kafka client failed fatally",
		  "client", rd_kafka_name(rk), "error", rd_kafka_err2name(orig), "reason", why);
	if (consumer && !atomic_load(&k->closing))
		k->cb(k, KAFKA_FATAL, k->arg);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka *k = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		fatal_error(k, rk);
		return;
	}
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		if (rk == k->consumer)
			atomic_store(&k->consumer_up, 0);
		else
			atomic_store(&k->producer_up, 0);
	}
	log_warn("kafka error", "client", rd_kafka_name(rk), "error", rd_kafka_err2name((rd_kafka_resp_err_t)err),
		 "reason", reason);
	/* For /readyz: the cause (a refused password, an unknown CA, a wrong protocol), not its consequence. */
	char line[sizeof(k->last_error)], one[sizeof(line) - 40]; /* room for the error name */
	log_oneline(reason, one, sizeof(one));
	snprintf(line, sizeof(line), "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), one);
	uv_mutex_lock(&k->error_lock);
	if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || !k->last_error[0])
		secret_redact_into(line, k->last_error, sizeof(k->last_error));
	uv_mutex_unlock(&k->error_lock);
}

/* Statistics (every second): is any broker connection up? */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct kafka *k = opaque;
	json_t *root = json_loadb(json, len, 0, NULL);
	json_t *brokers = json_object_get(root, "brokers"), *b;
	const char *name;
	int up = 0;
	json_object_foreach(brokers, name, b)
	{
		const char *state = json_string_value(json_object_get(b, "state"));
		if (state && strcmp(state, "UP") == 0)
			up = 1;
	}
	json_decref(root);
	atomic_store(rk == k->consumer ? &k->consumer_up : &k->producer_up, up);
	if (up) {
		uv_mutex_lock(&k->error_lock);
		k->last_error[0] = '\0';
		uv_mutex_unlock(&k->error_lock);
	}
	return 0; /* librdkafka frees json */
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			 void *opaque)
{
	struct kafka *k = opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_assign(rk, parts);
		k->assigned = parts->cnt;
		if (k->paused)
			rd_kafka_pause_partitions(rk, parts);
		char count[16];
		snprintf(count, sizeof(count), "%d", parts->cnt);
		log_info("partitions assigned", "count", count);
		if (!atomic_load(&k->closing))
			k->cb(k, KAFKA_ASSIGNED, k->arg);
	} else {
		k->assigned = 0;
		log_info("partitions revoked");
		if (atomic_load(&k->closing)) {
			rd_kafka_assign(rk, NULL);
			return;
		}
		/* The group waits for kafka_revoke_done(): the batches in flight commit first, with
		 * offsets of the generation that read them. */
		k->revoke_pending = 1;
		k->cb(k, KAFKA_REVOKED, k->arg);
	}
}

void kafka_revoke_done(struct kafka *k)
{
	if (!k->revoke_pending)
		return;
	k->revoke_pending = 0;
	rd_kafka_assign(k->consumer, NULL);
	log_info("partitions released");
}

/* ---- event fds on the loop ------------------------------------------------------------------ */

static void drain_pipe(int fd)
{
	char buf[64];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void consumer_io_cb(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct kafka *k = h->data;
	drain_pipe(k->cq.pipe[0]);
	k->cb(k, KAFKA_READABLE, k->arg);
}

static void producer_io_cb(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	struct kafka *k = h->data;
	drain_pipe(k->pq.pipe[0]);
	if (atomic_load(&k->flushing))
		return; /* kafka_commit's flush serves what is there, and wakes the loop after it */
	while (rd_kafka_poll(k->producer, 0) > 0)
		;
}

/*
 * A delivery report, in the thread that polls the producer: kafka_commit's
 * flush (txq.c's worker) or the loop. Nothing to do: a message that failed
 * fails its transaction's commit. It is set for its wake-up: without a
 * delivery callback, librdkafka 2.0 drops delivered messages without queueing
 * anything, and rd_kafka_flush, which polls the producer in slices of 10 ms
 * until no message is left, slept the rest of its slice after the last
 * delivery. That put ~10 ms into every commit.
 */
static void delivered_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)m;
	(void)opaque;
}

static int kqueue_start(struct kafka *k, struct kqueue *kq, rd_kafka_queue_t *q, uv_poll_cb cb)
{
	kq->q = q;
	if (pipe(kq->pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		fcntl(kq->pipe[i], F_SETFL, fcntl(kq->pipe[i], F_GETFL) | O_NONBLOCK);
	rd_kafka_queue_io_event_enable(q, kq->pipe[1], "1", 1);
	/* Events queued before this may never wake the loop: with librdkafka's debug lines from rd_kafka_new
	 * queued (KAFKA_CONFIG_FILE debug=...), the fd stayed silent and /readyz at 503 for good. One wake-up
	 * now serves whatever is there. */
	if (write(kq->pipe[1], "1", 1) != 1)
		return -1;
	if (uv_poll_init(k->loop, &kq->poll, kq->pipe[0]) != 0)
		return -1;
	kq->poll.data = k;
	k->handles_open++;
	return uv_poll_start(&kq->poll, UV_READABLE, cb);
}

/* ---- creation ------------------------------------------------------------------------------ */

static rd_kafka_conf_t *base_conf(struct kafka *k, const struct config *cfg, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_bootstrap, err, errlen) ||
	    rd_kafka_conf_set(conf, "client.id", "comment-ingest", err, errlen) ||
	    rd_kafka_conf_set(conf, "statistics.interval.ms", "1000", err, errlen) ||
	    rd_kafka_conf_set(conf, "log.queue", "true", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_stats_cb(conf, stats_cb);
	return conf;
}

/*
 * Every client is made here: the operator's settings (security, KAFKA_CONFIG_FILE) go on last, so that the
 * file may tune what the service only defaults. Takes conf in every case (librdkafka owns it on success).
 */
static rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, const struct config *cfg, char *err,
			      size_t errlen)
{
	rd_kafka_t *rk = NULL;
	if (kconf_apply(&cfg->kconf, conf, err, errlen) == 0 && (rk = rd_kafka_new(type, conf, err, errlen)))
		return rk;
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static int set_all(rd_kafka_conf_t *conf, const char *const *kv, char *err, size_t errlen)
{
	for (; kv[0]; kv += 2)
		if (rd_kafka_conf_set(conf, kv[0], kv[1], err, errlen) != RD_KAFKA_CONF_OK)
			return -1;
	return 0;
}

struct kafka *kafka_create(uv_loop_t *loop, const struct config *cfg, kafka_event_cb cb, void *arg,
			   char *err, size_t errlen)
{
	struct kafka *k = calloc(1, sizeof(*k));
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *topics = NULL;
	if (!k)
		return NULL;
	k->loop = loop;
	k->cb = cb;
	k->arg = arg;
	k->cq.pipe[0] = k->cq.pipe[1] = k->pq.pipe[0] = k->pq.pipe[1] = -1;
	uv_mutex_init(&k->error_lock);
	char security[512];
	kconf_describe(&cfg->kconf, security, sizeof(security));
	log_info("kafka client settings", "bootstrap", cfg->kafka_bootstrap, "settings", security);

	/* The consumer: offsets move only inside our transactions. */
	static const char *const consumer_kv[] = {
		"enable.auto.commit", "false",
		"enable.auto.offset.store", "false",
		"isolation.level", "read_committed",
		"auto.offset.reset", "earliest",
		"partition.assignment.strategy", "range,roundrobin",
		/*
		 * Fetch ahead about half a second of capacity, not librdkafka's default 64 MiB: bounds RSS.
		 * Once the queue reaches this, librdkafka 2.0.2 stops fetching until its broker thread
		 * wakes up for something else (up to 1 s; librdkafka issue #2879, fetch.queue.backoff.ms
		 * came in 2.3): at 4 MiB the batches ran dry for ~0.2 s every ten. Small fetches keep the
		 * queue from overshooting the limit by a whole fetch per partition.
		 */
		"queued.max.messages.kbytes", "10240",
		"max.partition.fetch.bytes", "262144",
		/* A fetch that holds only partitions with nothing to read (an empty decisions topic, say)
		 * waits this long at the broker: after an assignment, the first one went out before the
		 * other partitions' offsets were known and held their messages back for the default 500 ms. */
		"fetch.wait.max.ms", "100",
		NULL,
	};
	char session[16];
	snprintf(session, sizeof(session), "%d", cfg->session_timeout_ms);
	if (!(conf = base_conf(k, cfg, err, errlen)) ||
	    rd_kafka_conf_set(conf, "group.id", cfg->group_id, err, errlen) ||
	    /* Static membership: a restarted instance takes its partitions back at once instead of
	     * waiting for its dead predecessor's session to time out (see consumer_leave for a stop). */
	    rd_kafka_conf_set(conf, "group.instance.id", cfg->group_instance_id, err, errlen) ||
	    rd_kafka_conf_set(conf, "session.timeout.ms", session, err, errlen) ||
	    set_all(conf, consumer_kv, err, errlen))
		goto failed;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	k->consumer = client_new(RD_KAFKA_CONSUMER, conf, cfg, err, errlen);
	conf = NULL; /* now owned by the consumer, or destroyed */
	if (!k->consumer)
		goto failed;
	rd_kafka_set_log_queue(k->consumer, NULL);
	rd_kafka_poll_set_consumer(k->consumer);

	/* The producer: idempotent and transactional, batching with a short linger. */
	static const char *const producer_kv[] = {
		"enable.idempotence", "true",
		"acks", "all",
		"linger.ms", "5",
		/*
		 * Right after a commit the broker still writes its markers, and the
		 * next transaction's first AddPartitionsToTxn gets CONCURRENT_TRANSACTIONS
		 * until it is done (a few ms). librdkafka retries after retry.backoff.ms,
		 * 100 ms by default, which put a 100 ms floor under every other
		 * transaction (KAFKA-5477; the Java client uses 20 ms for this case).
		 * Reconnects have their own backoff (reconnect.backoff.ms).
		 */
		"retry.backoff.ms", KAFKA_PRODUCER_RETRY_BACKOFF_MS,
		"compression.codec", "lz4",
		NULL,
	};
	/* A delivery that cannot succeed fails before the transaction times out, so it aborts cleanly. */
	char tx_timeout[16], msg_timeout[16];
	snprintf(tx_timeout, sizeof(tx_timeout), "%d", cfg->transaction_timeout_ms);
	snprintf(msg_timeout, sizeof(msg_timeout), "%d", cfg->transaction_timeout_ms - 5000);
	if (!(conf = base_conf(k, cfg, err, errlen)) ||
	    rd_kafka_conf_set(conf, "transactional.id", cfg->transactional_id, err, errlen) ||
	    rd_kafka_conf_set(conf, "transaction.timeout.ms", tx_timeout, err, errlen) ||
	    rd_kafka_conf_set(conf, "message.timeout.ms", msg_timeout, err, errlen) ||
	    set_all(conf, producer_kv, err, errlen))
		goto failed;
	rd_kafka_conf_set_dr_msg_cb(conf, delivered_cb);
	k->producer = client_new(RD_KAFKA_PRODUCER, conf, cfg, err, errlen);
	conf = NULL; /* now owned by the producer, or destroyed */
	if (!k->producer)
		goto failed;
	rd_kafka_set_log_queue(k->producer, NULL);

	if (kqueue_start(k, &k->cq, rd_kafka_queue_get_consumer(k->consumer), consumer_io_cb) ||
	    kqueue_start(k, &k->pq, rd_kafka_queue_get_main(k->producer), producer_io_cb)) {
		snprintf(err, errlen, "cannot watch the librdkafka queues: %s", strerror(errno));
		goto failed;
	}

	/* Both inputs: a batch holds messages of either, and one transaction commits the offsets of both. */
	topics = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(topics, cfg->topic_submitted, RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, cfg->topic_decided, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(k->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		snprintf(err, errlen, "subscribe to %s and %s: %s", cfg->topic_submitted, cfg->topic_decided,
			 rd_kafka_err2str(e));
		goto failed;
	}
	return k;

failed:
	if (conf)
		rd_kafka_conf_destroy(conf);
	/* Handles already on the loop cannot be freed here: the caller exits on this error. Without them
	 * (a client librdkafka refused, e.g. a key it cannot read) everything goes now. */
	if (k->handles_open == 0) {
		if (k->cq.q)
			rd_kafka_queue_destroy(k->cq.q);
		if (k->pq.q)
			rd_kafka_queue_destroy(k->pq.q);
		if (k->consumer)
			rd_kafka_destroy_flags(k->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
		if (k->producer)
			rd_kafka_destroy(k->producer);
		for (int i = 0; i < 2; i++) {
			if (k->cq.pipe[i] >= 0)
				close(k->cq.pipe[i]);
			if (k->pq.pipe[i] >= 0)
				close(k->pq.pipe[i]);
		}
		uv_mutex_destroy(&k->error_lock);
		free(k);
	}
	return NULL;
}

/* The transactional calls that block, run by tx_run. */
enum tx_op { OP_INIT, OP_SEND_OFFSETS, OP_COMMIT, OP_ABORT };

struct tx_args {
	const rd_kafka_topic_partition_list_t *offsets;
	const rd_kafka_consumer_group_metadata_t *cgmd;
};

static const char *const tx_op_names[] = {"init_transactions", "send_offsets_to_transaction",
					   "commit_transaction", "abort_transaction"};

static rd_kafka_error_t *tx_once(struct kafka *k, enum tx_op op, const struct tx_args *a, int timeout_ms)
{
	switch (op) {
	case OP_INIT: return rd_kafka_init_transactions(k->producer, timeout_ms);
	case OP_SEND_OFFSETS: return rd_kafka_send_offsets_to_transaction(k->producer, a->offsets, a->cgmd, timeout_ms);
	case OP_COMMIT: return rd_kafka_commit_transaction(k->producer, timeout_ms);
	case OP_ABORT: return rd_kafka_abort_transaction(k->producer, timeout_ms);
	}
	return NULL;
}

/*
 * Runs a blocking transactional call in slices of TX_SLICE_MS. A retriable
 * error (a timeout, no coordinator yet) calls it again: librdkafka resumes
 * init, commit and abort, and send_offsets is sent again with the same
 * offsets. It stops when the call ends, when TX_TIMEOUT_MS have passed
 * (returning the last error), or when kafka_interrupt() was called: then it
 * returns KAFKA_TX_INTERRUPTED within a slice. Returns 0, or -1 with *e set
 * (the caller destroys it), or KAFKA_TX_INTERRUPTED.
 */
static int tx_run(struct kafka *k, enum tx_op op, const struct tx_args *a, rd_kafka_error_t **e)
{
	uint64_t start = uv_hrtime();
	for (;;) {
		*e = tx_once(k, op, a, TX_SLICE_MS);
		if (!*e)
			return 0;
		if (!rd_kafka_error_is_retriable(*e) || uv_hrtime() - start >= (uint64_t)TX_TIMEOUT_MS * 1000000)
			return -1;
		int timed_out = rd_kafka_error_code(*e) == RD_KAFKA_RESP_ERR__TIMED_OUT;
		rd_kafka_error_destroy(*e);
		*e = NULL;
		if (atomic_load(&k->interrupted))
			return KAFKA_TX_INTERRUPTED;
		if (!timed_out)
			usleep(TX_RETRY_PAUSE_US); /* e.g. no coordinator yet: do not spin */
	}
}

void kafka_interrupt(struct kafka *k)
{
	atomic_store(&k->interrupted, 1);
}

int kafka_init_transactions(struct kafka *k, char *err, size_t errlen)
{
	rd_kafka_error_t *e = NULL;
	int r = tx_run(k, OP_INIT, NULL, &e);
	if (r == KAFKA_TX_INTERRUPTED) {
		snprintf(err, errlen, "init_transactions: interrupted by the stop");
		return r;
	}
	if (r) {
		log_oneline(rd_kafka_error_string(e), err, errlen);
		int fatal = rd_kafka_error_is_fatal(e);
		rd_kafka_error_destroy(e);
		return fatal ? KAFKA_TX_FATAL : -1;
	}
	atomic_store(&k->tx_ready, 1);
	return 0;
}

void kafka_warm_up(struct kafka *k, const char *const *topics, int n)
{
	for (int i = 0; i < n && !atomic_load(&k->interrupted); i++) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->producer, topics[i], NULL);
		if (!rkt)
			continue;
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_resp_err_t e = rd_kafka_metadata(k->producer, 0, rkt, &md, WARM_UP_TIMEOUT_MS);
		if (e)
			log_debug("kafka metadata of an output topic not known yet", "topic", topics[i], "error",
				  rd_kafka_err2str(e));
		else
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(rkt); /* the producer keeps what it learned */
	}
}

rd_kafka_message_t *kafka_poll(struct kafka *k)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, 0);
	if (m && m->err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_message_destroy(m);
		fatal_error(k, k->consumer);
		return NULL;
	}
	return m;
}

/* Aborts the current transaction: ABORTED, INTERRUPTED, or FATAL when even that fails. */
static enum kafka_tx_result tx_abort(struct kafka *k)
{
	rd_kafka_error_t *e = NULL;
	int r = tx_run(k, OP_ABORT, NULL, &e);
	if (r == 0)
		return KAFKA_TX_ABORTED;
	if (r == KAFKA_TX_INTERRUPTED)
		return KAFKA_TX_INTERRUPTED;
	char msg[512];
	log_oneline(rd_kafka_error_string(e), msg, sizeof(msg));
	log_warn("kafka abort_transaction failed", "error", msg);
	rd_kafka_error_destroy(e);
	return KAFKA_TX_FATAL;
}

/*
 * Ends a failed transactional call: after an error that requires it (or a
 * retriable one that lasted TX_TIMEOUT_MS) the transaction is aborted and the
 * batch replayed; any other error is fatal. The message goes to err.
 */
static enum kafka_tx_result tx_failed(struct kafka *k, enum tx_op op, int r, rd_kafka_error_t *e, char *err,
				      size_t errlen)
{
	if (r == KAFKA_TX_INTERRUPTED) {
		snprintf(err, errlen, "%s: interrupted by the stop", tx_op_names[op]);
		return KAFKA_TX_INTERRUPTED;
	}
	char msg[400];
	log_oneline(rd_kafka_error_string(e), msg, sizeof(msg));
	snprintf(err, errlen, "%s: %s", tx_op_names[op], msg);
	int abort = rd_kafka_error_is_retriable(e) || rd_kafka_error_txn_requires_abort(e);
	rd_kafka_error_destroy(e);
	return abort ? tx_abort(k) : KAFKA_TX_FATAL;
}

enum kafka_tx_result kafka_commit(struct kafka *k, const struct kafka_out *out, size_t n,
				  rd_kafka_topic_partition_list_t *offsets, struct kafka_tx_times *times, char *err,
				  size_t errlen)
{
	uint64_t t0 = uv_hrtime(), t1;
	memset(times, 0, sizeof(*times));
	rd_kafka_error_t *e = rd_kafka_begin_transaction(k->producer);
	int r;
	if (e) {
		char msg[400];
		log_oneline(rd_kafka_error_string(e), msg, sizeof(msg));
		snprintf(err, errlen, "begin_transaction: %s", msg);
		rd_kafka_error_destroy(e);
		return KAFKA_TX_FATAL;
	}
	/*
	 * The offsets before the messages. Right after the previous commit the
	 * coordinator still writes its markers, and answers both AddOffsetsToTxn
	 * and AddPartitionsToTxn with CONCURRENT_TRANSACTIONS for a few ms.
	 * librdkafka 2.0 retries the offsets after retry.backoff.ms (2 ms here) but
	 * the partitions after a fixed 20 ms, and messages produced first sent
	 * AddPartitionsToTxn first: 5 % of the transactions at 1,000 comments/s
	 * took 20 ms more. Once the offsets are in, the coordinator is done with
	 * the previous transaction and the partitions register at once.
	 */
	rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(k->consumer);
	struct tx_args args = {offsets, cgmd};
	r = tx_run(k, OP_SEND_OFFSETS, &args, &e);
	rd_kafka_consumer_group_metadata_destroy(cgmd);
	if (r)
		return tx_failed(k, OP_SEND_OFFSETS, r, e, err, errlen);
	t1 = uv_hrtime();
	times->offsets_ns = t1 - t0;
	t0 = t1;
	for (size_t i = 0; i < n; i++) {
		for (;;) {
			rd_kafka_resp_err_t pe = rd_kafka_producev(
				k->producer, RD_KAFKA_V_TOPIC(out[i].topic),
				RD_KAFKA_V_KEY(out[i].key, out[i].key_len),
				RD_KAFKA_V_VALUE((void *)out[i].value, out[i].value_len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				if (atomic_load(&k->interrupted)) {
					snprintf(err, errlen, "produce: interrupted by the stop");
					return KAFKA_TX_INTERRUPTED;
				}
				rd_kafka_poll(k->producer, 10);
				continue;
			}
			if (pe) {
				snprintf(err, errlen, "produce to %s: %s", out[i].topic, rd_kafka_err2str(pe));
				return tx_abort(k);
			}
			break;
		}
	}

	t1 = uv_hrtime();
	times->produce_ns = t1 - t0;
	t0 = t1;
	/*
	 * The deliveries first, with the loop off the producer's queue: a report
	 * the loop took did not wake the flush, which then slept out its 10 ms
	 * slice (delivered_cb). With the messages produced right before it, that
	 * happened in over 10 % of the commits at 1,000 comments/s (commit p90
	 * 13.7 ms, 5.0 ms with the loop off). At most FLUSH_MS: the commit's own
	 * flush waits for what is left, with the loop serving the queue again
	 * (logs, errors and statistics, which /readyz reads). The loop drained its
	 * fd meanwhile: a wake-up now serves what the flush left.
	 */
	if (!atomic_load(&k->interrupted)) {
		atomic_store(&k->flushing, 1);
		rd_kafka_flush(k->producer, FLUSH_MS);
		atomic_store(&k->flushing, 0);
	}
	if (write(k->pq.pipe[1], "1", 1) != 1) {
		/* the pipe is full: a wake-up is pending already */
	}
	r = tx_run(k, OP_COMMIT, NULL, &e);
	if (r)
		return tx_failed(k, OP_COMMIT, r, e, err, errlen);
	times->commit_ns = uv_hrtime() - t0;
	return KAFKA_TX_OK;
}

int kafka_rewind(struct kafka *k, rd_kafka_topic_partition_list_t *offsets)
{
	rd_kafka_error_t *e = rd_kafka_seek_partitions(k->consumer, offsets, 10000);
	if (e) {
		log_warn("kafka seek failed", "error", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return -1;
	}
	return 0;
}

void kafka_pause(struct kafka *k, int pause)
{
	if (k->paused == pause)
		return;
	k->paused = pause;
	rd_kafka_topic_partition_list_t *parts = NULL;
	if (rd_kafka_assignment(k->consumer, &parts) == 0 && parts) {
		if (pause)
			rd_kafka_pause_partitions(k->consumer, parts);
		else
			rd_kafka_resume_partitions(k->consumer, parts);
		rd_kafka_topic_partition_list_destroy(parts);
	}
	log_info(pause ? "consumption paused" : "consumption resumed");
}

int kafka_assigned(const struct kafka *k)
{
	return k->assigned;
}

rd_kafka_t *kafka_consumer(struct kafka *k)
{
	return k->consumer;
}

size_t kafka_queued(struct kafka *k)
{
	return k->cq.q && !atomic_load(&k->closing) ? rd_kafka_queue_length(k->cq.q) : 0;
}

int kafka_is_ready(const struct kafka *k, char *why, size_t whylen)
{
	if (atomic_load(&k->consumer_fatal))
		snprintf(why, whylen, "consumer failed fatally (see the log)");
	else if (!atomic_load(&k->tx_ready))
		snprintf(why, whylen, "transactions not initialized");
	else if (!atomic_load(&k->consumer_up) || !atomic_load(&k->producer_up))
		snprintf(why, whylen, "no broker connection");
	else
		return 1;
	/* The lock is not part of what the caller reads: kafka_is_ready stays a const query. */
	uv_mutex_t *lock = (uv_mutex_t *)&k->error_lock;
	uv_mutex_lock(lock);
	if (k->last_error[0]) {
		size_t n = strlen(why);
		snprintf(why + n, whylen - n, " (last error: %s)", k->last_error);
	}
	uv_mutex_unlock(lock);
	return 0;
}

void kafka_unwatch(struct kafka *k)
{
	uv_poll_stop(&k->cq.poll);
	uv_poll_stop(&k->pq.poll);
}

/*
 * A static member (group.instance.id) sends no LeaveGroup when it closes
 * (KIP-345; librdkafka skips it once the consumer terminates), so the group
 * would keep its partitions until the session times out. A stop hands them
 * over at once: unsubscribing first leaves the group as a dynamic member
 * would. librdkafka clears the member id when it sends the LeaveGroup (or
 * gives up on it without a coordinator), which is what this waits for, serving
 * the revocation (rebalance_cb unassigns) meanwhile, until deadline. A crash
 * sends nothing: then the restart with the same id takes the partitions back.
 */
static void consumer_leave(struct kafka *k, uint64_t deadline)
{
	if (rd_kafka_fatal_error(k->consumer, NULL, 0))
		return; /* fenced: the group has dropped this member already */
	rd_kafka_resp_err_t e = rd_kafka_unsubscribe(k->consumer);
	if (e) {
		log_warn("kafka unsubscribe failed", "error", rd_kafka_err2str(e));
		return;
	}
	while (uv_hrtime() < deadline) {
		char *id = rd_kafka_memberid(k->consumer);
		int left = !id || !*id;
		if (id)
			rd_kafka_mem_free(k->consumer, id);
		if (left)
			return;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, 50);
		if (m)
			rd_kafka_message_destroy(m); /* fetched, not processed: its offset stays for the next owner */
	}
	log_warn("kafka: leaving the group timed out; the group drops this member when its session ends");
}

/*
 * Leaves the group, but waits at most CLOSE_TIMEOUT_MS: without a
 * coordinator, rd_kafka_consumer_close() would wait up to a session timeout.
 * The group then drops the member when its session ends.
 */
static void consumer_close_bounded(struct kafka *k)
{
	uint64_t deadline = uv_hrtime() + (uint64_t)CLOSE_TIMEOUT_MS * 1000000;
	consumer_leave(k, deadline);
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->consumer);
	rd_kafka_error_t *e = rd_kafka_consumer_close_queue(k->consumer, q);
	int closing = e == NULL; /* the close started; wait for it */
	if (e) {
		log_warn("kafka consumer close", "error", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
	while (closing && !rd_kafka_consumer_closed(k->consumer) && uv_hrtime() < deadline) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100); /* serves rebalance_cb, which unassigns */
		if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
			rd_kafka_assign(k->consumer, NULL);
		if (ev)
			rd_kafka_event_destroy(ev);
	}
	if (closing && !rd_kafka_consumer_closed(k->consumer))
		log_warn("kafka consumer close timed out; the group drops this member when its session ends");
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy_flags(k->consumer, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void kafka_shutdown(struct kafka *k)
{
	atomic_store(&k->closing, 1);
	rd_kafka_queue_io_event_enable(k->cq.q, -1, NULL, 0);
	rd_kafka_queue_io_event_enable(k->pq.q, -1, NULL, 0);
	rd_kafka_queue_destroy(k->cq.q);
	rd_kafka_queue_destroy(k->pq.q);
	consumer_close_bounded(k);
	/* Every committed transaction was delivered; what is left belongs to an abandoned one, which the
	 * broker aborts (or the next instance with this transactional.id does). */
	rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_destroy(k->producer);
	k->consumer = k->producer = NULL;
}

static void kqueue_closed(uv_handle_t *h)
{
	struct kafka *k = h->data;
	struct kqueue *kq = h == (uv_handle_t *)&k->cq.poll ? &k->cq : &k->pq;
	close(kq->pipe[0]);
	close(kq->pipe[1]);
	if (--k->handles_open == 0) {
		uv_mutex_destroy(&k->error_lock);
		free(k);
	}
}

void kafka_close(struct kafka *k)
{
	uv_close((uv_handle_t *)&k->cq.poll, kqueue_closed);
	uv_close((uv_handle_t *)&k->pq.poll, kqueue_closed);
}
