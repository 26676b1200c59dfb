/* text.c - Unicode hygiene for user text: validation, NFC, trimming and counting as a reader does. */
#include "text.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* Unicode White_Space and zero-width characters among ASCII: no ASCII character is default-ignorable. */
static int is_trimmable_ascii(utf8proc_int32_t c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0D);
}

/* Eight bytes at once: true when every one is printable ASCII (0x20..0x7E), the common case. */
static int printable_ascii8(const utf8proc_uint8_t *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t x;
	memcpy(&x, p, sizeof(x));
	uint64_t below = (x - ones * 0x20) & ~x & highs; /* some byte < 0x20 */
	uint64_t above = ((x + ones) | x) & highs;        /* some byte > 0x7E */
	return (below | above) == 0;
}

/* text_nfc_boundary for a code point whose properties p are at hand. */
static int nfc_boundary(utf8proc_int32_t c, const utf8proc_property_t *p)
{
	if (c < 0x300)
		return 1;
	if (p->combining_class || (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0))
		return 0; /* a mark, or a canonical decomposition (Hangul syllables' are by algorithm: they compose back) */
	switch (p->category) {
	case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
		return 0;
	default:
		break;
	}
	switch (p->boundclass) {
	case UTF8PROC_BOUNDCLASS_L: case UTF8PROC_BOUNDCLASS_V: case UTF8PROC_BOUNDCLASS_T:
	case UTF8PROC_BOUNDCLASS_LV: case UTF8PROC_BOUNDCLASS_LVT:
		return 0;
	default:
		return 1;
	}
}

int text_nfc_boundary(utf8proc_int32_t c)
{
	return c < 0x300 || nfc_boundary(c, utf8proc_get_property(c));
}

/*
 * First pass: validate and copy, turning CRLF into LF. Printable ASCII goes
 * sixteen (SSE2) or eight bytes at a time; *non_ascii and *nfc say which later work the caller
 * can skip (*nfc: every code point is an NFC boundary, so the text is NFC).
 */
static enum text_status text_validate(const utf8proc_uint8_t *p, size_t n, int multiline,
				      utf8proc_uint8_t *dst, size_t *dstlen, int *non_ascii, int *nfc)
{
	size_t i = 0, o = 0;
	int marks = 0, wide = 0, stable = 1;
	while (i < n) {
#if defined(__SSE2__)
		if (n - i >= 16) { /* 0x20..0x7E: greater than 0x1F and less than 0x7F as signed bytes */
			__m128i x = _mm_loadu_si128((const __m128i *)(p + i));
			__m128i ok = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(0x1F)), _mm_cmplt_epi8(x, _mm_set1_epi8(0x7F)));
			if (_mm_movemask_epi8(ok) == 0xFFFF) {
				_mm_storeu_si128((__m128i *)(dst + o), x);
				o += 16;
				i += 16;
				marks = 0;
				continue;
			}
		}
#endif
		if (n - i >= 8 && printable_ascii8(p + i)) {
			memcpy(dst + o, p + i, 8);
			o += 8;
			i += 8;
			marks = 0;
			continue;
		}
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
			const utf8proc_property_t *prop = utf8proc_get_property(c);
			/* Unicode's stream-safe limit; it also bounds the cost of canonical reordering. */
			marks = prop->combining_class ? marks + 1 : 0;
			if (marks > TEXT_MAX_MARKS)
				return TEXT_MARKS;
			wide = 1;
			if (stable && !nfc_boundary(c, prop))
				stable = 0;
			for (utf8proc_ssize_t b = 0; b < k; b++)
				dst[o + (size_t)b] = p[i + (size_t)b];
		} else {
			marks = 0;
			dst[o] = (utf8proc_uint8_t)c;
		}
		o += (size_t)k;
		i += (size_t)k;
	}
	dst[o] = '\0';
	*dstlen = o;
	*non_ascii = wide;
	*nfc = stable;
	return TEXT_OK;
}

/* A growing byte buffer for text_map. */
struct bytes {
	utf8proc_uint8_t *s;
	size_t len, cap;
};

/* Makes room for n more bytes and a terminator. Returns 0, or -1 (no memory). */
static int bytes_room(struct bytes *b, size_t n)
{
	if (b->len + n + 1 <= b->cap)
		return 0;
	size_t cap = b->cap * 2 > b->len + n + 1 ? b->cap * 2 : b->len + n + 1;
	utf8proc_uint8_t *ns = realloc(b->s, cap);
	if (!ns)
		return -1;
	b->s = ns;
	b->cap = cap;
	return 0;
}

static int bytes_add(struct bytes *b, const utf8proc_uint8_t *s, size_t n)
{
	if (bytes_room(b, n))
		return -1;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/* Appends utf8proc's mapping of one piece s[0..n) with opts. Returns 0, or a utf8proc error. */
static utf8proc_ssize_t map_piece(struct bytes *out, const utf8proc_uint8_t *s, size_t n, utf8proc_option_t opts)
{
	enum { ROOM = 64 };
	utf8proc_int32_t buf[ROOM + 1]; /* reencoding writes a terminator past ROOM code points' bytes */
	utf8proc_ssize_t r = utf8proc_decompose(s, (utf8proc_ssize_t)n, buf, ROOM, opts);
	if (r < 0)
		return r;
	if (r <= ROOM) {
		r = utf8proc_reencode(buf, r, opts);
		if (r < 0)
			return r;
		return bytes_add(out, (const utf8proc_uint8_t *)buf, (size_t)r) ? UTF8PROC_ERROR_NOMEM : 0;
	}
	utf8proc_uint8_t *big = NULL; /* a long run of marks: utf8proc allocates */
	r = utf8proc_map(s, (utf8proc_ssize_t)n, &big, opts);
	if (r >= 0 && bytes_add(out, big, (size_t)r))
		r = UTF8PROC_ERROR_NOMEM;
	free(big);
	return r < 0 ? r : 0;
}

/*
 * What code point c becomes when text is mapped (its simple case folding when fold), in *to.
 * Returns whether the mapped text can be cut before it: *to is an NFC boundary that folding
 * leaves alone, so that both sides map on their own.
 */
static int map_boundary(utf8proc_int32_t c, int fold, utf8proc_int32_t *to)
{
	*to = c;
	if (c < 0x80) {
		if (fold && c >= 'A' && c <= 'Z')
			*to = c + ('a' - 'A');
		return 1;
	}
	const utf8proc_property_t *p = utf8proc_get_property(c);
	if (fold && p->casefold_seqindex != UINT16_MAX) {
		utf8proc_int32_t f[4];
		int bc = 0;
		if (utf8proc_decompose_char(c, f, 4, UTF8PROC_CASEFOLD, &bc) != 1)
			return 0; /* folds to several code points ("ss"): mapped with its piece */
		*to = f[0];
		p = utf8proc_get_property(f[0]);
		if (p->casefold_seqindex != UINT16_MAX)
			return 0;
		c = f[0];
	}
	return nfc_boundary(c, p);
}

int text_folds_to_ascii(utf8proc_int32_t c)
{
	utf8proc_int32_t to;
	if (c < 0x80)
		return 1;
	if (map_boundary(c, 1, &to))
		return to < 0x80; /* it becomes to, or (with marks after it) what composes of to */
	utf8proc_int32_t d[32];
	int bc = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char(c, d, 32, UTF8PROC_CASEFOLD | UTF8PROC_DECOMPOSE, &bc);
	if (n < 0 || n > 32)
		return 1; /* cannot tell: say it may */
	for (utf8proc_ssize_t i = 0; i < n; i++)
		if (d[i] < 0x80)
			return 1;
	return 0;
}

utf8proc_ssize_t text_map(const utf8proc_uint8_t *s, size_t n, int fold, utf8proc_uint8_t **out)
{
	const utf8proc_option_t opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (fold ? UTF8PROC_CASEFOLD : 0);
	struct bytes b = {malloc(n + n / 4 + 16), 0, n + n / 4 + 16};
	size_t i = 0, piece = 0, piece_out = 0;
	int dirty = 0;
	*out = NULL;
	if (!b.s)
		return UTF8PROC_ERROR_NOMEM;
	b.s[0] = '\0';
	for (;;) {
		if (!dirty && i < n && s[i] < 0x80) { /* a run of ASCII, each character a piece of its own */
			size_t j = i;
			while (j < n && s[j] < 0x80)
				j++;
			if (bytes_room(&b, j - i)) {
				free(b.s);
				return UTF8PROC_ERROR_NOMEM;
			}
			for (; i < j; i++)
				b.s[b.len++] = fold && s[i] >= 'A' && s[i] <= 'Z' ? (utf8proc_uint8_t)(s[i] + ('a' - 'A')) : s[i];
			b.s[b.len] = '\0';
			piece = i - 1;
			piece_out = b.len - 1;
			continue;
		}
		utf8proc_int32_t c = i < n ? s[i] : 0, to;
		utf8proc_ssize_t k = 1, r = 0;
		if (c >= 0x80 && (k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c)) < 0) {
			free(b.s);
			return k;
		}
		int boundary = i == n || map_boundary(c, fold, &to);
		if (boundary && dirty) { /* the piece before this code point, mapped as a whole */
			b.len = piece_out;
			r = map_piece(&b, s + piece, i - piece, opts);
			dirty = 0;
		}
		if (r < 0 || (i < n && bytes_room(&b, 4))) {
			free(b.s);
			return r < 0 ? r : UTF8PROC_ERROR_NOMEM;
		}
		if (i == n)
			break;
		if (boundary) {
			piece = i;
			piece_out = b.len;
		} else {
			dirty = 1;
		}
		if (boundary && to < 0x80)
			b.s[b.len++] = (utf8proc_uint8_t)to;
		else
			b.len += (size_t)utf8proc_encode_char(boundary ? to : c, b.s + b.len);
		b.s[b.len] = '\0';
		i += (size_t)k;
	}
	*out = b.s;
	return (utf8proc_ssize_t)b.len;
}

/* The code point that starts at s[i] (valid UTF-8: validated before), its length in *k. */
static utf8proc_int32_t decode_valid(const utf8proc_uint8_t *s, size_t i, utf8proc_ssize_t *k)
{
	utf8proc_int32_t b = s[i];
	if (b < 0x80) {
		*k = 1;
		return b;
	}
	if (b < 0xE0) {
		*k = 2;
		return (b & 0x1F) << 6 | (s[i + 1] & 0x3F);
	}
	if (b < 0xF0) {
		*k = 3;
		return (b & 0x0F) << 12 | (s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F);
	}
	*k = 4;
	return (b & 0x07) << 18 | (s[i + 1] & 0x3F) << 12 | (s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3F);
}

/*
 * Counts extended grapheme clusters that hold at least one visible code point.
 * utf8proc is asked only where its rules can keep two code points together: two
 * that are both printable ASCII or of Grapheme_Cluster_Break Other (no CR is left)
 * are always apart (GB999), and what came before the first of them no longer
 * matters, so the state starts afresh after them.
 */
static size_t text_count_graphemes(const utf8proc_uint8_t *p, size_t n)
{
	size_t count = 0, i = 0;
	utf8proc_int32_t prev = -1, state = 0;
	int visible = 0, prev_other = 0;
	while (i < n) {
		utf8proc_ssize_t k;
		utf8proc_int32_t c = decode_valid(p, i, &k);
		int other, zero_width = 0;
		if (c < 0x80) {
			other = c >= 0x20; /* validated: no DEL */
		} else {
			const utf8proc_property_t *prop = utf8proc_get_property(c);
			other = prop->boundclass == UTF8PROC_BOUNDCLASS_OTHER;
			zero_width = prop->ignorable;
		}
		if (prev >= 0) {
			int apart;
			/*
			 * Both ASCII, as (c | prev) < 0x80: clang 14 at -O1 with -fsanitize=fuzzer
			 * dropped the test of prev from "c < 0x80 && prev < 0x80" (fuzz_reference found it).
			 */
			if ((c | prev) < 0x80 || (other && prev_other)) {
				apart = 1;
				state = 0;
			} else {
				apart = utf8proc_grapheme_break_stateful(prev, c, &state);
			}
			if (apart) {
				count += (size_t)visible;
				visible = 0;
			}
		}
		if (!zero_width)
			visible = 1;
		prev = c;
		prev_other = other;
		i += (size_t)k;
	}
	return count + (size_t)visible;
}

/* The code point that starts at s[i] (valid UTF-8), its length in *k. */
static utf8proc_int32_t code_point_at(const utf8proc_uint8_t *s, size_t i, size_t n, utf8proc_ssize_t *k)
{
	utf8proc_int32_t c = s[i];
	*k = 1;
	if (c >= 0x80 && (*k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c)) <= 0)
		*k = 1; /* validated before: cannot happen */
	return c;
}

static int trimmable_at(const utf8proc_uint8_t *s, size_t i, size_t n, utf8proc_ssize_t *k)
{
	utf8proc_int32_t c = code_point_at(s, i, n, k);
	return c < 0x80 ? is_trimmable_ascii(c) : is_trimmable(c);
}

enum text_status text_clean(const char *in, size_t inlen, int multiline, struct text *out)
{
	memset(out, 0, sizeof(*out));
	utf8proc_uint8_t *copy = malloc(inlen + 1);
	utf8proc_uint8_t *nfc = NULL;
	enum text_status st = TEXT_NOMEM;
	size_t copylen;
	int non_ascii, is_nfc;
	if (!copy)
		goto failed;
	st = text_validate((const utf8proc_uint8_t *)in, inlen, multiline, copy, &copylen, &non_ascii, &is_nfc);
	if (st != TEXT_OK)
		goto failed;

	utf8proc_ssize_t nfclen = (utf8proc_ssize_t)copylen;
	if (is_nfc) {
		nfc = copy;
		copy = NULL;
	} else {
		nfclen = text_map(copy, copylen, 0, &nfc);
		if (nfclen < 0) {
			st = nfclen == UTF8PROC_ERROR_NOMEM ? TEXT_NOMEM : TEXT_INVALID_UTF8;
			goto failed;
		}
	}

	/* Trim: start at the first code point that is not white space or zero-width, end after the last. */
	size_t n = (size_t)nfclen, start = 0, end = n;
	utf8proc_ssize_t k;
	while (start < n && trimmable_at(nfc, start, n, &k))
		start += (size_t)k;
	if (start == n)
		start = end = 0;
	while (end > start) {
		size_t lead = end - 1;
		while (lead > start && (nfc[lead] & 0xC0) == 0x80)
			lead--; /* back to the first byte of the last character */
		if (!trimmable_at(nfc, lead, n, &k))
			break;
		end = lead;
	}
	if (start > 0)
		memmove(nfc, nfc + start, end - start);
	nfc[end - start] = '\0';

	out->s = (char *)nfc;
	out->len = end - start;
	out->ascii = !non_ascii;
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
