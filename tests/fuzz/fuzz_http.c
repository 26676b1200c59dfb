/* fuzz_http.c - libFuzzer target for http_request.c, the operators' port's HTTP protocol.
 *
 * Input: one byte k, then k chunk sizes (one byte each, 0 meaning 256), then the bytes of a connection.
 * The connection is fed to http_request in chunks of those sizes (cycled), each chunk its own exact
 * allocation so that ASan sees any read past it, and again in one piece. Invariants:
 *   - at most one decision per connection: once DONE or ERROR, every feed returns it and parses nothing;
 *   - http-parser is never given more than HTTP_REQUEST_MAX_BYTES, and MORE means every byte was taken;
 *   - ERROR has a status in {400, 405, 413, 414, 431}; DONE is a GET or HEAD with a path starting with
 *     '/' of at most HTTP_REQUEST_MAX_URL bytes;
 *   - the outcome is the same whatever the split;
 *   - the response this port would send parses back (http-parser, HTTP_RESPONSE) with that status. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_request.h"

#define CHECK(cond)                                                                         \
	do {                                                                                \
		if (!(cond)) {                                                              \
			fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                            \
		}                                                                           \
	} while (0)

/* Feeds data in the given chunk sizes (cycled), checking the per-feed invariants. */
static void feed_chunks(struct http_request *req, const uint8_t *data, size_t len, const uint8_t *sizes,
			size_t nsizes)
{
	size_t at = 0, i = 0;
	while (at < len) {
		size_t step = len;
		if (nsizes) {
			step = sizes[i++ % nsizes];
			if (step == 0)
				step = 256;
		}
		size_t n = len - at < step ? len - at : step;
		char *piece = malloc(n);
		CHECK(piece);
		memcpy(piece, data + at, n);
		enum http_request_event before = req->event;
		size_t fed_before = req->fed;
		enum http_request_event ev = http_request_feed(req, piece, n);
		free(piece);
		CHECK(ev == req->event);
		CHECK(req->fed <= HTTP_REQUEST_MAX_BYTES);
		CHECK(req->fed >= fed_before);
		if (before != HTTP_REQUEST_MORE) {
			CHECK(ev == before);
			CHECK(req->fed == fed_before);
		}
		at += n;
		if (ev == HTTP_REQUEST_MORE)
			CHECK(req->fed == at);
	}
}

static void check_outcome(const struct http_request *req)
{
	switch (req->event) {
	case HTTP_REQUEST_MORE:
		break;
	case HTTP_REQUEST_DONE:
		CHECK(strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0);
		CHECK(req->head_only == (strcmp(req->method, "HEAD") == 0));
		CHECK(req->path[0] == '/');
		CHECK(strlen(req->path) <= HTTP_REQUEST_MAX_URL);
		CHECK(req->url_len <= HTTP_REQUEST_MAX_URL);
		break;
	case HTTP_REQUEST_ERROR:
		CHECK(req->status == 400 || req->status == 405 || req->status == 413 || req->status == 414 ||
		      req->status == 431);
		break;
	default:
		CHECK(!"unknown event");
	}
}

struct parsed_response {
	int complete;
	size_t body;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
	(void)at;
	((struct parsed_response *)p->data)->body += len;
	return 0;
}

static int on_response_complete(http_parser *p)
{
	((struct parsed_response *)p->data)->complete = 1;
	return 0;
}

/* The response for this outcome is one well-formed HTTP/1.1 response with that status. */
static void check_response(const struct http_request *req)
{
	int status = req->event == HTTP_REQUEST_ERROR ? req->status : 200;
	int head_only = req->event == HTTP_REQUEST_DONE && req->head_only;
	size_t n;
	char *out = req->event == HTTP_REQUEST_DONE
			    ? http_request_format_response(200, "application/json", req->path, strlen(req->path),
							   head_only, &n)
			    : http_request_format_response(status, NULL, NULL, 0, 0, &n);
	CHECK(out);
	http_parser p;
	http_parser_settings s;
	struct parsed_response r = {0, 0};
	http_parser_init(&p, HTTP_RESPONSE);
	http_parser_settings_init(&s);
	s.on_body = on_body;
	s.on_message_complete = on_response_complete;
	p.data = &r;
	if (head_only) {
		/* a HEAD response has no body whatever its Content-Length: the client knows it asked HEAD */
		CHECK(memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
	} else {
		size_t parsed = http_parser_execute(&p, &s, out, n);
		CHECK(HTTP_PARSER_ERRNO(&p) == HPE_OK);
		CHECK(parsed == n);
		CHECK(r.complete);
		CHECK((int)p.status_code == status);
		CHECK(!http_should_keep_alive(&p));
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t nsizes = data[0] % 16;
	if (size < 1 + nsizes)
		return 0;
	const uint8_t *sizes = data + 1;
	const uint8_t *conn = data + 1 + nsizes;
	size_t len = size - 1 - nsizes;

	struct http_request split, whole;
	http_request_init(&split);
	feed_chunks(&split, conn, len, sizes, nsizes);
	http_request_init(&whole);
	feed_chunks(&whole, conn, len, NULL, 0);
	check_outcome(&split);
	check_outcome(&whole);

	CHECK(split.event == whole.event);
	CHECK(split.status == whole.status);
	if (whole.event == HTTP_REQUEST_DONE) {
		CHECK(strcmp(split.method, whole.method) == 0);
		CHECK(strcmp(split.path, whole.path) == 0);
		CHECK(split.head_only == whole.head_only);
	}
	if (whole.event == HTTP_REQUEST_MORE)
		CHECK(len <= HTTP_REQUEST_MAX_BYTES);
	else
		check_response(&whole);
	return 0;
}
