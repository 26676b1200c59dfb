/* events.h - the output events as JSON: of submissions (comment-published, moderation-needed, comment-rejected) and of decisions. */
#ifndef CI_EVENTS_H
#define CI_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "comment.h"
#include "decision.h"

#define EVENTS_SCHEMA_VERSION 1

/*
 * Bounds that keep every output message far below Kafka's default maximum
 * (1 MB), whatever the input: a rejection carries at most
 * EVENTS_PAYLOAD_ECHO_MAX bytes of the original value ("payload_truncated"
 * says whether it was cut), which JSON escaping can grow at most sixfold,
 * and is keyed by the input key only up to EVENTS_KEY_MAX bytes.
 */
#define EVENTS_PAYLOAD_ECHO_MAX (64 * 1024)
#define EVENTS_KEY_MAX 1024

/* Where an input event was read from. */
struct source {
	const char *topic;
	int32_t partition;
	int64_t offset;
};

/* A stored comment as PostgreSQL returns it; every string is NUL-terminated. */
struct stored_comment {
	const char *comment_id;
	const char *article_id;
	const char *author_id;
	const char *display_name;
	const char *parent_id; /* NULL when not a reply */
	const char *body;
	const char *status;    /* "published" or "pending" */
	const char *reasons;   /* JSON array of {code, detail} */
	const char *submitted_at;
	const char *accepted_at;
	struct source source;
};

/*
 * Builds the event for a stored comment: comment-published when its status
 * is published, moderation-needed when pending. The result depends only on
 * the row, so a replay produces the same bytes. Returns a malloc'ed string or
 * NULL; *held tells which kind it is.
 */
char *events_stored(const struct stored_comment *row, int *held);

/*
 * Builds a comment-rejected event. c may carry the comment and article ids
 * when they were valid. The event id derives from the source coordinates.
 * The payload is the original value (base64 when it is not UTF-8), cut to
 * EVENTS_PAYLOAD_ECHO_MAX bytes at a character boundary when longer
 * ("payload_truncated" says which).
 */
char *events_rejected(const struct source *src, const char *payload, size_t len,
		      const struct comment *c, const struct verdict *v);

/*
 * An applied moderation decision, as its event shows it: all of it comes
 * from the stored decision record, so that a replay builds the same bytes.
 * The moderator's id and note stay in PostgreSQL: no event carries them.
 */
struct moderation {
	const char *decision_id;
	enum decision_kind kind;
	const char *from_status;
	const char *to_status;
	const char *decided_at; /* canonical UTC */
	struct source source;   /* where the decision was read from (moderation-decided) */
};

/*
 * Builds the comment-published event of a comment a moderator approved
 * (pending or rejected -> published): the stored comment's fields that never
 * change (row; its status and reasons are not used), status published, no
 * reasons, and a "moderation" object with the decision. The event id derives
 * from the decision id. Returns a malloc'ed string or NULL.
 */
char *events_approved(const struct stored_comment *row, const struct moderation *m);

/*
 * Builds the comment-moderated event of a comment a moderator rejected
 * (pending -> rejected, or published -> rejected: taken down). The event id
 * derives from the decision id; source is the decision's. Returns a
 * malloc'ed string or NULL.
 */
char *events_moderated(const char *comment_id, const char *article_id, const struct moderation *m);

/*
 * Builds a moderation-decision-rejected event (the dead letter of a bad
 * decision): the reason, the source coordinates and the original payload,
 * bounded as for comment-rejected. d may carry the decision, comment and
 * article ids when they were valid. The event id derives from the source
 * coordinates. Returns a malloc'ed string or NULL.
 */
char *events_decision_rejected(const struct source *src, const char *payload, size_t len, const struct decision *d,
			       const struct verdict *v);

/* Builds the JSON array of hold reasons ({code, detail}) stored with a pending comment. */
char *events_hold_reasons(const struct verdict *v);

#endif
