/* terms.h - word and phrase lists matched whole-word on Unicode case-folded text. */
#ifndef CI_TERMS_H
#define CI_TERMS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A set of folded terms ("word" or "word word ...") in an open-addressing hash table, and the
 * keys (terms_key) of their first words, so that most words are passed over at a glance. All
 * zeros is the empty set.
 */
struct terms {
	char **slots;  /* NULL or a folded term, words joined by one space */
	size_t nslots; /* a power of two */
	size_t count;
	int max_words;   /* the longest phrase, in words */
	uint32_t *keys;  /* 0 or the terms_key of a term's first word; nkeys slots, a power of two */
	size_t nkeys, keys_used;
	uint64_t quick[16]; /* terms_quick bits of the first words: a glance before terms_key */
	int first_not_ascii; /* some term's first word has a character beyond ASCII */
};

/* A folded text cut into words, ready to be matched against several term sets. */
struct words {
	char *folded;  /* case-folded NFC text, owned */
	size_t *start; /* byte offset of each word in folded */
	size_t *len;
	size_t n, cap;
};

/* Adds a term (NFC, folded and re-tokenized first). Returns 0, 1 when it has no words, or -1 (no memory). */
int terms_add(struct terms *t, const char *term);
void terms_free(struct terms *t);

/*
 * Case-folds text (as utf8proc_map with CASEFOLD, COMPOSE and STABLE) and cuts it into
 * words (letters, digits and marks). Returns 0 or -1.
 */
int words_split(struct words *w, const char *text, size_t len);
void words_free(struct words *w);

/*
 * The key of a folded word of len bytes (len >= 1): its first, second and last bytes and its
 * length. A word can start a term of t only when terms_quick and terms_may_start(t, its key).
 */
static inline uint32_t terms_key(size_t len, unsigned char first, unsigned char second, unsigned char last)
{
	return (uint32_t)first | (uint32_t)(len > 1 ? second : 0) << 8 | (uint32_t)last << 16 |
	       (uint32_t)(len < 255 ? len : 255) << 24;
}

static inline size_t terms_key_slot(uint32_t key, size_t nkeys)
{
	return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ULL) >> 32) & (nkeys - 1);
}

/*
 * A first glance at a folded word of len bytes that starts with byte first: false when no
 * term of t starts with such a word. An ASCII letter looks the same in either case here.
 */
static inline unsigned terms_quick_bit(unsigned char first, size_t len)
{
	return (unsigned)(first & 0x1F) << 5 | (unsigned)(len & 0x1F);
}

static inline int terms_quick(const struct terms *t, unsigned char first, size_t len)
{
	unsigned bit = terms_quick_bit(first, len);
	return (int)((t->quick[bit >> 6] >> (bit & 63)) & 1);
}

static inline int terms_may_start(const struct terms *t, uint32_t key)
{
	if (!t->nkeys)
		return 0;
	for (size_t j = terms_key_slot(key, t->nkeys);; j = (j + 1) & (t->nkeys - 1)) {
		if (t->keys[j] == key)
			return 1;
		if (!t->keys[j])
			return 0;
	}
}

/*
 * Finds the first term of t that occurs in w as whole words. Returns it
 * (owned by t), or NULL. "scunthorpe" never matches a term inside it.
 */
const char *terms_find(const struct terms *t, const struct words *w);

#endif
