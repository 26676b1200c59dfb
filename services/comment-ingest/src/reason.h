/* reason.h - the table of reason codes: each code, its outcome and the inputs it applies to. */
#ifndef CI_REASON_H
#define CI_REASON_H

enum outcome { OUTCOME_PUBLISH = 0, OUTCOME_HOLD, OUTCOME_REJECT };

enum reason {
	REASON_NONE = 0,
	/* rejections */
	REASON_MALFORMED_JSON,
	REASON_NOT_AN_OBJECT,
	REASON_MISSING_FIELD,
	REASON_INVALID_TYPE,
	REASON_INVALID_UUID,
	REASON_INVALID_FIELD,
	REASON_INVALID_SUBMITTED_AT,
	REASON_UNSUPPORTED_SCHEMA_VERSION,
	REASON_INVALID_TEXT,
	REASON_BODY_TOO_SHORT,
	REASON_BODY_TOO_LONG,
	REASON_SUBMITTED_IN_FUTURE,
	REASON_SUBMITTED_TOO_OLD,
	REASON_BANNED_TERM,
	REASON_DUPLICATE_CONTENT,
	REASON_PAYLOAD_TOO_LARGE,
	REASON_FIELD_TOO_LARGE,
	REASON_STORAGE_REFUSED,
	/* rejections of moderation decisions only */
	REASON_INVALID_DECIDED_AT,
	REASON_DECIDED_IN_FUTURE,
	REASON_UNKNOWN_COMMENT,
	REASON_ARTICLE_MISMATCH,
	REASON_STALE_DECISION,
	/* holds */
	REASON_CONTAINS_LINK,
	REASON_CONTAINS_EMAIL,
	REASON_CONTAINS_PHONE,
	REASON_SUSPECT_TERM,
	REASON_SHOUTING,
	REASON_REPEATED_CHARACTERS,
	REASON_FIRST_COMMENT,
	REASON_RATE_LIMITED,
	REASON__COUNT
};

/* The inputs a reason code can be given for (a bit set). */
enum reason_input {
	REASON_FOR_COMMENTS = 1,  /* comment-submitted */
	REASON_FOR_DECISIONS = 2, /* moderation-decided */
};

/* hold_mask (struct verdict) has one bit per reason. */
_Static_assert(REASON__COUNT <= 32, "struct verdict's hold_mask has 32 bits");

/* The wire name, e.g. "body_too_short". */
const char *reason_code(enum reason r);
/* The outcome a reason leads to. */
enum outcome reason_outcome(enum reason r);
/* True when r can be given for that input. */
int reason_for(enum reason r, enum reason_input input);

#endif
