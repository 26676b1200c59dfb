/* text.h - Unicode hygiene for user text: validation, NFC, trimming and counting as a reader does. */
#ifndef CI_TEXT_H
#define CI_TEXT_H

#include <stddef.h>
#include <stdint.h>

enum text_status {
	TEXT_OK = 0,
	TEXT_INVALID_UTF8,
	TEXT_NUL,
	TEXT_CONTROL,
	TEXT_BIDI,
	TEXT_MARKS, /* more than TEXT_MAX_MARKS combining marks in a row */
	TEXT_NOMEM,
};

#define TEXT_MAX_MARKS 30

struct text {
	char *s;          /* NFC, trimmed, NUL-terminated; owned by the caller (free) */
	size_t len;       /* bytes, without the terminator */
	size_t graphemes; /* extended grapheme clusters, zero-width-only clusters not counted */
	int ascii;        /* every character is ASCII */
};

/*
 * Cleans user text. Rejects invalid UTF-8, NUL, C0/C1 controls (newline and
 * tab are allowed when multiline; CRLF becomes LF) and bidirectional
 * override/isolate characters, and more than TEXT_MAX_MARKS combining marks
 * in a row (so normalization stays linear). On TEXT_OK out->s holds the NFC-normalized
 * text with leading and trailing white space removed, and out->graphemes its
 * length as a reader counts it. On failure out is zeroed.
 */
enum text_status text_clean(const char *in, size_t inlen, int multiline, struct text *out);

/*
 * Whether text can be cut just before code point c and each side normalized to
 * NFC on its own (UAX #15 "stable code points"): c has combining class 0, NFC
 * leaves it alone and it never composes with what precedes it. True for every
 * code point below U+0300; for the others a conservative answer from utf8proc's
 * properties: no canonical decomposition, no mark, no Hangul jamo.
 * Text whose code points are all boundaries is already NFC.
 */
int text_nfc_boundary(int32_t c);

/*
 * The NFC form of s[0..n), case-folded too when fold: the bytes and result of
 * utf8proc_map(s, n, out, UTF8PROC_STABLE | UTF8PROC_COMPOSE [| UTF8PROC_CASEFOLD]), faster.
 * Text is mapped piece by piece, a piece starting at each code point that (once folded) is an
 * NFC boundary: the others go through utf8proc with their piece. *out is malloc'ed and
 * NUL-terminated. Returns the length, or a utf8proc error (UTF8PROC_ERROR_INVALIDUTF8, _NOMEM).
 */
ptrdiff_t text_map(const uint8_t *s, size_t n, int fold, uint8_t **out);

/*
 * Whether case-folded text (text_map with fold) can hold an ASCII code point that comes of
 * code point c. Not when c folds on its own to one code point beyond ASCII that is an NFC
 * boundary (it and the marks after it compose to what is beyond ASCII), nor when c, folded
 * and canonically decomposed as text_map takes it apart, holds no ASCII code point (composing
 * only makes code points beyond ASCII). True for ASCII, and when unsure.
 */
int text_folds_to_ascii(int32_t c);

/* The length of the longest prefix of s[0..len) that is well-formed UTF-8. */
size_t text_utf8_prefix(const char *s, size_t len);

/*
 * Where to cut s[0..len), the start of a longer text, so as not to split a
 * character: len, less the bytes of a multi-byte character that the cut
 * left incomplete. Looks only at the last character; the bytes before it
 * are not checked.
 */
size_t text_utf8_cut(const char *s, size_t len);

/* The hex MD5 of s (33 bytes with the terminator): a fingerprint equal to PostgreSQL's md5(text). */
int text_md5_hex(const char *s, size_t len, char out[33]);

/* A short description of a status for event details. */
const char *text_status_detail(enum text_status st);

#endif
