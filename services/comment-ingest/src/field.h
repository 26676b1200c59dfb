/* field.h - reading the fields of an input event: parsing, schema version, strings, UUIDs, article ids and text. */
#ifndef CI_FIELD_H
#define CI_FIELD_H

#include <jansson.h>
#include <stddef.h>

#include "comment.h"

/*
 * The decoders of both inputs (comment.c, decision.c) read their events with
 * these, so that the same mistake gets the same reason code and detail on
 * either topic. Each rejects through v (verdict_reject) and returns NULL or -1
 * when the field is not what it must be.
 */

/*
 * Parses one message value into a JSON object: rejects an empty value
 * (malformed_json), one over max bytes unread (payload_too_large), invalid
 * UTF-8 (invalid_text), invalid JSON or duplicate keys (malformed_json) and
 * anything but an object (not_an_object). Returns a new reference, or NULL.
 */
json_t *field_parse(const char *payload, size_t len, size_t max, struct verdict *v);

/* Checks schema_version: present (missing_field), an integer (invalid_type) and `supported`. Returns 0 or -1. */
int field_schema_version(json_t *root, int supported, struct verdict *v);

/* A required string member: absent or null -> missing_field, not a string -> invalid_type. */
json_t *field_string(json_t *obj, const char *key, const char *path, struct verdict *v);

/* A UUID string in either case, written to out in lower case (invalid_uuid otherwise). */
int field_uuid(json_t *j, const char *path, char out[UUID_STR_LEN], struct verdict *v);

/* True when s[0..n) is an article_id: 1-128 of [A-Za-z0-9._:-], starting with a letter or digit. */
int field_article_id_valid(const char *s, size_t n);

/* Rejects an article_id that is not one (invalid_field). */
int field_article_id_invalid(struct verdict *v);

/*
 * Cleans a text field (text_clean: NFC, trimmed, no controls) into *dst
 * (malloc'ed) when it has min..max graphemes: invalid_text for bad
 * characters, too_short / too_long otherwise. graphemes and ascii may be NULL.
 */
int field_text(json_t *j, const char *path, int multiline, size_t min, size_t max, enum reason too_short,
	       enum reason too_long, char **dst, size_t *graphemes, int *ascii, struct verdict *v);

#endif
