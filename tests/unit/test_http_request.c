/* test_http_request.c - the operators' port's HTTP protocol: requests, limits and protocol errors, in any
 * split, and the bytes of the responses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http_request.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* The whole outcome of a connection's bytes. */
struct outcome {
	enum http_request_event event;
	int status;
	char method[8];
	char path[HTTP_REQUEST_MAX_URL + 1];
	int head_only;
	size_t fed;
};

static struct outcome outcome_of(const struct http_request *req)
{
	struct outcome o;
	memset(&o, 0, sizeof(o));
	o.event = req->event;
	o.status = req->status;
	o.fed = req->fed;
	if (req->event == HTTP_REQUEST_DONE) {
		snprintf(o.method, sizeof(o.method), "%s", req->method);
		snprintf(o.path, sizeof(o.path), "%s", req->path);
		o.head_only = req->head_only;
	}
	return o;
}

/* Feeds data in pieces of `step` bytes (0: one piece); each piece is its own allocation, so that ASan sees a
 * read past it. Once decided, a feed must return the decision again and parse nothing. */
static struct outcome feed(const char *data, size_t len, size_t step)
{
	struct http_request req;
	http_request_init(&req);
	size_t at = 0;
	if (step == 0)
		step = len ? len : 1;
	while (at < len) {
		size_t n = len - at < step ? len - at : step;
		char *piece = malloc(n);
		assert_non_null(piece);
		memcpy(piece, data + at, n);
		enum http_request_event before = req.event;
		size_t fed_before = req.fed;
		enum http_request_event ev = http_request_feed(&req, piece, n);
		free(piece);
		assert_int_equal(ev, req.event);
		if (before != HTTP_REQUEST_MORE) {
			assert_int_equal(ev, before);
			assert_int_equal(req.fed, fed_before);
		}
		assert_true(req.fed <= HTTP_REQUEST_MAX_BYTES);
		at += n;
	}
	return outcome_of(&req);
}

static void assert_same(const struct outcome *a, const struct outcome *b)
{
	assert_int_equal(a->event, b->event);
	assert_int_equal(a->status, b->status);
	assert_string_equal(a->method, b->method);
	assert_string_equal(a->path, b->path);
	assert_int_equal(a->head_only, b->head_only);
}

/* The outcome in one piece, checked to be the same in pieces of 1, 2, 3, 7 and 1000 bytes and at every
 * split into two pieces. */
static struct outcome feed_every_split(const char *data, size_t len)
{
	struct outcome whole = feed(data, len, 0);
	static const size_t steps[] = {1, 2, 3, 7, 1000};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct outcome o = feed(data, len, steps[i]);
		assert_same(&whole, &o);
	}
	for (size_t cut = 1; cut < len && cut < 2 * HTTP_REQUEST_MAX_BYTES; cut += len > 4096 ? 97 : 1) {
		struct http_request req;
		http_request_init(&req);
		http_request_feed(&req, data, cut);
		http_request_feed(&req, data + cut, len - cut);
		struct outcome o = outcome_of(&req);
		assert_same(&whole, &o);
	}
	return whole;
}

static void assert_done(const char *data, size_t len, const char *method, const char *path)
{
	struct outcome o = feed_every_split(data, len);
	assert_int_equal(o.event, HTTP_REQUEST_DONE);
	assert_string_equal(o.method, method);
	assert_string_equal(o.path, path);
	assert_int_equal(o.head_only, strcmp(method, "HEAD") == 0);
}

static void assert_error(const char *data, size_t len, int status)
{
	struct outcome o = feed_every_split(data, len);
	assert_int_equal(o.event, HTTP_REQUEST_ERROR);
	assert_int_equal(o.status, status);
}

/* A malloc'ed request line and headers with `pad` bytes of one header's value, ending as given. */
static char *padded(const char *line, size_t pad, const char *end, size_t *len)
{
	size_t a = strlen(line), b = strlen(end);
	char *s = malloc(a + pad + b + 1);
	assert_non_null(s);
	memcpy(s, line, a);
	memset(s + a, 'a', pad);
	memcpy(s + a + pad, end, b + 1);
	*len = a + pad + b;
	return s;
}

static void test_routes(void **state)
{
	(void)state;
	assert_done(LIT("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), "GET", "/healthz");
	assert_done(LIT("GET /readyz HTTP/1.1\r\nHost: x\r\nUser-Agent: kube-probe/1.29\r\nAccept: */*\r\n\r\n"), "GET",
		    "/readyz");
	assert_done(LIT("GET /metrics HTTP/1.1\r\n\r\n"), "GET", "/metrics");
	assert_done(LIT("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), "HEAD", "/healthz");
	assert_done(LIT("HEAD /metrics HTTP/1.0\r\n\r\n"), "HEAD", "/metrics");
	assert_done(LIT("GET /healthz HTTP/1.0\r\n\r\n"), "GET", "/healthz");
	assert_done(LIT("GET /no-such-thing HTTP/1.1\r\n\r\n"), "GET", "/no-such-thing");
}

/* The handler sees the path alone: no query, no fragment, no scheme and host. */
static void test_path_of_url(void **state)
{
	(void)state;
	assert_done(LIT("GET /metrics?name[]=x&y=1 HTTP/1.1\r\n\r\n"), "GET", "/metrics");
	assert_done(LIT("GET http://example.org:8080/readyz?x HTTP/1.1\r\n\r\n"), "GET", "/readyz");
	assert_done(LIT("GET http://example.org HTTP/1.1\r\n\r\n"), "GET", "/");
	assert_done(LIT("GET /a%20b HTTP/1.1\r\n\r\n"), "GET", "/a%20b");
}

/* Found by fuzz_http: a request line "GET *" "/T" gave the handler the path "*" "/T". A target that is neither origin-form nor
 * absolute-form (RFC 9112 3.2) is a 400, so the handler always sees a path starting with '/'. */
static void test_target_not_a_path(void **state)
{
	(void)state;
	assert_error(LIT("GET */T\r\n\r\n"), 400);
	assert_error(LIT("GET * HTTP/1.1\r\n\r\n"), 400);
	assert_error(LIT("HEAD *x HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	assert_done(LIT("GET /healthz\r\n\r\n"), "GET", "/healthz");
}

/* Blank lines before a request are tolerated (RFC 9112 2.2); a request split inside its CRLFs is the same. */
static void test_split_crlf(void **state)
{
	(void)state;
	assert_done(LIT("\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"), "GET", "/healthz");
	struct http_request req;
	http_request_init(&req);
	assert_int_equal(http_request_feed(&req, LIT("GET /healthz HTTP/1.1\r")), HTTP_REQUEST_MORE);
	assert_int_equal(http_request_feed(&req, LIT("\nHost: x\r")), HTTP_REQUEST_MORE);
	assert_int_equal(http_request_feed(&req, LIT("\n\r")), HTTP_REQUEST_MORE);
	assert_int_equal(http_request_feed(&req, LIT("\n")), HTTP_REQUEST_DONE);
	assert_string_equal(req.path, "/healthz");
	/* an empty feed changes nothing */
	http_request_init(&req);
	assert_int_equal(http_request_feed(&req, "", 0), HTTP_REQUEST_MORE);
	assert_int_equal(req.fed, 0);
}

/* Any method but GET and HEAD is a 405 once its headers are complete: the body is never waited for. */
static void test_bad_methods(void **state)
{
	(void)state;
	assert_error(LIT("POST /healthz HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"), 405);
	assert_error(LIT("PUT /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"), 405);
	assert_error(LIT("DELETE /readyz HTTP/1.1\r\n\r\n"), 405);
	assert_error(LIT("OPTIONS * HTTP/1.1\r\n\r\n"), 405);
	assert_error(LIT("CONNECT example.org:443 HTTP/1.1\r\n\r\n"), 405);
	assert_error(LIT("PATCH /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 405);
	/* the URL limit comes first, as it did before */
	size_t len;
	char *s = padded("POST /", 2000, " HTTP/1.1\r\n\r\n", &len);
	assert_error(s, len, 414);
	free(s);
}

static void test_garbage_is_400(void **state)
{
	(void)state;
	assert_error(LIT("\x00\x01\x02 GARBAGE \xff\xfe\r\n\r\n"), 400);
	assert_error(LIT("GET /healthz XTTP/1.1\r\n\r\n"), 400);
	assert_error(LIT("GET /healthz HTTP/1.x\r\n\r\n"), 400);
	assert_error(LIT("GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"), 400);
	assert_error(LIT("GET /he\x01lthz HTTP/1.1\r\n\r\n"), 400);
	assert_error(LIT("GET /healthz HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
	assert_error(LIT("GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 400);
	assert_error(LIT("garbage\r\n\r\ngarbage\r\n\r\ngarbage\r\n\r\n"), 400);
}

/* A URL of exactly HTTP_REQUEST_MAX_URL bytes is served; one more byte is a 414, and a 1 MiB one is a 414
 * after HTTP_REQUEST_MAX_BYTES, never more. */
static void test_url_limit(void **state)
{
	(void)state;
	size_t len;
	char *s = padded("GET /", HTTP_REQUEST_MAX_URL - 1, " HTTP/1.1\r\n\r\n", &len);
	struct outcome o = feed_every_split(s, len);
	assert_int_equal(o.event, HTTP_REQUEST_DONE);
	assert_int_equal(strlen(o.path), HTTP_REQUEST_MAX_URL);
	free(s);
	s = padded("GET /", HTTP_REQUEST_MAX_URL, " HTTP/1.1\r\n\r\n", &len);
	assert_error(s, len, 414);
	free(s);
	s = padded("GET /", 1 << 20, " HTTP/1.1\r\n\r\n", &len);
	o = feed(s, len, 0);
	assert_int_equal(o.event, HTTP_REQUEST_ERROR);
	assert_int_equal(o.status, 414);
	assert_int_equal(o.fed, HTTP_REQUEST_MAX_BYTES);
	o = feed(s, len, 2048);
	assert_int_equal(o.status, 414);
	free(s);
	/* a long URL that turns out invalid is a 400 however it is split (the decision is not taken in on_url) */
	s = padded("GET /", 1500, "\x01 HTTP/1.1\r\n\r\n", &len);
	assert_error(s, len, 400);
	free(s);
	s = padded("GET /", 1500, " HTTP/1.1\r\nBad Header\r\n\r\n", &len);
	assert_error(s, len, 400);
	free(s);
}

/* Request line and headers: exactly HTTP_REQUEST_MAX_BYTES is served, the byte after it is a 431, and a
 * 1 MiB header stops there. */
static void test_header_limit(void **state)
{
	(void)state;
	const char *line = "GET /healthz HTTP/1.1\r\nX-Big: ";
	size_t pad = HTTP_REQUEST_MAX_BYTES - strlen(line) - 4, len;
	char *s = padded(line, pad, "\r\n\r\n", &len);
	assert_int_equal(len, HTTP_REQUEST_MAX_BYTES);
	assert_done(s, len, "GET", "/healthz");
	free(s);
	s = padded(line, pad + 1, "\r\n\r\n", &len);
	assert_error(s, len, 431);
	free(s);
	/* 8192 bytes and no end yet: more is needed, and the next byte decides */
	s = padded(line, HTTP_REQUEST_MAX_BYTES - strlen(line), "", &len);
	struct http_request req;
	http_request_init(&req);
	assert_int_equal(http_request_feed(&req, s, len), HTTP_REQUEST_MORE);
	assert_int_equal(req.fed, HTTP_REQUEST_MAX_BYTES);
	assert_int_equal(http_request_feed(&req, "a", 1), HTTP_REQUEST_ERROR);
	assert_int_equal(req.status, 431);
	assert_int_equal(req.fed, HTTP_REQUEST_MAX_BYTES);
	free(s);
	s = padded(line, 1 << 20, "\r\n\r\n", &len);
	struct outcome o = feed(s, len, 0);
	assert_int_equal(o.status, 431);
	assert_int_equal(o.fed, HTTP_REQUEST_MAX_BYTES);
	o = feed(s, len, 1000);
	assert_int_equal(o.status, 431);
	free(s);
	/* many small headers count the same */
	char many[HTTP_REQUEST_MAX_BYTES * 2];
	size_t n = (size_t)snprintf(many, sizeof(many), "GET /healthz HTTP/1.1\r\n");
	while (n < HTTP_REQUEST_MAX_BYTES + 100)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "X-A: b\r\n");
	n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n");
	assert_error(many, n, 431);
}

/* A GET may carry a small body (it is read and ignored); one that does not end within the limit is a 413. */
static void test_body_limit(void **state)
{
	(void)state;
	assert_done(LIT("GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"), "GET", "/healthz");
	assert_done(LIT("GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), "GET",
		    "/healthz");
	struct http_request req;
	http_request_init(&req);
	assert_int_equal(http_request_feed(&req, LIT("GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel")),
			 HTTP_REQUEST_MORE);
	assert_int_equal(http_request_feed(&req, LIT("lo")), HTTP_REQUEST_DONE);
	size_t len;
	char *s = padded("GET /healthz HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 100000, "", &len);
	assert_error(s, len, 413);
	struct outcome o = feed(s, len, 0);
	assert_int_equal(o.fed, HTTP_REQUEST_MAX_BYTES);
	free(s);
}

/* One request per connection: whatever follows the first decision is never parsed. */
static void test_pipelined(void **state)
{
	(void)state;
	assert_done(LIT("GET /healthz HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n"), "GET", "/healthz");
	assert_done(LIT("HEAD /readyz HTTP/1.1\r\n\r\n\x00\x01garbage\r\n\r\n"), "HEAD", "/readyz");
	assert_error(LIT("garbage\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"), 400);
	assert_error(LIT("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"), 405);
	struct http_request req;
	http_request_init(&req);
	assert_int_equal(http_request_feed(&req, LIT("GET /healthz HTTP/1.1\r\n\r\nGET /x")), HTTP_REQUEST_DONE);
	size_t fed = req.fed;
	assert_true(fed <= strlen("GET /healthz HTTP/1.1\r\n\r\n"));
	assert_int_equal(http_request_feed(&req, LIT(" HTTP/1.1\r\n\r\n")), HTTP_REQUEST_DONE);
	assert_int_equal(http_request_feed(&req, LIT("\x00garbage")), HTTP_REQUEST_DONE);
	assert_int_equal(req.fed, fed);
	assert_string_equal(req.path, "/healthz");
	http_request_init(&req);
	assert_int_equal(http_request_feed(&req, LIT("\x01\r\n")), HTTP_REQUEST_ERROR);
	assert_int_equal(http_request_feed(&req, LIT("GET /healthz HTTP/1.1\r\n\r\n")), HTTP_REQUEST_ERROR);
	assert_int_equal(req.status, 400);
}

/* The bytes of a response: the headers are the ones the port always sent, HEAD has no body, and an error
 * without a body gets the JSON one. */
static void test_format_response(void **state)
{
	(void)state;
	size_t n;
	char *out = http_request_format_response(200, "application/json", LIT("{\"status\":\"ok\"}\n"), 0, &n);
	static const char want[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
				   "Cache-Control: no-store\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}\n";
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(out, want, n);
	free(out);
	out = http_request_format_response(200, "text/plain; version=0.0.4", LIT("a 1\n"), 1, &n);
	static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 4\r\n"
				   "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
	assert_int_equal(n, sizeof(head) - 1);
	assert_memory_equal(out, head, n);
	free(out);
	out = http_request_format_response(431, NULL, NULL, 0, 0, &n);
	static const char err[] = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\n"
				  "Content-Length: 44\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
				  "{\"error\":\"Request Header Fields Too Large\"}\n";
	assert_int_equal(n, sizeof(err) - 1);
	assert_memory_equal(out, err, n);
	free(out);
	out = http_request_format_response(404, "application/json", NULL, 0, 1, &n);
	static const char head404[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 22\r\n"
				      "Cache-Control: no-store\r\nConnection: close\r\n\r\n";
	assert_int_equal(n, sizeof(head404) - 1);
	assert_memory_equal(out, head404, n);
	free(out);
	static const int statuses[] = {200, 400, 404, 405, 408, 413, 414, 431, 503};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		assert_string_not_equal(http_request_status_text(statuses[i]), "Error");
	assert_string_equal(http_request_status_text(599), "Error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_path_of_url),
		cmocka_unit_test(test_target_not_a_path),
		cmocka_unit_test(test_split_crlf),
		cmocka_unit_test(test_bad_methods),
		cmocka_unit_test(test_garbage_is_400),
		cmocka_unit_test(test_url_limit),
		cmocka_unit_test(test_header_limit),
		cmocka_unit_test(test_body_limit),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_format_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
