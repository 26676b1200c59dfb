/*
 * fuzz_decide.c - libFuzzer target: the whole decision path of one consumed message, on arbitrary bytes.
 *
 * The input is the raw value of a comment-submitted message. It goes where the service sends it
 * (pipeline.c): comment_decode (decode, normalize, validate); for a well-formed comment
 * rules_triage with the production rules (deploy/rules/default.json, or $FUZZ_RULES_FILE, loaded
 * once) and rules_apply_history with a history taken from a hash of the input; then the output
 * event: events_rejected for a rejection, or events_stored on the row PostgreSQL would hand back
 * (status published or pending, reasons from events_hold_reasons, canonical times). What a
 * consumer, PostgreSQL or the event schemas rely on is checked, and a broken invariant aborts.
 * The clock is fixed (NOW), so every run decides the same way; leaks are LeakSanitizer's.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "check.h"
#include "comment.h"
#include "events.h"
#include "reason.h"
#include "rules.h"
#include "text.h"
#include "timefmt.h"
#include "uuid.h"

/* The fixed clock: the contract corpus's seeds are stamped with this time. */
#define NOW "2026-01-31T10:20:00Z"
#define TOPIC "comment-submitted"

static struct rules rules;       /* the production rules */
static struct rules rules_first; /* the same with first_comment.hold on, so that reason is reached too */
static int64_t now_us;
static char accepted_at[TIMEFMT_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *path = getenv("FUZZ_RULES_FILE");
	char err[512];
	rules_defaults(&rules);
	if (rules_load(path && *path ? path : "deploy/rules/default.json", &rules, err, sizeof(err)) != 0)
		check_fail("cannot load the production rules (run from the repository root): %s", err);
	rules_first = rules; /* shares the terms, which are never freed */
	rules_first.hold_first_comment = 1;
	if (timefmt_parse_rfc3339(NOW, strlen(NOW), &now_us) != 0)
		check_fail("cannot parse %s", NOW);
	timefmt_format_utc(now_us, accepted_at);
	return 0;
}

/* ---- text as the schemas and PostgreSQL want it ----------------------------------------------- */

/* The characters the event schemas forbid at either end of a stored text (their trim pattern). */
static int schema_edge_char(utf8proc_int32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0xAD || c == 0x34F ||
	       c == 0x61C || c == 0x115F || c == 0x1160 || c == 0x1680 || c == 0x17B4 || c == 0x17B5 ||
	       (c >= 0x180B && c <= 0x180F) || (c >= 0x2000 && c <= 0x200F) || c == 0x2028 || c == 0x2029 ||
	       c == 0x202F || c == 0x205F || (c >= 0x2060 && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) ||
	       c == 0x3000 || c == 0x3164 || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF || c == 0xFFA0;
}

/* The characters the schemas forbid anywhere: controls and bidi controls; a body may hold tab, LF, U+2028/9. */
static int schema_forbidden_char(utf8proc_int32_t c, int multiline)
{
	if (multiline && (c == 0x09 || c == 0x0A || c == 0x2028 || c == 0x2029))
		return 0;
	return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/*
 * A cleaned text field as it is stored and published: valid UTF-8 without NUL (PostgreSQL
 * text), none of the characters the schema forbids, trimmed by the schema's rule, min..max
 * graphemes, and a fixed point of text_clean (cleaning it again changes nothing), so that
 * what is stored is what a reader counted.
 */
static void check_clean_text(const char *what, const char *s, int multiline, size_t min, size_t max,
			     size_t graphemes)
{
	CHECK(s, "%s is missing from a well-formed comment", what);
	size_t n = strlen(s);
	CHECK(check_utf8(s, n), "%s is not valid UTF-8", what);
	utf8proc_int32_t first = -1, last = -1;
	for (size_t i = 0; i < n;) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
		CHECK(!schema_forbidden_char(c, multiline), "%s holds U+%04X, which the schema forbids: \"%s\"", what,
		      (unsigned)c, s);
		if (first < 0)
			first = c;
		last = c;
		i += (size_t)k;
	}
	CHECK(n > 0 && !schema_edge_char(first) && !schema_edge_char(last),
	      "%s is not trimmed as the schema says (U+%04X ... U+%04X): \"%s\"", what, (unsigned)first,
	      (unsigned)last, s);

	struct text t;
	enum text_status st = text_clean(s, n, multiline, &t);
	CHECK(st == TEXT_OK, "%s does not clean again: %s", what, text_status_detail(st));
	CHECK(t.len == n && memcmp(t.s, s, n) == 0, "%s changes when cleaned again: \"%s\" -> \"%s\"", what, s, t.s);
	CHECK(t.graphemes == graphemes || graphemes == 0,
	      "%s counts %zu graphemes, %zu when cleaned again", what, graphemes, t.graphemes);
	CHECK(t.graphemes >= min && t.graphemes <= max, "%s has %zu graphemes, outside %zu..%zu", what, t.graphemes,
	      min, max);
	free(t.s);
}

/* The schemas' article_id: ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$ */
static int schema_article_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || !strchr("._:-", ch)))
			return 0;
	}
	return 1;
}

/* A lower-case canonical UUID, as the schemas want comment_id and parent_id. */
static int canonical_uuid(const char *s)
{
	char canon[UUID_STR_LEN];
	return uuid_canonical(s, strlen(s), canon) == 0 && strcmp(canon, s) == 0;
}

/* YYYY-MM-DDTHH:MM:SS.ffffffZ, and it parses back to us. */
static void check_time(const char *what, const char *s, int64_t us)
{
	int64_t back;
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	int ok = strlen(s) == sizeof(shape) - 1;
	for (size_t i = 0; ok && i < sizeof(shape) - 1; i++)
		ok = shape[i] == 'd' ? s[i] >= '0' && s[i] <= '9' : s[i] == shape[i];
	CHECK(ok, "%s is not in the canonical form: %s", what, s);
	CHECK(timefmt_parse_rfc3339(s, strlen(s), &back) == 0 && back == us, "%s %s does not parse back to %lld", what,
	      s, (long long)us);
}

/* ---- decisions -------------------------------------------------------------------------------- */

/* The rejections that belong to the rules (rules.c), after decoding: never decoding's. */
static int rules_reason(enum reason r)
{
	return r == REASON_SUBMITTED_IN_FUTURE || r == REASON_SUBMITTED_TOO_OLD || r == REASON_BANNED_TERM ||
	       r == REASON_DUPLICATE_CONTENT;
}

/* What comment_decode leaves: a rejection, or a well-formed comment as it will be stored. */
static void check_decoded(const struct comment *c, const struct verdict *v, enum outcome decoded)
{
	CHECK(decoded == v->outcome, "comment_decode returned %d but the verdict says %d", decoded, v->outcome);
	CHECK(decoded == OUTCOME_PUBLISH || decoded == OUTCOME_REJECT, "comment_decode held a comment");
	CHECK(!c->comment_id[0] || canonical_uuid(c->comment_id), "comment_id is not canonical: %s", c->comment_id);
	CHECK(!c->article_id || schema_article_id(c->article_id), "article_id breaks the schema: %s", c->article_id);
	if (decoded == OUTCOME_REJECT) {
		CHECK(!rules_reason(v->reject), "decoding rejected with %s, which is the rules' to give",
		      reason_code(v->reject));
		return;
	}
	CHECK(c->comment_id[0] && c->article_id, "a well-formed comment has no comment_id or article_id");
	CHECK(!c->parent_id[0] || canonical_uuid(c->parent_id), "parent_id is not canonical: %s", c->parent_id);
	check_clean_text("author.id", c->author_id, 0, 1, COMMENT_AUTHOR_ID_MAX, 0);
	check_clean_text("author.display_name", c->display_name, 0, 1, COMMENT_DISPLAY_NAME_MAX, 0);
	check_clean_text("body", c->body, 1, COMMENT_BODY_MIN, COMMENT_BODY_MAX, c->body_graphemes);
	if (c->body_ascii)
		for (const char *p = c->body; *p; p++)
			CHECK((unsigned char)*p < 0x80, "body_ascii is set on a body with non-ASCII bytes");
	check_time("submitted_at", c->submitted_at, c->submitted_us);
}

/* The verdict after the rules: one outcome, with reasons that belong to it. */
static void check_verdict(const struct rules *r, const struct comment *c, const struct verdict *v,
			  enum outcome decoded)
{
	switch (v->outcome) {
	case OUTCOME_REJECT:
		CHECK(v->reject > REASON_NONE && v->reject < REASON__COUNT && reason_outcome(v->reject) == OUTCOME_REJECT,
		      "rejected with reason %d (%s), not a rejection code", (int)v->reject, reason_code(v->reject));
		CHECK(v->hold_mask == 0, "a rejection carries hold reasons %#x", v->hold_mask);
		CHECK(v->detail[0] && check_utf8(v->detail, strlen(v->detail)),
		      "the rejection detail is empty or not UTF-8: \"%s\"", v->detail);
		/* the rules reject only with their own codes (or invalid_text for a body they cannot split) */
		CHECK(decoded == OUTCOME_REJECT || rules_reason(v->reject) || v->reject == REASON_INVALID_TEXT,
		      "the rules rejected a well-formed comment with %s", reason_code(v->reject));
		return;
	case OUTCOME_HOLD:
		CHECK(v->hold_mask != 0, "held without a reason");
		for (int i = 0; i < 32; i++)
			CHECK(!(v->hold_mask & (1u << i)) || (i < REASON__COUNT && reason_outcome((enum reason)i) == OUTCOME_HOLD),
			      "held with bit %d, which is not a hold reason", i);
		CHECK(!(v->hold_mask & (1u << REASON_SUSPECT_TERM)) ||
			      (v->term[0] && check_utf8(v->term, strlen(v->term))),
		      "held for a suspect term that is empty or not UTF-8");
		break;
	case OUTCOME_PUBLISH:
		CHECK(v->hold_mask == 0, "published with hold reasons %#x", v->hold_mask);
		break;
	default:
		check_fail("the verdict has outcome %d", (int)v->outcome);
	}
	CHECK(v->reject == REASON_NONE, "an accepted comment carries rejection reason %s", reason_code(v->reject));
	CHECK(c->submitted_us <= now_us + r->max_skew_s * 1000000 && c->submitted_us >= now_us - r->max_age_s * 1000000,
	      "accepted a comment submitted at %s, outside the window around %s", c->submitted_at, NOW);
}

/* ---- events ----------------------------------------------------------------------------------- */

/* Standard base64 back to bytes; out has room for 3 * n / 4. Returns the length, or -1. */
static long base64_decode(const char *in, size_t n, unsigned char *out)
{
	if (n % 4)
		return -1;
	if (n == 0)
		return 0;
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	return len - (in[n - 1] == '=') - (in[n - 2] == '=');
}

/* True when bytes are valid UTF-8, NULs allowed: what jansson keeps as a string. */
static int utf8_with_nuls(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t j = i;
		while (j < len && s[j])
			j++;
		if (!check_utf8(s + i, j - i))
			return 0;
		i = j + 1;
	}
	return 1;
}

static void check_source(json_t *ev, const struct source *src)
{
	json_t *s = json_object_get(ev, "source");
	CHECK(json_is_object(s), "source is not an object");
	CHECK(strcmp(check_member_string(s, "topic", NULL), src->topic) == 0 &&
		      json_integer_value(json_object_get(s, "partition")) == src->partition &&
		      json_integer_value(json_object_get(s, "offset")) == src->offset,
	      "source is not where the message came from");
}

static void check_event_id(json_t *ev)
{
	const char *id = check_member_string(ev, "event_id", NULL);
	CHECK(canonical_uuid(id) && id[14] == '5' && strchr("89ab", id[19]), "event_id is not a UUIDv5: %s", id);
}

/* comment-rejected: the reason, the ids when known, and the original payload, byte for byte. */
static void check_rejected(const struct source *src, const uint8_t *data, size_t size, const struct comment *c,
			   const struct verdict *v)
{
	char *event = events_rejected(src, (const char *)data, size, c, v);
	json_t *ev = check_event(event, "comment-rejected");
	CHECK(strcmp(check_member_string(ev, "event_type", NULL), "comment-rejected") == 0, "wrong event_type");
	check_event_id(ev);
	json_t *reason = json_object_get(ev, "reason");
	CHECK(json_is_object(reason), "reason is not an object");
	CHECK(strcmp(check_member_string(reason, "code", NULL), reason_code(v->reject)) == 0, "reason.code differs");
	CHECK(strcmp(check_member_string(reason, "detail", NULL), v->detail) == 0, "reason.detail differs");

	json_t *id = json_object_get(ev, "comment_id");
	CHECK(c->comment_id[0] ? json_is_string(id) && strcmp(json_string_value(id), c->comment_id) == 0 : json_is_null(id),
	      "comment_id is not the decoded one");
	json_t *article = json_object_get(ev, "article_id");
	CHECK(c->article_id ? json_is_string(article) && strcmp(json_string_value(article), c->article_id) == 0
			    : json_is_null(article),
	      "article_id is not the decoded one");
	check_source(ev, src);

	size_t plen;
	const char *payload = check_member_string(ev, "payload", &plen);
	const char *encoding = check_member_string(ev, "payload_encoding", NULL);
	int utf8 = utf8_with_nuls((const char *)data, size);
	if (strcmp(encoding, "utf-8") == 0) {
		CHECK(utf8, "a payload that is not UTF-8 is sent as utf-8");
		CHECK(plen == size && memcmp(payload, data, size) == 0, "the utf-8 payload is not the message");
	} else {
		CHECK(strcmp(encoding, "base64") == 0, "payload_encoding is %s", encoding);
		CHECK(!utf8, "a UTF-8 payload is sent as base64");
		unsigned char *raw = malloc(plen / 4 * 3 + 3);
		CHECK(raw, "out of memory");
		long n = base64_decode(payload, plen, raw);
		CHECK(n == (long)size && memcmp(raw, data, size) == 0, "the base64 payload does not decode to the message");
		free(raw);
	}
	json_decref(ev);
	free(event);
}

/*
 * comment-published or moderation-needed from the row PostgreSQL would return. The reasons
 * column first, as stored (jsonb): an array of {code, detail}, one per hold bit in
 * reason-table order, every detail non-empty and free of NUL (jsonb refuses \u0000).
 */
static void check_stored(const struct source *src, const struct comment *c, const struct verdict *v)
{
	int held = v->outcome == OUTCOME_HOLD;
	char *reasons = held ? events_hold_reasons(v) : strdup("[]");
	json_error_t jerr;
	CHECK(reasons, "events_hold_reasons built nothing");
	json_t *want = json_loads(reasons, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(json_is_array(want), "the reasons are not a JSON array (%s): %s", jerr.text, reasons);
	size_t i = 0;
	for (int r = 0; r < REASON__COUNT; r++) {
		if (!(v->hold_mask & (1u << r)))
			continue;
		json_t *item = json_array_get(want, i++);
		CHECK(json_is_object(item), "reasons[%zu] is missing", i - 1);
		CHECK(strcmp(check_member_string(item, "code", NULL), reason_code((enum reason)r)) == 0,
		      "reasons[%zu] is not %s", i - 1, reason_code((enum reason)r));
		size_t dlen;
		const char *detail = check_member_string(item, "detail", &dlen);
		CHECK(dlen > 0 && dlen == strlen(detail), "reasons[%zu].detail is empty or holds a NUL", i - 1);
	}
	CHECK(json_array_size(want) == i, "the reasons have %zu items for %zu hold reasons", json_array_size(want), i);

	struct stored_comment row = {
		.comment_id = c->comment_id,
		.article_id = c->article_id,
		.author_id = c->author_id,
		.display_name = c->display_name,
		.parent_id = c->parent_id[0] ? c->parent_id : NULL,
		.body = c->body,
		.status = held ? "pending" : "published",
		.reasons = reasons,
		.submitted_at = c->submitted_at,
		.accepted_at = accepted_at,
		.source = *src,
	};
	int was_held = -1;
	char *event = events_stored(&row, &was_held);
	const char *type = held ? "moderation-needed" : "comment-published";
	json_t *ev = check_event(event, type);
	CHECK(was_held == held, "events_stored says held=%d for status %s", was_held, row.status);
	CHECK(strcmp(check_member_string(ev, "event_type", NULL), type) == 0, "event_type is not %s", type);
	CHECK(strcmp(check_member_string(ev, "status", NULL), row.status) == 0, "status differs");
	check_event_id(ev);
	CHECK(strcmp(check_member_string(ev, "comment_id", NULL), c->comment_id) == 0, "comment_id differs");
	CHECK(strcmp(check_member_string(ev, "article_id", NULL), c->article_id) == 0, "article_id differs");
	json_t *parent = json_object_get(ev, "parent_id");
	CHECK(row.parent_id ? json_is_string(parent) && strcmp(json_string_value(parent), row.parent_id) == 0
			    : json_is_null(parent),
	      "parent_id differs");
	json_t *author = json_object_get(ev, "author");
	CHECK(json_is_object(author), "author is not an object");
	CHECK(strcmp(check_member_string(author, "id", NULL), c->author_id) == 0, "author.id differs");
	CHECK(strcmp(check_member_string(author, "display_name", NULL), c->display_name) == 0,
	      "author.display_name differs");
	size_t blen;
	const char *body = check_member_string(ev, "body", &blen);
	CHECK(blen == strlen(c->body) && memcmp(body, c->body, blen) == 0, "the published body is not the stored one");
	CHECK(json_equal(json_object_get(ev, "reasons"), want), "reasons differ from the stored ones");
	CHECK(held == (json_array_size(want) > 0), "a %s event with %zu reasons", type, json_array_size(want));
	check_time("event submitted_at", check_member_string(ev, "submitted_at", NULL), c->submitted_us);
	check_time("event accepted_at", check_member_string(ev, "accepted_at", NULL), now_us);
	check_source(ev, src);
	json_decref(ev);
	json_decref(want);
	free(event);
	free(reasons);
}

/* ---- the target ------------------------------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct comment c;
	struct verdict v;
	/*
	 * The history and the source come from a hash of the input rather than from a prefix, so
	 * that a seed is a plain message value; every combination is reached all the same.
	 */
	uint64_t h = fnv1a(data, size);
	const struct rules *r = (h >> 5) & 1 ? &rules_first : &rules;
	struct history hist = {
		.duplicate_content = (h & 7) == 0,
		.author_has_comments = (int)((h >> 3) & 1),
		.author_recent = (int)((h >> 6) & 7),
	};
	struct source src = {TOPIC, (int32_t)((h >> 9) % 3), (int64_t)((h >> 16) & 0xFFFFFFFF)};

	enum outcome decoded = comment_decode((const char *)data, size, &c, &v);
	check_decoded(&c, &v, decoded);
	if (decoded == OUTCOME_PUBLISH) {
		rules_triage(r, &c, now_us, &v);
		rules_apply_history(r, &hist, &v);
	}
	check_verdict(r, &c, &v, decoded);
	if (v.outcome == OUTCOME_REJECT)
		check_rejected(&src, data, size, &c, &v);
	else
		check_stored(&src, &c, &v);
	comment_clear(&c);
	return 0;
}
