/* secret.h - secrets: values taken from NAME or NAME_FILE, and keeping them out of every log line. */
#ifndef CI_SECRET_H
#define CI_SECRET_H

#include <stddef.h>

/* The largest secret file read (a password or a key password, not a key). */
#define SECRET_FILE_MAX 65536

/*
 * Takes the secret `name` from the environment: the value of name, or the
 * contents of the file that name_FILE names, without its trailing line
 * breaks (as the official PostgreSQL image reads its _FILE variables).
 * Setting both, an empty value, an unreadable file or one with a NUL byte
 * are errors. *out (malloc'd, the caller frees it) stays NULL when neither is
 * set. The value is registered (secret_register). Returns 0, or -1 with a
 * one-line message in err that names the variable and the file, never the
 * value.
 */
int secret_take(char **out, const char *(*get)(const char *name), const char *name, char *err, size_t errlen);

/*
 * Registers a value that must never be logged: from now on every log line
 * shows "***" in its place (log.c asks secret_redact). The value is copied;
 * an empty one is ignored. Register at configuration time, before any other
 * thread logs: the list is only read afterwards. Returns 0, or -1 (no memory).
 */
int secret_register(const char *value);

/*
 * A copy of text (malloc'd) with every registered secret replaced by "***",
 * or NULL when text holds none (or no memory: then the caller must not use
 * text either; see secret_redact_into).
 */
char *secret_redact(const char *text);

/*
 * Copies text into out (cut to outlen, always terminated) with every
 * registered secret replaced by "***". Returns 1 when something was replaced.
 */
int secret_redact_into(const char *text, char *out, size_t outlen);

/* Whether text holds a registered secret. */
int secret_found(const char *text);

/* Forgets every registered secret, wiping the copies (at exit, and between unit tests). */
void secret_forget_all(void);

#endif
