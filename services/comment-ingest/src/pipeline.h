/* pipeline.h - the batch path: collect, decide, store in PostgreSQL, then commit outputs and offsets in Kafka. */
#ifndef CI_PIPELINE_H
#define CI_PIPELINE_H

#include <stddef.h>
#include <uv.h>

#include "config.h"
#include "kafka.h"
#include "rules.h"
#include "store.h"

struct pipeline;

/* Called once on the loop when the pipeline has stopped and released Kafka; status is the exit status. */
typedef void (*pipeline_stopped_cb)(struct pipeline *p, int status, void *arg);

/*
 * Creates the pipeline and its clients. The pipeline takes ownership of
 * rules (the struct is copied; its term sets move). (Kafka consumer and producer,
 * PostgreSQL connection). Returns NULL with a message in err when a client
 * cannot be created (bad configuration).
 */
struct pipeline *pipeline_create(uv_loop_t *loop, const struct config *cfg, const struct rules *rules,
				 pipeline_stopped_cb stopped_cb, void *arg, char *err, size_t errlen);

/* Starts: initializes transactions off the loop, then consumes. */
void pipeline_start(struct pipeline *p);

/*
 * Finishes the batches in flight (storing, committing), drops the one only
 * collected, leaves the group, and then calls stopped_cb. Idempotent.
 */
void pipeline_stop(struct pipeline *p, int status);

/* Replaces the rules (ownership moves as in pipeline_create); the next batch uses them. */
void pipeline_set_rules(struct pipeline *p, const struct rules *rules);

/* Writes the readiness JSON into a malloc'ed string (json may be NULL); returns 1 when ready. */
int pipeline_readiness(struct pipeline *p, char **json);

/* Before /metrics is rendered: the readiness gauge and the consumer lag series, as of now. */
void pipeline_sample_metrics(struct pipeline *p);

/* Closes the remaining handles and frees p (after stopped_cb). */
void pipeline_free(struct pipeline *p);

#endif
