/* check.c - what the fuzz targets share: failing loudly on a broken invariant, and text checks. */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <utf8proc.h>

void check_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("INVARIANT BROKEN: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

int check_utf8(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		utf8proc_int32_t c;
		utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
		if (k <= 0 || c == 0)
			return 0;
		i += (size_t)k;
	}
	return 1;
}

json_t *check_event(const char *event, const char *what)
{
	json_error_t err;
	CHECK(event, "%s: no event was built", what);
	/* ALLOW_NUL: a rejected payload may carry NULs; the event must still be read back whole. */
	json_t *j = json_loads(event, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	CHECK(j, "%s: the event is not JSON (%s): %s", what, err.text, event);
	CHECK(json_is_object(j), "%s: the event is not an object: %s", what, event);
	return j;
}

const char *check_member_string(json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	CHECK(json_is_string(v), "%s is not a string", key);
	if (len)
		*len = json_string_length(v);
	return json_string_value(v);
}
