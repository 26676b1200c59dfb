/* batch.h - one batch: its messages, what the rules and PostgreSQL made of them, its events and offsets. */
#ifndef CI_BATCH_H
#define CI_BATCH_H

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "comment.h"
#include "config.h"
#include "decision.h"
#include "events.h"
#include "kafka.h"
#include "rules.h"
#include "store.h"

/* What became of a slot: a comment is published, held, rejected or a duplicate; a decision applied,
 * a no-op, rejected or a duplicate. */
enum slot_result { RES_PENDING, RES_PUBLISHED, RES_HELD, RES_REJECTED, RES_DUPLICATE, RES_APPLIED, RES_NOOP };

/* What a consumed message is, by the topic it was read from. */
enum slot_kind {
	SLOT_COMMENT,  /* a comment-submitted event (cfg->topic_submitted) */
	SLOT_DECISION, /* a moderation-decided event (cfg->topic_decided): moderate.c */
};

/* One consumed message and what became of it. */
struct slot {
	enum slot_kind kind;
	const char *topic; /* where the message was read from: one of cfg's input topics */
	int32_t partition;
	int64_t offset;
	char *payload;     /* a copy of the message's value: a rejection carries it */
	size_t len;
	char *key;         /* a copy of the message's key, to key a rejection that has no article_id */
	size_t key_len;
	struct comment c;  /* SLOT_COMMENT */
	struct decision d; /* SLOT_DECISION */
	struct verdict v;  /* the rejection of either */
	enum slot_result result;
	int replay;
	char md5[33];    /* fingerprint of the normalized body */
	int row_ix;      /* its row in the batch's store_rows (or store_decisions), or -1 */
	PGresult *rows;  /* one of the batch's rows_res: the comment's stored row, or the decision's answer; or NULL */
	int row;
	enum comment_status from, to; /* an applied decision's change */
	char *event;     /* output value, or NULL */
	char *event_key; /* article_id of a stored comment */
};

enum phase { PH_RUN, PH_LOOKED_UP, PH_STORED, PH_TX_START, PH_COMMITTED, PH__COUNT };

struct pipeline;

/* One batch: its messages, what the rules and PostgreSQL made of them, and its Kafka transaction. */
struct batch {
	struct pipeline *p; /* its owner (pipeline.c) */
	const struct config *cfg;
	struct slot *slots;
	size_t n, cap;
	uint64_t first_ns;
	uint64_t phase_ns[PH__COUNT];
	uint64_t build_ns;                 /* building its events, off the loop */
	struct kafka_tx_times tx_times;    /* the steps of its Kafka transaction, off the loop */
	struct store_lookup lookup;
	size_t *lookup_slot; /* lookup row -> slot index */
	struct store_rows rows;
	size_t *row_slot;      /* store row -> slot index */
	struct store_decisions decisions;
	size_t *decision_slot; /* decision row -> slot index */
	int isolated;          /* its rows were stored one at a time (row isolation) */
	PGresult *rows_res[STORE_RES__COUNT]; /* what PostgreSQL answered: its events are built from it, off the loop */
	struct kafka_out *out;
	size_t nout;
	rd_kafka_topic_partition_list_t *commit_offsets; /* next offset per partition */
	rd_kafka_topic_partition_list_t *first_offsets;  /* where a replay starts */
};

/* Empties b, keeping its buffers; clear and free release what each slot holds. */
void batch_clear(struct batch *b);
void batch_free(struct batch *b);

/*
 * Adds a consumed message and decodes it at once, while the stages ahead are
 * busy with earlier batches. A well-formed comment meets the content rules
 * now and joins the batch's lookup (the verdict counts only if the lookup
 * finds it new); a malformed one is rejected now. A message of
 * cfg->topic_decided is a moderation decision (moderate_take). The batch keeps copies of
 * what it needs and destroys m: a consumed message pins its whole fetch
 * response in memory. Returns 0, or -1 when out of memory (its offset is
 * tracked all the same, for the rewind).
 */
int batch_take(struct batch *b, rd_kafka_message_t *m, const struct rules *rules, int64_t now_us);

/* Records the partition's next offset (commit, may be NULL) and first offset (replay) for a message. */
void batch_track_offsets(rd_kafka_topic_partition_list_t *commit, rd_kafka_topic_partition_list_t *first,
			 const char *topic, int32_t partition, int64_t offset);

/*
 * The lookup answered (res: enum lookup_out). A comment_id stored from these
 * coordinates is a replay: it goes to the rows unchanged, whatever the rules
 * say now; from other coordinates, or twice in this batch, it is a duplicate.
 * New comments meet the history rules and are rejected or added to the rows.
 * Returns NULL, or what went wrong.
 */
const char *batch_decide(struct batch *b, PGresult *lookup, const struct rules *rules);

/*
 * PostgreSQL committed the rows (store_submit: res[STORE_RES_ROWS] inserted
 * now, res[STORE_RES_STORED] stored before). Each slot's stored row is found: inserted now, or stored
 * before from this message's coordinates (a replay) -> its event is built from
 * the row; from other coordinates -> a duplicate. Returns NULL, or what went wrong.
 */
const char *batch_match(struct batch *b, PGresult **res);

/* The rows of a result sorted by comment_id (column col), to find each comment's row. Loop thread only. */
struct row_index {
	PGresult *res;
	int col;
	int *order; /* row numbers sorted by comment_id */
	int n;
};
int row_index_build(struct row_index *ix, PGresult *res, int col); /* 0, or -1 when out of memory */
int row_index_find(const struct row_index *ix, const char *comment_id); /* the row number, or -1 */
void row_index_free(struct row_index *ix);

/*
 * Matches one slot to its stored row r of rows: inserted_now, or stored
 * before (a replay from the same coordinates, a duplicate from others).
 */
void batch_match_row(struct slot *s, PGresult *rows, int r, int inserted_now);

/* Rejects a slot with its verdict's reason; its event is built now. Returns 0 or -1 (no memory). */
int batch_reject(struct slot *s);

/* Adds a slot's comment to the rows to store, as published or pending with its reasons. Returns 0 or -1. */
int batch_add_row(struct batch *b, struct slot *s);

/* True when the batch has something for PostgreSQL to store or apply. */
int batch_has_store_work(const struct batch *b);

/* A stored row (enum store_out columns of r, row i) as its events read it; the strings stay in r. */
void batch_stored_comment(PGresult *r, int i, struct stored_comment *sc);

/*
 * Worker thread: builds the events of the stored comments from their rows,
 * and of the decisions from PostgreSQL's answer, and lists every output
 * message in b->out. Returns 0, or -1 when out of memory.
 */
int batch_build_events(struct batch *b);

/* Counts the committed batch's outcomes in the metrics (and logs them at debug level). */
void batch_account(struct batch *b);

#endif
