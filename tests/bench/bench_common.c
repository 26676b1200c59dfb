/* bench_common.c - what the bench tools in tests/bench share; see bench_common.h. */
#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

const char *bench_prog = "bench";
volatile sig_atomic_t bench_stop;
int bench_assigned_count;

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

void bench_catch_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
}

double bench_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t bench_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

const char *bench_bootstrap(void)
{
	const char *bootstrap = getenv("KAFKA_BOOTSTRAP_SERVERS");
	return bootstrap && *bootstrap ? bootstrap : "127.0.0.1:9092";
}

void bench_group_name(char *out, size_t len, const char *what)
{
	snprintf(out, len, "bench-%s-%d-%ld", what, (int)getpid(), (long)time(NULL));
}

void bench_kafka_conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[512];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "%s: %s=%s: %s\n", bench_prog, k, v, err);
		exit(2);
	}
}

rd_kafka_conf_t *bench_kafka_conf(const char *bootstrap, const char *client_id)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bench_kafka_conf_set(conf, "bootstrap.servers", bootstrap);
	bench_kafka_conf_set(conf, "client.id", client_id);
	return conf;
}

rd_kafka_conf_t *bench_kafka_consumer_conf(const char *bootstrap, const char *client_id, const char *group,
					   int auto_commit)
{
	rd_kafka_conf_t *conf = bench_kafka_conf(bootstrap, client_id);
	bench_kafka_conf_set(conf, "group.id", group);
	bench_kafka_conf_set(conf, "enable.auto.commit", auto_commit ? "true" : "false");
	bench_kafka_conf_set(conf, "isolation.level", "read_committed");
	bench_kafka_conf_set(conf, "auto.offset.reset", "earliest");
	return conf;
}

rd_kafka_t *bench_kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "%s: %s\n", bench_prog, err);
		exit(1);
	}
	if (type == RD_KAFKA_CONSUMER)
		rd_kafka_poll_set_consumer(rk);
	return rk;
}

void bench_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, int n)
{
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(sub, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e) {
		fprintf(stderr, "%s: subscribe: %s\n", bench_prog, rd_kafka_err2str(e));
		exit(1);
	}
}

void bench_kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			      void *opaque)
{
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_assign(rk, parts);
		bench_assigned_count = parts->cnt;
	} else {
		rd_kafka_assign(rk, NULL);
		bench_assigned_count = 0;
	}
}

int bench_kafka_message_failed(rd_kafka_message_t *m)
{
	if (!m->err)
		return 0;
	if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		fprintf(stderr, "%s: %s\n", bench_prog, rd_kafka_message_errstr(m));
	rd_kafka_message_destroy(m);
	return 1;
}

rd_kafka_resp_err_t bench_kafka_produce(rd_kafka_t *rk, const char *topic, const char *key, size_t key_len,
					const char *value, size_t len)
{
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			return err;
		rd_kafka_poll(rk, 5);
	}
}

/* ---- body text -------------------------------------------------------------------------------- */

const char *const bench_sentences[BENCH_SENTENCES] = {
	"Asking for a temporary halt because of cold weather is a humanitarian gesture.",
	"It feels like a band-aid on a bullet wound, but it is better than nothing.",
	"The real settlement needs to address the core issues on both sides.",
	"India has always advocated for dialogue and diplomacy, hope that prevails.",
	"The real question is about the terms of the settlement and who enforces them.",
	"As a neutral observer, I hope for a solution that respects sovereignty.",
	"Living in Delhi but following this closely every single day.",
	"Trust is at an all-time low and it is a very difficult road ahead.",
	"This war is about more than two leaders, it is about people suffering.",
	"The human cost is staggering. Peace can't come soon enough.",
	"If mediation can bring both sides to the table, it's a step forward.",
	"\"Zelensky and Putin hate each other\" is stating the obvious, no?",
	"Will it be just, or will it be a deal forced by the powerful?",
	"The invitation to Moscow for talks is a significant move.",
	"However, with violence continuing on the ground, is the environment truly conducive for peace?",
	"Respectfully, I have to criticize the framing here.",
	"The world needs stability. This conflict has gone on for too long.",
	"Any genuine peace effort deserves support, whoever brokers it.",
	"Energy prices in Europe will tell us more than any press conference.",
	"My grandparents lived through a winter like this and never spoke of it.",
	"Sanctions have not worked the way anyone promised they would.",
	"I would like to see the actual text of the proposal before judging it.",
	"Ceasefires without monitoring tend to collapse within weeks.",
	"Good reporting, thank you for covering the humanitarian side as well.",
};

const char *const bench_intl[BENCH_INTL] = {
	"Café owners in Kyiv say the winter has been the hardest yet. Très difficile.",
	"Negotiations in Abu Dhabi or Moscow — either way, talks beat shelling. 🙏🏽",
	"Les négociations doivent reprendre, sinon l'hiver sera terrible pour tous.",
	"Переговоры нужны, но доверия нет. Посмотрим, что будет на выходных.",
	"平和を願っています。対話が続くことを期待しています。",
	"शांति ही एकमात्र रास्ता है, बातचीत जारी रहनी चाहिए।",
	"Ojalá que los diálogos sigan adelante. ¡Basta ya de guerra! 🕊️",
};
