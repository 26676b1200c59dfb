/* comment.c - decoding a comment-submitted event into a validated comment, or a rejection. */
#include "comment.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "text.h"

#define SUPPORTED_SCHEMA_VERSION 1

enum outcome verdict_reject(struct verdict *v, enum reason r, const char *fmt, ...)
{
	v->outcome = OUTCOME_REJECT;
	v->reject = r;
	v->hold_mask = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	/* jansson quotes the bytes near a syntax error, which may stop inside a character */
	v->detail[text_utf8_prefix(v->detail, strlen(v->detail))] = '\0';
	return OUTCOME_REJECT;
}

void comment_clear(struct comment *c)
{
	free(c->article_id);
	free(c->author_id);
	free(c->display_name);
	free(c->body);
	memset(c, 0, sizeof(*c));
}

enum outcome comment_decode(const char *payload, size_t len, struct comment *c, struct verdict *v)
{
	json_t *root, *j;
	memset(c, 0, sizeof(*c));
	memset(v, 0, sizeof(*v));

	if (!(root = field_parse(payload, len, COMMENT_PAYLOAD_MAX, v)))
		goto done;

	/* Identify first, so that a rejection can name the comment and article. */
	j = json_object_get(root, "comment_id");
	if (json_is_string(j))
		uuid_canonical(json_string_value(j), json_string_length(j), c->comment_id);
	j = json_object_get(root, "article_id");
	if (json_is_string(j) && field_article_id_valid(json_string_value(j), json_string_length(j)))
		c->article_id = strdup(json_string_value(j));

	if (field_schema_version(root, SUPPORTED_SCHEMA_VERSION, v))
		goto done;

	if (!(j = field_string(root, "comment_id", "comment_id", v)) || field_uuid(j, "comment_id", c->comment_id, v))
		goto done;
	if (!(j = field_string(root, "article_id", "article_id", v)))
		goto done;
	if (!c->article_id) {
		field_article_id_invalid(v);
		goto done;
	}

	json_t *author = json_object_get(root, "author");
	if (!author || json_is_null(author)) {
		verdict_reject(v, REASON_MISSING_FIELD, "author is required");
		goto done;
	}
	if (!json_is_object(author)) {
		verdict_reject(v, REASON_INVALID_TYPE, "author must be an object");
		goto done;
	}
	if (!(j = field_string(author, "id", "author.id", v)) ||
	    field_text(j, "author.id", 0, 1, COMMENT_AUTHOR_ID_MAX, REASON_INVALID_FIELD, REASON_INVALID_FIELD,
		       &c->author_id, NULL, NULL, v))
		goto done;
	if (strlen(c->author_id) > COMMENT_AUTHOR_ID_MAX_BYTES) {
		verdict_reject(v, REASON_FIELD_TOO_LARGE, "author.id is %zu bytes in UTF-8; at most %d can be stored",
			       strlen(c->author_id), COMMENT_AUTHOR_ID_MAX_BYTES);
		goto done;
	}
	if (!(j = field_string(author, "display_name", "author.display_name", v)) ||
	    field_text(j, "author.display_name", 0, 1, COMMENT_DISPLAY_NAME_MAX, REASON_INVALID_FIELD,
		       REASON_INVALID_FIELD, &c->display_name, NULL, NULL, v))
		goto done;

	if (!(j = field_string(root, "body", "body", v)) ||
	    field_text(j, "body", 1, COMMENT_BODY_MIN, COMMENT_BODY_MAX, REASON_BODY_TOO_SHORT,
		       REASON_BODY_TOO_LONG, &c->body, &c->body_graphemes, &c->body_ascii, v))
		goto done;

	if (!(j = field_string(root, "submitted_at", "submitted_at", v)))
		goto done;
	if (timefmt_parse_rfc3339(json_string_value(j), json_string_length(j), &c->submitted_us) != 0) {
		verdict_reject(v, REASON_INVALID_SUBMITTED_AT, "submitted_at must be an RFC 3339 date-time");
		goto done;
	}
	timefmt_format_utc(c->submitted_us, c->submitted_at);

	j = json_object_get(root, "parent_id");
	if (j && !json_is_null(j)) {
		if (!json_is_string(j)) {
			verdict_reject(v, REASON_INVALID_TYPE, "parent_id must be a string or null");
			goto done;
		}
		if (field_uuid(j, "parent_id", c->parent_id, v))
			goto done;
	}
	v->outcome = OUTCOME_PUBLISH;

done:
	json_decref(root);
	return v->outcome;
}
