/* naive_peer.c - the naive peer for `make bench`: one message at a time, one INSERT and one commit each.
 *
 * Usage: naive_peer -t TOPIC -T TABLE -o OUT_TOPIC [-b SERVERS] [-d DATABASE_URL] [-g GROUP] [-n COUNT]
 *                   [-R RULES_FILE]
 *
 * What a straightforward consumer does: poll one message, decode and triage it with the same code
 * and rules as the service, INSERT the accepted comment (ON CONFLICT DO NOTHING RETURNING the row)
 * in its own transaction (autocommit; synchronous_commit stays on), produce its output event to
 * OUT_TOPIC, store the offset (auto-committed every 5 s), next message. It is generous to the naive
 * design: no history rules (no lookup query), no Kafka transaction and no wait for the output's
 * acknowledgement per message, so its rate is an upper bound for a per-message pipeline.
 * TABLE must have the comments table's columns (the driver makes it with LIKE comments INCLUDING ALL).
 * Stops after COUNT messages (default 5000) and prints one JSON object on stdout.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "comment.h"
#include "events.h"
#include "rules.h"

#include "bench_common.h"

static void produce(rd_kafka_t *rk, const char *topic, const char *key, size_t key_len, const char *value)
{
	rd_kafka_resp_err_t err = bench_kafka_produce(rk, topic, key, key_len, value, strlen(value));
	if (err)
		fprintf(stderr, "naive_peer: produce: %s\n", rd_kafka_err2str(err));
	rd_kafka_poll(rk, 0);
}

int main(int argc, char **argv)
{
	const char *bootstrap = bench_bootstrap();
	const char *dburl = getenv("DATABASE_URL");
	const char *topic = NULL, *table = NULL, *out_topic = NULL, *rules_file = NULL;
	char group[128];
	long count = 5000;
	int opt;
	bench_prog = "naive_peer";
	bench_group_name(group, sizeof(group), "naive");
	if (!dburl || !*dburl)
		dburl = "postgresql://comment_ingest@127.0.0.1:25432/comment_ingest";
	while ((opt = getopt(argc, argv, "t:T:o:b:d:g:n:R:")) != -1) {
		switch (opt) {
		case 't': topic = optarg; break;
		case 'T': table = optarg; break;
		case 'o': out_topic = optarg; break;
		case 'b': bootstrap = optarg; break;
		case 'd': dburl = optarg; break;
		case 'g': snprintf(group, sizeof(group), "%s", optarg); break;
		case 'n': count = strtol(optarg, NULL, 10); break;
		case 'R': rules_file = optarg; break;
		default:
			fprintf(stderr, "usage: naive_peer -t TOPIC -T TABLE -o OUT_TOPIC [-b SERVERS] [-d DATABASE_URL] "
					"[-g GROUP] [-n COUNT] [-R RULES_FILE]\n");
			return 2;
		}
	}
	if (!topic || !table || !out_topic) {
		fprintf(stderr, "naive_peer: -t TOPIC, -T TABLE and -o OUT_TOPIC are required\n");
		return 2;
	}
	bench_catch_signals();

	struct rules rules;
	char err[512];
	rules_defaults(&rules);
	if (rules_file && rules_load(rules_file, &rules, err, sizeof(err)) != 0) {
		fprintf(stderr, "naive_peer: %s\n", err);
		return 2;
	}

	PGconn *db = PQconnectdb(dburl);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "naive_peer: %s", PQerrorMessage(db));
		return 1;
	}
	char sql[2048];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (comment_id, article_id, author_id, author_display_name, parent_id, body, status,"
		 " reasons, submitted_at, source_topic, source_partition, source_offset)"
		 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
		 " ON CONFLICT (comment_id) DO NOTHING"
		 " RETURNING comment_id::text, article_id, author_id, author_display_name, parent_id::text, body, status,"
		 " reasons::text,"
		 " to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		 " to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
		 " source_topic, source_partition, source_offset",
		 table);
	PGresult *r = PQprepare(db, "insert_one", sql, 12, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "naive_peer: prepare: %s", PQerrorMessage(db));
		return 1;
	}
	PQclear(r);

	rd_kafka_conf_t *cconf = bench_kafka_consumer_conf(bootstrap, "comment-ingest-naive-peer", group, 1);
	bench_kafka_conf_set(cconf, "enable.auto.offset.store", "false");
	rd_kafka_t *consumer = bench_kafka_new(RD_KAFKA_CONSUMER, cconf);
	rd_kafka_conf_t *pconf = bench_kafka_conf(bootstrap, "comment-ingest-naive-peer");
	bench_kafka_conf_set(pconf, "enable.idempotence", "true");
	bench_kafka_conf_set(pconf, "acks", "all");
	bench_kafka_conf_set(pconf, "compression.codec", "lz4");
	rd_kafka_t *producer = bench_kafka_new(RD_KAFKA_PRODUCER, pconf);
	bench_kafka_subscribe(consumer, &topic, 1);

	long messages = 0, rows = 0, held = 0, rejected = 0, duplicates = 0, errors = 0;
	double first = 0, start = bench_mono_s(), next_report = start + 1;
	while (!bench_stop && messages < count && bench_mono_s() - start < 600) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
		if (!m)
			continue;
		if (bench_kafka_message_failed(m))
			continue;
		if (messages == 0)
			first = bench_mono_s();
		struct comment c;
		struct verdict v;
		if (comment_decode(m->payload, m->len, &c, &v) == OUTCOME_PUBLISH)
			rules_triage(&rules, &c, bench_now_us(), &v);
		const char *mtopic = rd_kafka_topic_name(m->rkt);
		if (v.outcome == OUTCOME_REJECT) {
			struct source src = {mtopic, m->partition, m->offset};
			char *ev = events_rejected(&src, m->payload, m->len, &c, &v);
			if (ev)
				produce(producer, out_topic, m->key, m->key_len, ev);
			free(ev);
			rejected++;
		} else {
			int is_held = v.outcome == OUTCOME_HOLD;
			char *reasons = is_held ? events_hold_reasons(&v) : NULL;
			char part[16], off[24];
			snprintf(part, sizeof(part), "%d", (int)m->partition);
			snprintf(off, sizeof(off), "%lld", (long long)m->offset);
			const char *params[12] = {c.comment_id, c.article_id, c.author_id, c.display_name,
						  c.parent_id[0] ? c.parent_id : NULL, c.body,
						  is_held ? "pending" : "published", reasons ? reasons : "[]",
						  c.submitted_at, mtopic, part, off};
			r = PQexecPrepared(db, "insert_one", 12, params, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_TUPLES_OK) {
				if (errors++ < 5)
					fprintf(stderr, "naive_peer: insert: %s", PQerrorMessage(db));
			} else if (PQntuples(r) == 0) {
				duplicates++;
			} else {
				struct stored_comment sc = {
					PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
					PQgetisnull(r, 0, 4) ? NULL : PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 5),
					PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7), PQgetvalue(r, 0, 8), PQgetvalue(r, 0, 9),
					{PQgetvalue(r, 0, 10), (int32_t)strtol(PQgetvalue(r, 0, 11), NULL, 10),
					 strtoll(PQgetvalue(r, 0, 12), NULL, 10)}};
				int h;
				char *ev = events_stored(&sc, &h);
				if (ev)
					produce(producer, out_topic, c.article_id, strlen(c.article_id), ev);
				free(ev);
				rows++;
				held += is_held;
			}
			PQclear(r);
			free(reasons);
		}
		comment_clear(&c);
		rd_kafka_topic_partition_list_t *o = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(o, mtopic, m->partition)->offset = m->offset + 1;
		rd_kafka_offsets_store(consumer, o);
		rd_kafka_topic_partition_list_destroy(o);
		rd_kafka_message_destroy(m);
		messages++;
		double now = bench_mono_s();
		if (now >= next_report) {
			next_report = now + 1;
			fprintf(stderr, "naive_peer: %ld messages, %ld rows\n", messages, rows);
		}
	}
	rd_kafka_flush(producer, 30000);
	double secs = messages ? bench_mono_s() - first : 0;
	printf("{\"table\":\"%s\",\"messages\":%ld,\"rows\":%ld,\"held\":%ld,\"rejected\":%ld,\"duplicates\":%ld,"
	       "\"errors\":%ld,\"seconds\":%.3f,\"events_per_second\":%.1f,\"rows_per_second\":%.1f}\n",
	       table, messages, rows, held, rejected, duplicates, errors, secs, secs > 0 ? (double)messages / secs : 0,
	       secs > 0 ? (double)rows / secs : 0);
	fflush(stdout);
	rd_kafka_consumer_close(consumer);
	rd_kafka_destroy(consumer);
	rd_kafka_destroy(producer);
	PQfinish(db);
	rules_free(&rules);
	return errors ? 1 : 0;
}
