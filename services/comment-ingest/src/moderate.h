/* moderate.h - moderation decisions in a batch: taking them, what PostgreSQL made of each, their events and counts. */
#ifndef CI_MODERATE_H
#define CI_MODERATE_H

#include <libpq-fe.h>
#include <stdint.h>

#include "batch.h"

/*
 * A decision slot (read from cfg->topic_decided) as it arrives: decodes it.
 * A well-formed decision joins the batch's decisions (b->decisions), which
 * PostgreSQL applies after the batch's comments, in the same transaction; a
 * malformed one is rejected now (its moderation-decision-rejected event is
 * built). Returns 0, or -1 when out of memory.
 */
int moderate_take(struct batch *b, struct slot *s, int64_t now_us);

/*
 * PostgreSQL committed the batch (res: the decisions' result, enum
 * decision_out, one row per decision in order; NULL when there were none).
 * Each decision slot gets its outcome: applied or a no-op (from a replay too:
 * then the record decides), a duplicate, or rejected with unknown_comment,
 * article_mismatch or stale_decision (its event is built now). An applied or
 * no-op answer is checked against the life cycle (decision_transition).
 * Returns NULL, or what went wrong.
 */
const char *moderate_match(struct batch *b, PGresult *res);

/*
 * Worker thread: the output message of a decision slot, if it has one:
 * comment-published for an approval, comment-moderated for a rejection
 * (both built from PostgreSQL's answer), or the dead letter of a bad
 * decision. Returns 1 when *o was filled, 0 when the slot has no event, -1
 * when out of memory.
 */
int moderate_event(struct batch *b, struct slot *s, struct kafka_out *o);

/* Counts a committed decision slot in the metrics (and logs it at debug level). */
void moderate_account(const struct slot *s);

#endif
