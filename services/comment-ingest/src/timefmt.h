/* timefmt.h - RFC 3339 timestamps: strict parsing and a canonical UTC form. */
#ifndef CI_TIMEFMT_H
#define CI_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* The range both ends accept: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
#define TIMEFMT_MIN_SECONDS (-62135596800LL)
#define TIMEFMT_MAX_SECONDS (253402300799LL)

#define TIMEFMT_LEN 64 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" (27) with room for any int the formatter sees */

/*
 * Parses an RFC 3339 date-time (a fraction and a numeric offset allowed) into
 * microseconds since the epoch. Returns 0, or -1 when s is not one or falls
 * outside years 0001-9999 (UTC).
 */
int timefmt_parse_rfc3339(const char *s, size_t len, int64_t *us);

/* Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ", clamped to the range above. */
void timefmt_format_utc(int64_t us, char out[TIMEFMT_LEN]);

#endif
