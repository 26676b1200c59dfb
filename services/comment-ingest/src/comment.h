/* comment.h - decoding a comment-submitted event into a validated comment, or a rejection. */
#ifndef CI_COMMENT_H
#define CI_COMMENT_H

#include <stddef.h>
#include <stdint.h>

#include "reason.h"
#include "timefmt.h"
#include "uuid.h"

#define COMMENT_BODY_MIN 50
#define COMMENT_BODY_MAX 500
#define COMMENT_ARTICLE_ID_MAX 128
#define COMMENT_AUTHOR_ID_MAX 128
/* author_id is indexed (comments_author_accepted_idx): a B-tree entry holds at most 2704 bytes. */
#define COMMENT_AUTHOR_ID_MAX_BYTES 512
#define COMMENT_DISPLAY_NAME_MAX 64
#define COMMENT_DETAIL_LEN 200
#define COMMENT_MAX_BYTES_PER_CHAR 64 /* longer text is rejected before normalization */
/* A larger event is rejected unread: no event the rules accept comes near it, even fully \u-escaped. */
#define COMMENT_PAYLOAD_MAX (256 * 1024)

struct comment {
	char comment_id[UUID_STR_LEN]; /* empty until known valid */
	char parent_id[UUID_STR_LEN];  /* empty when not a reply */
	char *article_id;              /* NULL until known valid */
	char *author_id;
	char *display_name; /* cleaned (NFC, trimmed) */
	char *body;         /* cleaned (NFC, trimmed) */
	size_t body_graphemes;
	int body_ascii; /* lets the rules take ASCII fast paths */
	int64_t submitted_us;
	char submitted_at[TIMEFMT_LEN]; /* canonical UTC */
};

/* What the rules decided about one event. */
struct verdict {
	enum outcome outcome;
	enum reason reject;             /* the rejection reason when outcome is REJECT */
	unsigned hold_mask;             /* 1u << reason for each hold reason that applied */
	char detail[COMMENT_DETAIL_LEN]; /* human-readable, for the rejection */
	char term[64];                  /* the suspect term that held it, for the moderator */
};

/*
 * Decodes and validates one event value. Fills c as far as it is valid and v
 * with the decision so far: OUTCOME_PUBLISH when the event is a well-formed
 * comment (triage may still hold or reject it), OUTCOME_REJECT with a reason
 * otherwise. Never fails on any input; c must be released with comment_clear.
 */
enum outcome comment_decode(const char *payload, size_t len, struct comment *c, struct verdict *v);

void comment_clear(struct comment *c);

/*
 * Sets v to a rejection with a formatted detail, cut to its longest well-formed
 * UTF-8 prefix (it goes into a JSON event, and may quote the input). Returns OUTCOME_REJECT.
 */
enum outcome verdict_reject(struct verdict *v, enum reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
