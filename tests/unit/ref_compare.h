/*
 * ref_compare.h - what "decides the same" means between the service's rules path and its
 * reference (rules_ref.c): one definition for test_rules_reference.c and fuzz_reference.c.
 * Include it after rules_ref.c.
 */
#ifndef CI_REF_COMPARE_H
#define CI_REF_COMPARE_H

#include <stdint.h>
#include <string.h>

#include "comment.h"
#include "rules.h"
#include "terms.h"

static inline int ref_same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The outcome, reason, holds, detail and term. */
static inline int ref_same_verdict(const struct verdict *a, const struct verdict *b)
{
	return a->outcome == b->outcome && a->reject == b->reject && a->hold_mask == b->hold_mask &&
	       strcmp(a->detail, b->detail) == 0 && strcmp(a->term, b->term) == 0;
}

/* words_split and the reference: the same result, folding, and words at the same places. */
static inline int ref_same_words(int rc, const struct words *w, int rrc, const struct ref_words *r)
{
	int same = rc == rrc && w->n == r->n && ref_same_str(w->folded, r->folded);
	for (size_t i = 0; same && i < w->n; i++)
		same = w->start[i] == r->start[i] && w->len[i] == r->len[i];
	return same;
}

/* Every field comment_decode fills, byte for byte. */
static inline int ref_same_comment(const struct comment *a, const struct comment *b)
{
	return strcmp(a->comment_id, b->comment_id) == 0 && strcmp(a->parent_id, b->parent_id) == 0 &&
	       ref_same_str(a->article_id, b->article_id) && ref_same_str(a->author_id, b->author_id) &&
	       ref_same_str(a->display_name, b->display_name) && ref_same_str(a->body, b->body) &&
	       a->body_graphemes == b->body_graphemes && a->body_ascii == b->body_ascii &&
	       a->submitted_us == b->submitted_us && strcmp(a->submitted_at, b->submitted_at) == 0;
}

/*
 * Runs rules_triage and ref_rules_triage on a body as comment_decode leaves it; v and rv get
 * their verdicts. Returns whether they agree.
 */
static inline int ref_triage_both(const struct rules *rules, const struct ref_rules *ref, const char *body, int ascii,
				  int64_t submitted_us, int64_t now_us, struct verdict *v, struct verdict *rv)
{
	struct comment c;
	memset(&c, 0, sizeof(c));
	memset(v, 0, sizeof(*v));
	memset(rv, 0, sizeof(*rv));
	c.body = (char *)body;
	c.body_ascii = ascii;
	c.submitted_us = submitted_us;
	v->outcome = rv->outcome = OUTCOME_PUBLISH;
	enum outcome o = rules_triage(rules, &c, now_us, v);
	enum outcome ro = ref_rules_triage(ref, &c, now_us, rv);
	return o == ro && ref_same_verdict(v, rv);
}

#endif
