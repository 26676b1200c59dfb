/* latency_probe.c - submit-to-published latency for `make bench`.
 *
 * Usage: latency_probe -i INPUT_TOPIC -o OUT_TOPIC[,OUT_TOPIC...] [-b SERVERS] [-g GROUP] [-w FILE] [-T TIMEOUT_S]
 *
 * One read_committed consumer (fresh group, from the beginning) on the input topic and the output
 * topics. From each input event it takes comment_id and "bench_sent_at_us" (the wall-clock time
 * the load generator handed it to its producer; the first one counts when an id is re-sent).
 * For each output event it records when it became visible to this read_committed consumer,
 * and matches it by comment_id (a comment-rejected event whose comment_id is unknown is
 * matched by the stamp inside its original payload). Prints "latency_probe: ready" on stderr once
 * every partition is assigned. Stops on SIGINT/SIGTERM or after TIMEOUT_S (default 600), then
 * prints one JSON object on stdout: counts and latency percentiles (ms), overall and per output
 * topic. -w FILE also writes one line per matched output: sent_us latency_us topic_index produced_us
 * (the output record's timestamp: when the service handed it to its producer, in ms, 0 if none).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bench_common.h"

#define MAX_OUT 4
#define CID_LEN 36

/* ---- comment_id -> sent time (open addressing) ------------------------------------------------- */

struct entry {
	char cid[CID_LEN];
	int64_t sent_us; /* 0: empty */
};

static struct entry *table;
static size_t table_cap, table_count;

static uint64_t hash_cid(const char *cid)
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < CID_LEN; i++)
		h = (h ^ (unsigned char)cid[i]) * 1099511628211ULL;
	return h;
}

static struct entry *table_slot(const char *cid)
{
	size_t i = (size_t)hash_cid(cid) & (table_cap - 1);
	while (table[i].sent_us && memcmp(table[i].cid, cid, CID_LEN) != 0)
		i = (i + 1) & (table_cap - 1);
	return &table[i];
}

static void table_put(const char *cid, int64_t sent_us)
{
	if (2 * (table_count + 1) > table_cap) {
		struct entry *old = table;
		size_t old_cap = table_cap;
		table_cap = table_cap ? table_cap * 2 : 1 << 16;
		table = calloc(table_cap, sizeof(*table));
		if (!table) {
			fprintf(stderr, "latency_probe: out of memory\n");
			exit(1);
		}
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].sent_us)
				*table_slot(old[i].cid) = old[i];
		free(old);
	}
	struct entry *e = table_slot(cid);
	if (e->sent_us)
		return; /* a re-sent id: the first send counts */
	memcpy(e->cid, cid, CID_LEN);
	e->sent_us = sent_us;
	table_count++;
}

static int64_t table_get(const char *cid)
{
	return table_cap ? table_slot(cid)->sent_us : 0;
}

/* ---- outputs seen --------------------------------------------------------------------------- */

struct seen {
	char cid[CID_LEN];
	int has_cid;
	int topic;
	int64_t seen_us;
	int64_t stamp_us; /* from a rejected event's payload, or 0 */
	int64_t produced_us; /* the output record's timestamp, or 0 */
};

static struct seen *seen;
static size_t seen_count, seen_cap;

/* The value of "key":"<36 chars>" at the top level (the first unescaped occurrence). */
static int find_cid(const char *p, size_t len, char out[CID_LEN])
{
	static const char key[] = "\"comment_id\":\"";
	const char *end = p + len;
	const char *q = memmem(p, len, key, sizeof(key) - 1);
	if (!q || q + sizeof(key) - 1 + CID_LEN > end)
		return 0;
	memcpy(out, q + sizeof(key) - 1, CID_LEN);
	return 1;
}

/* The number after "bench_sent_at_us" (escaped or not), or 0. */
static int64_t find_stamp(const char *p, size_t len)
{
	static const char key[] = "bench_sent_at_us";
	const char *end = p + len;
	const char *q = memmem(p, len, key, sizeof(key) - 1);
	if (!q)
		return 0;
	q += sizeof(key) - 1;
	while (q < end && (*q < '0' || *q > '9'))
		if (*q++ == ',') /* no number follows */
			return 0;
	int64_t v = 0;
	while (q < end && *q >= '0' && *q <= '9')
		v = v * 10 + (*q++ - '0');
	return v;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const int64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

static void print_stats(const char *name, int64_t *v, size_t n, int comma)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	printf("%s\"%s\":{\"count\":%zu,\"mean_ms\":%.2f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,"
	       "\"p999_ms\":%.2f,\"max_ms\":%.2f}",
	       comma ? "," : "", name, n, n ? sum / (double)n / 1000.0 : 0, pct(v, n, 50), pct(v, n, 90), pct(v, n, 99),
	       pct(v, n, 99.9), n ? (double)v[n - 1] / 1000.0 : 0);
}

int main(int argc, char **argv)
{
	const char *bootstrap = bench_bootstrap();
	const char *input = NULL, *raw_file = NULL;
	char *outputs_arg = NULL;
	char group[128];
	double timeout = 600;
	int opt;
	bench_prog = "latency_probe";
	bench_group_name(group, sizeof(group), "latency");
	while ((opt = getopt(argc, argv, "i:o:b:g:w:T:")) != -1) {
		switch (opt) {
		case 'i': input = optarg; break;
		case 'o': outputs_arg = optarg; break;
		case 'b': bootstrap = optarg; break;
		case 'g': snprintf(group, sizeof(group), "%s", optarg); break;
		case 'w': raw_file = optarg; break;
		case 'T': timeout = strtod(optarg, NULL); break;
		default:
			fprintf(stderr, "usage: latency_probe -i INPUT -o OUT[,OUT...] [-b SERVERS] [-g GROUP] [-w FILE] "
					"[-T TIMEOUT_S]\n");
			return 2;
		}
	}
	if (!input || !outputs_arg) {
		fprintf(stderr, "latency_probe: -i INPUT and -o OUTPUTS are required\n");
		return 2;
	}
	bench_catch_signals();
	const char *topics[1 + MAX_OUT] = {input}, **outs = topics + 1; /* the input, then the outputs */
	int nouts = 0;
	for (char *save = NULL, *t = strtok_r(outputs_arg, ",", &save); t && nouts < MAX_OUT;
	     t = strtok_r(NULL, ",", &save))
		outs[nouts++] = t;

	rd_kafka_conf_t *conf = bench_kafka_consumer_conf(bootstrap, "comment-ingest-latency-probe", group, 0);
	bench_kafka_conf_set(conf, "fetch.wait.max.ms", "10"); /* the probe's own share of the latency stays small */
	rd_kafka_conf_set_rebalance_cb(conf, bench_kafka_rebalance_cb);
	rd_kafka_t *rk = bench_kafka_new(RD_KAFKA_CONSUMER, conf);
	bench_kafka_subscribe(rk, topics, 1 + nouts);

	long inputs = 0, outputs = 0;
	int ready = 0;
	int64_t start = bench_now_us(), next_report = start + 1000000;
	while (!bench_stop && bench_now_us() - start < (int64_t)(timeout * 1e6)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
		int64_t t = bench_now_us();
		if (!ready && bench_assigned_count > 0) {
			ready = 1;
			fprintf(stderr, "latency_probe: ready (%d partitions)\n", bench_assigned_count);
		}
		if (t >= next_report) {
			next_report = t + 1000000;
			fprintf(stderr, "latency_probe: %ld inputs, %ld outputs\n", inputs, outputs);
		}
		if (!m)
			continue;
		if (bench_kafka_message_failed(m))
			continue;
		const char *tn = rd_kafka_topic_name(m->rkt);
		const char *p = m->payload;
		if (strcmp(tn, input) == 0) {
			char cid[CID_LEN];
			int64_t stamp = p ? find_stamp(p, m->len) : 0;
			if (p && stamp && find_cid(p, m->len, cid))
				table_put(cid, stamp);
			inputs++;
		} else {
			if (seen_count == seen_cap) {
				seen_cap = seen_cap ? 2 * seen_cap : 65536;
				seen = realloc(seen, seen_cap * sizeof(*seen));
				if (!seen) {
					fprintf(stderr, "latency_probe: out of memory\n");
					return 1;
				}
			}
			struct seen *s = &seen[seen_count++];
			memset(s, 0, sizeof(*s));
			s->seen_us = t;
			rd_kafka_timestamp_type_t tstype;
			int64_t ts_ms = rd_kafka_message_timestamp(m, &tstype);
			s->produced_us = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE || ts_ms < 0 ? 0 : ts_ms * 1000;
			for (int i = 0; i < nouts; i++)
				if (strcmp(tn, outs[i]) == 0)
					s->topic = i;
			if (p) {
				s->has_cid = find_cid(p, m->len, s->cid);
				s->stamp_us = find_stamp(p, m->len);
			}
			outputs++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);

	/* Match the outputs with their submissions. */
	int64_t *all = malloc((seen_count + 1) * sizeof(int64_t));
	int64_t *by[MAX_OUT];
	size_t nall = 0, nby[MAX_OUT] = {0};
	long unmatched = 0;
	FILE *raw = raw_file ? fopen(raw_file, "w") : NULL;
	for (int i = 0; i < nouts; i++)
		by[i] = malloc((seen_count + 1) * sizeof(int64_t));
	for (size_t i = 0; i < seen_count; i++) {
		struct seen *s = &seen[i];
		int64_t sent = s->has_cid ? table_get(s->cid) : 0;
		if (!sent)
			sent = s->stamp_us;
		if (!sent) {
			unmatched++;
			continue;
		}
		int64_t lat = s->seen_us - sent;
		all[nall++] = lat;
		by[s->topic][nby[s->topic]++] = lat;
		if (raw)
			fprintf(raw, "%" PRId64 " %" PRId64 " %d %" PRId64 "\n", sent, lat, s->topic, s->produced_us);
	}
	if (raw)
		fclose(raw);
	printf("{\"group\":\"%s\",\"inputs\":%ld,\"outputs\":%ld,\"matched\":%zu,\"unmatched\":%ld,", group, inputs,
	       outputs, nall, unmatched);
	print_stats("all", all, nall, 0);
	printf(",\"per_topic\":{");
	for (int i = 0; i < nouts; i++)
		print_stats(outs[i], by[i], nby[i], i > 0);
	printf("}}\n");
	return 0;
}
