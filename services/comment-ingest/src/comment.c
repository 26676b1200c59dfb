/* comment.c - decoding a comment-submitted event into a validated comment, or a rejection. */
#include "comment.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define SUPPORTED_SCHEMA_VERSION 1

enum outcome verdict_reject(struct verdict *v, enum reason r, const char *fmt, ...)
{
	v->outcome = OUTCOME_REJECT;
	v->reject = r;
	v->hold_mask = 0;
	if (!strchr(fmt, '%')) { /* a fixed text: what vsnprintf would write, without it */
		size_t n = strnlen(fmt, sizeof(v->detail) - 1);
		memcpy(v->detail, fmt, n);
		v->detail[n] = '\0';
	} else {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
		va_end(ap);
	}
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

/* article_id: 1-128 of [A-Za-z0-9._:-], starting with a letter or digit. */
static int article_id_valid(const char *s, size_t n)
{
	if (n < 1 || n > COMMENT_ARTICLE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || (ch != '.' && ch != '_' && ch != ':' && ch != '-')))
			return 0;
	}
	return 1;
}

/* The members of an event that comment_decode reads (NULL when absent), found in one pass. */
struct members {
	json_t *schema_version, *comment_id, *article_id, *author, *body, *submitted_at, *parent_id;
};

static void find_members(json_t *root, struct members *m)
{
	memset(m, 0, sizeof(*m));
	for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
		const char *key = json_object_iter_key(it);
		size_t len = json_object_iter_key_len(it);
		json_t *value = json_object_iter_value(it), **slot = NULL;
		switch (len) {
		case 4: slot = memcmp(key, "body", 4) ? NULL : &m->body; break;
		case 6: slot = memcmp(key, "author", 6) ? NULL : &m->author; break;
		case 9: slot = memcmp(key, "parent_id", 9) ? NULL : &m->parent_id; break;
		case 10:
			slot = !memcmp(key, "comment_id", 10) ? &m->comment_id
			       : !memcmp(key, "article_id", 10) ? &m->article_id : NULL;
			break;
		case 12: slot = memcmp(key, "submitted_at", 12) ? NULL : &m->submitted_at; break;
		case 14: slot = memcmp(key, "schema_version", 14) ? NULL : &m->schema_version; break;
		default: break;
		}
		if (slot)
			*slot = value; /* keys are unique: JSON_REJECT_DUPLICATES */
	}
}

/* Checks a required string member j (NULL when absent); rejects when absent or not a string. */
static json_t *need_string(json_t *j, const char *path, struct verdict *v)
{
	if (!j || json_is_null(j)) {
		verdict_reject(v, REASON_MISSING_FIELD, "%s is required", path);
		return NULL;
	}
	if (!json_is_string(j)) {
		verdict_reject(v, REASON_INVALID_TYPE, "%s must be a string", path);
		return NULL;
	}
	return j;
}

/* Cleans a single-line or multiline text field into *dst; rejects on failure. */
static int clean_field(json_t *j, const char *path, int multiline, size_t min, size_t max,
		       enum reason too_short, enum reason too_long, char **dst, size_t *graphemes,
		       int *ascii, struct verdict *v)
{
	struct text t;
	/* A grapheme rarely exceeds a few dozen bytes: refuse to normalize megabytes. */
	if (json_string_length(j) > max * COMMENT_MAX_BYTES_PER_CHAR) {
		verdict_reject(v, too_long, "%s must be %zu to %zu characters, it is far longer", path, min, max);
		return -1;
	}
	enum text_status st = text_clean(json_string_value(j), json_string_length(j), multiline, &t);
	if (st != TEXT_OK) {
		verdict_reject(v, REASON_INVALID_TEXT, "%s %s", path, text_status_detail(st));
		return -1;
	}
	if (t.graphemes < min || t.graphemes > max) {
		verdict_reject(v, t.graphemes < min ? too_short : too_long,
			       "%s must be %zu to %zu characters, it has %zu", path, min, max, t.graphemes);
		free(t.s);
		return -1;
	}
	*dst = t.s;
	if (graphemes)
		*graphemes = t.graphemes;
	if (ascii)
		*ascii = t.ascii;
	return 0;
}

static int take_uuid(json_t *j, const char *path, char out[UUID_STR_LEN], struct verdict *v)
{
	if (uuid_canonical(json_string_value(j), json_string_length(j), out) != 0) {
		verdict_reject(v, REASON_INVALID_UUID, "%s must be a UUID", path);
		return -1;
	}
	return 0;
}

/* A copy of the string j (no NUL inside: article_id_valid), or NULL when out of memory. */
static char *copy_string(json_t *j)
{
	size_t n = json_string_length(j);
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, json_string_value(j), n);
		s[n] = '\0';
	}
	return s;
}

enum outcome comment_decode(const char *payload, size_t len, struct comment *c, struct verdict *v)
{
	json_error_t jerr;
	json_t *root = NULL, *j;
	memset(c, 0, sizeof(*c));
	memset(v, 0, sizeof(*v));

	if (!payload || len == 0) {
		verdict_reject(v, REASON_MALFORMED_JSON, "the event is empty");
		goto done;
	}
	if (len > COMMENT_PAYLOAD_MAX) {
		verdict_reject(v, REASON_PAYLOAD_TOO_LARGE, "the event is %zu bytes; at most %d are read", len,
			       COMMENT_PAYLOAD_MAX);
		goto done;
	}
	/*
	 * DECODE_ANY: a bare string or number is "not an object", not malformed.
	 * INT_AS_REAL: numbers beyond 64 bits in unknown fields are tolerated, and
	 * schema_version 1.0 is the integer 1, as JSON Schema counts it.
	 */
	root = json_loadb(payload, len,
			  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			verdict_reject(v, REASON_INVALID_TEXT, "the event is not valid UTF-8");
		else
			verdict_reject(v, REASON_MALFORMED_JSON, "the event is not valid JSON: %s", jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		verdict_reject(v, REASON_NOT_AN_OBJECT, "the event must be a JSON object");
		goto done;
	}

	struct members m;
	find_members(root, &m);

	/* Identify first, so that a rejection can name the comment and article. */
	j = m.comment_id;
	int id_ok = json_is_string(j) && uuid_canonical(json_string_value(j), json_string_length(j), c->comment_id) == 0;
	j = m.article_id;
	if (json_is_string(j) && article_id_valid(json_string_value(j), json_string_length(j)))
		c->article_id = copy_string(j);

	j = m.schema_version;
	if (!j) {
		verdict_reject(v, REASON_MISSING_FIELD, "schema_version is required");
		goto done;
	}
	double version = json_number_value(j);
	if (!json_is_number(j) || version < -1e15 || version > 1e15 || version != (double)(long long)version) {
		verdict_reject(v, REASON_INVALID_TYPE, "schema_version must be an integer");
		goto done;
	}
	if (version != SUPPORTED_SCHEMA_VERSION) {
		verdict_reject(v, REASON_UNSUPPORTED_SCHEMA_VERSION, "schema_version %.0f is not supported (expected %d)",
			       version, SUPPORTED_SCHEMA_VERSION);
		goto done;
	}

	if (!need_string(m.comment_id, "comment_id", v))
		goto done;
	if (!id_ok) { /* uuid_canonical refused it above */
		verdict_reject(v, REASON_INVALID_UUID, "comment_id must be a UUID");
		goto done;
	}
	if (!need_string(m.article_id, "article_id", v))
		goto done;
	if (!c->article_id) {
		verdict_reject(v, REASON_INVALID_FIELD,
			       "article_id must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
			       COMMENT_ARTICLE_ID_MAX);
		goto done;
	}

	json_t *author = m.author;
	if (!author || json_is_null(author)) {
		verdict_reject(v, REASON_MISSING_FIELD, "author is required");
		goto done;
	}
	if (!json_is_object(author)) {
		verdict_reject(v, REASON_INVALID_TYPE, "author must be an object");
		goto done;
	}
	if (!(j = need_string(json_object_get(author, "id"), "author.id", v)) ||
	    clean_field(j, "author.id", 0, 1, COMMENT_AUTHOR_ID_MAX, REASON_INVALID_FIELD, REASON_INVALID_FIELD,
			&c->author_id, NULL, NULL, v))
		goto done;
	if (strlen(c->author_id) > COMMENT_AUTHOR_ID_MAX_BYTES) {
		verdict_reject(v, REASON_FIELD_TOO_LARGE, "author.id is %zu bytes in UTF-8; at most %d can be stored",
			       strlen(c->author_id), COMMENT_AUTHOR_ID_MAX_BYTES);
		goto done;
	}
	if (!(j = need_string(json_object_get(author, "display_name"), "author.display_name", v)) ||
	    clean_field(j, "author.display_name", 0, 1, COMMENT_DISPLAY_NAME_MAX, REASON_INVALID_FIELD,
			REASON_INVALID_FIELD, &c->display_name, NULL, NULL, v))
		goto done;

	if (!(j = need_string(m.body, "body", v)) ||
	    clean_field(j, "body", 1, COMMENT_BODY_MIN, COMMENT_BODY_MAX, REASON_BODY_TOO_SHORT,
			REASON_BODY_TOO_LONG, &c->body, &c->body_graphemes, &c->body_ascii, v))
		goto done;

	if (!(j = need_string(m.submitted_at, "submitted_at", v)))
		goto done;
	if (timefmt_parse_rfc3339(json_string_value(j), json_string_length(j), &c->submitted_us) != 0) {
		verdict_reject(v, REASON_INVALID_SUBMITTED_AT, "submitted_at must be an RFC 3339 date-time");
		goto done;
	}
	timefmt_format_utc(c->submitted_us, c->submitted_at);

	j = m.parent_id;
	if (j && !json_is_null(j)) {
		if (!json_is_string(j)) {
			verdict_reject(v, REASON_INVALID_TYPE, "parent_id must be a string or null");
			goto done;
		}
		if (take_uuid(j, "parent_id", c->parent_id, v))
			goto done;
	}
	v->outcome = OUTCOME_PUBLISH;

done:
	json_decref(root);
	return v->outcome;
}
