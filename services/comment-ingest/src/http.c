/* http.c - the operators' HTTP port, transport side: accepts, reads, writes and closes connections on the
 * loop, under a connection limit and timeouts. The protocol (parsing, statuses) is http_request.c's.
 *
 * The transport half (accept, read, timers, write, close) knows nothing of HTTP: it reports what happens
 * to a connection to conn_event() with an enum conn_event, which feeds http_request.c and answers. What a
 * hostile client can hold is bounded: HTTP_MAX_CONNECTIONS connections (at the limit an idle one is
 * closed to make room, so a probe gets in), one request of at most
 * HTTP_REQUEST_MAX_BYTES per connection, read within the request and idle timeouts, and one response
 * buffer, written within the write timeout and freed when the connection closes. */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include "http_request.h"
#include "log.h"
#include "metrics.h"

/* Descriptors kept for Kafka, PostgreSQL and the loop when RLIMIT_NOFILE caps HTTP_MAX_CONNECTIONS. */
#define HTTP_FD_RESERVE 64
/* How many of the oldest reading connections are looked at for one that has nothing waiting to be read. */
#define HTTP_EVICT_SCAN 16

/* What the transport tells the protocol side about one connection. */
enum conn_event {
	CONN_EV_READ,            /* bytes arrived */
	CONN_EV_EOF,             /* the peer closed, or reading failed, before a response */
	CONN_EV_IDLE_TIMEOUT,    /* no byte for idle_timeout_ms */
	CONN_EV_REQUEST_TIMEOUT, /* no whole request within request_timeout_ms */
	CONN_EV_SENT,            /* the response is written, or writing it failed */
	CONN_EV_WRITE_TIMEOUT,   /* the response was not written within write_timeout_ms */
};

struct http_conn;
typedef void (*conn_event_fn)(struct http_conn *c, enum conn_event ev, const char *data, size_t len);

/* A list of connections, oldest first. */
struct conn_list {
	struct http_conn *head, *tail;
	int count;
};

struct http_conn {
	/* transport */
	uv_tcp_t tcp;
	uv_timer_t timer; /* the read deadlines, then the write deadline */
	uv_write_t wreq;
	struct http_server *srv;
	conn_event_fn on_event;
	struct conn_list *list; /* srv->reading or srv->writing; NULL once closing */
	struct http_conn *next, *prev;
	uint64_t request_deadline; /* loop time */
	uint64_t last_read;        /* loop time */
	int closing;
	int open_handles;
	char *out; /* the response being written; freed with the connection */
	/* protocol */
	struct http_request req;
};

/* A connection refused at the limit: accepted to be answered 503 and closed. */
struct http_shed {
	uv_tcp_t tcp;
	struct http_server *srv;
};

struct http_server {
	uv_tcp_t listener;
	struct http_limits limits;
	http_handler handler;
	void *arg;
	struct conn_list reading; /* accepted, request not answered yet: the ones evicted at the limit */
	struct conn_list writing; /* answering */
	char *busy;               /* the 503 written to a shed connection */
	size_t busy_len;
	struct http_shed spare; /* sheds when malloc fails, so that a pending accept never stalls the listener */
	int spare_busy;
	int live; /* the listener, connections and shed handles whose memory is not released yet */
	int closing;
	void (*close_cb)(void *);
	void *close_arg;
	char rbuf[4096]; /* shared: every read is consumed before the loop reads again */
};

static void list_append(struct conn_list *l, struct http_conn *c)
{
	c->list = l;
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->count++;
}

static void list_remove(struct http_conn *c)
{
	struct conn_list *l = c->list;
	if (!l)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	l->count--;
	c->list = NULL;
	c->next = c->prev = NULL;
}

/* Counts one released object down; the last one of a closing server releases the server. */
static void server_release(struct http_server *srv)
{
	if (--srv->live > 0 || !srv->closing)
		return;
	void (*cb)(void *) = srv->close_cb;
	void *arg = srv->close_arg;
	free(srv->busy);
	free(srv);
	if (cb)
		cb(arg);
}

/* ---- transport ---------------------------------------------------------------------------------- */

/* Memory is released only when both of the connection's handles are closed. */
static void conn_handle_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct http_server *srv = c->srv;
	free(c->out);
	free(c);
	server_release(srv);
}

/* Closes both handles (the descriptor at once, the memory in the close callbacks); idempotent. A write in
 * flight is cancelled. */
static void conn_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	list_remove(c);
	metrics.http_connections--;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void shed_closed(uv_handle_t *h)
{
	struct http_shed *s = h->data;
	struct http_server *srv = s->srv;
	if (s == &srv->spare)
		srv->spare_busy = 0;
	else
		free(s);
	server_release(srv);
}

/* Writes the 503 to a connection about to be closed, if its socket takes it at once: it never waits. */
static void shed(struct http_server *srv, uv_stream_t *stream)
{
	uv_buf_t buf = uv_buf_init(srv->busy, (unsigned)srv->busy_len);
	if (srv->busy)
		(void)uv_try_write(stream, &buf, 1);
}

/* Accepts the pending connection only to answer it 503 and close it: refusing without accepting would
 * leave it in the backlog and stop libuv from accepting any other. */
static void refuse(struct http_server *srv)
{
	struct http_shed *s = malloc(sizeof(*s));
	if (!s && !srv->spare_busy) {
		s = &srv->spare;
		srv->spare_busy = 1;
	}
	if (!s) {
		log_error("HTTP connection left pending: out of memory");
		return;
	}
	s->srv = srv;
	uv_tcp_init(srv->listener.loop, &s->tcp);
	s->tcp.data = s;
	srv->live++;
	if (uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&s->tcp) == 0)
		shed(srv, (uv_stream_t *)&s->tcp);
	uv_close((uv_handle_t *)&s->tcp, shed_closed);
}

static void timer_cb(uv_timer_t *t);

/* Arms the timer for the nearer of the request deadline and the idle deadline. */
static void conn_arm_read_timer(struct http_conn *c)
{
	uint64_t now = uv_now(c->tcp.loop);
	uint64_t idle = c->last_read + (uint64_t)c->srv->limits.idle_timeout_ms;
	uint64_t at = idle < c->request_deadline ? idle : c->request_deadline;
	uv_timer_start(&c->timer, timer_cb, at > now ? at - now : 0, 0);
}

static void timer_cb(uv_timer_t *t)
{
	struct http_conn *c = t->data;
	if (c->list == &c->srv->writing)
		c->on_event(c, CONN_EV_WRITE_TIMEOUT, NULL, 0);
	else if (uv_now(t->loop) >= c->request_deadline)
		c->on_event(c, CONN_EV_REQUEST_TIMEOUT, NULL, 0);
	else
		c->on_event(c, CONN_EV_IDLE_TIMEOUT, NULL, 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct http_conn *c = h->data;
	*buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = s->data;
	if (nread < 0) {
		c->on_event(c, CONN_EV_EOF, NULL, 0);
		return;
	}
	if (nread == 0)
		return;
	c->last_read = uv_now(s->loop);
	conn_arm_read_timer(c);
	c->on_event(c, CONN_EV_READ, buf->base, (size_t)nread);
}

static void write_cb(uv_write_t *req, int status)
{
	struct http_conn *c = req->data;
	if (status == UV_ECANCELED)
		return; /* closing */
	c->on_event(c, CONN_EV_SENT, NULL, 0);
}

/*
 * Sends out (malloc'ed, len bytes; the connection owns it from here) and stops reading: nothing after the
 * request is ever read. The write timeout starts now; CONN_EV_SENT or CONN_EV_WRITE_TIMEOUT follows.
 */
static void conn_send(struct http_conn *c, char *out, size_t len)
{
	if (c->closing || c->list != &c->srv->reading) {
		free(out);
		return;
	}
	c->out = out;
	list_remove(c);
	list_append(&c->srv->writing, c);
	uv_read_stop((uv_stream_t *)&c->tcp);
	uv_timer_start(&c->timer, timer_cb, (uint64_t)c->srv->limits.write_timeout_ms, 0);
	uv_buf_t buf = uv_buf_init(out, (unsigned)len);
	c->wreq.data = c;
	if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &buf, 1, write_cb) != 0)
		conn_close(c);
}

static void conn_event(struct http_conn *c, enum conn_event ev, const char *data, size_t len);

/*
 * The connection to close at the limit: the oldest one still reading whose socket holds no unread bytes.
 * libuv accepts a whole burst of pending connections before it reads any socket, so a probe accepted
 * early in a flood's burst has its request waiting, unread, while the rest of the burst is accepted:
 * it is passed over, and an idle one goes. When the first HTTP_EVICT_SCAN all have bytes waiting, the
 * oldest goes.
 */
static struct http_conn *pick_victim(struct http_server *srv)
{
	int scanned = 0;
	for (struct http_conn *c = srv->reading.head; c && scanned < HTTP_EVICT_SCAN; c = c->next, scanned++) {
		uv_os_fd_t fd;
		int waiting = 0;
		if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, FIONREAD, &waiting) != 0 || waiting == 0)
			return c;
	}
	return srv->reading.head;
}

/*
 * Takes the pending connection. At the limit a connection still reading its request (pick_victim) is
 * answered 503 and closed to make room, so a flood of idle connections cannot keep a probe out; when
 * every open connection is answering, the new one is answered 503 and closed instead. Either way the
 * number of descriptors stays at the limit.
 */
static void on_connection(uv_stream_t *server, int status)
{
	struct http_server *srv = server->data;
	if (status < 0) {
		log_warn("HTTP accept failed", "error", uv_strerror(status));
		return;
	}
	if (srv->closing)
		return;
	if (srv->reading.count + srv->writing.count >= srv->limits.max_connections) {
		struct http_conn *victim = pick_victim(srv);
		if (!victim) {
			metrics.http_refused++;
			refuse(srv);
			return;
		}
		metrics.http_evicted++;
		shed(srv, (uv_stream_t *)&victim->tcp);
		conn_close(victim);
	}
	struct http_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		metrics.http_refused++;
		refuse(srv);
		return;
	}
	c->srv = srv;
	c->on_event = conn_event;
	uv_tcp_init(server->loop, &c->tcp);
	uv_timer_init(server->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->open_handles = 2;
	srv->live++;
	metrics.http_connections++;
	list_append(&srv->reading, c);
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	http_request_init(&c->req);
	c->last_read = uv_now(server->loop);
	c->request_deadline = c->last_read + (uint64_t)srv->limits.request_timeout_ms;
	conn_arm_read_timer(c);
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
		conn_close(c);
}

/* ---- protocol ----------------------------------------------------------------------------------- */

/* Answers status with its JSON error body. */
static void conn_answer_error(struct http_conn *c, int status)
{
	size_t n;
	char *out = http_request_format_response(status, NULL, NULL, 0, 0, &n);
	if (out)
		conn_send(c, out, n);
	else
		conn_close(c);
}

/* Runs the handler on a whole request and sends its reply; a HEAD gets the headers alone. */
static void conn_answer_request(struct http_conn *c)
{
	struct http_reply reply = {404, "application/json", NULL, 0};
	size_t n;
	c->srv->handler(c->req.method, c->req.path, &reply, c->srv->arg);
	char *out = http_request_format_response(reply.status, reply.content_type, reply.body, reply.len,
						 c->req.head_only, &n);
	free(reply.body);
	if (out)
		conn_send(c, out, n);
	else
		conn_close(c);
}

/* The protocol's side of every transport event: one request, one response, then close. */
static void conn_event(struct http_conn *c, enum conn_event ev, const char *data, size_t len)
{
	switch (ev) {
	case CONN_EV_READ:
		switch (http_request_feed(&c->req, data, len)) {
		case HTTP_REQUEST_MORE:
			break;
		case HTTP_REQUEST_DONE:
			conn_answer_request(c);
			break;
		case HTTP_REQUEST_ERROR:
			conn_answer_error(c, c->req.status);
			break;
		}
		break;
	case CONN_EV_IDLE_TIMEOUT:
		metrics.http_idle_timeouts++;
		conn_answer_error(c, 408);
		break;
	case CONN_EV_REQUEST_TIMEOUT:
		metrics.http_request_timeouts++;
		conn_answer_error(c, 408);
		break;
	case CONN_EV_WRITE_TIMEOUT:
		metrics.http_write_timeouts++;
		conn_close(c);
		break;
	case CONN_EV_EOF:
	case CONN_EV_SENT:
		conn_close(c);
		break;
	}
}

/* ---- server ------------------------------------------------------------------------------------- */

/* max_connections, lowered (with a warning) so that the port never takes the descriptors that Kafka and
 * PostgreSQL need. */
static int fit_max_connections(int wanted)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    (rlim_t)wanted + HTTP_FD_RESERVE <= rl.rlim_cur)
		return wanted;
	int fit = rl.rlim_cur > HTTP_FD_RESERVE + 1 ? (int)(rl.rlim_cur - HTTP_FD_RESERVE) : 1;
	char from[16], to[16];
	snprintf(from, sizeof(from), "%d", wanted);
	snprintf(to, sizeof(to), "%d", fit);
	log_warn("HTTP_MAX_CONNECTIONS lowered to leave descriptors under RLIMIT_NOFILE", "from", from, "to", to);
	return fit;
}

struct http_server *http_start(uv_loop_t *loop, const char *addr, int port, const struct http_limits *limits,
			       http_handler handler, void *arg, char *err, size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage sa;
	int r;
	if (!srv)
		return NULL;
	srv->handler = handler;
	srv->arg = arg;
	srv->limits = *limits;
	srv->limits.max_connections = fit_max_connections(limits->max_connections);
	if ((r = uv_ip4_addr(addr, port, (struct sockaddr_in *)&sa)) != 0 &&
	    (r = uv_ip6_addr(addr, port, (struct sockaddr_in6 *)&sa)) != 0) {
		snprintf(err, errlen, "HTTP_ADDR %s is not an IP address", addr);
		free(srv);
		return NULL;
	}
	srv->busy = http_request_format_response(503, NULL, NULL, 0, 0, &srv->busy_len);
	uv_tcp_init(loop, &srv->listener);
	srv->listener.data = srv;
	srv->live = 1;
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
	server_release(h->data);
}

void http_close(struct http_server *srv, void (*close_cb)(void *arg), void *arg)
{
	srv->closing = 1;
	srv->close_cb = close_cb;
	srv->close_arg = arg;
	while (srv->reading.head)
		conn_close(srv->reading.head);
	while (srv->writing.head)
		conn_close(srv->writing.head);
	uv_close((uv_handle_t *)&srv->listener, listener_closed);
}
