/* http_request.c - the HTTP protocol of the operators' port: one request's bytes in, a decision out, and the
 * bytes of the response. No I/O and no libuv: http.c (the transport) feeds it what it reads, in any split.
 *
 * http-parser does the parsing. This file only counts bytes and decides, and it decides at points that
 * depend on the bytes alone: an http-parser error, the end of the headers, the end of the message, or the
 * byte that would cross HTTP_REQUEST_MAX_BYTES. Data callbacks (on_url) run wherever a read happened to
 * end, so they only accumulate and never decide. */
#include "http_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decision from inside a callback: record it and pause, so that http_parser_execute returns at once. */
static int decide(http_parser *p, enum http_request_event event, int status)
{
	struct http_request *req = p->data;
	req->event = event;
	req->status = status;
	http_parser_pause(p, 1);
	return 0;
}

/* Keeps the first HTTP_REQUEST_MAX_URL bytes of the URL and counts the rest. */
static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_request *req = p->data;
	if (req->url_len < HTTP_REQUEST_MAX_URL) {
		size_t keep = HTTP_REQUEST_MAX_URL - req->url_len;
		memcpy(req->url + req->url_len, at, len < keep ? len : keep);
	}
	req->url_len += len;
	return 0;
}

/* The path of the URL (origin-form, or absolute-form's path, "/" when it has none); -1 for any other
 * target, e.g. "*" (RFC 9112 3.2), so that the handler always sees a path that starts with '/'. */
static int take_path(struct http_request *req)
{
	size_t kept = req->url_len;
	struct http_parser_url u;
	req->url[kept] = '\0';
	http_parser_url_init(&u);
	if (http_parser_parse_url(req->url, kept, 0, &u) != 0)
		snprintf(req->path, sizeof(req->path), "/");
	else if (!(u.field_set & (1 << UF_PATH)))
		snprintf(req->path, sizeof(req->path), "/");
	else
		snprintf(req->path, sizeof(req->path), "%.*s", (int)u.field_data[UF_PATH].len,
			 req->url + u.field_data[UF_PATH].off);
	return req->path[0] == '/' ? 0 : -1;
}

/* The method and the whole URL are known here: a request this port cannot serve is answered without
 * waiting for a body. */
static int on_headers_complete(http_parser *p)
{
	struct http_request *req = p->data;
	req->headers_done = 1;
	if (req->url_len > HTTP_REQUEST_MAX_URL)
		return decide(p, HTTP_REQUEST_ERROR, 414);
	if (p->method != HTTP_GET && p->method != HTTP_HEAD)
		return decide(p, HTTP_REQUEST_ERROR, 405);
	if (take_path(req) != 0)
		return decide(p, HTTP_REQUEST_ERROR, 400);
	return 0;
}

/* The end of a GET or HEAD request (any body read and ignored). */
static int on_message_complete(http_parser *p)
{
	struct http_request *req = p->data;
	req->method = http_method_str((enum http_method)p->method);
	req->head_only = p->method == HTTP_HEAD;
	return decide(p, HTTP_REQUEST_DONE, 0);
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

void http_request_init(struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	http_parser_init(&req->parser, HTTP_REQUEST);
	req->parser.data = req;
}

/*
 * Gives http-parser at most the bytes left under HTTP_REQUEST_MAX_BYTES; the byte after them decides 431,
 * 414 or 413 without being parsed. Then an http-parser error is a 400, and anything the callbacks decided
 * stands.
 */
enum http_request_event http_request_feed(struct http_request *req, const char *data, size_t len)
{
	if (req->event != HTTP_REQUEST_MORE || len == 0)
		return req->event;
	size_t room = HTTP_REQUEST_MAX_BYTES - req->fed;
	if (room == 0) {
		req->event = HTTP_REQUEST_ERROR;
		if (req->headers_done)
			req->status = 413;
		else
			req->status = req->url_len > HTTP_REQUEST_MAX_URL ? 414 : 431;
		return req->event;
	}
	size_t n = len < room ? len : room;
	size_t parsed = http_parser_execute(&req->parser, &settings, data, n);
	req->fed += parsed;
	if (req->event != HTTP_REQUEST_MORE)
		return req->event; /* paused by a callback's decision */
	if (HTTP_PARSER_ERRNO(&req->parser) != HPE_OK || parsed != n) {
		req->event = HTTP_REQUEST_ERROR;
		req->status = 400;
		return req->event;
	}
	/* The rest, if any, is past the limit: the next call decides on it. */
	return n < len ? http_request_feed(req, data + n, len - n) : HTTP_REQUEST_MORE;
}

const char *http_request_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

char *http_request_format_response(int status, const char *content_type, const char *body, size_t len,
				   int head_only, size_t *outlen)
{
	char error_body[96];
	if (!body) {
		int m = snprintf(error_body, sizeof(error_body), "{\"error\":\"%s\"}\n", http_request_status_text(status));
		body = error_body;
		len = (size_t)m;
		content_type = "application/json";
	}
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
			 "Connection: close\r\n\r\n",
			 status, http_request_status_text(status), content_type, len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return NULL;
	size_t total = (size_t)n + (head_only ? 0 : len);
	char *out = malloc(total);
	if (!out)
		return NULL;
	memcpy(out, head, (size_t)n);
	if (!head_only && len)
		memcpy(out + n, body, len);
	*outlen = total;
	return out;
}
