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

#include "log.h"

#define TX_TIMEOUT_MS 30000
#define TX_RETRIES 5

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
	int handles_open;
};

/* ---- callbacks served by polling (loop thread, or a worker during blocking calls) --------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum log_level l = level <= 3 ? LOG_ERROR : level == 4 ? LOG_WARN : level <= 6 ? LOG_INFO : LOG_DEBUG;
	log_msg(l, "librdkafka", "client", rd_kafka_name(rk), "facility", fac, "detail", buf, (const char *)NULL);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka *k = opaque;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		if (rk == k->consumer)
			atomic_store(&k->consumer_up, 0);
		else
			atomic_store(&k->producer_up, 0);
	}
	log_warn("kafka error", "client", rd_kafka_name(rk), "error", rd_kafka_err2name((rd_kafka_resp_err_t)err),
		 "reason", reason);
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
	while (rd_kafka_poll(k->producer, 0) > 0)
		;
}

static int kqueue_start(struct kafka *k, struct kqueue *kq, rd_kafka_queue_t *q, uv_poll_cb cb)
{
	kq->q = q;
	if (pipe(kq->pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++)
		fcntl(kq->pipe[i], F_SETFL, fcntl(kq->pipe[i], F_GETFL) | O_NONBLOCK);
	rd_kafka_queue_io_event_enable(q, kq->pipe[1], "1", 1);
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

	/* The consumer: offsets move only inside our transactions. */
	static const char *const consumer_kv[] = {
		"enable.auto.commit", "false",
		"enable.auto.offset.store", "false",
		"isolation.level", "read_committed",
		"auto.offset.reset", "earliest",
		"partition.assignment.strategy", "range,roundrobin",
		/* Fetch ahead a few batches, not librdkafka's default 64 MiB per instance: bounds RSS. */
		"queued.max.messages.kbytes", "4096",
		NULL,
	};
	char session[16];
	snprintf(session, sizeof(session), "%d", cfg->session_timeout_ms);
	if (!(conf = base_conf(k, cfg, err, errlen)) ||
	    rd_kafka_conf_set(conf, "group.id", cfg->group_id, err, errlen) ||
	    rd_kafka_conf_set(conf, "session.timeout.ms", session, err, errlen) ||
	    set_all(conf, consumer_kv, err, errlen))
		goto failed;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	if (!(k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen)))
		goto failed;
	conf = NULL; /* now owned by the consumer */
	rd_kafka_set_log_queue(k->consumer, NULL);
	rd_kafka_poll_set_consumer(k->consumer);

	/* The producer: idempotent and transactional, batching with a short linger. */
	static const char *const producer_kv[] = {
		"enable.idempotence", "true",
		"acks", "all",
		"linger.ms", "5",
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
	if (!(k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen)))
		goto failed;
	conf = NULL; /* now owned by the producer */
	rd_kafka_set_log_queue(k->producer, NULL);

	if (kqueue_start(k, &k->cq, rd_kafka_queue_get_consumer(k->consumer), consumer_io_cb) ||
	    kqueue_start(k, &k->pq, rd_kafka_queue_get_main(k->producer), producer_io_cb)) {
		snprintf(err, errlen, "cannot watch the librdkafka queues: %s", strerror(errno));
		goto failed;
	}

	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, cfg->topic_submitted, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(k->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (e) {
		snprintf(err, errlen, "subscribe to %s: %s", cfg->topic_submitted, rd_kafka_err2str(e));
		goto failed;
	}
	return k;

failed:
	if (conf)
		rd_kafka_conf_destroy(conf);
	/* Handles already on the loop cannot be freed here: the caller exits on this error. */
	return NULL;
}

int kafka_init_transactions(struct kafka *k, char *err, size_t errlen)
{
	rd_kafka_error_t *e = rd_kafka_init_transactions(k->producer, TX_TIMEOUT_MS);
	if (e) {
		snprintf(err, errlen, "%s", rd_kafka_error_string(e));
		int fatal = rd_kafka_error_is_fatal(e);
		rd_kafka_error_destroy(e);
		return fatal ? KAFKA_TX_FATAL : -1;
	}
	atomic_store(&k->tx_ready, 1);
	return 0;
}

rd_kafka_message_t *kafka_poll(struct kafka *k)
{
	return rd_kafka_consumer_poll(k->consumer, 0);
}

/* Aborts the current transaction; FATAL when even that fails. */
static enum kafka_tx_result tx_abort(struct kafka *k)
{
	for (int i = 0; i < TX_RETRIES; i++) {
		rd_kafka_error_t *e = rd_kafka_abort_transaction(k->producer, TX_TIMEOUT_MS);
		if (!e)
			return KAFKA_TX_ABORTED;
		int retriable = rd_kafka_error_is_retriable(e);
		log_warn("kafka abort_transaction failed", "error", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		if (!retriable)
			break;
	}
	return KAFKA_TX_FATAL;
}

/* Classifies a failed transactional call: retry it, abort, or give up. */
static int tx_failed(rd_kafka_error_t *e, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, rd_kafka_error_string(e));
	int r = rd_kafka_error_is_retriable(e) ? 1 : rd_kafka_error_txn_requires_abort(e) ? 0 : -1;
	rd_kafka_error_destroy(e);
	return r; /* 1 retry, 0 abort, -1 fatal */
}

enum kafka_tx_result kafka_commit(struct kafka *k, const struct kafka_out *out, size_t n,
				  rd_kafka_topic_partition_list_t *offsets, char *err, size_t errlen)
{
	rd_kafka_error_t *e = rd_kafka_begin_transaction(k->producer);
	int r;
	if (e) {
		r = tx_failed(e, "begin_transaction", err, errlen);
		return KAFKA_TX_FATAL;
	}
	for (size_t i = 0; i < n; i++) {
		for (;;) {
			rd_kafka_resp_err_t pe = rd_kafka_producev(
				k->producer, RD_KAFKA_V_TOPIC(out[i].topic),
				RD_KAFKA_V_KEY(out[i].key, out[i].key_len),
				RD_KAFKA_V_VALUE((void *)out[i].value, out[i].value_len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (pe == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
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

	rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(k->consumer);
	for (int attempt = 0;; attempt++) {
		e = rd_kafka_send_offsets_to_transaction(k->producer, offsets, cgmd, TX_TIMEOUT_MS);
		if (!e)
			break;
		r = tx_failed(e, "send_offsets_to_transaction", err, errlen);
		if (r == 1 && attempt < TX_RETRIES)
			continue;
		rd_kafka_consumer_group_metadata_destroy(cgmd);
		return r >= 0 ? tx_abort(k) : KAFKA_TX_FATAL;
	}
	rd_kafka_consumer_group_metadata_destroy(cgmd);

	for (int attempt = 0;; attempt++) {
		e = rd_kafka_commit_transaction(k->producer, TX_TIMEOUT_MS);
		if (!e)
			return KAFKA_TX_OK;
		r = tx_failed(e, "commit_transaction", err, errlen);
		if (r == 1 && attempt < TX_RETRIES)
			continue;
		return r >= 0 ? tx_abort(k) : KAFKA_TX_FATAL;
	}
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

size_t kafka_queued(struct kafka *k)
{
	return k->cq.q && !atomic_load(&k->closing) ? rd_kafka_queue_length(k->cq.q) : 0;
}

int kafka_is_ready(const struct kafka *k, char *why, size_t whylen)
{
	if (!atomic_load(&k->tx_ready))
		snprintf(why, whylen, "transactions not initialized");
	else if (!atomic_load(&k->consumer_up) || !atomic_load(&k->producer_up))
		snprintf(why, whylen, "no broker connection");
	else
		return 1;
	return 0;
}

void kafka_unwatch(struct kafka *k)
{
	uv_poll_stop(&k->cq.poll);
	uv_poll_stop(&k->pq.poll);
}

void kafka_shutdown(struct kafka *k)
{
	atomic_store(&k->closing, 1);
	rd_kafka_queue_io_event_enable(k->cq.q, -1, NULL, 0);
	rd_kafka_queue_io_event_enable(k->pq.q, -1, NULL, 0);
	rd_kafka_queue_destroy(k->cq.q);
	rd_kafka_queue_destroy(k->pq.q);
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(k->consumer);
	if (e)
		log_warn("kafka consumer close", "error", rd_kafka_err2str(e));
	rd_kafka_destroy(k->consumer);
	rd_kafka_flush(k->producer, 5000);
	rd_kafka_destroy(k->producer);
	k->consumer = k->producer = NULL;
}

static void kqueue_closed(uv_handle_t *h)
{
	struct kafka *k = h->data;
	struct kqueue *kq = h == (uv_handle_t *)&k->cq.poll ? &k->cq : &k->pq;
	close(kq->pipe[0]);
	close(kq->pipe[1]);
	if (--k->handles_open == 0)
		free(k);
}

void kafka_close(struct kafka *k)
{
	uv_close((uv_handle_t *)&k->cq.poll, kqueue_closed);
	uv_close((uv_handle_t *)&k->pq.poll, kqueue_closed);
}
