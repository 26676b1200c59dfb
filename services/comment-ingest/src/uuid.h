/* uuid.h - UUID text parsing and deterministic (version 5) event ids. */
#ifndef CI_UUID_H
#define CI_UUID_H

#include <stddef.h>

#define UUID_STR_LEN 37 /* 36 characters and the terminator */

/*
 * Parses the canonical 8-4-4-4-12 hex form (either case) and writes the
 * lower-case form to out. Returns 0, or -1 (out untouched) when s is not a UUID.
 */
int uuid_canonical(const char *s, size_t len, char out[UUID_STR_LEN]);

/* UUID version 5 (SHA-1) of name in the comment-ingest namespace. Returns 0 or -1. */
int uuid_v5(const char *name, size_t len, char out[UUID_STR_LEN]);

#endif
