/* stall.h - stall detection: how the batch path fails and recovers, the retry backoff, and when it counts as stalled. */
#ifndef CI_STALL_H
#define CI_STALL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"

#define STALL_BACKOFF_MIN_MS 500
#define STALL_BACKOFF_MAX_MS 10000
#define STALL_LOG_INTERVAL_NS (30ULL * 1000000000ULL) /* a failure that repeats is logged again after this */

/* Where in the batch path a batch failed. */
enum stall_stage { STAGE_COLLECT, STAGE_LOOKUP, STAGE_STORE, STAGE_KAFKA, STAGE__COUNT };

/* Why it failed: the kind of fault, for alerts (the metric's cause label) and for the operator. */
enum stall_cause {
	CAUSE_CONNECTION, /* PostgreSQL unreachable, or the connection lost */
	CAUSE_CONSTRAINT, /* SQLSTATE class 23 for every row: a constraint refuses a plain comment too */
	CAUSE_DATA,       /* class 22 for every row: e.g. a column narrowed below what comments need */
	CAUSE_LIMIT,      /* class 54 */
	CAUSE_TRIGGER,    /* class P0: a trigger raises for every row */
	CAUSE_PERMISSION, /* 42501: the role may not insert */
	CAUSE_READ_ONLY,  /* 25006: a read-only server or transaction */
	CAUSE_RESOURCES,  /* class 53: disk full, out of memory, too many connections */
	CAUSE_TIMEOUT,    /* 57014 statement timeout or cancel, 55P03 lock not available */
	CAUSE_CONFLICT,   /* class 40: serialization failure, deadlock */
	CAUSE_SERVER,     /* any other SQLSTATE */
	CAUSE_KAFKA,      /* the Kafka transaction was aborted */
	CAUSE_MEMORY,     /* the service ran out of memory */
	CAUSE_INTERNAL,   /* PostgreSQL answered something the service did not expect */
	CAUSE__COUNT
};

const char *stall_stage_name(enum stall_stage stage);
const char *stall_cause_name(enum stall_cause cause);

/* The cause a PostgreSQL error belongs to; an empty or NULL sqlstate (no server answer) is CAUSE_CONNECTION. */
enum stall_cause stall_cause_of_sqlstate(const char *sqlstate);

struct stall {
	uint64_t timeout_ns; /* STALL_TIMEOUT_MS */
	/* the current run of failures: no batch committed since its first */
	uint64_t failures;
	uint64_t failing_since_ns;
	enum stall_stage stage; /* of the latest failure */
	enum stall_cause cause;
	char error[256];
	int backoff_ms;
	struct log_repeat log;
	/* progress */
	uint64_t progress_ns; /* the last commit, or the last time nothing was waiting */
	size_t backlog;       /* messages waiting or in flight, at the last stall_backlog */
	int stalled;          /* as stall_backlog last found it (logged when it changes) */
};

void stall_init(struct stall *s, int timeout_ms, uint64_t now_ns);

/*
 * A batch failed at stage for cause; error is one line, for the log and
 * /readyz. Counts it in the metrics, logs it once per kind (then how often it
 * repeats, every STALL_LOG_INTERVAL_NS), and returns the delay before the
 * retry: STALL_BACKOFF_MIN_MS, doubling with each failure of the run, at most
 * STALL_BACKOFF_MAX_MS.
 */
int stall_failure(struct stall *s, enum stall_stage stage, enum stall_cause cause, const char *error,
		  uint64_t now_ns);

/* A batch committed: ends the run of failures (logged once, with its count) and records the time. */
void stall_commit(struct stall *s, uint64_t now_ns);

/*
 * Samples the backlog (messages collected, in flight, or fetched and waiting
 * in the consumer) every second. With none, nothing is late. Logs when the
 * pipeline becomes stalled and when it recovers, and sets the stalled gauge.
 */
void stall_backlog(struct stall *s, size_t backlog, uint64_t now_ns);

/*
 * Writes why the batch path counts as stalled into why and returns 1: batches
 * have failed again and again for longer than the timeout, or none has
 * committed for that long despite a backlog. Returns 0 otherwise (why then
 * says what it is doing, e.g. retrying after failures).
 */
int stall_check(const struct stall *s, uint64_t now_ns, char *why, size_t whylen);

/*
 * The /readyz entry: {"ok", "detail", "failures", "last_progress_age_s", "backlog"}, and "stage" and
 * "cause" while batches fail. "ok" is the verdict of the last stall_backlog, as the gauge is.
 */
json_t *stall_json(const struct stall *s, uint64_t now_ns);

#endif
