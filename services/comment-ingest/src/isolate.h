/* isolate.h - row isolation: when PostgreSQL refuses a batch's rows, tell one row's refusal from the database's fault. */
#ifndef CI_ISOLATE_H
#define CI_ISOLATE_H

#include <libpq-fe.h>

#include "batch.h"

/*
 * True when sqlstate names an error that one row's values can cause: a data
 * exception (class 22), an integrity constraint violation (23), a program
 * limit such as an index row too large (54), or an exception raised by
 * PL/pgSQL, e.g. in a trigger (P0). Only then is the batch stored again one
 * row at a time (store_submit_each) to find the row. Any other error (a lost
 * connection, permissions, a read-only server, a full disk, a timeout) is a
 * dependency fault: the batch is retried as a whole, and nobody is rejected.
 */
int isolate_row_can_cause(const char *sqlstate);

/*
 * The batch's rows were stored one at a time (store_submit_each):
 * res[STORE_RES_ROWS] has each row's outcome (enum each_out),
 * res[STORE_RES_STORED] every stored row of the batch's comment_ids. A refused row's comment is rejected with
 * storage_refused, its detail the SQLSTATE and PostgreSQL's message (about
 * that row alone); the other comments are matched to their rows as
 * batch_match does. *refused counts the refusals. Returns NULL, or what went
 * wrong.
 */
const char *isolate_apply(struct batch *b, PGresult **res, int *refused);

#endif
