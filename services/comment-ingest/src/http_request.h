/* http_request.h - the HTTP protocol of the operators' port: one request's bytes in, a decision out, and the
 * bytes of the response. No I/O and no libuv: http.c (the transport) feeds it what it reads, in any split. */
#ifndef CI_HTTP_REQUEST_H
#define CI_HTTP_REQUEST_H

#include <http_parser.h>
#include <stddef.h>

/* A request must complete within its first HTTP_REQUEST_MAX_BYTES bytes (request line, headers and any
 * body); http-parser is never given more. Its URL may be HTTP_REQUEST_MAX_URL bytes long. */
#define HTTP_REQUEST_MAX_BYTES 8192
#define HTTP_REQUEST_MAX_URL 1024

/* What a feed tells the transport. DONE and ERROR are final: one request per connection. */
enum http_request_event {
	HTTP_REQUEST_MORE = 0, /* no decision yet: feed the next bytes */
	HTTP_REQUEST_DONE,     /* a whole GET or HEAD request: method, path and head_only are set */
	HTTP_REQUEST_ERROR,    /* a protocol error: answer status, then close */
};

/*
 * The statuses of HTTP_REQUEST_ERROR, first decision wins:
 *   400  http-parser rejects the bytes (garbage, a bad request line or header, bad chunking)
 *   414  the headers are complete, or the byte limit is reached, with a URL over HTTP_REQUEST_MAX_URL
 *   405  the headers are complete and the method is neither GET nor HEAD (a body is never waited for)
 *   400  the headers of a GET or HEAD are complete and its target has no path starting with '/' (e.g. "*")
 *   431  byte HTTP_REQUEST_MAX_BYTES + 1 arrives before the end of the headers
 *   413  byte HTTP_REQUEST_MAX_BYTES + 1 arrives before the end of a GET or HEAD request's body
 */

struct http_request {
	http_parser parser;
	enum http_request_event event;
	int status;         /* ERROR: one of the statuses above */
	const char *method; /* DONE: "GET" or "HEAD" (static) */
	int head_only;      /* DONE: a HEAD request, answered without a body */
	int headers_done;
	size_t fed;     /* bytes given to http-parser, at most HTTP_REQUEST_MAX_BYTES */
	size_t url_len; /* bytes of URL seen, counted past what url keeps */
	char url[HTTP_REQUEST_MAX_URL + 1];
	char path[HTTP_REQUEST_MAX_URL + 1]; /* DONE: the URL's path, "/" when it has none */
};

/* Prepares req for the first byte of a connection. */
void http_request_init(struct http_request *req);

/*
 * Feeds the next len bytes of the connection. Returns HTTP_REQUEST_MORE when every byte was taken and no
 * decision is made yet, or the final DONE or ERROR, which every later feed returns again without parsing
 * anything: bytes after a request (pipelined requests, garbage) are never parsed. The decision depends on
 * the bytes alone, never on how they were split between calls.
 */
enum http_request_event http_request_feed(struct http_request *req, const char *data, size_t len);

/* The reason phrase of a status this port sends ("Error" for any other). */
const char *http_request_status_text(int status);

/*
 * The whole response, in one malloc'ed buffer (the caller frees it) of *outlen bytes: the status line,
 * Content-Type, Content-Length: len, Cache-Control: no-store, Connection: close, and unless head_only the
 * body. A NULL body sends the JSON error body {"error":"<reason phrase>"} as application/json. Returns NULL
 * when out of memory.
 */
char *http_request_format_response(int status, const char *content_type, const char *body, size_t len,
				   int head_only, size_t *outlen);

#endif
