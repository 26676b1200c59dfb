/* secret.c - secrets: values taken from NAME or NAME_FILE, and keeping them out of every log line. */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MASK "***"

/* The registered secrets: written at configuration time, only read afterwards (see secret_register). */
static char **secrets;
static size_t nsecrets;

int secret_register(const char *value)
{
	if (!value || !*value)
		return 0;
	for (size_t i = 0; i < nsecrets; i++)
		if (strcmp(secrets[i], value) == 0)
			return 0;
	char **grown = realloc(secrets, (nsecrets + 1) * sizeof(*secrets));
	if (!grown)
		return -1;
	secrets = grown;
	if (!(secrets[nsecrets] = strdup(value)))
		return -1;
	nsecrets++;
	return 0;
}

void secret_forget_all(void)
{
	for (size_t i = 0; i < nsecrets; i++) {
		/* volatile: the wipe is not optimized away before free */
		volatile char *p = secrets[i];
		while (*p)
			*p++ = '\0';
		free(secrets[i]);
	}
	free(secrets);
	secrets = NULL;
	nsecrets = 0;
}

/* The registered secret that starts at s, the longest when several do, or NULL. */
static const char *secret_at(const char *s, size_t *len)
{
	const char *found = NULL;
	*len = 0;
	for (size_t i = 0; i < nsecrets; i++) {
		size_t n = strlen(secrets[i]);
		if (n > *len && strncmp(s, secrets[i], n) == 0) {
			found = secrets[i];
			*len = n;
		}
	}
	return found;
}

int secret_found(const char *text)
{
	for (size_t i = 0; text && i < nsecrets; i++)
		if (strstr(text, secrets[i]))
			return 1;
	return 0;
}

int secret_redact_into(const char *text, char *out, size_t outlen)
{
	size_t n = 0, len;
	int replaced = 0;
	if (outlen == 0)
		return 0;
	for (const char *p = text ? text : ""; *p;) {
		if (nsecrets && secret_at(p, &len)) {
			for (const char *m = SECRET_MASK; *m && n + 1 < outlen; m++)
				out[n++] = *m;
			p += len;
			replaced = 1;
			continue;
		}
		if (n + 1 >= outlen)
			break;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return replaced;
}

char *secret_redact(const char *text)
{
	if (!text || !secret_found(text))
		return NULL;
	/* Each secret is at least one byte and becomes three: the copy is at most three times as long. */
	size_t cap = strlen(text) * 3 + 1;
	char *out = malloc(cap);
	if (out)
		secret_redact_into(text, out, cap);
	return out;
}

/* Reads the whole file at path into *out (malloc'd), at most SECRET_FILE_MAX bytes. */
static int read_file(const char *path, char **out, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	if (!f) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (!(buf = malloc(SECRET_FILE_MAX + 1))) {
		snprintf(why, whylen, "out of memory");
		goto failed;
	}
	size_t n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(why, whylen, "%s", strerror(errno ? errno : EIO));
		goto failed;
	}
	if (n > SECRET_FILE_MAX) {
		snprintf(why, whylen, "larger than %d bytes", SECRET_FILE_MAX);
		goto failed;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;

failed:
	if (buf) {
		memset(buf, 0, SECRET_FILE_MAX + 1);
		free(buf);
	}
	fclose(f);
	return -1;
}

int secret_take(char **out, const char *(*get)(const char *name), const char *name, char *err, size_t errlen)
{
	char file_var[128];
	size_t n = 0;
	*out = NULL;
	snprintf(file_var, sizeof(file_var), "%s_FILE", name);
	const char *value = get(name), *path = get(file_var);
	if (value && path) {
		snprintf(err, errlen, "%s and %s are both set; set one of them", name, file_var);
		return -1;
	}
	if (value) {
		if (!*value) {
			snprintf(err, errlen, "%s must not be empty", name);
			return -1;
		}
		if (!(*out = strdup(value)))
			goto no_memory;
	} else if (path) {
		char why[128];
		if (!*path) {
			snprintf(err, errlen, "%s must not be empty", file_var);
			return -1;
		}
		if (read_file(path, out, &n, why, sizeof(why))) {
			snprintf(err, errlen, "%s: cannot read %s: %s", file_var, path, why);
			return -1;
		}
		if (strlen(*out) != n) {
			snprintf(err, errlen, "%s: %s holds a NUL byte", file_var, path);
			goto failed;
		}
		while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
			(*out)[--n] = '\0';
		if (n == 0) {
			snprintf(err, errlen, "%s: %s is empty", file_var, path);
			goto failed;
		}
	} else {
		return 0;
	}
	if (secret_register(*out) == 0)
		return 0;
no_memory:
	snprintf(err, errlen, "out of memory reading %s", name);
failed:
	if (*out)
		memset(*out, 0, n > strlen(*out) ? n : strlen(*out)); /* past a NUL byte too */
	free(*out);
	*out = NULL;
	return -1;
}
