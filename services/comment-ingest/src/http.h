/* http.h - the operators' HTTP port: accepts connections on the loop and parses requests with http-parser. */
#ifndef CI_HTTP_H
#define CI_HTTP_H

#include <stddef.h>
#include <uv.h>

struct http_reply {
	int status;
	const char *content_type;
	char *body; /* malloc'ed; the server frees it after sending */
	size_t len;
};

/* Fills reply for one parsed request; runs on the loop thread and must not block. */
typedef void (*http_handler)(const char *method, const char *path, struct http_reply *reply, void *arg);

struct http_server;

/* Listens on addr:port. Returns NULL with a message in err on failure. */
struct http_server *http_start(uv_loop_t *loop, const char *addr, int port, http_handler handler, void *arg,
			       char *err, size_t errlen);

/* Closes the listener and every connection; close_cb runs when all handles are closed. */
void http_close(struct http_server *srv, void (*close_cb)(void *arg), void *arg);

#endif
