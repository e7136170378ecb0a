/*
 * test/unit/core/test_http.c - core/http's streamed request bodies and
 * chunked answers (core/http.h), over plain HTTP on a real socket: a
 * client thread with blocking sockets, the server on this thread's loop.
 *
 * Streamed: Content-Length and chunked bodies delivered whole and in
 * order through a consumer that pauses and resumes; a trailer; a broken
 * chunk size (RC_DECODE); a cap (RC_TOOBIG, from the declared length and
 * from chunks); an answer before the body (no byte read, the connection
 * closed); Expect: 100-continue; a streamed request after a normal one
 * on the same connection; a client gone mid-body (RC_CANCELLED); 200
 * requests of garbage (header pieces, random bytes) after a streamed
 * request line, then a good one.
 * Chunked answers: five pieces, each produced when the last was sent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/http.h"
#include "test/unit/tap.h"

static int port;
static struct event_base *base;
static struct event *done_ev;
static atomic_int cancelled_seen;

/* ---- the server side (loop thread) ---- */

struct up {
	struct http_req *req;
	unsigned long long total, sum;
	int calls;
};

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_req_stream_resume(arg);
}

/* Takes at most 1000 bytes a call and nothing every third call; when it
 * took less than offered, it resumes from a later pass: the stream must
 * pause and go on intact. */
static size_t sink(struct http_req *req, int event, const unsigned char *d, size_t n, void *arg)
{
	struct up *u = arg;
	char out[96];
	static const struct timeval soon = { 0, 1000 };

	if (event == HTTP_STREAM_DATA) {
		if (++u->calls % 3 == 0) {
			event_base_once(base, -1, EV_TIMEOUT, resume_cb, req, &soon);
			return 0;
		}
		if (n > 1000) { /* less than offered: paused too */
			n = 1000;
			event_base_once(base, -1, EV_TIMEOUT, resume_cb, req, &soon);
		}
		for (size_t i = 0; i < n; i++)
			u->sum += d[i];
		u->total += n;
		return n;
	}
	if (event == RC_CANCELLED)
		atomic_store(&cancelled_seen, 1);
	snprintf(out, sizeof(out), "event %d got %llu sum %llu", event, u->total, u->sum);
	http_reply(req,
		   event == HTTP_STREAM_END ? 200
		   : event == RC_TOOBIG	    ? 413
					    : 400,
		   "text/plain", (const unsigned char *)out, strlen(out));
	free(u);
	return 0;
}

static int piece;
static void next_piece(struct http_req *req, void *arg)
{
	static unsigned char buf[1000];
	(void)arg;

	if (piece == 5) {
		http_reply_end(req);
		return;
	}
	memset(buf, 'a' + piece, sizeof(buf));
	piece++;
	if (http_reply_chunk(req, buf, sizeof(buf), next_piece, NULL) != 0)
		http_reply_end(req);
}

/* An export whose client leaves: 64 KiB pieces until _chunk says so. */
static atomic_int export_gone;
static void next_big(struct http_req *req, void *arg)
{
	static unsigned char buf[65536];
	(void)arg;

	if (http_reply_chunk(req, buf, sizeof(buf), next_big, NULL) != 0) {
		atomic_store(&export_gone, 1);
		http_reply_end(req);
	}
}

static void dispatch(struct http_req *req, void *arg)
{
	const char *p = http_req_path(req);
	struct up *u;
	int rc;
	(void)arg;

	if (strcmp(p, "/plain") == 0) {
		http_reply(req, 200, "text/plain", (const unsigned char *)"plain", 5);
		return;
	}
	if (strcmp(p, "/chunked") == 0) {
		piece = 0;
		if (http_reply_start(req, 200, "text/plain") != 0) {
			http_reply(req, 500, NULL, NULL, 0);
			return;
		}
		next_piece(req, NULL);
		return;
	}
	if (strcmp(p, "/export") == 0) {
		if (http_reply_start(req, 200, "text/plain") != 0) {
			http_reply(req, 500, NULL, NULL, 0);
			return;
		}
		next_big(req, NULL);
		return;
	}
	if (!http_req_streamed(req)) {
		http_reply(req, 404, NULL, NULL, 0);
		return;
	}
	if (strcmp(p, "/up-refuse") == 0) {
		http_reply(req, 401, NULL, NULL, 0);
		return;
	}
	u = calloc(1, sizeof(*u));
	rc = http_req_stream(req, strcmp(p, "/up-small") == 0 ? 10 : 1 << 20, sink, u);
	if (rc != 0) {
		free(u);
		http_reply(req, rc == RC_TOOBIG ? 413 : 500, NULL, NULL, 0);
	}
}

static bool match(enum http_method m, const char *path)
{
	return m == HTTP_M_POST && strncmp(path, "/up", 3) == 0;
}

/* ---- the client side (its own thread) ---- */

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 10, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void sendall(int fd, const void *b, size_t n)
{
	const char *p = b;
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Read until the answer holds needle (or the peer closes): into buf. */
static size_t recv_until(int fd, char *buf, size_t len, const char *needle)
{
	size_t o = 0;
	ssize_t n;

	buf[0] = '\0';
	while (o + 1 < len && !strstr(buf, needle) && (n = recv(fd, buf + o, len - 1 - o, 0)) > 0) {
		o += (size_t)n;
		buf[o] = '\0';
	}
	return o;
}

static unsigned char body[100000];
static unsigned long long body_sum;

static void post(int fd, const char *path, const char *extra)
{
	char h[512];
	int n = snprintf(h, sizeof(h), "POST %s HTTP/1.1\r\nHost: t\r\n%s\r\n", path, extra);
	sendall(fd, h, (size_t)n);
}

static void *client(void *arg)
{
	static char buf[65536];
	char want[128], h[128];
	int fd;
	(void)arg;

	for (size_t i = 0; i < sizeof(body); i++)
		body_sum += body[i] = (unsigned char)(i * 7 + 3);
	snprintf(want, sizeof(want), "event 1 got %zu sum %llu", sizeof(body), body_sum);

	/* Content-Length, paused and resumed on the way */
	fd = dial();
	snprintf(h, sizeof(h), "Content-Length: %zu\r\n", sizeof(body));
	post(fd, "/up", h);
	sendall(fd, body, sizeof(body));
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "HTTP/1.1 200") && strstr(buf, want) && strstr(buf, "Connection: close"),
	   "Content-Length body: every byte in order, 200, Connection: close");
	close(fd);

	/* chunked, uneven chunks, with a trailer */
	fd = dial();
	post(fd, "/up", "Transfer-Encoding: chunked\r\n");
	for (size_t o = 0; o < sizeof(body);) {
		size_t n = o % 3 == 0 ? 4093 : 17;
		if (n > sizeof(body) - o)
			n = sizeof(body) - o;
		snprintf(h, sizeof(h), "%zx;ext=1\r\n", n);
		sendall(fd, h, strlen(h));
		sendall(fd, body + o, n);
		sendall(fd, "\r\n", 2);
		o += n;
	}
	sendall(fd, "0\r\nX-Trailer: 1\r\n\r\n", 19);
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "HTTP/1.1 200") && strstr(buf, want),
	   "chunked body with extensions and a trailer: every byte in order");
	close(fd);

	/* broken framing */
	fd = dial();
	post(fd, "/up", "Transfer-Encoding: chunked\r\n");
	sendall(fd, "3\r\nabc\r\nzz\r\n", 12);
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "HTTP/1.1 400") && strstr(buf, "event -7 got 3"),
	   "a chunk size that is not hex: RC_DECODE after the good chunk");
	close(fd);

	/* two framings at once, or one twice: refused before dispatch */
	fd = dial();
	post(fd, "/up", "Content-Length: 3\r\nContent-Length: 30\r\n");
	recv_until(fd, buf, sizeof(buf), "twice");
	ok(strstr(buf, "HTTP/1.1 400") != NULL, "Content-Length twice: 400");
	close(fd);
	fd = dial();
	post(fd, "/up", "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n");
	recv_until(fd, buf, sizeof(buf), "alone");
	ok(strstr(buf, "HTTP/1.1 400") != NULL, "Content-Length with chunked: 400");
	close(fd);

	/* caps */
	fd = dial();
	post(fd, "/up-small", "Content-Length: 11\r\n");
	recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	ok(strstr(buf, "HTTP/1.1 413") != NULL,
	   "Content-Length above the cap: 413 before the body");
	close(fd);
	fd = dial();
	post(fd, "/up-small", "Transfer-Encoding: chunked\r\n");
	sendall(fd, "8\r\n12345678\r\n8\r\n12345678\r\n", 26);
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "HTTP/1.1 413") && strstr(buf, "event -11 got 8"),
	   "chunks past the cap: RC_TOOBIG after the first 8 bytes");
	close(fd);

	/* answered before the body: the connection ends */
	fd = dial();
	post(fd, "/up-refuse", "Content-Length: 1000000\r\n");
	recv_until(fd, buf, sizeof(buf), "\x01never");
	ok(strstr(buf, "HTTP/1.1 401") && strstr(buf, "Connection: close"),
	   "answered before the body: 401, and the connection is closed (within the linger)");
	close(fd);

	/* Expect: 100-continue */
	fd = dial();
	post(fd, "/up", "Content-Length: 5\r\nExpect: 100-continue\r\n");
	recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	ok(strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0, "Expect: 100-continue: 100");
	sendall(fd, "\x01\x02\x03\x04\x05", 5);
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "event 1 got 5 sum 15") != NULL, "... then the body");
	close(fd);

	/* after a normal request on the same connection */
	fd = dial();
	sendall(fd, "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n", 32);
	recv_until(fd, buf, sizeof(buf), "plain");
	ok(strstr(buf, "HTTP/1.1 200") != NULL, "keep-alive: a normal request first");
	post(fd, "/up", "Content-Length: 2\r\n");
	sendall(fd, "\x10\x20", 2);
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "event 1 got 2 sum 48") != NULL, "... then a streamed one on it");
	close(fd);

	/* a chunked answer */
	fd = dial();
	sendall(fd, "GET /chunked HTTP/1.1\r\nHost: t\r\n\r\n", 34);
	recv_until(fd, buf, sizeof(buf), "\r\n0\r\n\r\n");
	ok(strstr(buf, "Transfer-Encoding: chunked") && strstr(buf, "3e8\r\naaaa") &&
		   strstr(buf, "3e8\r\neeee") && !strstr(buf, "ffff"),
	   "chunked answer: five pieces of 1000 bytes, then the last chunk");
	close(fd);

	/* a chunked answer whose client leaves: the producer is told */
	fd = dial();
	sendall(fd, "GET /export HTTP/1.1\r\nHost: t\r\n\r\n", 33);
	recv_until(fd, buf, sizeof(buf), "\r\n\r\n");
	close(fd);
	for (int i = 0; i < 100 && !atomic_load(&export_gone); i++)
		usleep(20 * 1000);
	ok(strstr(buf, "HTTP/1.1 200") && atomic_load(&export_gone),
	   "chunked answer, client gone: http_reply_chunk fails, the producer ends it");

	/* gone mid-body */
	fd = dial();
	post(fd, "/up", "Content-Length: 100000\r\n");
	sendall(fd, body, 5000);
	usleep(200 * 1000);
	close(fd);
	for (int i = 0; i < 50 && !atomic_load(&cancelled_seen); i++)
		usleep(20 * 1000);
	ok(atomic_load(&cancelled_seen), "client gone mid-body: RC_CANCELLED to the consumer");

	/* garbage after a streamed request line: answered or closed, never
	 * a crash; the server still serves a good request after it */
	srand(14);
	for (int k = 0; k < 200; k++) {
		static const char *parts[] = {
			"Content-Length: 5\r\n",
			"Transfer-Encoding: chunked\r\n",
			"\r\n",
			"X",
			":",
			" ",
			"\t",
			"\n",
			"5\r\nabcde\r\n",
			"0\r\n\r\n",
			"fffffffffffffffff\r\n",
			"Expect: 100-continue\r\n",
			"\0",
			"Content-Length: -1\r\n",
			";x\r\n",
		};
		char req[512];
		size_t o = (size_t)snprintf(req, sizeof(req), "POST /up HTTP/1.1\r\n");
		int m = 1 + rand() % 12;
		if (k % 4 == 3) /* random bytes */
			while (o < sizeof(req) - 1 && rand() % 64)
				req[o++] = (char)(rand() % 256);
		for (int i = 0; k % 4 != 3 && i < m; i++) {
			const char *pt = parts[rand() % (int)(sizeof(parts) / sizeof(parts[0]))];
			size_t n = pt[0] ? strlen(pt) : 1;
			if (o + n < sizeof(req)) {
				memcpy(req + o, pt, n);
				o += n;
			}
		}
		fd = dial();
		sendall(fd, req, o);
		shutdown(fd, SHUT_WR);
		recv_until(fd, buf, sizeof(buf), "\x01never");
		close(fd);
	}
	fd = dial();
	post(fd, "/up", "Content-Length: 2\r\n");
	sendall(fd, "\x10\x20", 2);
	recv_until(fd, buf, sizeof(buf), "sum");
	ok(strstr(buf, "event 1 got 2 sum 48") != NULL,
	   "200 requests of garbage later, a good request is served");
	close(fd);

	event_active(done_ev, EV_TIMEOUT, 1);
	return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct http_server *srv;
	pthread_t th;
	int one = 1, lfd;

	evthread_use_pthreads();
	base = event_base_new();
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
		ok(0, "listen");
		return tap_done();
	}
	port = ntohs(a.sin_port);
	srv = http_server_new_ops(base, lfd, dispatch, NULL);
	ok(srv != NULL, "server");
	http_server_set_stream_match(srv, match);
	done_ev = event_new(base, -1, 0, on_done, NULL);
	pthread_create(&th, NULL, client, NULL);
	event_base_dispatch(base);
	pthread_join(th, NULL);
	http_server_free(srv);
	event_free(done_ev);
	event_base_free(base);
	close(lfd);
	return tap_done();
}
