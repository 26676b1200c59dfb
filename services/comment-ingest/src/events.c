/* events.c - the output events as JSON: of submissions (comment-published, moderation-needed, comment-rejected) and of decisions. */
#include "events.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "text.h"
#include "uuid.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

static json_t *source_json(const struct source *src)
{
	return json_pack("{s:s, s:i, s:I}", "topic", src->topic, "partition", (json_int_t)src->partition,
			 "offset", (json_int_t)src->offset);
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* The event id: UUIDv5 of "<key>/<event type>", where key is the comment's or the decision's id. */
static int event_id_of(const char *key, const char *type, char out[UUID_STR_LEN])
{
	char name[UUID_STR_LEN + 64];
	int n = snprintf(name, sizeof(name), "%s/%s", key, type);
	return n < 0 || (size_t)n >= sizeof(name) ? -1 : uuid_v5(name, (size_t)n, out);
}

static char *dump(json_t *ev)
{
	if (!ev)
		return NULL;
	char *out = json_dumps(ev, DUMP_FLAGS);
	json_decref(ev);
	return out;
}

/* A stored comment as comment-published or moderation-needed show it; reasons is taken (a new reference). */
static json_t *stored_json(const struct stored_comment *row, const char *event_id, const char *type,
			   const char *status, json_t *reasons)
{
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:s, s:s, s:o, s:s, s:s, s:o}",
			 "schema_version", EVENTS_SCHEMA_VERSION,
			 "event_id", event_id,
			 "event_type", type,
			 "comment_id", row->comment_id,
			 "article_id", row->article_id,
			 "parent_id", str_or_null(row->parent_id),
			 "author", "id", row->author_id, "display_name", row->display_name,
			 "body", row->body,
			 "status", status,
			 "reasons", reasons ? reasons : json_array(),
			 "submitted_at", row->submitted_at,
			 "accepted_at", row->accepted_at,
			 "source", source_json(&row->source));
}

char *events_stored(const struct stored_comment *row, int *held)
{
	char event_id[UUID_STR_LEN];
	*held = strcmp(row->status, "pending") == 0;
	const char *type = *held ? "moderation-needed" : "comment-published";
	if (event_id_of(row->comment_id, type, event_id) != 0)
		return NULL;
	return dump(stored_json(row, event_id, type, row->status, json_loads(row->reasons, 0, NULL)));
}

char *events_approved(const struct stored_comment *row, const struct moderation *m)
{
	char event_id[UUID_STR_LEN];
	if (event_id_of(m->decision_id, "comment-published", event_id) != 0)
		return NULL;
	json_t *ev = stored_json(row, event_id, "comment-published", "published", json_array());
	json_t *mod = json_pack("{s:s, s:s, s:s, s:s, s:o}", "decision_id", m->decision_id, "decision",
				decision_kind_name(m->kind), "from_status", m->from_status, "decided_at",
				m->decided_at, "source", source_json(&m->source));
	if (!ev || !mod) {
		json_decref(ev);
		json_decref(mod);
		return NULL;
	}
	if (json_object_set_new(ev, "moderation", mod) != 0) { /* takes mod, even when it fails */
		json_decref(ev);
		return NULL;
	}
	return dump(ev);
}

char *events_moderated(const char *comment_id, const char *article_id, const struct moderation *m)
{
	char event_id[UUID_STR_LEN];
	if (event_id_of(m->decision_id, "comment-moderated", event_id) != 0)
		return NULL;
	return dump(json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
			      "schema_version", EVENTS_SCHEMA_VERSION,
			      "event_id", event_id,
			      "event_type", "comment-moderated",
			      "comment_id", comment_id,
			      "article_id", article_id,
			      "decision", decision_kind_name(m->kind),
			      "from_status", m->from_status,
			      "to_status", m->to_status,
			      "decision_id", m->decision_id,
			      "decided_at", m->decided_at,
			      "source", source_json(&m->source)));
}

static json_t *payload_json(const char *payload, size_t len, const char **encoding, int *truncated)
{
	if (!payload)
		len = 0;
	*truncated = 0;
	size_t text_len = len <= EVENTS_PAYLOAD_ECHO_MAX ? len : text_utf8_cut(payload, EVENTS_PAYLOAD_ECHO_MAX);
	json_t *s = json_stringn(payload ? payload : "", text_len);
	if (s) {
		*encoding = "utf-8";
		*truncated = text_len < len;
		return s;
	}
	*encoding = "base64";
	if (len > EVENTS_PAYLOAD_ECHO_MAX / 4 * 3) {
		len = EVENTS_PAYLOAD_ECHO_MAX / 4 * 3; /* base64 of it is EVENTS_PAYLOAD_ECHO_MAX bytes */
		*truncated = 1;
	}
	size_t cap = 4 * ((len + 2) / 3) + 1;
	unsigned char *b64 = malloc(cap);
	if (!b64)
		return json_string("");
	int n = EVP_EncodeBlock(b64, (const unsigned char *)payload, (int)len);
	s = json_stringn((const char *)b64, n > 0 ? (size_t)n : 0);
	free(b64);
	return s;
}

/* The event id of a rejection: UUIDv5 of its source coordinates and event type. */
static int rejection_id(const struct source *src, const char *type, char out[UUID_STR_LEN])
{
	char name[512];
	int n = snprintf(name, sizeof(name), "%s/%d/%lld/%s", src->topic, (int)src->partition, (long long)src->offset,
			 type);
	return n < 0 || (size_t)n >= sizeof(name) ? -1 : uuid_v5(name, (size_t)n, out);
}

char *events_rejected(const struct source *src, const char *payload, size_t len,
		      const struct comment *c, const struct verdict *v)
{
	char event_id[UUID_STR_LEN];
	if (rejection_id(src, "comment-rejected", event_id) != 0)
		return NULL;
	const char *encoding = "utf-8";
	int truncated;
	json_t *body = payload_json(payload, len, &encoding, &truncated);
	return dump(json_pack("{s:i, s:s, s:s, s:o, s:o, s:{s:s, s:s}, s:o, s:o, s:s, s:b}",
			      "schema_version", EVENTS_SCHEMA_VERSION,
			      "event_id", event_id,
			      "event_type", "comment-rejected",
			      "comment_id", str_or_null(c->comment_id),
			      "article_id", str_or_null(c->article_id),
			      "reason", "code", reason_code(v->reject), "detail", v->detail,
			      "source", source_json(src),
			      "payload", body,
			      "payload_encoding", encoding,
			      "payload_truncated", truncated));
}

char *events_decision_rejected(const struct source *src, const char *payload, size_t len, const struct decision *d,
			       const struct verdict *v)
{
	char event_id[UUID_STR_LEN];
	if (rejection_id(src, "moderation-decision-rejected", event_id) != 0)
		return NULL;
	const char *encoding = "utf-8";
	int truncated;
	json_t *body = payload_json(payload, len, &encoding, &truncated);
	return dump(json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:{s:s, s:s}, s:o, s:o, s:s, s:b}",
			      "schema_version", EVENTS_SCHEMA_VERSION,
			      "event_id", event_id,
			      "event_type", "moderation-decision-rejected",
			      "decision_id", str_or_null(d->decision_id),
			      "comment_id", str_or_null(d->comment_id),
			      "article_id", str_or_null(d->article_id),
			      "reason", "code", reason_code(v->reject), "detail", v->detail,
			      "source", source_json(src),
			      "payload", body,
			      "payload_encoding", encoding,
			      "payload_truncated", truncated));
}

char *events_hold_reasons(const struct verdict *v)
{
	json_t *arr = json_array();
	char detail[COMMENT_DETAIL_LEN];
	for (int r = 0; r < REASON__COUNT; r++) {
		if (!(v->hold_mask & (1u << r)))
			continue;
		rules_hold_detail((enum reason)r, v->term, detail, sizeof(detail));
		json_t *item = json_pack("{s:s, s:s}", "code", reason_code((enum reason)r), "detail", detail);
		if (!item) /* a term that is not valid UTF-8 cannot happen: terms come folded from JSON */
			item = json_pack("{s:s, s:s}", "code", reason_code((enum reason)r), "detail", "");
		json_array_append_new(arr, item);
	}
	char *out = json_dumps(arr, DUMP_FLAGS);
	json_decref(arr);
	return out;
}
