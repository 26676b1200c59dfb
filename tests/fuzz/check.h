/* check.h - what the fuzz targets share: failing loudly on a broken invariant, and text checks. */
#ifndef CI_FUZZ_CHECK_H
#define CI_FUZZ_CHECK_H

#include <stddef.h>

#include <jansson.h>

/* Prints what broke (printf-style) to stderr and aborts, so that libFuzzer keeps the input. */
void check_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			check_fail(__VA_ARGS__);                                                   \
	} while (0)

/* True when s[0..len) is well-formed UTF-8 (no surrogates, no overlong forms) without a NUL. */
int check_utf8(const char *s, size_t len);

/*
 * Parses an event that the service built (NUL-terminated, NULL when building
 * failed) as Kafka consumers would: strict JSON, duplicate keys refused, an
 * object. Aborts when it is not one; the caller releases the result.
 */
json_t *check_event(const char *event, const char *what);

/* The string member key of obj, or abort (len receives its length in bytes). */
const char *check_member_string(json_t *obj, const char *key, size_t *len);

#endif
