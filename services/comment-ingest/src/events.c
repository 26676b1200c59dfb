/* events.c - the output events: comment-published, moderation-needed and comment-rejected as JSON. */
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

char *events_stored(const struct stored_comment *row, int *held)
{
	char name[UUID_STR_LEN + 32], event_id[UUID_STR_LEN];
	*held = strcmp(row->status, "pending") == 0;
	const char *type = *held ? "moderation-needed" : "comment-published";
	int n = snprintf(name, sizeof(name), "%s/%s", row->comment_id, type);
	if (uuid_v5(name, (size_t)n, event_id) != 0)
		return NULL;

	json_t *reasons = json_loads(row->reasons, 0, NULL);
	json_t *ev = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:s, s:s, s:o, s:s, s:s, s:o}",
			       "schema_version", EVENTS_SCHEMA_VERSION,
			       "event_id", event_id,
			       "event_type", type,
			       "comment_id", row->comment_id,
			       "article_id", row->article_id,
			       "parent_id", str_or_null(row->parent_id),
			       "author", "id", row->author_id, "display_name", row->display_name,
			       "body", row->body,
			       "status", row->status,
			       "reasons", reasons ? reasons : json_array(),
			       "submitted_at", row->submitted_at,
			       "accepted_at", row->accepted_at,
			       "source", source_json(&row->source));
	if (!ev)
		return NULL;
	char *out = json_dumps(ev, DUMP_FLAGS);
	json_decref(ev);
	return out;
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

char *events_rejected(const struct source *src, const char *payload, size_t len,
		      const struct comment *c, const struct verdict *v)
{
	char name[512], event_id[UUID_STR_LEN];
	int n = snprintf(name, sizeof(name), "%s/%d/%lld/comment-rejected", src->topic, (int)src->partition,
			 (long long)src->offset);
	if (n < 0 || (size_t)n >= sizeof(name) || uuid_v5(name, (size_t)n, event_id) != 0)
		return NULL;
	const char *encoding = "utf-8";
	int truncated;
	json_t *body = payload_json(payload, len, &encoding, &truncated);
	json_t *ev = json_pack("{s:i, s:s, s:s, s:o, s:o, s:{s:s, s:s}, s:o, s:o, s:s, s:b}",
			       "schema_version", EVENTS_SCHEMA_VERSION,
			       "event_id", event_id,
			       "event_type", "comment-rejected",
			       "comment_id", str_or_null(c->comment_id),
			       "article_id", str_or_null(c->article_id),
			       "reason", "code", reason_code(v->reject), "detail", v->detail,
			       "source", source_json(src),
			       "payload", body,
			       "payload_encoding", encoding,
			       "payload_truncated", truncated);
	if (!ev)
		return NULL;
	char *out = json_dumps(ev, DUMP_FLAGS);
	json_decref(ev);
	return out;
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
