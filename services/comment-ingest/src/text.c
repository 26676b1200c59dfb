/* text.c - Unicode hygiene for user text: validation, NFC, trimming and counting as a reader does. */
#include "text.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int is_bidi_control(utf8proc_int32_t c)
{
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069);
}

/* Default_Ignorable_Code_Point: zero-width spaces and joiners, soft hyphen, tag characters... */
static int is_zero_width(utf8proc_int32_t c)
{
	return utf8proc_get_property(c)->ignorable;
}

/* Unicode White_Space, plus zero-width characters, which are invisible at the edges too. */
static int is_trimmable(utf8proc_int32_t c)
{
	switch (c) {
	case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return 1;
	default:
		return (c >= 0x2000 && c <= 0x200A) || is_zero_width(c);
	}
}

const char *text_status_detail(enum text_status st)
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
static enum text_status text_validate(const utf8proc_uint8_t *p, size_t n, int multiline,
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
			if (is_bidi_control(c))
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
static size_t text_count_graphemes(const utf8proc_uint8_t *p, size_t n)
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
		if (!is_zero_width(c))
			visible = 1;
		prev = c;
		i += (size_t)k;
	}
	return count + (size_t)visible;
}

enum text_status text_clean(const char *in, size_t inlen, int multiline, struct text *out)
{
	memset(out, 0, sizeof(*out));
	utf8proc_uint8_t *copy = malloc(inlen + 1);
	utf8proc_uint8_t *nfc = NULL;
	enum text_status st = TEXT_NOMEM;
	size_t copylen;
	utf8proc_int32_t max_cp;
	if (!copy)
		goto failed;
	st = text_validate((const utf8proc_uint8_t *)in, inlen, multiline, copy, &copylen, &max_cp);
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
		if (!is_trimmable(c)) {
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
	out->graphemes = out->ascii ? out->len : text_count_graphemes(nfc, out->len);
	free(copy);
	return TEXT_OK;

failed:
	free(copy);
	free(nfc);
	return st;
}

size_t text_utf8_prefix(const char *s, size_t len)
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

size_t text_utf8_cut(const char *s, size_t len)
{
	size_t lead = len;
	while (lead > 0 && len - lead < 4 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80)
		lead--; /* back over continuation bytes to the character's first byte */
	if (lead == 0 || len - lead >= 4)
		return len;
	unsigned char c = (unsigned char)s[lead - 1];
	size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	return len - (lead - 1) < want ? lead - 1 : len;
}

int text_md5_hex(const char *s, size_t len, char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(s, len, md, &n, EVP_md5(), NULL) || n != 16)
		return -1;
	for (unsigned int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}
