/* rules.c - moderation rules: loaded from a JSON rules file, applied to each comment with its reasons. */
#include "rules.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "text.h"

void rules_defaults(struct rules *r)
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

void rules_free(struct rules *r)
{
	terms_free(&r->banned);
	terms_free(&r->suspect);
}

/* ---- loading ------------------------------------------------------------------------------ */

static int load_terms(json_t *arr, const char *key, struct terms *t, char *err, size_t errlen)
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
		int rc = terms_add(t, json_string_value(v));
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
struct field {
	const char *name;
	char type; /* 'b' boolean, 'i' integer (>= 0), 'r' ratio in [0, 1] */
	void *dst;
};

static int load_section(json_t *root, const char *section, const struct field *f, size_t nf, char *err,
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
static void utf8_message(char *err, size_t errlen)
{
	if (errlen)
		err[text_utf8_prefix(err, strnlen(err, errlen - 1))] = '\0';
}

int rules_parse(const char *json, size_t len, struct rules *out, char *err, size_t errlen)
{
	json_error_t jerr;
	struct rules r;
	int skew = 300, age = 7 * 86400;
	rules_defaults(&r);
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
	const struct field links[] = {{"hold", 'b', &r.hold_links}};
	const struct field emails[] = {{"hold", 'b', &r.hold_emails}};
	const struct field phones[] = {{"hold", 'b', &r.hold_phones}, {"min_digits", 'i', &r.phone_min_digits}};
	const struct field shouting[] = {{"hold", 'b', &r.hold_shouting},
					 {"min_letters", 'i', &r.shouting_min_letters},
					 {"uppercase_ratio", 'r', &r.shouting_ratio}};
	const struct field repeats[] = {{"hold", 'b', &r.hold_repeats}, {"max_run", 'i', &r.repeat_max_run}};
	const struct field first[] = {{"hold", 'b', &r.hold_first_comment}};
	const struct field rate[] = {{"max_comments", 'i', &r.rate_max_comments},
				     {"window_seconds", 'i', &r.rate_window_s}};
	const struct field dup[] = {{"window_seconds", 'i', &r.duplicate_window_s}};
	const struct field when[] = {{"max_future_seconds", 'i', &skew}, {"max_age_seconds", 'i', &age}};
	if ((json_object_get(root, "banned_terms") &&
	     load_terms(json_object_get(root, "banned_terms"), "banned_terms", &r.banned, err, errlen)) ||
	    (json_object_get(root, "suspect_terms") &&
	     load_terms(json_object_get(root, "suspect_terms"), "suspect_terms", &r.suspect, err, errlen)) ||
	    load_section(root, "links", links, 1, err, errlen) ||
	    load_section(root, "emails", emails, 1, err, errlen) ||
	    load_section(root, "phones", phones, 2, err, errlen) ||
	    load_section(root, "shouting", shouting, 3, err, errlen) ||
	    load_section(root, "repeated_characters", repeats, 2, err, errlen) ||
	    load_section(root, "first_comment", first, 1, err, errlen) ||
	    load_section(root, "rate_limit", rate, 2, err, errlen) ||
	    load_section(root, "duplicate_content", dup, 1, err, errlen) ||
	    load_section(root, "submitted_at", when, 2, err, errlen))
		goto failed;
	r.max_skew_s = skew;
	r.max_age_s = age;
	json_decref(root);
	*out = r; /* the caller frees its old rules */
	return 0;

failed:
	json_decref(root);
	rules_free(&r);
	utf8_message(err, errlen);
	return -1;
}

/* Reads the whole file at path into a malloc'ed buffer. Returns it, or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int e;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	errno = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			char *nb = realloc(buf, cap);
			if (!nb)
				goto failed;
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto failed;
	fclose(f);
	*len = n;
	return buf;

failed:
	e = errno ? errno : EIO;
	free(buf);
	fclose(f);
	errno = e;
	return NULL;
}

int rules_load(const char *path, struct rules *out, char *err, size_t errlen)
{
	char msg[256] = "";
	size_t len = 0;
	char *json = read_file(path, &len);
	if (!json)
		snprintf(msg, sizeof(msg), "cannot read it: %s", strerror(errno));
	int rc = json ? rules_parse(json, len, out, msg, sizeof(msg)) : -1;
	free(json);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		utf8_message(err, errlen);
	}
	return rc;
}

/* ---- detectors ---------------------------------------------------------------------------- */

static int ascii_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int ascii_alnum(char ch)
{
	return ascii_alpha(ch) || (ch >= '0' && ch <= '9');
}

/* A URL scheme, "www.", or a host name ending in a common top-level domain. */
static int contains_link(const char *s)
{
	static const char *const tlds[] = {"com", "net", "org", "io", "info", "biz", "xyz", "top", "ru",
					   "cn", "ly", "me", "tk", "co", "in", "uk", "de", "app", NULL};
	for (const char *p = s; *p; p++) {
		char lc = (char)(*p | 0x20);
		if (lc == 'h' && (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0))
			return 1;
		if (lc == 'w' && (p == s || !ascii_alnum(p[-1])) && strncasecmp(p, "www.", 4) == 0 && ascii_alnum(p[4]))
			return 1;
		/*
		 * label.tld where the tld ends the word: "example.com", "spam.ru/x",
		 * "example.com." at the end of a sentence. A capitalised tld after a
		 * lower-case letter is a missing space ("great.In fact"), not a host.
		 */
		if (*p == '.' && p > s && ascii_alnum(p[-1])) {
			for (int i = 0; tlds[i]; i++) {
				size_t n = strlen(tlds[i]);
				const char *end = p + 1 + n;
				if (strncasecmp(p + 1, tlds[i], n) != 0 || ascii_alnum(*end) ||
				    (*end == '.' && ascii_alnum(end[1])))
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
static int contains_email(const char *s)
{
	for (const char *at = strchr(s, '@'); at; at = strchr(at + 1, '@')) {
		if (at == s || !(ascii_alnum(at[-1]) || at[-1] == '.' || at[-1] == '_' || at[-1] == '-' || at[-1] == '+'))
			continue;
		const char *p = at + 1;
		int labels = 0, len = 0;
		/* a dot that ends the sentence is not a label separator */
		while (ascii_alnum(*p) || *p == '-' || (*p == '.' && len > 0 && (ascii_alnum(p[1]) || p[1] == '-'))) {
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

static int is_year(const char *g, int n)
{
	return n == 4 && ((g[0] == '1' && g[1] == '9') || (g[0] == '2' && g[1] == '0'));
}

/*
 * A run of digits and phone punctuation holding at least min_digits digits
 * (at most 15). Years ("2023 2024 2025") and ISO dates ("2026-01-31") inside
 * the run do not count as digits of a phone number.
 */
static int contains_phone(const char *s, int min_digits)
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
				if (is_year(g, n) && q[0] == '-' && q[1] >= '0' && q[1] <= '9' && q[2] >= '0' &&
				    q[2] <= '9' && q[3] == '-' && q[4] >= '0' && q[4] <= '9' && q[5] >= '0' && q[5] <= '9' &&
				    !(q[6] >= '0' && q[6] <= '9'))
					q += 6; /* an ISO date */
				else if (!is_year(g, n))
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

/* At least min_letters cased letters, ratio of capitals at least ratio. */
static int shouting_counts(size_t upper, size_t lower, int min_letters, double ratio)
{
	size_t letters = upper + lower;
	return letters >= (size_t)min_letters && letters > 0 && (double)upper >= ratio * (double)letters;
}

/* Mostly capitals: at least min_letters cased letters, ratio of capitals at least ratio. */
static int is_shouting(const char *s, int ascii, int min_letters, double ratio)
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
	return shouting_counts(upper, lower, min_letters, ratio);
}

/* The same character more than max_run times in a row (white space aside). */
static int has_long_run(const char *s, int max_run)
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

/*
 * What one pass over a body tells: the counts that shouting and repeated characters decide
 * on, and for terms, links, e-mail and phones whether they may be there at all (when not,
 * their detector would find nothing; when so, it decides).
 */
struct body_scan {
	size_t upper, lower; /* cased letters, as is_shouting counts them */
	int long_run;        /* has_long_run */
	int maybe_term;      /* a word can start a banned or suspect term (terms_may_start), or folding may tell */
	int maybe_link;      /* "://", or a '.' between two ASCII letters or digits: contains_link needs one */
	int maybe_email;     /* an '@' */
	int maybe_phone;     /* a digit, '+' or '(': where contains_phone starts */
};

static unsigned char ascii_lower(unsigned char b)
{
	return b >= 'A' && b <= 'Z' ? (unsigned char)(b + ('a' - 'A')) : b;
}

/* Where scan_body is between characters. */
struct scan_state {
	struct body_scan out;
	int32_t prev;       /* the previous code point, -1 at the start */
	int run;            /* how many times prev came in a row */
	int in_word;        /* prev is an ASCII word character */
	size_t word;        /* where that word starts */
	uint64_t quick[16]; /* the terms_quick bits of both lists */
};

/* Whether the ASCII word p[0..len) (len >= 1), once folded, can start a term of either list. */
static int word_may_start(const struct rules *r, const struct scan_state *st, const unsigned char *p, size_t len)
{
	unsigned bit = terms_quick_bit(p[0], len);
	if (!((st->quick[bit >> 6] >> (bit & 63)) & 1))
		return 0;
	uint32_t key = terms_key(len, ascii_lower(p[0]), ascii_lower(p[len > 1]), ascii_lower(p[len - 1]));
	return terms_may_start(&r->banned, key) || terms_may_start(&r->suspect, key);
}

/* A '.' or ':' at p[i]: may it belong to a link (see struct body_scan)? */
static int link_mark(const unsigned char *p, size_t i)
{
	if (p[i] == ':')
		return p[i + 1] == '/' && p[i + 2] == '/';
	return i > 0 && ascii_alnum((char)p[i - 1]) && ascii_alnum((char)p[i + 1]);
}

/*
 * Scans the characters that start in p[i..end) (the last may run past end), and at end ==
 * n (the terminator) closes the last word. Returns where it stopped, or (size_t)-1 when the
 * text is not valid UTF-8. ascii: is_shouting counts ASCII letters only.
 */
static size_t scan_chars(const struct rules *r, const unsigned char *p, size_t i, size_t end, size_t n, int ascii,
			 struct scan_state *st)
{
	for (; i < end; i++) {
		int32_t c = p[i];
		if (c >= 0x80) {
			utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &c);
			if (k <= 0)
				return (size_t)-1;
			if (!ascii) {
				utf8proc_category_t cat = utf8proc_category(c);
				st->out.upper += cat == UTF8PROC_CATEGORY_LU;
				st->out.lower += cat == UTF8PROC_CATEGORY_LL;
			}
			/*
			 * When every term starts with an ASCII word, only a folded word of ASCII alone
			 * can start one. If nothing of c folds to ASCII (composing only makes code
			 * points beyond it), such a word is made of ASCII characters of the body:
			 * the ASCII words around c are words of the folded text as they stand, or
			 * parts of a word with something of c in it. They are looked at as words
			 * (which can only add a false alarm).
			 */
			if (!st->out.maybe_term) {
				if (r->banned.first_not_ascii || r->suspect.first_not_ascii || text_folds_to_ascii(c))
					st->out.maybe_term = 1; /* folding decides its words (words_split) */
				else if (st->in_word && word_may_start(r, st, p + st->word, i - st->word))
					st->out.maybe_term = 1;
			}
			st->in_word = 0;
			i += (size_t)k - 1;
		} else {
			int up = (uint32_t)c - 'A' < 26u, lo = (uint32_t)c - 'a' < 26u, digit = (uint32_t)c - '0' < 10u;
			int w = up | lo | digit | (c == '_');
			if (w != st->in_word) {
				if (w)
					st->word = i;
				else if (!st->out.maybe_term && word_may_start(r, st, p + st->word, i - st->word))
					st->out.maybe_term = 1;
				st->in_word = w;
			}
			st->out.upper += (size_t)up;
			st->out.lower += (size_t)lo;
			st->out.maybe_email |= c == '@';
			st->out.maybe_phone |= digit | (c == '+') | (c == '(');
			if (c == ':' || c == '.')
				st->out.maybe_link |= link_mark(p, i);
		}
		st->run = c == st->prev ? st->run + 1 : 1;
		st->prev = c;
		st->out.long_run |= st->run > r->repeat_max_run && c != ' ' && c != '\n' && c != '\t';
	}
	if (end == n && st->in_word && !st->out.maybe_term && word_may_start(r, st, p + st->word, n - st->word))
		st->out.maybe_term = 1;
	return i;
}

#if defined(__SSE2__)
/* 0xFF in each byte of x from lo to hi (x holds ASCII only: signed compares are right). */
static __m128i bytes_in(__m128i x, char lo, char hi)
{
	return _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8((char)(lo - 1))), _mm_cmplt_epi8(x, _mm_set1_epi8((char)(hi + 1))));
}

static __m128i bytes_are(__m128i x, char b)
{
	return _mm_cmpeq_epi8(x, _mm_set1_epi8(b));
}

static unsigned bits(__m128i m)
{
	return (unsigned)_mm_movemask_epi8(m);
}

/* The letters scan_block counts, byte by byte (each byte counts at most 255 blocks). */
struct block_counts {
	__m128i upper, lower;
	unsigned blocks;
};

static void counts_flush(struct block_counts *bc, struct scan_state *st)
{
	__m128i zero = _mm_setzero_si128(), up = _mm_sad_epu8(bc->upper, zero), lo = _mm_sad_epu8(bc->lower, zero);
	st->out.upper += (size_t)_mm_cvtsi128_si32(up) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(up, 8));
	st->out.lower += (size_t)_mm_cvtsi128_si32(lo) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(lo, 8));
	bc->upper = bc->lower = zero;
	bc->blocks = 0;
}

/*
 * scan_chars over the 16 ASCII bytes x at p[i] (i + 16 <= n) at once, to the same state
 * (letters are counted in *bc). Word ends and link marks are looked at one by one.
 */
static void scan_block(const struct rules *r, const unsigned char *p, size_t i, __m128i x, struct scan_state *st,
		       struct block_counts *bc)
{
	__m128i up = bytes_in(x, 'A', 'Z'), lo = bytes_in(x, 'a', 'z'), digit = bytes_in(x, '0', '9');
	bc->upper = _mm_sub_epi8(bc->upper, up); /* a match is 0xFF: -1 */
	bc->lower = _mm_sub_epi8(bc->lower, lo);
	if (++bc->blocks == 255)
		counts_flush(bc, st);
	unsigned w = bits(_mm_or_si128(_mm_or_si128(up, lo), _mm_or_si128(digit, bytes_are(x, '_'))));
	st->out.maybe_email |= bits(bytes_are(x, '@')) != 0;
	st->out.maybe_phone |= bits(_mm_or_si128(digit, _mm_or_si128(bytes_are(x, '+'), bytes_are(x, '(')))) != 0;
	for (unsigned m = bits(_mm_or_si128(bytes_are(x, '.'), bytes_are(x, ':'))); m && !st->out.maybe_link; m &= m - 1)
		st->out.maybe_link = link_mark(p, i + (size_t)__builtin_ctz(m));

	/* a word starts at a word byte after another byte, and ends at another byte after a word byte */
	unsigned before = (w << 1 | (unsigned)st->in_word) & 0xFFFF;
	unsigned starts = w & ~before, ends = ~w & before & 0xFFFF;
	for (; ends && !st->out.maybe_term; ends &= ends - 1) {
		unsigned k = (unsigned)__builtin_ctz(ends), earlier = starts & ((1u << k) - 1);
		size_t word = earlier ? i + 31 - (size_t)__builtin_clz(earlier) : st->word;
		st->out.maybe_term = word_may_start(r, st, p + word, i + k - word);
	}
	if (starts)
		st->word = i + 31 - (size_t)__builtin_clz(starts);
	st->in_word = (int)(w >> 15);

	/*
	 * Runs: bit j of same is set when byte j equals the byte before it. A run longer than
	 * max_run ends at byte j when max_run such bits end there, counting the run that the
	 * block starts with (run - 1 bits before bit 0).
	 */
	__m128i prev = i ? _mm_loadu_si128((const __m128i *)(p + i - 1)) : _mm_slli_si128(x, 1);
	unsigned same = bits(_mm_cmpeq_epi8(x, prev));
	int max_run = r->repeat_max_run;
	if (max_run >= 1 && max_run <= 16) {
		int carried = same & 1 ? (st->run - 1 < 16 ? st->run - 1 : 16) : 0;
		uint32_t e = (uint32_t)same << 16 | (carried ? (uint32_t)0xFFFF << (16 - carried) & 0xFFFF : 0), t = e;
		for (int k = 1; k < max_run && t; k++)
			t &= e << k;
		unsigned spaces = bits(_mm_or_si128(bytes_are(x, ' '), _mm_or_si128(bytes_are(x, '\n'), bytes_are(x, '\t'))));
		st->out.long_run |= ((t >> 16) & ~spaces & 0xFFFF) != 0;
		st->run = same == 0xFFFF ? st->run + 16 : 1 + __builtin_clz(~((uint32_t)same << 16));
		st->prev = p[i + 15];
		return;
	}
	for (size_t j = i; j < i + 16; j++) {
		int32_t c = p[j];
		st->run = c == st->prev ? st->run + 1 : 1;
		st->prev = c;
		st->out.long_run |= st->run > max_run && c != ' ' && c != '\n' && c != '\t';
	}
}
#endif

/*
 * Scans a body in one pass. Returns 0 with *sc filled, or -1 when the body is not valid
 * UTF-8 (the detectors decide alone). The words of ASCII text are its runs of letters,
 * digits and '_', folded to lower case (words_split); text with other characters is left to
 * words_split. ascii is the comment's body_ascii: is_shouting then counts ASCII letters only.
 */
static int scan_body(const struct rules *r, const char *s, int ascii, struct body_scan *sc)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	struct scan_state st;
	memset(&st, 0, sizeof(st));
	st.prev = -1;
	for (size_t k = 0; k < 16; k++)
		st.quick[k] = r->banned.quick[k] | r->suspect.quick[k];
#if defined(__SSE2__)
	struct block_counts bc = {_mm_setzero_si128(), _mm_setzero_si128(), 0};
	while (i + 16 <= n) {
		__m128i x = _mm_loadu_si128((const __m128i *)(p + i));
		if (_mm_movemask_epi8(x)) { /* not ASCII: a character at a time */
			if ((i = scan_chars(r, p, i, i + 16, n, ascii, &st)) == (size_t)-1)
				return -1;
			continue;
		}
		scan_block(r, p, i, x, &st, &bc);
		i += 16;
	}
	counts_flush(&bc, &st);
#endif
	if (scan_chars(r, p, i, n, n, ascii, &st) == (size_t)-1)
		return -1;
	*sc = st.out;
	return 0;
}

/* ---- decisions ---------------------------------------------------------------------------- */

static void hold(struct verdict *v, enum reason r)
{
	v->hold_mask |= 1u << r;
}

enum outcome rules_triage(const struct rules *r, const struct comment *c, int64_t now_us, struct verdict *v)
{
	if (v->outcome != OUTCOME_PUBLISH)
		return v->outcome;
	if (c->submitted_us > now_us + r->max_skew_s * 1000000)
		return verdict_reject(v, REASON_SUBMITTED_IN_FUTURE,
				      "submitted_at is more than %lld seconds in the future", (long long)r->max_skew_s);
	if (c->submitted_us < now_us - r->max_age_s * 1000000)
		return verdict_reject(v, REASON_SUBMITTED_TOO_OLD, "submitted_at is more than %lld seconds old",
				      (long long)r->max_age_s);

	/* The body is scanned once; the detectors run only where the scan says they may find something. */
	struct body_scan sc = {0};
	int scanned = scan_body(r, c->body, c->body_ascii, &sc) == 0;

	if ((r->banned.count || r->suspect.count) && (!scanned || sc.maybe_term)) {
		struct words w;
		if (words_split(&w, c->body, strlen(c->body)) != 0) {
			words_free(&w);
			return verdict_reject(v, REASON_INVALID_TEXT, "body could not be processed");
		}
		const char *banned = terms_find(&r->banned, &w);
		const char *suspect = banned ? NULL : terms_find(&r->suspect, &w);
		if (suspect) {
			hold(v, REASON_SUSPECT_TERM);
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
		words_free(&w);
		if (banned)
			return verdict_reject(v, REASON_BANNED_TERM,
					      "The comment contains language that is not allowed here.");
	}
	if (r->hold_links && (!scanned || sc.maybe_link) && contains_link(c->body))
		hold(v, REASON_CONTAINS_LINK);
	if (r->hold_emails && (!scanned || sc.maybe_email) && contains_email(c->body))
		hold(v, REASON_CONTAINS_EMAIL);
	if (r->hold_phones && (!scanned || sc.maybe_phone) && contains_phone(c->body, r->phone_min_digits))
		hold(v, REASON_CONTAINS_PHONE);
	if (r->hold_shouting &&
	    (scanned ? shouting_counts(sc.upper, sc.lower, r->shouting_min_letters, r->shouting_ratio)
		     : is_shouting(c->body, c->body_ascii, r->shouting_min_letters, r->shouting_ratio)))
		hold(v, REASON_SHOUTING);
	if (r->hold_repeats && (scanned ? sc.long_run : has_long_run(c->body, r->repeat_max_run)))
		hold(v, REASON_REPEATED_CHARACTERS);
	if (v->hold_mask)
		v->outcome = OUTCOME_HOLD;
	return v->outcome;
}

enum outcome rules_apply_history(const struct rules *r, const struct history *h, struct verdict *v)
{
	if (v->outcome == OUTCOME_REJECT)
		return v->outcome;
	if (r->duplicate_window_s > 0 && h->duplicate_content)
		return verdict_reject(v, REASON_DUPLICATE_CONTENT,
				      "The same comment was already posted on this article.");
	if (r->hold_first_comment && !h->author_has_comments)
		hold(v, REASON_FIRST_COMMENT);
	if (r->rate_max_comments > 0 && h->author_recent >= r->rate_max_comments)
		hold(v, REASON_RATE_LIMITED);
	if (v->hold_mask)
		v->outcome = OUTCOME_HOLD;
	return v->outcome;
}

void rules_hold_detail(enum reason r, const char *term, char *out, size_t outlen)
{
	switch (r) {
	case REASON_CONTAINS_LINK: snprintf(out, outlen, "The comment contains a link."); break;
	case REASON_CONTAINS_EMAIL: snprintf(out, outlen, "The comment contains an e-mail address."); break;
	case REASON_CONTAINS_PHONE: snprintf(out, outlen, "The comment contains a phone number."); break;
	case REASON_SUSPECT_TERM: snprintf(out, outlen, "The comment contains the suspect term \"%s\".", term); break;
	case REASON_SHOUTING: snprintf(out, outlen, "The comment is mostly in capital letters."); break;
	case REASON_REPEATED_CHARACTERS: snprintf(out, outlen, "The comment repeats a character many times."); break;
	case REASON_FIRST_COMMENT: snprintf(out, outlen, "This is the author's first comment."); break;
	case REASON_RATE_LIMITED: snprintf(out, outlen, "The author posted many comments in a short time."); break;
	default: snprintf(out, outlen, "The comment waits for a moderator."); break;
	}
}
