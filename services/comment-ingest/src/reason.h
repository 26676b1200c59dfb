/* reason.h - the table of reason codes: each code, its outcome and a detail a reader can be shown. */
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
	/* holds */
	REASON_CONTAINS_LINK,
	REASON__COUNT
};

/* The wire name, e.g. "body_too_short". */
const char *reason_code(enum reason r);
/* The outcome a reason leads to. */
enum outcome reason_outcome(enum reason r);

#endif
