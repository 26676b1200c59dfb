/* rules.h - moderation triage: which well-formed comments are held for a moderator, and why. */
#ifndef CI_RULES_H
#define CI_RULES_H

#include "comment.h"

struct rules {
	int hold_links; /* hold comments that contain a link */
};

/* The built-in defaults. */
void rules_defaults(struct rules *r);

/*
 * Applies the triage rules to a decoded comment whose verdict is
 * OUTCOME_PUBLISH. Every rule that applies adds its reason to v->hold_mask;
 * any hold reason turns the outcome into OUTCOME_HOLD. A rejecting rule sets
 * OUTCOME_REJECT. Returns the outcome.
 */
enum outcome rules_triage(const struct rules *r, const struct comment *c, struct verdict *v);

/* A human-readable detail for a hold reason, for moderation-needed events. */
const char *rules_hold_detail(enum reason r);

#endif
