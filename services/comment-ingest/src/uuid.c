/* uuid.c - UUID text parsing and deterministic (version 5) event ids. */
#include "uuid.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* The namespace of comment-ingest event ids (a fixed random UUID, never change it). */
static const unsigned char event_namespace[16] = {
	0x6f, 0x1c, 0x9e, 0x52, 0x3b, 0x7d, 0x4a, 0x0e,
	0x9c, 0x25, 0x81, 0x44, 0xd6, 0x0b, 0xa7, 0x3f,
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

int uuid_canonical(const char *s, size_t len, char out[UUID_STR_LEN])
{
	char tmp[UUID_STR_LEN];
	if (len != 36)
		return -1;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -1;
			tmp[i] = '-';
		} else {
			int v = hexval(s[i]);
			if (v < 0)
				return -1;
			tmp[i] = "0123456789abcdef"[v];
		}
	}
	tmp[36] = '\0';
	memcpy(out, tmp, UUID_STR_LEN); /* out is untouched unless s is a UUID */
	return 0;
}

static void uuid_format(const unsigned char b[16], char out[UUID_STR_LEN])
{
	snprintf(out, UUID_STR_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

int uuid_v5(const char *name, size_t len, char out[UUID_STR_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
	    EVP_DigestUpdate(ctx, event_namespace, sizeof(event_namespace)) &&
	    EVP_DigestUpdate(ctx, name, len) && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen >= 16)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	md[6] = (unsigned char)((md[6] & 0x0F) | 0x50); /* version 5 */
	md[8] = (unsigned char)((md[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	uuid_format(md, out);
	return 0;
}
