/* rules.h - moderation rules: loaded from a JSON rules file, applied to each comment with its reasons. */
#ifndef CI_RULES_H
#define CI_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "comment.h"
#include "terms.h"

struct rules {
	struct terms banned;  /* reject */
	struct terms suspect; /* hold */
	int hold_links;
	int hold_emails;
	int hold_phones;
	int phone_min_digits;
	int hold_shouting;
	int shouting_min_letters;
	double shouting_ratio;
	int hold_repeats;
	int repeat_max_run;
	int hold_first_comment;
	int rate_max_comments; /* 0: off */
	int rate_window_s;
	int duplicate_window_s; /* 0: off */
	int64_t max_skew_s;     /* how far into the future submitted_at may be */
	int64_t max_age_s;      /* how old submitted_at may be */
};

/* What PostgreSQL knows about a new comment's author and content (see store.c). */
struct history {
	int author_has_comments; /* the author has a stored comment already */
	int author_recent;       /* the author's comments accepted within rate_window_s */
	int duplicate_content;   /* the same author, article and body within duplicate_window_s */
};

/* The built-in defaults: every switch as in deploy/rules/default.json, no terms. */
void rules_defaults(struct rules *r);

/*
 * Parses the text of a rules file (len bytes of JSON, format in README
 * "Moderation rules"; no terminator needed) into r: every section falls back
 * to rules_defaults. Unknown keys are errors, so that a typo never silently
 * disables a rule. Returns 0 (the caller frees its old rules), or -1 with a
 * message in err (r untouched). Never fails otherwise on any input.
 */
int rules_parse(const char *json, size_t len, struct rules *r, char *err, size_t errlen);

/* Reads a rules file and parses it (rules_parse). On -1 err starts with the path. */
int rules_load(const char *path, struct rules *r, char *err, size_t errlen);
void rules_free(struct rules *r);

/*
 * Content rules for a well-formed comment (v->outcome OUTCOME_PUBLISH):
 * the submission time window and banned terms reject; suspect terms, links,
 * e-mail addresses, phone numbers, shouting and repeated characters hold.
 * Every hold reason that applies is added to v->hold_mask. now_us is the
 * current time. Returns the outcome.
 */
enum outcome rules_triage(const struct rules *r, const struct comment *c, int64_t now_us, struct verdict *v);

/* History rules, after rules_triage: duplicate content rejects; a first comment or a burst holds. */
enum outcome rules_apply_history(const struct rules *r, const struct history *h, struct verdict *v);

/* A human-readable detail for a hold reason, for moderation-needed events (term may be empty). */
void rules_hold_detail(enum reason r, const char *term, char *out, size_t outlen);

#endif
