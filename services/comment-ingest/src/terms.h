/* terms.h - word and phrase lists matched whole-word on Unicode case-folded text. */
#ifndef CI_TERMS_H
#define CI_TERMS_H

#include <stddef.h>

/* A set of folded terms ("word" or "word word ...") in an open-addressing hash table. */
struct terms {
	char **slots;  /* NULL or a folded term, words joined by one space */
	size_t nslots; /* a power of two */
	size_t count;
	int max_words; /* the longest phrase, in words */
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

/* Case-folds text and cuts it into words (letters, digits and marks). Returns 0 or -1. */
int words_split(struct words *w, const char *text, size_t len);
void words_free(struct words *w);

/*
 * Finds the first term of t that occurs in w as whole words. Returns it
 * (owned by t), or NULL. "scunthorpe" never matches a term inside it.
 */
const char *terms_find(const struct terms *t, const struct words *w);

#endif
