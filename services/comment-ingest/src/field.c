/* field.c - reading the fields of an input event: parsing, schema version, strings, UUIDs, article ids and text. */
#include "field.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

json_t *field_parse(const char *payload, size_t len, size_t max, struct verdict *v)
{
	json_error_t jerr;
	if (!payload || len == 0) {
		verdict_reject(v, REASON_MALFORMED_JSON, "the event is empty");
		return NULL;
	}
	if (len > max) {
		verdict_reject(v, REASON_PAYLOAD_TOO_LARGE, "the event is %zu bytes; at most %zu are read", len, max);
		return NULL;
	}
	/*
	 * DECODE_ANY: a bare string or number is "not an object", not malformed.
	 * INT_AS_REAL: numbers beyond 64 bits in unknown fields are tolerated, and
	 * schema_version 1.0 is the integer 1, as JSON Schema counts it.
	 */
	json_t *root = json_loadb(payload, len,
				  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL,
				  &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			verdict_reject(v, REASON_INVALID_TEXT, "the event is not valid UTF-8");
		else
			verdict_reject(v, REASON_MALFORMED_JSON, "the event is not valid JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		verdict_reject(v, REASON_NOT_AN_OBJECT, "the event must be a JSON object");
		json_decref(root);
		return NULL;
	}
	return root;
}

int field_schema_version(json_t *root, int supported, struct verdict *v)
{
	json_t *j = json_object_get(root, "schema_version");
	if (!j) {
		verdict_reject(v, REASON_MISSING_FIELD, "schema_version is required");
		return -1;
	}
	double version = json_number_value(j);
	if (!json_is_number(j) || version < -1e15 || version > 1e15 || version != (double)(long long)version) {
		verdict_reject(v, REASON_INVALID_TYPE, "schema_version must be an integer");
		return -1;
	}
	if (version != supported) {
		verdict_reject(v, REASON_UNSUPPORTED_SCHEMA_VERSION, "schema_version %.0f is not supported (expected %d)",
			       version, supported);
		return -1;
	}
	return 0;
}

json_t *field_string(json_t *obj, const char *key, const char *path, struct verdict *v)
{
	json_t *j = json_object_get(obj, key);
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

int field_uuid(json_t *j, const char *path, char out[UUID_STR_LEN], struct verdict *v)
{
	if (uuid_canonical(json_string_value(j), json_string_length(j), out) != 0) {
		verdict_reject(v, REASON_INVALID_UUID, "%s must be a UUID", path);
		return -1;
	}
	return 0;
}

int field_article_id_valid(const char *s, size_t n)
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

int field_article_id_invalid(struct verdict *v)
{
	verdict_reject(v, REASON_INVALID_FIELD, "article_id must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
		       COMMENT_ARTICLE_ID_MAX);
	return -1;
}

int field_text(json_t *j, const char *path, int multiline, size_t min, size_t max, enum reason too_short,
	       enum reason too_long, char **dst, size_t *graphemes, int *ascii, struct verdict *v)
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
		verdict_reject(v, t.graphemes < min ? too_short : too_long, "%s must be %zu to %zu characters, it has %zu",
			       path, min, max, t.graphemes);
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
