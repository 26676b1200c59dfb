/* reason.c - the table of reason codes: each code, its outcome and the inputs it applies to. */
#include "reason.h"

#define BOTH (REASON_FOR_COMMENTS | REASON_FOR_DECISIONS)
#define COMMENTS REASON_FOR_COMMENTS
#define DECISIONS REASON_FOR_DECISIONS

static const struct {
	const char *code;
	enum outcome outcome;
	unsigned inputs;
} table[REASON__COUNT] = {
	[REASON_NONE] = {"none", OUTCOME_PUBLISH, 0},
	[REASON_MALFORMED_JSON] = {"malformed_json", OUTCOME_REJECT, BOTH},
	[REASON_NOT_AN_OBJECT] = {"not_an_object", OUTCOME_REJECT, BOTH},
	[REASON_MISSING_FIELD] = {"missing_field", OUTCOME_REJECT, BOTH},
	[REASON_INVALID_TYPE] = {"invalid_type", OUTCOME_REJECT, BOTH},
	[REASON_INVALID_UUID] = {"invalid_uuid", OUTCOME_REJECT, BOTH},
	[REASON_INVALID_FIELD] = {"invalid_field", OUTCOME_REJECT, BOTH},
	[REASON_INVALID_SUBMITTED_AT] = {"invalid_submitted_at", OUTCOME_REJECT, COMMENTS},
	[REASON_UNSUPPORTED_SCHEMA_VERSION] = {"unsupported_schema_version", OUTCOME_REJECT, BOTH},
	[REASON_INVALID_TEXT] = {"invalid_text", OUTCOME_REJECT, BOTH},
	[REASON_BODY_TOO_SHORT] = {"body_too_short", OUTCOME_REJECT, COMMENTS},
	[REASON_BODY_TOO_LONG] = {"body_too_long", OUTCOME_REJECT, COMMENTS},
	[REASON_SUBMITTED_IN_FUTURE] = {"submitted_in_future", OUTCOME_REJECT, COMMENTS},
	[REASON_SUBMITTED_TOO_OLD] = {"submitted_too_old", OUTCOME_REJECT, COMMENTS},
	[REASON_BANNED_TERM] = {"banned_term", OUTCOME_REJECT, COMMENTS},
	[REASON_DUPLICATE_CONTENT] = {"duplicate_content", OUTCOME_REJECT, COMMENTS},
	[REASON_PAYLOAD_TOO_LARGE] = {"payload_too_large", OUTCOME_REJECT, BOTH},
	[REASON_FIELD_TOO_LARGE] = {"field_too_large", OUTCOME_REJECT, BOTH},
	[REASON_STORAGE_REFUSED] = {"storage_refused", OUTCOME_REJECT, COMMENTS},
	[REASON_INVALID_DECIDED_AT] = {"invalid_decided_at", OUTCOME_REJECT, DECISIONS},
	[REASON_DECIDED_IN_FUTURE] = {"decided_in_future", OUTCOME_REJECT, DECISIONS},
	[REASON_UNKNOWN_COMMENT] = {"unknown_comment", OUTCOME_REJECT, DECISIONS},
	[REASON_ARTICLE_MISMATCH] = {"article_mismatch", OUTCOME_REJECT, DECISIONS},
	[REASON_STALE_DECISION] = {"stale_decision", OUTCOME_REJECT, DECISIONS},
	[REASON_CONTAINS_LINK] = {"contains_link", OUTCOME_HOLD, COMMENTS},
	[REASON_CONTAINS_EMAIL] = {"contains_email", OUTCOME_HOLD, COMMENTS},
	[REASON_CONTAINS_PHONE] = {"contains_phone", OUTCOME_HOLD, COMMENTS},
	[REASON_SUSPECT_TERM] = {"suspect_term", OUTCOME_HOLD, COMMENTS},
	[REASON_SHOUTING] = {"shouting", OUTCOME_HOLD, COMMENTS},
	[REASON_REPEATED_CHARACTERS] = {"repeated_characters", OUTCOME_HOLD, COMMENTS},
	[REASON_FIRST_COMMENT] = {"first_comment", OUTCOME_HOLD, COMMENTS},
	[REASON_RATE_LIMITED] = {"rate_limited", OUTCOME_HOLD, COMMENTS},
};

const char *reason_code(enum reason r)
{
	return (r >= 0 && r < REASON__COUNT) ? table[r].code : "unknown";
}

enum outcome reason_outcome(enum reason r)
{
	return (r >= 0 && r < REASON__COUNT) ? table[r].outcome : OUTCOME_REJECT;
}

int reason_for(enum reason r, enum reason_input input)
{
	return r >= 0 && r < REASON__COUNT && (table[r].inputs & (unsigned)input) != 0;
}
