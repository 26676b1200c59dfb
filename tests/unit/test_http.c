/* test_http.c - the operators' port's transport on a real loop and loopback sockets: one request and
 * close, the idle, request and write timeouts, and the connection limit (eviction and refusal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "http.h"
#include "metrics.h"

#define BIG_BODY (16u << 20) /* more than loopback socket buffers hold */

struct fixture {
	uv_loop_t loop;
	struct http_server *srv;
	int port;
	int closed;
	int handled;
	size_t body_len; /* of the handler's reply */
};

static void handler(const char *method, const char *path, struct http_reply *reply, void *arg)
{
	struct fixture *f = arg;
	(void)method;
	f->handled++;
	reply->status = strcmp(path, "/ok") == 0 || strcmp(path, "/big") == 0 ? 200 : 404;
	if (reply->status != 200)
		return;
	reply->len = strcmp(path, "/big") == 0 ? BIG_BODY : 3;
	reply->body = malloc(reply->len);
	assert_non_null(reply->body);
	memset(reply->body, 'x', reply->len);
	f->body_len = reply->len;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void start(struct fixture *f, int max_connections, int request_ms, int idle_ms, int write_ms)
{
	char err[256];
	memset(f, 0, sizeof(*f));
	memset(&metrics, 0, sizeof(metrics));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->port = free_port();
	struct http_limits limits = {max_connections, request_ms, idle_ms, write_ms};
	f->srv = http_start(&f->loop, "127.0.0.1", f->port, &limits, handler, f, err, sizeof(err));
	assert_non_null(f->srv);
}

static void server_closed(void *arg)
{
	((struct fixture *)arg)->closed = 1;
}

/* Closes the server with whatever is still open, and checks that everything is released (ASan's leak
 * check does the rest). */
static void stop(struct fixture *f)
{
	http_close(f->srv, server_closed, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->closed, 1);
	assert_int_equal(metrics.http_connections, 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- running the loop until something happens ---------------------------------------------------- */

struct waiter {
	int (*pred)(void *);
	void *arg;
	uint64_t deadline;
	void (*tick)(void *); /* called every 10 ms while waiting, e.g. a client that trickles bytes */
	int met;
};

static void wait_tick(uv_timer_t *t)
{
	struct waiter *w = t->data;
	if (w->tick)
		w->tick(w->arg);
	if (w->pred(w->arg)) {
		w->met = 1;
		uv_stop(t->loop);
	} else if (uv_now(t->loop) >= w->deadline) {
		uv_stop(t->loop);
	}
}

/* Runs the loop until pred(arg) or ms pass; returns whether pred came true. */
static int run_until(struct fixture *f, int (*pred)(void *), void (*tick)(void *), void *arg, uint64_t ms)
{
	struct waiter w = {pred, arg, 0, tick, 0};
	uv_timer_t t;
	uv_update_time(&f->loop);
	w.deadline = uv_now(&f->loop) + ms;
	uv_timer_init(&f->loop, &t);
	t.data = &w;
	uv_timer_start(&t, wait_tick, 10, 10);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	return w.met;
}

/* ---- a client -------------------------------------------------------------------------------------- */

struct client {
	int fd;
	char buf[4096];
	size_t len;
	int eof;
};

/* Connects (the kernel completes it before the server accepts); rcvbuf > 0 shrinks the receive window. */
static void client_connect(struct client *c, int port, int rcvbuf)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(c->fd >= 0);
	if (rcvbuf > 0)
		assert_int_equal(setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
}

static void client_send(struct client *c, const char *s)
{
	assert_int_equal(send(c->fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Reads what is there without waiting (keeps the first 4 KiB); true once the server has closed. */
static int client_closed(void *arg)
{
	struct client *c = arg;
	char tmp[65536];
	for (;;) {
		ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n > 0) {
			size_t keep = sizeof(c->buf) - 1 - c->len;
			memcpy(c->buf + c->len, tmp, (size_t)n < keep ? (size_t)n : keep);
			c->len += (size_t)n < keep ? (size_t)n : keep;
			c->buf[c->len] = '\0';
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->eof = 1;
		return c->eof;
	}
}

static void client_close(struct client *c)
{
	close(c->fd);
}

static int status_of(const struct client *c)
{
	int status = 0;
	return sscanf(c->buf, "HTTP/1.1 %d ", &status) == 1 ? status : 0;
}

/* ---- tests --------------------------------------------------------------------------------------- */

/* One request, one response with Connection: close, then the server closes; a HEAD has no body. */
static void test_one_request_then_close(void **state)
{
	(void)state;
	struct fixture f;
	struct client c;
	start(&f, 8, 5000, 2000, 5000);
	client_connect(&c, f.port, 0);
	client_send(&c, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\n\r\n");
	assert_true(run_until(&f, client_closed, NULL, &c, 3000));
	assert_string_equal(c.buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n"
				   "Cache-Control: no-store\r\nConnection: close\r\n\r\nxxx");
	assert_int_equal(f.handled, 1); /* the pipelined second request is never parsed */
	client_close(&c);
	client_connect(&c, f.port, 0);
	client_send(&c, "HEAD /nope HTTP/1.1\r\n\r\n");
	assert_true(run_until(&f, client_closed, NULL, &c, 3000));
	assert_non_null(strstr(c.buf, "HTTP/1.1 404 Not Found\r\n"));
	assert_non_null(strstr(c.buf, "\r\n\r\n"));
	assert_string_equal(strstr(c.buf, "\r\n\r\n"), "\r\n\r\n");
	client_close(&c);
	assert_int_equal(metrics.http_connections, 0);
	stop(&f);
}

/* Nothing sent: 408 at the idle timeout. */
static void test_idle_timeout(void **state)
{
	(void)state;
	struct fixture f;
	struct client c;
	start(&f, 8, 5000, 200, 5000);
	client_connect(&c, f.port, 0);
	client_send(&c, "GET /ok HTTP/1.1\r\n");
	uint64_t t0 = uv_hrtime();
	assert_true(run_until(&f, client_closed, NULL, &c, 3000));
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	assert_int_equal(status_of(&c), 408);
	assert_true(ms >= 150 && ms < 2000);
	assert_int_equal(metrics.http_idle_timeouts, 1);
	assert_int_equal(metrics.http_request_timeouts, 0);
	client_close(&c);
	stop(&f);
}

static void trickle(void *arg)
{
	struct client *c = arg;
	(void)send(c->fd, "a", 1, MSG_NOSIGNAL);
}

/* A byte every 10 ms keeps the idle timeout away; the request timeout cuts it. */
static void test_request_timeout(void **state)
{
	(void)state;
	struct fixture f;
	struct client c;
	start(&f, 8, 400, 200, 5000);
	client_connect(&c, f.port, 0);
	client_send(&c, "GET /ok HTTP/1.1\r\nX-Slow: ");
	uint64_t t0 = uv_hrtime();
	assert_true(run_until(&f, client_closed, trickle, &c, 3000));
	uint64_t ms = (uv_hrtime() - t0) / 1000000;
	assert_int_equal(status_of(&c), 408);
	assert_true(ms >= 350 && ms < 2500);
	assert_int_equal(metrics.http_request_timeouts, 1);
	assert_int_equal(metrics.http_idle_timeouts, 0);
	client_close(&c);
	stop(&f);
}

static int write_timed_out(void *arg)
{
	(void)arg;
	return metrics.http_write_timeouts == 1 && metrics.http_connections == 0;
}

/* A client that never reads a response larger than the socket buffers: the write timeout closes it. */
static void test_write_timeout(void **state)
{
	(void)state;
	struct fixture f;
	struct client c;
	start(&f, 8, 5000, 2000, 300);
	client_connect(&c, f.port, 4096);
	client_send(&c, "GET /big HTTP/1.1\r\n\r\n");
	assert_true(run_until(&f, write_timed_out, NULL, NULL, 3000));
	assert_int_equal(f.handled, 1);
	client_close(&c);
	stop(&f);
}

static int evicted(void *arg)
{
	struct client *c = arg;
	return client_closed(&c[0]) && client_closed(&c[2]);
}

/* At the limit, the oldest connection still reading makes room for the new one, which is served. */
static void test_limit_evicts_oldest_reading(void **state)
{
	(void)state;
	struct fixture f;
	struct client c[3];
	start(&f, 2, 5000, 2000, 5000);
	client_connect(&c[0], f.port, 0);
	assert_false(run_until(&f, client_closed, NULL, &c[0], 100)); /* accepted and idle */
	client_connect(&c[1], f.port, 0);
	assert_false(run_until(&f, client_closed, NULL, &c[1], 100));
	assert_int_equal(metrics.http_connections, 2);
	client_connect(&c[2], f.port, 0);
	client_send(&c[2], "GET /ok HTTP/1.1\r\n\r\n");
	assert_true(run_until(&f, evicted, NULL, c, 3000));
	assert_int_equal(status_of(&c[0]), 503);
	assert_int_equal(status_of(&c[2]), 200);
	assert_false(client_closed(&c[1]));
	assert_int_equal(metrics.http_evicted, 1);
	assert_int_equal(metrics.http_refused, 0);
	assert_int_equal(metrics.http_connections, 1);
	for (int i = 0; i < 3; i++)
		client_close(&c[i]);
	stop(&f);
}

static int handled(void *arg)
{
	return ((struct fixture *)arg)->handled == 1;
}

/* When every open connection is answering, a new one is answered 503 and closed. */
static void test_limit_refuses_when_all_answer(void **state)
{
	(void)state;
	struct fixture f;
	struct client slow, late;
	start(&f, 1, 5000, 2000, 5000);
	client_connect(&slow, f.port, 4096);
	client_send(&slow, "GET /big HTTP/1.1\r\n\r\n");
	assert_true(run_until(&f, handled, NULL, &f, 3000)); /* and stuck writing: slow never reads */
	assert_false(run_until(&f, write_timed_out, NULL, NULL, 100));
	client_connect(&late, f.port, 0);
	assert_true(run_until(&f, client_closed, NULL, &late, 3000));
	assert_int_equal(status_of(&late), 503);
	assert_int_equal(metrics.http_refused, 1);
	assert_int_equal(metrics.http_evicted, 0);
	assert_int_equal(metrics.http_connections, 1);
	client_close(&late);
	client_close(&slow);
	stop(&f); /* closes the one still writing: its write is cancelled and its buffer released */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_request_then_close),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_request_timeout),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_limit_evicts_oldest_reading),
		cmocka_unit_test(test_limit_refuses_when_all_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
