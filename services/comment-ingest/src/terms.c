/* terms.c - word and phrase lists matched whole-word on Unicode case-folded text. */
#include "terms.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text.h"

static int is_word_char(utf8proc_int32_t c)
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

/* Case-folds s: ASCII by hand (the common case), anything else as utf8proc would (text_map). */
static char *fold(const char *s, size_t len)
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
	if (text_map((const utf8proc_uint8_t *)s, len, 1, &out) < 0)
		return NULL;
	return (char *)out;
}

int words_split(struct words *w, const char *text, size_t len)
{
	memset(w, 0, sizeof(*w));
	w->folded = fold(text, len);
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
		int wc = i < n && is_word_char(c);
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

void words_free(struct words *w)
{
	free(w->folded);
	free(w->start);
	free(w->len);
	memset(w, 0, sizeof(*w));
}

#define FNV_OFFSET 1469598103934665603ULL

/* Extends an FNV-1a hash with word j (preceded by one space unless h is fresh). */
static uint64_t hash_extend(uint64_t h, const struct words *w, size_t j)
{
	if (h != FNV_OFFSET)
		h = (h ^ ' ') * 1099511628211ULL;
	for (size_t b = 0; b < w->len[j]; b++)
		h = (h ^ (unsigned char)w->folded[w->start[j] + b]) * 1099511628211ULL;
	return h;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = FNV_OFFSET;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* True when term equals words first..first+k-1 joined by single spaces. */
static int equals_words(const char *term, const struct words *w, size_t first, size_t k)
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

static int terms_grow(struct terms *t)
{
	size_t nslots = t->nslots ? t->nslots * 2 : 64;
	char **slots = calloc(nslots, sizeof(char *));
	if (!slots)
		return -1;
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i])
			continue;
		size_t j = hash_str(t->slots[i]) & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

/* Adds a first word's key to t->keys, growing it to stay at most half full. Returns 0 or -1. */
static int keys_add(struct terms *t, uint32_t key)
{
	if ((t->keys_used + 1) * 2 > t->nkeys) {
		size_t nkeys = t->nkeys ? t->nkeys * 2 : 16;
		uint32_t *keys = calloc(nkeys, sizeof(uint32_t));
		if (!keys)
			return -1;
		for (size_t i = 0; i < t->nkeys; i++) {
			if (!t->keys[i])
				continue;
			size_t j = terms_key_slot(t->keys[i], nkeys);
			while (keys[j])
				j = (j + 1) & (nkeys - 1);
			keys[j] = t->keys[i];
		}
		free(t->keys);
		t->keys = keys;
		t->nkeys = nkeys;
	}
	size_t j = terms_key_slot(key, t->nkeys);
	while (t->keys[j])
		j = (j + 1) & (t->nkeys - 1);
	t->keys[j] = key;
	t->keys_used++;
	return 0;
}

int terms_add(struct terms *t, const char *term)
{
	struct words w;
	/* NFC first, as comment bodies are (text_clean): folding does not commute with it */
	char *nfc = (char *)utf8proc_NFC((const utf8proc_uint8_t *)term);
	if (!nfc)
		return -1;
	int rc = words_split(&w, nfc, strlen(nfc));
	free(nfc);
	if (rc != 0) {
		words_free(&w);
		return -1;
	}
	if (w.n == 0) {
		words_free(&w);
		return 1;
	}
	/* Re-join the words with single spaces: the form terms_find compares against. */
	char *joined = malloc(strlen(w.folded) + 1);
	if (!joined || ((t->count + 1) * 2 > t->nslots && terms_grow(t) != 0)) {
		free(joined);
		words_free(&w);
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
	const unsigned char *first = (const unsigned char *)w.folded + w.start[0];
	uint32_t key = terms_key(w.len[0], first[0], first[w.len[0] > 1], first[w.len[0] - 1]);
	unsigned bit = terms_quick_bit(first[0], w.len[0]);
	t->quick[bit >> 6] |= UINT64_C(1) << (bit & 63);
	for (size_t b = 0; b < w.len[0]; b++)
		t->first_not_ascii |= first[b] >= 0x80;
	words_free(&w);
	if (!terms_may_start(t, key) && keys_add(t, key) != 0) {
		free(joined);
		return -1;
	}

	size_t j = hash_str(joined) & (t->nslots - 1);
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

void terms_free(struct terms *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		free(t->slots[i]);
	free(t->slots);
	free(t->keys);
	memset(t, 0, sizeof(*t));
}

const char *terms_find(const struct terms *t, const struct words *w)
{
	if (t->count == 0)
		return NULL;
	for (size_t i = 0; i < w->n; i++) {
		const unsigned char *word = (const unsigned char *)w->folded + w->start[i];
		if (!terms_quick(t, word[0], w->len[i]) ||
		    !terms_may_start(t, terms_key(w->len[i], word[0], word[w->len[i] > 1], word[w->len[i] - 1])))
			continue; /* no term starts with this word */
		uint64_t h = FNV_OFFSET;
		for (size_t k = 1; k <= (size_t)t->max_words && i + k <= w->n; k++) {
			h = hash_extend(h, w, i + k - 1); /* the phrase of words i..i+k-1 */
			size_t j = h & (t->nslots - 1);
			while (t->slots[j]) {
				if (equals_words(t->slots[j], w, i, k))
					return t->slots[j];
				j = (j + 1) & (t->nslots - 1);
			}
		}
	}
	return NULL;
}
