/*
 * fuzz_decision.c - libFuzzer target: one moderation-decided message value through what the service does with it.
 *
 * The input is the raw value of a moderation-decided message. It goes where moderate.c sends it:
 * decision_decode (decode and validate, with a fixed clock); a rejection becomes its
 * moderation-decision-rejected event; a well-formed decision joins the batch's decisions
 * (store_decisions_add) and, as if PostgreSQL had applied it, becomes its comment-published or
 * comment-moderated event. What consumers, PostgreSQL and the schemas rely on is checked, and a
 * broken invariant aborts: a rejection has a code that decisions can get (never one that only the
 * database gives), a UTF-8 detail and an event that parses back; a decision that passes has
 * canonical ids, a valid article_id, a moderator id and note that clean to themselves within
 * their bounds, a decided_at in canonical form no further ahead than allowed; decoding twice gives
 * the same answer; no event carries the moderator's id or note.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decision.h"
#include "events.h"
#include "field.h"
#include "reason.h"
#include "store.h"
#include "text.h"
#include "timefmt.h"
#include "uuid.h"

/* The fixed clock: the schema examples are stamped before it. */
#define NOW "2026-01-31T11:00:00Z"
#define TOPIC "moderation-decided"

static int64_t now_us;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (timefmt_parse_rfc3339(NOW, strlen(NOW), &now_us) != 0)
		check_fail("cannot parse %s", NOW);
	return 0;
}

static int canonical_uuid(const char *s)
{
	char canon[UUID_STR_LEN];
	return uuid_canonical(s, strlen(s), canon) == 0 && strcmp(canon, s) == 0;
}

/* A cleaned text field: UTF-8 without NUL, a fixed point of text_clean, min..max graphemes. */
static void check_clean(const char *what, const char *s, int multiline, size_t min, size_t max)
{
	size_t n = strlen(s);
	CHECK(check_utf8(s, n), "%s is not valid UTF-8", what);
	struct text t;
	enum text_status st = text_clean(s, n, multiline, &t);
	CHECK(st == TEXT_OK, "%s does not clean again: %s", what, text_status_detail(st));
	CHECK(t.len == n && memcmp(t.s, s, n) == 0, "%s changes when cleaned again", what);
	CHECK(t.graphemes >= min && t.graphemes <= max, "%s has %zu graphemes, outside %zu..%zu", what, t.graphemes,
	      min, max);
	free(t.s);
}

/* The reasons only PostgreSQL's answer gives: decoding never may. */
static int database_reason(enum reason r)
{
	return r == REASON_UNKNOWN_COMMENT || r == REASON_ARTICLE_MISMATCH || r == REASON_STALE_DECISION;
}

/* Blanks every occurrence of s in buf (so that a note found inside, say, the article id is not taken for a leak). */
static void blank_out(char *buf, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0)
		return;
	for (char *p = strstr(buf, s); p; p = strstr(p + n, s))
		memset(p, '\x01', n);
}

/*
 * An event carries neither the moderator's id nor the note. The note may
 * still be found in the event inside a value that legitimately holds it (a
 * note of "nnnnnnnn" inside an article_id of n's): those values, which the
 * event is built from (known), are blanked before the note is looked for.
 */
static void check_private(const char *event, const struct decision *d, const char *const *known)
{
	json_t *ev = check_event(event, "a decision's event");
	json_t *mod = json_object_get(ev, "moderation");
	CHECK(!json_object_get(ev, "moderator") && !json_object_get(ev, "note") &&
		      (!mod || (!json_object_get(mod, "moderator") && !json_object_get(mod, "note"))),
	      "an event shows the moderator or the note: %s", event);
	if (d->note && strlen(d->note) >= 8) {
		char *rest = strdup(event);
		CHECK(rest, "out of memory");
		for (; *known; known++)
			blank_out(rest, *known);
		CHECK(!strstr(rest, d->note), "an event quotes the note: %s", event);
		free(rest);
	}
	json_decref(ev);
}

static void check_accepted(const struct decision *d)
{
	CHECK(canonical_uuid(d->decision_id) && canonical_uuid(d->comment_id), "ids are not canonical: %s %s",
	      d->decision_id, d->comment_id);
	CHECK(d->article_id && field_article_id_valid(d->article_id, strlen(d->article_id)), "article_id is not one");
	CHECK(d->kind == DECISION_APPROVE || d->kind == DECISION_REJECT, "decision %d", (int)d->kind);
	CHECK(d->moderator_id, "no moderator id");
	check_clean("moderator.id", d->moderator_id, 0, 1, DECISION_MODERATOR_ID_MAX);
	CHECK(strlen(d->moderator_id) <= DECISION_MODERATOR_ID_MAX_BYTES, "moderator.id is %zu bytes",
	      strlen(d->moderator_id));
	if (d->note)
		check_clean("note", d->note, 1, 1, DECISION_NOTE_MAX);
	int64_t back;
	CHECK(strlen(d->decided_at) == 27 && timefmt_parse_rfc3339(d->decided_at, 27, &back) == 0 &&
		      back == d->decided_us,
	      "decided_at %s is not canonical", d->decided_at);
	CHECK(d->decided_us - now_us <= (int64_t)DECISION_MAX_FUTURE_SECONDS * 1000000, "decided_at %s is too far ahead",
	      d->decided_at);

	struct store_decisions rows = {0};
	CHECK(store_decisions_add(&rows, d, TOPIC, 2, 17) == 0 && rows.count == 1, "store_decisions_add failed");
	store_decisions_free(&rows);

	/* The events PostgreSQL's answer would give: every transition of the life cycle. */
	struct stored_comment sc = {.comment_id = d->comment_id, .article_id = d->article_id, .author_id = "reader-1",
				    .display_name = "Priya S", .parent_id = NULL,
				    .body = "A stored body, long enough to be a comment: fifty characters at least.",
				    .status = "pending", .reasons = "[]", .submitted_at = "2026-01-31T10:00:00.000000Z",
				    .accepted_at = "2026-01-31T10:00:00.412093Z", .source = {"comment-submitted", 1, 9}};
	for (int from = 0; from < STATUS__COUNT; from++) {
		enum comment_status to;
		if (!decision_transition(d->kind, (enum comment_status)from, &to))
			continue;
		struct moderation m = {d->decision_id, d->kind, comment_status_name((enum comment_status)from),
				       comment_status_name(to), d->decided_at, {TOPIC, 2, 17}};
		char *ev = to == STATUS_PUBLISHED ? events_approved(&sc, &m) : events_moderated(d->comment_id, d->article_id, &m);
		CHECK(ev, "the event of an applied decision was not built");
		const char *known[] = {d->article_id, d->comment_id, d->decision_id, d->decided_at, sc.author_id,
				       sc.display_name, sc.body, sc.submitted_at, sc.accepted_at, sc.source.topic, TOPIC,
				       NULL};
		check_private(ev, d, known);
		free(ev);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decision d, again;
	struct verdict v, v2;
	enum outcome o = decision_decode((const char *)data, size, now_us, &d, &v);
	enum outcome o2 = decision_decode((const char *)data, size, now_us, &again, &v2);
	CHECK(o == v.outcome && o == o2 && v.reject == v2.reject && strcmp(v.detail, v2.detail) == 0,
	      "decoding twice gives two answers");
	CHECK(o == OUTCOME_PUBLISH || o == OUTCOME_REJECT, "decision_decode held a decision");
	CHECK(!d.decision_id[0] || canonical_uuid(d.decision_id), "decision_id is not canonical");
	CHECK(!d.comment_id[0] || canonical_uuid(d.comment_id), "comment_id is not canonical");
	if (o == OUTCOME_REJECT) {
		CHECK(reason_for(v.reject, REASON_FOR_DECISIONS) && reason_outcome(v.reject) == OUTCOME_REJECT,
		      "a decision rejected with %s", reason_code(v.reject));
		CHECK(!database_reason(v.reject), "decoding rejected with %s, which is the database's to give",
		      reason_code(v.reject));
		CHECK(v.detail[0] && check_utf8(v.detail, strlen(v.detail)), "the detail is empty or not UTF-8");
		struct source src = {TOPIC, 0, 4};
		char *ev = events_decision_rejected(&src, (const char *)data, size, &d, &v);
		json_t *j = check_event(ev, "moderation-decision-rejected");
		CHECK(strcmp(check_member_string(json_object_get(j, "reason"), "code", NULL), reason_code(v.reject)) == 0,
		      "the dead letter's code is not the verdict's");
		json_decref(j);
		free(ev);
	} else {
		check_accepted(&d);
	}
	decision_clear(&d);
	decision_clear(&again);
	return 0;
}
