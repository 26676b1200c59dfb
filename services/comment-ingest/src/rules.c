/* rules.c - moderation triage: which well-formed comments are held for a moderator, and why. */
#include "rules.h"

#include <string.h>
#include <strings.h>

void rules_defaults(struct rules *r)
{
	memset(r, 0, sizeof(*r));
	r->hold_links = 1;
}

/* True when s contains a URL scheme or a www. host (ASCII case-insensitive). */
static int contains_link(const char *s)
{
	static const char *const markers[] = {"http://", "https://", "www."};
	for (const char *p = s; *p; p++) {
		for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
			size_t n = strlen(markers[i]);
			/* "www." must start a word, so "awww." is not a link. */
			if (strncasecmp(p, markers[i], n) == 0 &&
			    (i < 2 || p == s || !((p[-1] | 0x20) >= 'a' && (p[-1] | 0x20) <= 'z')))
				return 1;
		}
	}
	return 0;
}

const char *rules_hold_detail(enum reason r)
{
	switch (r) {
	case REASON_CONTAINS_LINK:
		return "The comment contains a link and waits for a moderator.";
	default:
		return "The comment waits for a moderator.";
	}
}

enum outcome rules_triage(const struct rules *r, const struct comment *c, struct verdict *v)
{
	if (v->outcome != OUTCOME_PUBLISH)
		return v->outcome;
	if (r->hold_links && contains_link(c->body))
		v->hold_mask |= 1u << REASON_CONTAINS_LINK;
	if (v->hold_mask)
		v->outcome = OUTCOME_HOLD;
	return v->outcome;
}
