/* migrations.h - the sql/ migrations embedded at build time (see gen-migrations.sh). */
#ifndef CI_MIGRATIONS_H
#define CI_MIGRATIONS_H

#include <stddef.h>

struct migration {
	const char *name; /* file name, e.g. "001_comments.sql" */
	const char *sql;
};

extern const struct migration migrations[];
extern const size_t migrations_count;

#endif
