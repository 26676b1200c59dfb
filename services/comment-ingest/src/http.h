/* http.h - the operators' HTTP port, transport side: accepts, reads, writes and closes connections on the
 * loop, under a connection limit and timeouts. The protocol (parsing, statuses) is http_request.c's. */
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

/* What a hostile client may hold; see config.c for the variables and their ranges. */
struct http_limits {
	int max_connections;    /* open at once; at the limit, an idle one still reading makes room */
	int request_timeout_ms; /* from accept to a whole request */
	int idle_timeout_ms;    /* from accept, or the last byte read, to the next byte */
	int write_timeout_ms;   /* from the start of the response to its last byte written */
};

struct http_server;

/* Listens on addr:port. Returns NULL with a message in err on failure. */
struct http_server *http_start(uv_loop_t *loop, const char *addr, int port, const struct http_limits *limits,
			       http_handler handler, void *arg, char *err, size_t errlen);

/* Closes the listener and every connection; close_cb runs when all handles are closed. */
void http_close(struct http_server *srv, void (*close_cb)(void *arg), void *arg);

#endif
