/* reason.c - the table of reason codes: each code, its outcome and a detail a reader can be shown. */
#include "reason.h"

static const struct {
	const char *code;
	enum outcome outcome;
} table[REASON__COUNT] = {
	[REASON_NONE] = {"none", OUTCOME_PUBLISH},
	[REASON_MALFORMED_JSON] = {"malformed_json", OUTCOME_REJECT},
	[REASON_NOT_AN_OBJECT] = {"not_an_object", OUTCOME_REJECT},
	[REASON_MISSING_FIELD] = {"missing_field", OUTCOME_REJECT},
	[REASON_INVALID_TYPE] = {"invalid_type", OUTCOME_REJECT},
	[REASON_INVALID_UUID] = {"invalid_uuid", OUTCOME_REJECT},
	[REASON_INVALID_FIELD] = {"invalid_field", OUTCOME_REJECT},
	[REASON_INVALID_SUBMITTED_AT] = {"invalid_submitted_at", OUTCOME_REJECT},
	[REASON_UNSUPPORTED_SCHEMA_VERSION] = {"unsupported_schema_version", OUTCOME_REJECT},
	[REASON_INVALID_TEXT] = {"invalid_text", OUTCOME_REJECT},
	[REASON_BODY_TOO_SHORT] = {"body_too_short", OUTCOME_REJECT},
	[REASON_BODY_TOO_LONG] = {"body_too_long", OUTCOME_REJECT},
	[REASON_SUBMITTED_IN_FUTURE] = {"submitted_in_future", OUTCOME_REJECT},
	[REASON_SUBMITTED_TOO_OLD] = {"submitted_too_old", OUTCOME_REJECT},
	[REASON_BANNED_TERM] = {"banned_term", OUTCOME_REJECT},
	[REASON_DUPLICATE_CONTENT] = {"duplicate_content", OUTCOME_REJECT},
	[REASON_PAYLOAD_TOO_LARGE] = {"payload_too_large", OUTCOME_REJECT},
	[REASON_FIELD_TOO_LARGE] = {"field_too_large", OUTCOME_REJECT},
	[REASON_STORAGE_REFUSED] = {"storage_refused", OUTCOME_REJECT},
	[REASON_CONTAINS_LINK] = {"contains_link", OUTCOME_HOLD},
	[REASON_CONTAINS_EMAIL] = {"contains_email", OUTCOME_HOLD},
	[REASON_CONTAINS_PHONE] = {"contains_phone", OUTCOME_HOLD},
	[REASON_SUSPECT_TERM] = {"suspect_term", OUTCOME_HOLD},
	[REASON_SHOUTING] = {"shouting", OUTCOME_HOLD},
	[REASON_REPEATED_CHARACTERS] = {"repeated_characters", OUTCOME_HOLD},
	[REASON_FIRST_COMMENT] = {"first_comment", OUTCOME_HOLD},
	[REASON_RATE_LIMITED] = {"rate_limited", OUTCOME_HOLD},
};

const char *reason_code(enum reason r)
{
	return (r >= 0 && r < REASON__COUNT) ? table[r].code : "unknown";
}

enum outcome reason_outcome(enum reason r)
{
	return (r >= 0 && r < REASON__COUNT) ? table[r].outcome : OUTCOME_REJECT;
}
