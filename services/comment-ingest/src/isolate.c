/* isolate.c - row isolation: when PostgreSQL refuses a batch's rows, tell one row's refusal from the database's fault.
 *
 * The batch insert is one statement, so one row that PostgreSQL refuses fails all of them.
 * When the error is of a kind that one row can cause, the pipeline stores the same rows again
 * through comment_ingest_insert_each (sql/003_row_isolation.sql): one row at a time, in order,
 * each under its own savepoint, after a canary (a plain comment, inserted and undone). A row
 * that fails there is refused for its own values, since the canary and the other rows passed
 * the same statement in the same transaction; when even the canary fails, the call fails as a
 * whole and the batch is retried, so the database's state never rejects a comment.
 */
#include "isolate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int isolate_row_can_cause(const char *st)
{
	if (!st || strlen(st) != 5)
		return 0;
	return strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 || strncmp(st, "54", 2) == 0 ||
	       strncmp(st, "P0", 2) == 0;
}

/* Rejects the slot of a refused row with storage_refused, naming PostgreSQL's SQLSTATE and message. */
static int refuse(struct slot *s, const char *sqlstate, const char *message)
{
	char msg[COMMENT_DETAIL_LEN];
	log_oneline(message, msg, sizeof(msg) - 64);
	verdict_reject(&s->v, REASON_STORAGE_REFUSED, "PostgreSQL refused to store the comment (%s): %s", sqlstate, msg);
	return batch_reject(s);
}

const char *isolate_apply(struct batch *b, PGresult **res, int *refused)
{
	PGresult *each = res[STORE_RES_ROWS], *rows = res[STORE_RES_STORED];
	*refused = 0;
	if (PQntuples(each) != b->rows.count)
		return "row isolation returned the wrong number of rows";
	struct row_index ix = {0};
	if (row_index_build(&ix, rows, OUT_COMMENT_ID)) {
		row_index_free(&ix);
		return "out of memory matching rows";
	}
	const char *err = NULL;
	for (int k = 0; k < b->rows.count && !err; k++) {
		struct slot *s = &b->slots[b->row_slot[k]];
		const char *outcome = PQgetvalue(each, k, EACH_OUTCOME);
		if (strtol(PQgetvalue(each, k, EACH_ORD), NULL, 10) != k + 1) {
			err = "row isolation returned the rows out of order";
		} else if (strcmp(outcome, "refused") == 0) {
			(*refused)++;
			if (refuse(s, PQgetvalue(each, k, EACH_ERROR_CODE), PQgetvalue(each, k, EACH_ERROR_MESSAGE)))
				err = "out of memory rejecting a refused row";
		} else {
			int r = row_index_find(&ix, s->c.comment_id);
			if (r < 0)
				err = "a stored comment was not found";
			else
				batch_match_row(s, rows, r, strcmp(outcome, "inserted") == 0);
		}
	}
	row_index_free(&ix);
	return err;
}
