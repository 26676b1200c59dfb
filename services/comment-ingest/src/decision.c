/* decision.c - the moderation-decided contract: decoding a moderator's decision, and the comment life cycle it moves. */
#include "decision.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"

#define SUPPORTED_SCHEMA_VERSION 1

static const char *const status_names[STATUS__COUNT] = {"pending", "published", "rejected"};

const char *decision_kind_name(enum decision_kind k)
{
	return k == DECISION_APPROVE ? "approve" : "reject";
}

const char *comment_status_name(enum comment_status st)
{
	return st >= 0 && st < STATUS__COUNT ? status_names[st] : "unknown";
}

int comment_status_parse(const char *name, enum comment_status *st)
{
	for (int i = 0; name && i < STATUS__COUNT; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*st = (enum comment_status)i;
			return 0;
		}
	}
	return -1;
}

int decision_transition(enum decision_kind k, enum comment_status from, enum comment_status *to)
{
	*to = k == DECISION_APPROVE ? STATUS_PUBLISHED : STATUS_REJECTED;
	return *to != from;
}

void decision_clear(struct decision *d)
{
	free(d->article_id);
	free(d->moderator_id);
	free(d->note);
	memset(d, 0, sizeof(*d));
}

/* moderator: an object with an id of 1-128 characters and at most 512 bytes; other members are tolerated. */
static int take_moderator(json_t *root, struct decision *d, struct verdict *v)
{
	json_t *m = json_object_get(root, "moderator"), *j;
	if (!m || json_is_null(m)) {
		verdict_reject(v, REASON_MISSING_FIELD, "moderator is required");
		return -1;
	}
	if (!json_is_object(m)) {
		verdict_reject(v, REASON_INVALID_TYPE, "moderator must be an object");
		return -1;
	}
	if (!(j = field_string(m, "id", "moderator.id", v)) ||
	    field_text(j, "moderator.id", 0, 1, DECISION_MODERATOR_ID_MAX, REASON_INVALID_FIELD, REASON_INVALID_FIELD,
		       &d->moderator_id, NULL, NULL, v))
		return -1;
	if (strlen(d->moderator_id) > DECISION_MODERATOR_ID_MAX_BYTES) {
		verdict_reject(v, REASON_FIELD_TOO_LARGE, "moderator.id is %zu bytes in UTF-8; at most %d can be stored",
			       strlen(d->moderator_id), DECISION_MODERATOR_ID_MAX_BYTES);
		return -1;
	}
	return 0;
}

/* note: absent, null or a text of at most 500 characters (an empty one is no note). */
static int take_note(json_t *root, struct decision *d, struct verdict *v)
{
	json_t *j = json_object_get(root, "note");
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_string(j)) {
		verdict_reject(v, REASON_INVALID_TYPE, "note must be a string or null");
		return -1;
	}
	if (field_text(j, "note", 1, 0, DECISION_NOTE_MAX, REASON_INVALID_FIELD, REASON_INVALID_FIELD, &d->note, NULL,
		       NULL, v))
		return -1;
	if (!d->note[0]) {
		free(d->note);
		d->note = NULL;
	}
	return 0;
}

/* decided_at: an RFC 3339 date-time, at most DECISION_MAX_FUTURE_SECONDS ahead of now. */
static int take_decided_at(json_t *root, int64_t now_us, struct decision *d, struct verdict *v)
{
	json_t *j = field_string(root, "decided_at", "decided_at", v);
	if (!j)
		return -1;
	if (timefmt_parse_rfc3339(json_string_value(j), json_string_length(j), &d->decided_us) != 0) {
		verdict_reject(v, REASON_INVALID_DECIDED_AT, "decided_at must be an RFC 3339 date-time");
		return -1;
	}
	timefmt_format_utc(d->decided_us, d->decided_at);
	if (d->decided_us - now_us > (int64_t)DECISION_MAX_FUTURE_SECONDS * 1000000) {
		verdict_reject(v, REASON_DECIDED_IN_FUTURE,
			       "decided_at %s is more than %d seconds ahead of the service's clock", d->decided_at,
			       DECISION_MAX_FUTURE_SECONDS);
		return -1;
	}
	return 0;
}

enum outcome decision_decode(const char *payload, size_t len, int64_t now_us, struct decision *d,
			     struct verdict *v)
{
	json_t *root, *j;
	memset(d, 0, sizeof(*d));
	memset(v, 0, sizeof(*v));

	if (!(root = field_parse(payload, len, COMMENT_PAYLOAD_MAX, v)))
		goto done;

	/* Identify first, so that a rejection can name the decision, the comment and the article. */
	j = json_object_get(root, "decision_id");
	if (json_is_string(j))
		uuid_canonical(json_string_value(j), json_string_length(j), d->decision_id);
	j = json_object_get(root, "comment_id");
	if (json_is_string(j))
		uuid_canonical(json_string_value(j), json_string_length(j), d->comment_id);
	j = json_object_get(root, "article_id");
	if (json_is_string(j) && field_article_id_valid(json_string_value(j), json_string_length(j)))
		d->article_id = strdup(json_string_value(j));

	if (field_schema_version(root, SUPPORTED_SCHEMA_VERSION, v))
		goto done;
	if (!(j = field_string(root, "decision_id", "decision_id", v)) ||
	    field_uuid(j, "decision_id", d->decision_id, v))
		goto done;
	if (!(j = field_string(root, "comment_id", "comment_id", v)) || field_uuid(j, "comment_id", d->comment_id, v))
		goto done;
	if (!(j = field_string(root, "article_id", "article_id", v)))
		goto done;
	if (!d->article_id) {
		field_article_id_invalid(v);
		goto done;
	}
	if (!(j = field_string(root, "decision", "decision", v)))
		goto done;
	if (strcmp(json_string_value(j), "approve") == 0 && json_string_length(j) == 7) {
		d->kind = DECISION_APPROVE;
	} else if (strcmp(json_string_value(j), "reject") == 0 && json_string_length(j) == 6) {
		d->kind = DECISION_REJECT;
	} else {
		verdict_reject(v, REASON_INVALID_FIELD, "decision must be \"approve\" or \"reject\"");
		goto done;
	}
	if (take_moderator(root, d, v) || take_note(root, d, v) || take_decided_at(root, now_us, d, v))
		goto done;
	v->outcome = OUTCOME_PUBLISH;

done:
	json_decref(root);
	return v->outcome;
}
