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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bench_common.h"

#define MAX_TOPICS 8

int main(int argc, char **argv)
{
	const char *bootstrap = bench_bootstrap();
	char *topics_arg = NULL;
	char group[128];
	long expect = 0;
	double timeout = 300;
	int quiet = 0, opt;
	bench_prog = "bare_consumer";
	bench_group_name(group, sizeof(group), "bare");
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
	bench_catch_signals();

	const char *topics[MAX_TOPICS];
	long per_topic[MAX_TOPICS] = {0};
	int ntopics = 0;
	for (char *save = NULL, *t = strtok_r(topics_arg, ",", &save); t && ntopics < MAX_TOPICS;
	     t = strtok_r(NULL, ",", &save))
		topics[ntopics++] = t;

	rd_kafka_conf_t *conf = bench_kafka_consumer_conf(bootstrap, "comment-ingest-bare-consumer", group, 0);
	bench_kafka_conf_set(conf, "enable.auto.offset.store", "false");
	bench_kafka_conf_set(conf, "enable.partition.eof", "true");
	rd_kafka_conf_set_rebalance_cb(conf, bench_kafka_rebalance_cb);
	rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_CONSUMER, conf);
	bench_kafka_subscribe(rk, topics, ntopics);

	long messages = 0, eofs = 0;
	size_t bytes = 0;
	unsigned sum = 0;
	double start = bench_mono_s(), first = 0, last = 0, next_report = start + 1;
	while (!bench_stop && (expect <= 0 || messages < expect) && bench_mono_s() - start < timeout) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			/* Every assigned partition is at its end (EOF comes again only after new messages). */
			if (++eofs >= bench_assigned_count && bench_assigned_count > 0 && expect <= 0)
				break;
			continue;
		}
		if (m->err) {
			fprintf(stderr, "bare_consumer: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		double now = bench_mono_s();
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
	       secs > 0 ? (double)bytes / secs / 1e6 : 0, sum, bench_mono_s() - start >= timeout ? "true" : "false");
	for (int i = 0; i < ntopics; i++)
		printf("%s\"%s\":%ld", i ? "," : "", topics[i], per_topic[i]);
	printf("}}\n");
	fflush(stdout);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return 0;
}
