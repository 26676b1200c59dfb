/* http.c - the operators' HTTP port: accepts connections on the loop and parses requests with http-parser. */
#include "http.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define HTTP_MAX_REQUEST 8192 /* bytes of request line and headers */
#define HTTP_MAX_URL 1024
#define HTTP_TIMEOUT_MS 5000

struct http_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wreq;
	http_parser parser;
	struct http_server *srv;
	struct http_conn *next, *prev;
	char url[HTTP_MAX_URL + 1];
	size_t url_len;
	size_t received;
	int url_too_long;
	int responded;
	int closing;
	int open_handles;
	char *out;
	char rbuf[2048];
};

struct http_server {
	uv_tcp_t listener;
	http_handler handler;
	void *arg;
	http_parser_settings settings;
	struct http_conn *conns;
	int closing;
	int open_handles;
	void (*close_cb)(void *);
	void *close_arg;
};

static void server_handle_closed(struct http_server *srv)
{
	if (--srv->open_handles > 0)
		return;
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;
	free(srv);
	if (cb)
		cb(arg);
}

/* Memory is released only when both of the connection's handles are closed. */
static void conn_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct http_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->out);
	free(c);
	if (srv->closing)
		server_handle_closed(srv);
}

static void conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void write_cb(uv_write_t *req, int status)
{
	(void)status;
	conn_close(req->data);
}

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Sends one response and closes the connection after it is written. */
static void conn_respond(struct http_conn *c, int status, const char *type, const char *body, size_t len,
			 int head_only)
{
	if (c->responded || c->closing)
		return;
	c->responded = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
			 "Connection: close\r\n\r\n",
			 status, status_text(status), type, len);
	size_t total = (size_t)n + (head_only ? 0 : len);
	c->out = malloc(total);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)n);
	if (!head_only && len)
		memcpy(c->out + n, body, len);
	uv_buf_t buf = uv_buf_init(c->out, (unsigned)total);
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, write_cb) != 0)
		conn_close(c);
}

static void respond_error(struct http_conn *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", status_text(status));
	conn_respond(c, status, "application/json", body, (size_t)n, 0);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (c->url_len + len > HTTP_MAX_URL) {
		c->url_too_long = 1;
		return 1; /* stop parsing */
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	const char *method = http_method_str((enum http_method)p->method);
	if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
		respond_error(c, 405);
		return 1;
	}
	struct http_parser_url u;
	http_parser_url_init(&u);
	char path[HTTP_MAX_URL + 1] = "/";
	if (http_parser_parse_url(c->url, c->url_len, 0, &u) == 0 && (u.field_set & (1 << UF_PATH)))
		snprintf(path, sizeof(path), "%.*s", (int)u.field_data[UF_PATH].len, c->url + u.field_data[UF_PATH].off);
	struct http_reply reply = {404, "application/json", NULL, 0};
	c->srv->handler(method, path, &reply, c->srv->arg);
	if (reply.body)
		conn_respond(c, reply.status, reply.content_type, reply.body, reply.len, p->method == HTTP_HEAD);
	else
		respond_error(c, reply.status);
	free(reply.body);
	return 1; /* one request per connection */
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct http_conn *c = h->data;
	*buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;
	if (nread < 0) {
		conn_close(c);
		return;
	}
	if (nread == 0 || c->responded)
		return;
	c->received += (size_t)nread;
	size_t parsed = http_parser_execute(&c->parser, &c->srv->settings, buf->base, (size_t)nread);
	if (c->responded)
		return;
	if (c->url_too_long)
		respond_error(c, 414);
	else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || parsed != (size_t)nread)
		respond_error(c, 400);
	else if (c->received > HTTP_MAX_REQUEST)
		respond_error(c, 431);
}

static void timeout_cb(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	if (!c->responded)
		respond_error(c, 408);
	else
		conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct http_server *srv = server->data;
	if (status < 0 || srv->closing)
		return;
	struct http_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	uv_tcp_init(server->loop, &c->tcp);
	uv_timer_init(server->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	uv_timer_start(&c->timer, timeout_cb, HTTP_TIMEOUT_MS, 0);
	uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

struct http_server *http_start(uv_loop_t *loop, const char *addr, int port, http_handler handler, void *arg,
			       char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage sa;
	int r;
	if (!srv)
		return NULL;
	srv->handler = handler;
	srv->arg = arg;
	http_parser_settings_init(&srv->settings);
	srv->settings.on_url = on_url;
	srv->settings.on_message_complete = on_message_complete;
	if ((r = uv_ip4_addr(addr, port, (struct sockaddr_in *)&sa)) != 0 &&
	    (r = uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&sa)) != 0) {
		snprintf(err, errlen, "HTTP_ADDR %s is not an IP address", addr);
		free(srv);
		return NULL;
	}
	uv_tcp_init(loop, &srv->listener);
	srv->listener.data = srv;
	srv->open_handles = 1;
	if ((r = uv_tcp_bind(&srv->listener, (struct sockaddr *)&sa, 0)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&srv->listener, 128, on_connection)) != 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port, uv_strerror(r));
		http_close(srv, NULL, NULL);
		return NULL;
	}
	return srv;
}

static void listener_closed(uv_handle_t *h)
{
	server_handle_closed(h->data);
}

void http_close(struct http_server *srv, void (*close_cb)(void *arg), void *arg)
{
	srv->closing = 1;
	srv->close_cb = close_cb;
	srv->close_arg = arg;
	for (struct http_conn *c = srv->conns; c; c = c->next) {
		srv->open_handles++; /* counted down when the connection's memory is released */
		conn_close(c);
	}
	uv_close((uv_handle_t *)&srv->listener, listener_closed);
}
