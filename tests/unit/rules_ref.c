/*
 * rules_ref.c - the rules path as it was before it was made fast (commit 4904d1a): the reference
 * that test_rules_reference.c checks the service's decode, normalization and triage against.
 *
 * Generated once from text.c, terms.c, rules.c and comment.c of that commit: every name has a
 * ref_ prefix, the functions the check does not need are left out. Do not edit it to follow the
 * service: it is what the service must keep deciding.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "comment.h"
#include "text.h"

enum outcome ref_verdict_reject(struct verdict *v, enum reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct ref_text {
	char *s;          /* NFC, trimmed, NUL-terminated; owned by the caller (free) */
	size_t len;       /* bytes, without the terminator */
	size_t graphemes; /* extended grapheme clusters, zero-width-only clusters not counted */
	int ascii;        /* every character is ASCII */
};
struct ref_terms {
	char **slots;  /* NULL or a folded term, words joined by one space */
	size_t nslots; /* a power of two */
	size_t count;
	int max_words; /* the longest phrase, in words */
};
struct ref_words {
	char *folded;  /* case-folded NFC text, owned */
	size_t *start; /* byte offset of each word in folded */
	size_t *len;
	size_t n, cap;
};
struct ref_rules {
	struct ref_terms banned;  /* reject */
	struct ref_terms suspect; /* hold */
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

/* ==== text.c ================================================================================ */


static int ref_is_bidi_control(utf8proc_int32_t c)
{
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* Default_Ignorable_Code_Point: zero-width spaces and joiners, soft hyphen, tag characters... */
static int ref_is_zero_width(utf8proc_int32_t c)
{
	return utf8proc_get_property(c)->ignorable;
}

/* Unicode White_Space, plus zero-width characters, which are invisible at the edges too. */
static int ref_is_trimmable(utf8proc_int32_t c)
{
	switch (c) {
	case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return 1;
	default:
		return (c >= 0x2000 && c <= 0x200A) || ref_is_zero_width(c);
	}
}

const char *ref_text_status_detail(enum text_status st)
{
	switch (st) {
	case TEXT_OK: return "ok";
	case TEXT_INVALID_UTF8: return "is not valid UTF-8";
	case TEXT_NUL: return "contains a NUL character";
	case TEXT_CONTROL: return "contains a control character";
	case TEXT_BIDI: return "contains a bidirectional override or isolate character";
	case TEXT_MARKS: return "contains too many combining marks in a row";
	case TEXT_NOMEM: return "could not be processed";
	}
	return "is invalid";
}

/*
 * First pass: validate and copy, turning CRLF into LF. ASCII is checked
 * inline; *max_cp tells the caller which later work it can skip.
 */
static enum text_status ref_text_validate(const utf8proc_uint8_t *p, size_t n, int multiline,
				      utf8proc_uint8_t *dst, size_t *dstlen, utf8proc_int32_t *max_cp)
{
	size_t i = 0, o = 0;
	int marks = 0;
	utf8proc_int32_t top = 0;
	while (i < n) {
		utf8proc_int32_t c = p[i];
		utf8proc_ssize_t k = 1;
		if (c >= 0x80) {
			k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c);
			if (k < 0)
				return TEXT_INVALID_UTF8;
		}
		if (c == 0)
			return TEXT_NUL;
		if (c == '\r' && multiline && i + 1 < n && p[i + 1] == '\n') {
			i++; /* drop the CR of a CRLF */
			continue;
		}
		if ((c < 0x20 && !(multiline && (c == '\n' || c == '\t'))) || (c >= 0x7F && c <= 0x9F))
			return TEXT_CONTROL;
		if (c >= 0x80) {
			if (ref_is_bidi_control(c))
				return TEXT_BIDI;
			if (!multiline && (c == 0x2028 || c == 0x2029))
				return TEXT_CONTROL;
			/* Unicode's stream-safe limit; it also bounds the cost of canonical reordering. */
			marks = utf8proc_get_property(c)->combining_class ? marks + 1 : 0;
			if (marks > TEXT_MAX_MARKS)
				return TEXT_MARKS;
			if (c > top)
				top = c;
		} else {
			marks = 0;
		}
		memcpy(dst + o, p + i, (size_t)k);
		o += (size_t)k;
		i += (size_t)k;
	}
	dst[o] = '\0';
	*dstlen = o;
	*max_cp = top;
	return TEXT_OK;
}

/* Counts extended grapheme clusters that hold at least one visible code point. */
static size_t ref_text_count_graphemes(const utf8proc_uint8_t *p, size_t n)
{
	size_t count = 0, i = 0;
	utf8proc_int32_t prev = -1, state = 0;
	int visible = 0;
	while (i < n) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c);
		if (k <= 0)
			break; /* validated before: cannot happen */
		if (prev >= 0 && utf8proc_grapheme_break_stateful(prev, c, &state)) {
			count += visible;
			visible = 0;
		}
		if (!ref_is_zero_width(c))
			visible = 1;
		prev = c;
		i += (size_t)k;
	}
	return count + (size_t)visible;
}

enum text_status ref_text_clean(const char *in, size_t inlen, int multiline, struct ref_text *out)
{
	memset(out, 0, sizeof(*out));
	utf8proc_uint8_t *copy = malloc(inlen + 1);
	utf8proc_uint8_t *nfc = NULL;
	enum text_status st = TEXT_NOMEM;
	size_t copylen;
	utf8proc_int32_t max_cp;
	if (!copy)
		goto failed;
	st = ref_text_validate((const utf8proc_uint8_t *)in, inlen, multiline, copy, &copylen, &max_cp);
	if (st != TEXT_OK)
		goto failed;

	/* Below U+0300 every code point is NFC-stable and none composes: skip normalization. */
	utf8proc_ssize_t nfclen = (utf8proc_ssize_t)copylen;
	if (max_cp < 0x300) {
		nfc = copy;
		copy = NULL;
	} else {
		nfclen = utf8proc_map(copy, (utf8proc_ssize_t)copylen, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
		if (nfclen < 0) {
			st = nfclen == UTF8PROC_ERROR_NOMEM ? TEXT_NOMEM : TEXT_INVALID_UTF8;
			goto failed;
		}
	}

	/* Trim: start after leading white space, end after the last visible code point. */
	size_t i = 0, start = (size_t)nfclen, end = 0;
	while (i < (size_t)nfclen) {
		utf8proc_int32_t c = nfc[i];
		utf8proc_ssize_t k = 1;
		if (c >= 0x80 && (k = utf8proc_iterate(nfc + i, nfclen - (utf8proc_ssize_t)i, &c)) <= 0)
			break;
		if (!ref_is_trimmable(c)) {
			if (start == (size_t)nfclen)
				start = i;
			end = i + (size_t)k;
		}
		i += (size_t)k;
	}
	if (start >= end)
		start = end = 0;
	memmove(nfc, nfc + start, end - start);
	nfc[end - start] = '\0';

	out->s = (char *)nfc;
	out->len = end - start;
	out->ascii = max_cp == 0;
	/* In ASCII (CRs gone) every byte is a cluster of its own. */
	out->graphemes = out->ascii ? out->len : ref_text_count_graphemes(nfc, out->len);
	free(copy);
	return TEXT_OK;

failed:
	free(copy);
	free(nfc);
	return st;
}

size_t ref_text_utf8_prefix(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
		if (k <= 0)
			break;
		i += (size_t)k;
	}
	return i;
}



/* ==== terms.c ================================================================================ */


static int ref_is_word_char(utf8proc_int32_t c)
{
	if (c < 0x80)
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
	switch (utf8proc_category(c)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
		return 1;
	default:
		return 0;
	}
}

/* Case-folds s: ASCII by hand (the common case), anything else through utf8proc. */
static char *ref_fold(const char *s, size_t len)
{
	int ascii = 1;
	for (size_t i = 0; i < len && ascii; i++)
		ascii = (unsigned char)s[i] < 0x80;
	if (ascii) {
		char *out = malloc(len + 1);
		if (!out)
			return NULL;
		for (size_t i = 0; i < len; i++)
			out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
		out[len] = '\0';
		return out;
	}
	utf8proc_uint8_t *out = NULL;
	if (utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &out,
			 UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD) < 0)
		return NULL;
	return (char *)out;
}

int ref_words_split(struct ref_words *w, const char *text, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->folded = ref_fold(text, len);
	if (!w->folded)
		return -1;
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)w->folded;
	size_t n = strlen(w->folded), i = 0, begin = 0;
	int in_word = 0;
	while (i <= n) {
		utf8proc_int32_t c = i < n ? p[i] : 0;
		utf8proc_ssize_t k = 1;
		if (c >= 0x80) {
			k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c);
			if (k <= 0) {
				k = 1;
				c = ' ';
			}
		}
		int wc = i < n && ref_is_word_char(c);
		if (wc && !in_word) {
			begin = i;
			in_word = 1;
		} else if (!wc && in_word) {
			if (w->n == w->cap) {
				size_t cap = w->cap ? w->cap * 2 : 64;
				size_t *ns = realloc(w->start, cap * sizeof(size_t));
				if (ns)
					w->start = ns;
				size_t *nl = realloc(w->len, cap * sizeof(size_t));
				if (nl)
					w->len = nl;
				if (!ns || !nl)
					return -1;
				w->cap = cap;
			}
			w->start[w->n] = begin;
			w->len[w->n++] = i - begin;
			in_word = 0;
		}
		i += (size_t)k;
	}
	return 0;
}

void ref_words_free(struct ref_words *w)
{
	free(w->folded);
	free(w->start);
	free(w->len);
	memset(w, 0, sizeof(*w));
}

#define REF_FNV_OFFSET 1469598103934665603ULL

/* Extends an FNV-1a hash with word j (preceded by one space unless h is fresh). */
static uint64_t ref_hash_extend(uint64_t h, const struct ref_words *w, size_t j)
{
	if (h != REF_FNV_OFFSET)
		h = (h ^ ' ') * 1099511628211ULL;
	for (size_t b = 0; b < w->len[j]; b++)
		h = (h ^ (unsigned char)w->folded[w->start[j] + b]) * 1099511628211ULL;
	return h;
}

static uint64_t ref_hash_str(const char *s)
{
	uint64_t h = REF_FNV_OFFSET;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* True when term equals words first..first+k-1 joined by single spaces. */
static int ref_equals_words(const char *term, const struct ref_words *w, size_t first, size_t k)
{
	for (size_t j = first; j < first + k; j++) {
		if (j > first && *term++ != ' ')
			return 0;
		if (strncmp(term, w->folded + w->start[j], w->len[j]) != 0)
			return 0;
		term += w->len[j];
	}
	return *term == '\0';
}

static int ref_terms_grow(struct ref_terms *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 64;
	char **slots = calloc(nslots, sizeof(char *));
	if (!slots)
		return -1;
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i])
			continue;
		size_t j = ref_hash_str(t->slots[i]) & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

int ref_terms_add(struct ref_terms *t, const char *term)
{
	struct ref_words w;
	/* NFC first, as comment bodies are (text_clean): folding does not commute with it */
	char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)term);
	if (!nfc)
		return -1;
	int rc = ref_words_split(&w, nfc, strlen(nfc));
	free(nfc);
	if (rc != 0) {
		ref_words_free(&w);
		return -1;
	}
	if (w.n == 0) {
		ref_words_free(&w);
		return 1;
	}
	/* Re-join the words with single spaces: the form terms_find compares against. */
	char *joined = malloc(strlen(w.folded) + 1);
	if (!joined || ((t->count + 1) * 2 > t->nslots && ref_terms_grow(t) != 0)) {
		free(joined);
		ref_words_free(&w);
		return -1;
	}
	size_t o = 0;
	for (size_t j = 0; j < w.n; j++) {
		if (j)
			joined[o++] = ' ';
		memcpy(joined + o, w.folded + w.start[j], w.len[j]);
		o += w.len[j];
	}
	joined[o] = '\0';
	if ((int)w.n > t->max_words)
		t->max_words = (int)w.n;
	ref_words_free(&w);

	size_t j = ref_hash_str(joined) & (t->nslots - 1);
	while (t->slots[j]) {
		if (strcmp(t->slots[j], joined) == 0) {
			free(joined); /* already there */
			return 0;
		}
		j = (j + 1) & (t->nslots - 1);
	}
	t->slots[j] = joined;
	t->count++;
	return 0;
}

void ref_terms_free(struct ref_terms *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		free(t->slots[i]);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

const char *ref_terms_find(const struct ref_terms *t, const struct ref_words *w)
{
	if (t->count == 0)
		return NULL;
	for (size_t i = 0; i < w->n; i++) {
		uint64_t h = REF_FNV_OFFSET;
		for (size_t k = 1; k <= (size_t)t->max_words && i + k <= w->n; k++) {
			h = ref_hash_extend(h, w, i + k - 1); /* the phrase of words i..i+k-1 */
			size_t j = h & (t->nslots - 1);
			while (t->slots[j]) {
				if (ref_equals_words(t->slots[j], w, i, k))
					return t->slots[j];
				j = (j + 1) & (t->nslots - 1);
			}
		}
	}
	return NULL;
}

/* ==== rules.c ================================================================================ */



void ref_rules_defaults(struct ref_rules *r)
{
	memset(r, 0, sizeof(*r));
	r->hold_links = 1;
	r->hold_emails = 1;
	r->hold_phones = 1;
	r->phone_min_digits = 9;
	r->hold_shouting = 1;
	r->shouting_min_letters = 20;
	r->shouting_ratio = 0.7;
	r->hold_repeats = 1;
	r->repeat_max_run = 8;
	r->hold_first_comment = 0;
	r->rate_max_comments = 5;
	r->rate_window_s = 60;
	r->duplicate_window_s = 86400;
	r->max_skew_s = 300;
	r->max_age_s = 7 * 86400;
}

void ref_rules_free(struct ref_rules *r)
{
	ref_terms_free(&r->banned);
	ref_terms_free(&r->suspect);
}

/* ---- loading ------------------------------------------------------------------------------ */

static int ref_load_terms(json_t *arr, const char *key, struct ref_terms *t, char *err, size_t errlen)
{
	size_t i;
	json_t *v;
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "%s must be an array of strings", key);
		return -1;
	}
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, errlen, "%s[%zu] must be a string", key, i);
			return -1;
		}
		int rc = ref_terms_add(t, json_string_value(v));
		if (rc == 1) {
			snprintf(err, errlen, "%s[%zu] has no letters or digits", key, i);
			return -1;
		}
		if (rc < 0) {
			snprintf(err, errlen, "out of memory loading %s", key);
			return -1;
		}
	}
	return 0;
}

/* Reads one object of settings, e.g. "links": {"hold": true}; every key must be known. */
struct ref_field {
	const char *name;
	char type; /* 'b' boolean, 'i' integer (>= 0), 'r' ratio in [0, 1] */
	void *dst;
};

static int ref_load_section(json_t *root, const char *section, const struct ref_field *f, size_t nf, char *err,
			size_t errlen)
{
	json_t *obj = json_object_get(root, section), *v;
	const char *key;
	if (!obj)
		return 0;
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "%s must be an object", section);
		return -1;
	}
	json_object_foreach(obj, key, v)
	{
		size_t i;
		for (i = 0; i < nf && strcmp(f[i].name, key) != 0; i++)
			;
		if (i == nf) {
			snprintf(err, errlen, "%s.%s is not a known setting", section, key);
			return -1;
		}
		if (f[i].type == 'b' && json_is_boolean(v)) {
			*(int *)f[i].dst = json_is_true(v);
		} else if (f[i].type == 'i' && json_is_integer(v) && json_integer_value(v) >= 0 &&
			   json_integer_value(v) <= 100000000) {
			*(int *)f[i].dst = (int)json_integer_value(v);
		} else if (f[i].type == 'r' && json_is_number(v) && json_number_value(v) >= 0 &&
			   json_number_value(v) <= 1) {
			*(double *)f[i].dst = json_number_value(v);
		} else {
			snprintf(err, errlen, "%s.%s must be %s", section, key,
				 f[i].type == 'b' ? "true or false" : f[i].type == 'i' ? "a whole number >= 0" : "a number from 0 to 1");
			return -1;
		}
	}
	return 0;
}

/* Cuts a message to whole UTF-8 characters, so that the log can carry it (it may quote the file). */
static void ref_utf8_message(char *err, size_t errlen)
{
	if (errlen)
		err[ref_text_utf8_prefix(err, strnlen(err, errlen - 1))] = '\0';
}

int ref_rules_parse(const char *json, size_t len, struct ref_rules *out, char *err, size_t errlen)
{
	json_error_t jerr;
	struct ref_rules r;
	int skew = 300, age = 7 * 86400;
	ref_rules_defaults(&r);
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "%s (line %d)", jerr.text, jerr.line);
		goto failed;
	}
	static const char *const sections[] = {"version", "banned_terms", "suspect_terms", "links", "emails",
					       "phones", "shouting", "repeated_characters", "first_comment",
					       "rate_limit", "duplicate_content", "submitted_at", NULL};
	const char *key;
	json_t *v;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "the rules file must hold a JSON object");
		goto failed;
	}
	json_object_foreach(root, key, v)
	{
		size_t i;
		for (i = 0; sections[i] && strcmp(sections[i], key) != 0; i++)
			;
		if (!sections[i]) {
			snprintf(err, errlen, "%s is not a known section", key);
			goto failed;
		}
	}
	if (json_integer_value(json_object_get(root, "version")) != 1) {
		snprintf(err, errlen, "version must be 1");
		goto failed;
	}
	const struct ref_field links[] = {{"hold", 'b', &r.hold_links}};
	const struct ref_field emails[] = {{"hold", 'b', &r.hold_emails}};
	const struct ref_field phones[] = {{"hold", 'b', &r.hold_phones}, {"min_digits", 'i', &r.phone_min_digits}};
	const struct ref_field shouting[] = {{"hold", 'b', &r.hold_shouting},
					 {"min_letters", 'i', &r.shouting_min_letters},
					 {"uppercase_ratio", 'r', &r.shouting_ratio}};
	const struct ref_field repeats[] = {{"hold", 'b', &r.hold_repeats}, {"max_run", 'i', &r.repeat_max_run}};
	const struct ref_field first[] = {{"hold", 'b', &r.hold_first_comment}};
	const struct ref_field rate[] = {{"max_comments", 'i', &r.rate_max_comments},
				     {"window_seconds", 'i', &r.rate_window_s}};
	const struct ref_field dup[] = {{"window_seconds", 'i', &r.duplicate_window_s}};
	const struct ref_field when[] = {{"max_future_seconds", 'i', &skew}, {"max_age_seconds", 'i', &age}};
	if ((json_object_get(root, "banned_terms") &&
	     ref_load_terms(json_object_get(root, "banned_terms"), "banned_terms", &r.banned, err, errlen)) ||
	    (json_object_get(root, "suspect_terms") &&
	     ref_load_terms(json_object_get(root, "suspect_terms"), "suspect_terms", &r.suspect, err, errlen)) ||
	    ref_load_section(root, "links", links, 1, err, errlen) ||
	    ref_load_section(root, "emails", emails, 1, err, errlen) ||
	    ref_load_section(root, "phones", phones, 2, err, errlen) ||
	    ref_load_section(root, "shouting", shouting, 3, err, errlen) ||
	    ref_load_section(root, "repeated_characters", repeats, 2, err, errlen) ||
	    ref_load_section(root, "first_comment", first, 1, err, errlen) ||
	    ref_load_section(root, "rate_limit", rate, 2, err, errlen) ||
	    ref_load_section(root, "duplicate_content", dup, 1, err, errlen) ||
	    ref_load_section(root, "submitted_at", when, 2, err, errlen))
		goto failed;
	r.max_skew_s = skew;
	r.max_age_s = age;
	json_decref(root);
	*out = r; /* the caller frees its old rules */
	return 0;

failed:
	json_decref(root);
	ref_rules_free(&r);
	ref_utf8_message(err, errlen);
	return -1;
}



/* ---- detectors ---------------------------------------------------------------------------- */

static int ref_ascii_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int ref_ascii_alnum(char ch)
{
	return ref_ascii_alpha(ch) || (ch >= '0' && ch <= '9');
}

/* A URL scheme, "www.", or a host name ending in a common top-level domain. */
static int ref_contains_link(const char *s)
{
	static const char *const tlds[] = {"com", "net", "org", "io", "info", "biz", "xyz", "top", "ru",
					   "cn", "ly", "me", "tk", "co", "in", "uk", "de", "app", NULL};
	for (const char *p = s; *p; p++) {
		char lc = (char)(*p | 0x20);
		if (lc == 'h' && (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0))
			return 1;
		if (lc == 'w' && (p == s || !ref_ascii_alnum(p[-1])) && strncasecmp(p, "www.", 4) == 0 && ref_ascii_alnum(p[4]))
			return 1;
		/*
		 * label.tld where the tld ends the word: "example.com", "spam.ru/x",
		 * "example.com." at the end of a sentence. A capitalised tld after a
		 * lower-case letter is a missing space ("great.In fact"), not a host.
		 */
		if (*p == '.' && p > s && ref_ascii_alnum(p[-1])) {
			for (int i = 0; tlds[i]; i++) {
				size_t n = strlen(tlds[i]);
				const char *end = p + 1 + n;
				if (strncasecmp(p + 1, tlds[i], n) != 0 || ref_ascii_alnum(*end) ||
				    (*end == '.' && ref_ascii_alnum(end[1])))
					continue;
				int lower_label = p[-1] >= 'a' && p[-1] <= 'z';
				if (lower_label && p[1] >= 'A' && p[1] <= 'Z')
					continue;
				return 1;
			}
		}
	}
	return 0;
}

/* local@domain.tld */
static int ref_contains_email(const char *s)
{
	for (const char *at = strchr(s, '@'); at; at = strchr(at + 1, '@')) {
		if (at == s || !(ref_ascii_alnum(at[-1]) || at[-1] == '.' || at[-1] == '_' || at[-1] == '-' || at[-1] == '+'))
			continue;
		const char *p = at + 1;
		int labels = 0, len = 0;
		/* a dot that ends the sentence is not a label separator */
		while (ref_ascii_alnum(*p) || *p == '-' || (*p == '.' && len > 0 && (ref_ascii_alnum(p[1]) || p[1] == '-'))) {
			if (*p == '.') {
				labels++;
				len = 0;
			} else {
				len++;
			}
			p++;
		}
		if (labels >= 1 && len >= 2)
			return 1;
	}
	return 0;
}

static int ref_is_year(const char *g, int n)
{
	return n == 4 && ((g[0] == '1' && g[1] == '9') || (g[0] == '2' && g[1] == '0'));
}

/*
 * A run of digits and phone punctuation holding at least min_digits digits
 * (at most 15). Years ("2023 2024 2025") and ISO dates ("2026-01-31") inside
 * the run do not count as digits of a phone number.
 */
static int ref_contains_phone(const char *s, int min_digits)
{
	for (const char *p = s; *p;) {
		if (!(*p >= '0' && *p <= '9') && *p != '+' && *p != '(') {
			p++;
			continue;
		}
		int digits = 0;
		const char *q = p;
		while ((*q >= '0' && *q <= '9') || *q == ' ' || *q == '-' || *q == '.' || *q == '(' || *q == ')' ||
		       *q == '+') {
			if (*q >= '0' && *q <= '9') {
				const char *g = q;
				while (*q >= '0' && *q <= '9')
					q++;
				int n = (int)(q - g);
				if (ref_is_year(g, n) && q[0] == '-' && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
				    q[2] <= '9' && q[3] == '-' && q[4] >= '0' && q[4] <= '9' && q[5] >= '0' && q[5] <= '9' &&
				    !(q[6] >= '0' && q[6] <= '9'))
					q += 6; /* an ISO date */
				else if (!ref_is_year(g, n))
					digits += n;
				continue;
			}
			q++;
		}
		if (digits >= min_digits && digits <= 15)
			return 1;
		p = q > p ? q : p + 1;
	}
	return 0;
}

/* Mostly capitals: at least min_letters cased letters, ratio of capitals at least ratio. */
static int ref_is_shouting(const char *s, int ascii, int min_letters, double ratio)
{
	size_t upper = 0, lower = 0, i = 0, n = strlen(s);
	if (ascii) {
		for (; i < n; i++) {
			upper += s[i] >= 'A' && s[i] <= 'Z';
			lower += s[i] >= 'a' && s[i] <= 'z';
		}
	}
	while (i < n) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
		if (k <= 0)
			break;
		utf8proc_category_t cat = utf8proc_category(c);
		upper += cat == UTF8PROC_CATEGORY_LU;
		lower += cat == UTF8PROC_CATEGORY_LL;
		i += (size_t)k;
	}
	size_t letters = upper + lower;
	return letters >= (size_t)min_letters && letters > 0 && (double)upper >= ratio * (double)letters;
}

/* The same character more than max_run times in a row (white space aside). */
static int ref_has_long_run(const char *s, int max_run)
{
	size_t i = 0, n = strlen(s);
	utf8proc_int32_t prev = -1;
	int run = 0;
	while (i < n) {
		utf8proc_int32_t c = (unsigned char)s[i];
		utf8proc_ssize_t k = 1;
		if (c >= 0x80 &&
		    (k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c)) <= 0)
			break;
		run = c == prev ? run + 1 : 1;
		if (run > max_run && c != ' ' && c != '\n' && c != '\t')
			return 1;
		prev = c;
		i += (size_t)k;
	}
	return 0;
}

/* ---- decisions ---------------------------------------------------------------------------- */

static void ref_hold(struct verdict *v, enum reason r)
{
	v->hold_mask |= 1u << r;
}

enum outcome ref_rules_triage(const struct ref_rules *r, const struct comment *c, int64_t now_us, struct verdict *v)
{
	if (v->outcome != OUTCOME_PUBLISH)
		return v->outcome;
	if (c->submitted_us > now_us + r->max_skew_s * 1000000)
		return ref_verdict_reject(v, REASON_SUBMITTED_IN_FUTURE,
				      "submitted_at is more than %lld seconds in the future", (long long)r->max_skew_s);
	if (c->submitted_us < now_us - r->max_age_s * 1000000)
		return ref_verdict_reject(v, REASON_SUBMITTED_TOO_OLD, "submitted_at is more than %lld seconds old",
				      (long long)r->max_age_s);

	if (r->banned.count || r->suspect.count) {
		struct ref_words w;
		if (ref_words_split(&w, c->body, strlen(c->body)) != 0) {
			ref_words_free(&w);
			return ref_verdict_reject(v, REASON_INVALID_TEXT, "body could not be processed");
		}
		const char *banned = ref_terms_find(&r->banned, &w);
		const char *suspect = banned ? NULL : ref_terms_find(&r->suspect, &w);
		if (suspect) {
			ref_hold(v, REASON_SUSPECT_TERM);
			/* keep the term whole, or cut it where a character starts */
			size_t n = strlen(suspect);
			if (n >= sizeof(v->term)) {
				n = sizeof(v->term) - 1;
				while (n > 0 && ((unsigned char)suspect[n] & 0xC0) == 0x80)
					n--;
			}
			memcpy(v->term, suspect, n);
			v->term[n] = '\0';
		}
		ref_words_free(&w);
		if (banned)
			return ref_verdict_reject(v, REASON_BANNED_TERM,
					      "The comment contains language that is not allowed here.");
	}
	if (r->hold_links && ref_contains_link(c->body))
		ref_hold(v, REASON_CONTAINS_LINK);
	if (r->hold_emails && ref_contains_email(c->body))
		ref_hold(v, REASON_CONTAINS_EMAIL);
	if (r->hold_phones && ref_contains_phone(c->body, r->phone_min_digits))
		ref_hold(v, REASON_CONTAINS_PHONE);
	if (r->hold_shouting && ref_is_shouting(c->body, c->body_ascii, r->shouting_min_letters, r->shouting_ratio))
		ref_hold(v, REASON_SHOUTING);
	if (r->hold_repeats && ref_has_long_run(c->body, r->repeat_max_run))
		ref_hold(v, REASON_REPEATED_CHARACTERS);
	if (v->hold_mask)
		v->outcome = OUTCOME_HOLD;
	return v->outcome;
}



/* ==== comment.c ================================================================================ */



#define REF_SUPPORTED_SCHEMA_VERSION 1

enum outcome ref_verdict_reject(struct verdict *v, enum reason r, const char *fmt, ...)
{
	v->outcome = OUTCOME_REJECT;
	v->reject = r;
	v->hold_mask = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
	va_end(ap);
	/* jansson quotes the bytes near a syntax error, which may stop inside a character */
	v->detail[ref_text_utf8_prefix(v->detail, strlen(v->detail))] = '\0';
	return OUTCOME_REJECT;
}

void ref_comment_clear(struct comment *c)
{
	free(c->article_id);
	free(c->author_id);
	free(c->display_name);
	free(c->body);
	memset(c, 0, sizeof(*c));
}

/* article_id: 1-128 of [A-Za-z0-9._:-], starting with a letter or digit. */
static int ref_article_id_valid(const char *s, size_t n)
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

/* Looks up a required string member; rejects when absent or not a string. */
static json_t *ref_need_string(json_t *obj, const char *key, const char *path, struct verdict *v)
{
	json_t *j = json_object_get(obj, key);
	if (!j || json_is_null(j)) {
		ref_verdict_reject(v, REASON_MISSING_FIELD, "%s is required", path);
		return NULL;
	}
	if (!json_is_string(j)) {
		ref_verdict_reject(v, REASON_INVALID_TYPE, "%s must be a string", path);
		return NULL;
	}
	return j;
}

/* Cleans a single-line or multiline text field into *dst; rejects on failure. */
static int ref_clean_field(json_t *j, const char *path, int multiline, size_t min, size_t max,
		       enum reason too_short, enum reason too_long, char **dst, size_t *graphemes,
		       int *ascii, struct verdict *v)
{
	struct ref_text t;
	/* A grapheme rarely exceeds a few dozen bytes: refuse to normalize megabytes. */
	if (json_string_length(j) > max * COMMENT_MAX_BYTES_PER_CHAR) {
		ref_verdict_reject(v, too_long, "%s must be %zu to %zu characters, it is far longer", path, min, max);
		return -1;
	}
	enum text_status st = ref_text_clean(json_string_value(j), json_string_length(j), multiline, &t);
	if (st != TEXT_OK) {
		ref_verdict_reject(v, REASON_INVALID_TEXT, "%s %s", path, ref_text_status_detail(st));
		return -1;
	}
	if (t.graphemes < min || t.graphemes > max) {
		ref_verdict_reject(v, t.graphemes < min ? too_short : too_long,
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

static int ref_take_uuid(json_t *j, const char *path, char out[UUID_STR_LEN], struct verdict *v)
{
	if (uuid_canonical(json_string_value(j), json_string_length(j), out) != 0) {
		ref_verdict_reject(v, REASON_INVALID_UUID, "%s must be a UUID", path);
		return -1;
	}
	return 0;
}

enum outcome ref_comment_decode(const char *payload, size_t len, struct comment *c, struct verdict *v)
{
	json_error_t jerr;
	json_t *root = NULL, *j;
	memset(c, 0, sizeof(*c));
	memset(v, 0, sizeof(*v));

	if (!payload || len == 0) {
		ref_verdict_reject(v, REASON_MALFORMED_JSON, "the event is empty");
		goto done;
	}
	if (len > COMMENT_PAYLOAD_MAX) {
		ref_verdict_reject(v, REASON_PAYLOAD_TOO_LARGE, "the event is %zu bytes; at most %d are read", len,
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
			ref_verdict_reject(v, REASON_INVALID_TEXT, "the event is not valid UTF-8");
		else
			ref_verdict_reject(v, REASON_MALFORMED_JSON, "the event is not valid JSON: %s", jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		ref_verdict_reject(v, REASON_NOT_AN_OBJECT, "the event must be a JSON object");
		goto done;
	}

	/* Identify first, so that a rejection can name the comment and article. */
	j = json_object_get(root, "comment_id");
	if (json_is_string(j))
		uuid_canonical(json_string_value(j), json_string_length(j), c->comment_id);
	j = json_object_get(root, "article_id");
	if (json_is_string(j) && ref_article_id_valid(json_string_value(j), json_string_length(j)))
		c->article_id = strdup(json_string_value(j));

	j = json_object_get(root, "schema_version");
	if (!j) {
		ref_verdict_reject(v, REASON_MISSING_FIELD, "schema_version is required");
		goto done;
	}
	double version = json_number_value(j);
	if (!json_is_number(j) || version < -1e15 || version > 1e15 || version != (double)(long long)version) {
		ref_verdict_reject(v, REASON_INVALID_TYPE, "schema_version must be an integer");
		goto done;
	}
	if (version != REF_SUPPORTED_SCHEMA_VERSION) {
		ref_verdict_reject(v, REASON_UNSUPPORTED_SCHEMA_VERSION, "schema_version %.0f is not supported (expected %d)",
			       version, REF_SUPPORTED_SCHEMA_VERSION);
		goto done;
	}

	if (!(j = ref_need_string(root, "comment_id", "comment_id", v)) || ref_take_uuid(j, "comment_id", c->comment_id, v))
		goto done;
	if (!(j = ref_need_string(root, "article_id", "article_id", v)))
		goto done;
	if (!c->article_id) {
		ref_verdict_reject(v, REASON_INVALID_FIELD,
			       "article_id must be 1 to %d characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'",
			       COMMENT_ARTICLE_ID_MAX);
		goto done;
	}

	json_t *author = json_object_get(root, "author");
	if (!author || json_is_null(author)) {
		ref_verdict_reject(v, REASON_MISSING_FIELD, "author is required");
		goto done;
	}
	if (!json_is_object(author)) {
		ref_verdict_reject(v, REASON_INVALID_TYPE, "author must be an object");
		goto done;
	}
	if (!(j = ref_need_string(author, "id", "author.id", v)) ||
	    ref_clean_field(j, "author.id", 0, 1, COMMENT_AUTHOR_ID_MAX, REASON_INVALID_FIELD, REASON_INVALID_FIELD,
			&c->author_id, NULL, NULL, v))
		goto done;
	if (strlen(c->author_id) > COMMENT_AUTHOR_ID_MAX_BYTES) {
		ref_verdict_reject(v, REASON_FIELD_TOO_LARGE, "author.id is %zu bytes in UTF-8; at most %d can be stored",
			       strlen(c->author_id), COMMENT_AUTHOR_ID_MAX_BYTES);
		goto done;
	}
	if (!(j = ref_need_string(author, "display_name", "author.display_name", v)) ||
	    ref_clean_field(j, "author.display_name", 0, 1, COMMENT_DISPLAY_NAME_MAX, REASON_INVALID_FIELD,
			REASON_INVALID_FIELD, &c->display_name, NULL, NULL, v))
		goto done;

	if (!(j = ref_need_string(root, "body", "body", v)) ||
	    ref_clean_field(j, "body", 1, COMMENT_BODY_MIN, COMMENT_BODY_MAX, REASON_BODY_TOO_SHORT,
			REASON_BODY_TOO_LONG, &c->body, &c->body_graphemes, &c->body_ascii, v))
		goto done;

	if (!(j = ref_need_string(root, "submitted_at", "submitted_at", v)))
		goto done;
	if (timefmt_parse_rfc3339(json_string_value(j), json_string_length(j), &c->submitted_us) != 0) {
		ref_verdict_reject(v, REASON_INVALID_SUBMITTED_AT, "submitted_at must be an RFC 3339 date-time");
		goto done;
	}
	timefmt_format_utc(c->submitted_us, c->submitted_at);

	j = json_object_get(root, "parent_id");
	if (j && !json_is_null(j)) {
		if (!json_is_string(j)) {
			ref_verdict_reject(v, REASON_INVALID_TYPE, "parent_id must be a string or null");
			goto done;
		}
		if (ref_take_uuid(j, "parent_id", c->parent_id, v))
			goto done;
	}
	v->outcome = OUTCOME_PUBLISH;

done:
	json_decref(root);
	return v->outcome;
}
