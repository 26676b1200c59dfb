/* bare_consumer.c - the Kafka limit for `make bench`: a bare librdkafka consumer reading a topic.
 *
 * Usage: bare_consumer -t TOPIC[,TOPIC...] [-b SERVERS] [-g GROUP] [-n EXPECT] [-T TIMEOUT_S] [-q]
 *
 * Reads from the beginning with a fresh consumer group and the service's consumer settings
 * (read_committed, no auto commit), one message at a time with rd_kafka_consumer_poll as the
 * service does, and touches every payload. Stops after EXPECT messages, or when every assigned
 * partition is at its end (EOF), or after TIMEOUT_S (default 300) seconds.
 * The driver also uses it to count the output events a read_committed consumer sees.
 *
 * Prints one JSON object on stdout: messages, bytes, seconds from the first message to the last,
 * events/s, and the count per topic.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define MAX_TOPICS 8

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[512];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "bare_consumer: %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

static int assigned_count;

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *op)
{
	(void)op;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		rd_kafka_assign(rk, parts);
		assigned_count = parts->cnt;
	} else {
		rd_kafka_assign(rk, NULL);
		assigned_count = 0;
	}
}

int main(int argc, char **argv)
{
	const char *bootstrap = getenv("KAFKA_BOOTSTRAP_SERVERS");
	char *topics_arg = NULL;
	char group[128];
	long expect = 0;
	double timeout = 300;
	int quiet = 0, opt;
	snprintf(group, sizeof(group), "bench-bare-%d-%ld", (int)getpid(), (long)time(NULL));
	if (!bootstrap || !*bootstrap)
		bootstrap = "127.0.0.1:9092";
	while ((opt = getopt(argc, argv, "t:b:g:n:T:q")) != -1) {
		switch (opt) {
		case 't': topics_arg = optarg; break;
		case 'b': bootstrap = optarg; break;
		case 'g': snprintf(group, sizeof(group), "%s", optarg); break;
		case 'n': expect = strtol(optarg, NULL, 10); break;
		case 'T': timeout = strtod(optarg, NULL); break;
		case 'q': quiet = 1; break;
		default:
			fprintf(stderr, "usage: bare_consumer -t TOPIC[,TOPIC...] [-b SERVERS] [-g GROUP] [-n EXPECT] "
					"[-T TIMEOUT_S] [-q]\n");
			return 2;
		}
	}
	if (!topics_arg) {
		fprintf(stderr, "bare_consumer: -t TOPIC is required\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	const char *topics[MAX_TOPICS];
	long per_topic[MAX_TOPICS] = {0};
	int ntopics = 0;
	for (char *save = NULL, *t = strtok_r(topics_arg, ",", &save); t && ntopics < MAX_TOPICS;
	     t = strtok_r(NULL, ",", &save))
		topics[ntopics++] = t;

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	conf_set(conf, "bootstrap.servers", bootstrap);
	conf_set(conf, "client.id", "comment-ingest-bare-consumer");
	conf_set(conf, "group.id", group);
	conf_set(conf, "enable.auto.commit", "false");
	conf_set(conf, "enable.auto.offset.store", "false");
	conf_set(conf, "isolation.level", "read_committed");
	conf_set(conf, "auto.offset.reset", "earliest");
	conf_set(conf, "enable.partition.eof", "true");
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "bare_consumer: %s\n", err);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(ntopics);
	for (int i = 0; i < ntopics; i++)
		rd_kafka_topic_partition_list_add(sub, topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, sub);
	rd_kafka_topic_partition_list_destroy(sub);
	if (e) {
		fprintf(stderr, "bare_consumer: subscribe: %s\n", rd_kafka_err2str(e));
		return 1;
	}

	long messages = 0, eofs = 0;
	size_t bytes = 0;
	unsigned sum = 0;
	double start = mono_s(), first = 0, last = 0, next_report = start + 1;
	while (!stop && (expect <= 0 || messages < expect) && mono_s() - start < timeout) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			/* Every assigned partition is at its end (EOF comes again only after new messages). */
			if (++eofs >= assigned_count && assigned_count > 0 && expect <= 0)
				break;
			continue;
		}
		if (m->err) {
			fprintf(stderr, "bare_consumer: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		double now = mono_s();
		if (messages == 0)
			first = now;
		last = now;
		messages++;
		bytes += m->len;
		if (m->len)
			sum += ((const unsigned char *)m->payload)[0] ^ ((const unsigned char *)m->payload)[m->len - 1];
		const char *tn = rd_kafka_topic_name(m->rkt);
		for (int i = 0; i < ntopics; i++)
			if (strcmp(tn, topics[i]) == 0)
				per_topic[i]++;
		rd_kafka_message_destroy(m);
		if (!quiet && (messages & 4095) == 0 && now >= next_report) {
			next_report = now + 1;
			fprintf(stderr, "bare_consumer: %ld messages\n", messages);
		}
	}
	double secs = last > first ? last - first : 0;
	printf("{\"group\":\"%s\",\"messages\":%ld,\"bytes\":%zu,\"seconds\":%.3f,\"events_per_second\":%.0f,"
	       "\"mb_per_second\":%.1f,\"checksum\":%u,\"timed_out\":%s,\"per_topic\":{",
	       group, messages, bytes, secs, secs > 0 ? (double)messages / secs : 0,
	       secs > 0 ? (double)bytes / secs / 1e6 : 0, sum, mono_s() - start >= timeout ? "true" : "false");
	for (int i = 0; i < ntopics; i++)
		printf("%s\"%s\":%ld", i ? "," : "", topics[i], per_topic[i]);
	printf("}}\n");
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return 0;
}
