/*
 * core/http_conn.c - the connections of core/http.c (core/http_int.h):
 * adoption and the connection cap, the read deadline and the
 * partial-request budget, refusals, TLS (handshake failures logged with
 * OpenSSL's reason, close_notify on close), and the watch that notices a
 * client leaving while its request is with the dispatcher.
 */
#include "core/http_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/log.h"
#include "core/metrics.h"

bool http_ratelog_due(struct ratelog *rl, int interval_s, unsigned burst, unsigned *more)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rl->used && now.tv_sec - rl->last < interval_s) {
		if (rl->lines < burst) {
			rl->lines++;
			*more = 0;
			return true;
		}
		rl->n++;
		return false;
	}
	*more = rl->n;
	rl->used = true;
	rl->n = 0;
	rl->lines = 1;
	rl->last = now.tv_sec;
	return true;
}

void http_publish(struct http_server *srv)
{
	struct http_counters *k = srv->ctr;

	if (!k)
		return;
	atomic_store_explicit(&k->connections, srv->nconns, memory_order_relaxed);
	atomic_store_explicit(&k->inflight, srv->inflight, memory_order_relaxed);
	atomic_store_explicit(&k->awaiting, srv->awaiting, memory_order_relaxed);
}

static void conn_peer(const struct http_conn *c, char *buf, size_t len)
{
	char *host = NULL;
	ev_uint16_t port = 0;

	if (c->evcon)
		evhttp_connection_get_peer(c->evcon, &host, &port);
	snprintf(buf, len, "%s:%u", host ? host : "?", port);
}

static void conn_link(struct http_conn **head, struct http_conn *c)
{
	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

static void conn_unlink(struct http_conn **head, struct http_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		*head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void conn_release(struct http_conn *c)
{
	c->srv->held -= c->held;
	c->held = 0;
}

void http_conn_set_awaiting(struct http_conn *c, bool awaiting)
{
	if (c->awaiting != awaiting) {
		c->srv->awaiting += awaiting ? 1 : -1;
		c->awaiting = awaiting;
		http_publish(c->srv);
	}
}

void http_conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	http_conn_set_awaiting(c, false);
	conn_unlink(c->fresh ? &srv->fresh : &srv->conns, c);
	srv->nconns--;
	http_publish(srv);
	conn_release(c);
	if (c->fd >= 0 && (size_t)c->fd < srv->by_fd_cap && srv->by_fd[c->fd] == c)
		srv->by_fd[c->fd] = NULL;
	if (c->incb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->incb);
	if (c->timer)
		event_free(c->timer);
	if (c->fresh)
		bufferevent_decref(c->bev);
	free(c);
}

/* ---- TLS ---- */

/* Why the handshake on c failed, from the errors the OpenSSL bufferevent
 * kept (the first OpenSSL error is the cause), and the certificate check
 * of a client certificate. Empty when there is no reason: the peer closed
 * or went silent (a port probe, a timeout). */
static void tls_failure(struct http_conn *c, char *buf, size_t len)
{
	unsigned long e, cause = 0;
	long vr = SSL_get_verify_result(c->ssl);

	buf[0] = '\0';
	/* popped newest first; the last one popped above 0xff is the first
	 * OpenSSL error (smaller values are SSL_get_error() codes) */
	while ((e = bufferevent_get_openssl_error(c->bev)))
		if (e > 0xff)
			cause = e;
	/* a client that closes mid-handshake (a port probe) is no failure */
	if (ERR_GET_LIB(cause) == ERR_LIB_SSL &&
	    ERR_GET_REASON(cause) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
		cause = 0;
	if (cause && ERR_GET_LIB(cause) == ERR_LIB_SYS) {
		snprintf(buf, len, "%s", strerror(ERR_GET_REASON(cause)));
	} else if (cause) {
		const char *r = ERR_reason_error_string(cause);
		snprintf(buf, len, "%s", r ? r : "OpenSSL error");
	}
	if (vr != X509_V_OK && buf[0]) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, " (client certificate: %s)",
			 X509_verify_cert_error_string(vr));
	}
}

/* libevent is about to close a TLS connection: a handshake that did not
 * complete is logged with its reason; an established one gets a
 * close_notify (best effort: the socket is non-blocking, and only when
 * nothing of ours is left unwritten). */
static void tls_closed(struct http_conn *c)
{
	char why[256], peer[80];
	struct log_ctx ctx = { .peer = peer };
	unsigned more = 0;

	if (SSL_is_init_finished(c->ssl)) {
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			SSL_shutdown(c->ssl);
		ERR_clear_error();
		return;
	}
	conn_peer(c, peer, sizeof(peer));
	tls_failure(c, why, sizeof(why));
	if (!why[0])
		log_debug(&ctx, "TLS connection closed before its handshake completed");
	else if (http_ratelog_due(&c->srv->log_tls, RATELOG_S, TLS_LOG_BURST, &more))
		log_info(&ctx, "TLS handshake failed: %s%s", why,
			 more ? " (more failed handshakes were not logged)" : "");
	ERR_clear_error();
}

/* ---- closing ---- */

static void chunk_gone(evutil_socket_t fd, short what, void *arg)
{
	struct http_req *r = arg;
	http_sent_cb cb = r->sent;
	(void)fd;
	(void)what;

	r->sent = NULL;
	if (cb)
		cb(r, r->sent_arg);
}

/* libevent is closing the connection (once per connection; also at
 * evhttp_free). It frees the request still queued on it right after this
 * callback. A request that libevent already took off the connection
 * (evhttp_connection_incoming_fail on EOF before the user answered) it
 * would never free: we do. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg;
	struct http_req *r = c->req;
	(void)evcon;

	if (r) {
		http_req_unwatch(r);
		if (r->ev && !evhttp_request_get_connection(r->ev))
			evhttp_request_free(r->ev);
		r->ev = NULL;
		r->evcon = NULL;
		r->conn = NULL;
		r->cancelled = true;
		/* a chunked answer's producer waits for this: it learns that
		 * the client is gone from its next http_reply_chunk. From a
		 * later pass: our callers still use r after the close. */
		if (r->chunking && r->sent &&
		    (r->gone_ev || (r->gone_ev = event_new(c->srv->base, -1, 0, chunk_gone, r))))
			event_active(r->gone_ev, EV_TIMEOUT, 1);
	}
	http_stream_conn_closed(c);
	if (c->ssl)
		tls_closed(c);
	http_conn_free(c);
}

/* Answer without evhttp and close: for a connection still being read
 * (nothing of ours written on it yet) or never read. Best effort: one
 * non-blocking send of a short answer; what the client already sent is
 * read and dropped first so that the close is a FIN, not a reset that
 * could discard the answer at the client. A TLS connection is closed
 * without an answer: bytes around OpenSSL would corrupt its stream. */
static void conn_refuse(struct http_conn *c, int status, const char *text)
{
	char body[64], msg[256], sink[4096];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, text);
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			 status, text, blen, body);

	metrics_http_refused(c->srv->metrics, status);
	if (c->fd >= 0 && !c->ssl) {
		ssize_t w = send(c->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)w;
		for (int i = 0; i < 64 && recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
			;
	}
	evhttp_connection_free(c->evcon); /* on_conn_close frees c */
}

/* The read deadline passed, or the worker's budget for partial requests
 * ran out (c->refuse, activated from on_input). */
static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	struct http_server *srv = c->srv;
	char peer[80];
	struct log_ctx ctx = { .peer = peer };
	unsigned more = 0;
	(void)fd;
	(void)what;

	if (c->phase != C_READING || !c->evcon)
		return;
	conn_peer(c, peer, sizeof(peer));
	if (c->refuse == 503) {
		if (http_ratelog_due(&srv->log_mem, RATELOG_S, 1, &more))
			log_warn(
				&ctx,
				"%s: partial requests on this worker hold %zu bytes, "
				"above http.max_body_memory %zu (%u more such since the last line)",
				c->ssl ? "closed" : "503 and closed", srv->held, srv->max_body_mem,
				more);
		conn_refuse(c, 503, "Service Unavailable");
		return;
	}
	if (http_ratelog_due(&srv->log_deadline, RATELOG_S, 1, &more)) {
		if (c->ssl && !SSL_is_init_finished(c->ssl))
			log_info(&ctx,
				 "closed: TLS handshake not completed within "
				 "http.read_deadline_s %d s (%u more such since the last line)",
				 srv->read_deadline_s, more);
		else
			log_info(&ctx,
				 "%s: request not read within http.read_deadline_s %d s "
				 "(%u more such since the last line)",
				 c->ssl ? "closed" : "408 and closed", srv->read_deadline_s, more);
	}
	conn_refuse(c, 408, "Request Timeout");
}

/* A request's first byte (a TLS connection: its accept): its read
 * deadline starts. */
static void conn_begin(struct http_conn *c)
{
	struct timeval tv = { c->srv->read_deadline_s, 0 };

	c->phase = C_READING;
	c->refuse = 0;
	c->looked = false;
	if (c->srv->read_deadline_s > 0)
		event_add(c->timer, &tv);
}

static void conn_charge(struct http_conn *c, size_t n)
{
	struct http_server *srv = c->srv;

	c->held += n;
	srv->held += n;
	if (srv->held > srv->peak_held)
		srv->peak_held = srv->held;
	if (srv->max_body_mem && srv->held > srv->max_body_mem && !c->refuse) {
		/* not from inside libevent's read: from the timer, this pass */
		c->refuse = 503;
		event_active(c->timer, EV_TIMEOUT, 1);
	}
}

/* Every change of the connection's input buffer; we count what is read. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;
	(void)buf;

	if (info->n_added == 0 || c->phase == C_DISPATCHED)
		return; /* drained by the parser, or pipelined: counted in http_conn_sent */
	if (c->phase == C_IDLE)
		conn_begin(c);
	conn_charge(c, info->n_added);
	/* before evhttp's read callback parses the request line */
	if (c->srv->stream_match && !c->looked && !c->st && c->evcon)
		http_stream_look(c);
}

void http_conn_dispatched(struct http_conn *c)
{
	c->phase = C_DISPATCHED;
	c->refuse = 0;
	event_del(c->timer);
	conn_release(c);
}

struct bufferevent *http_conn_new_bev(struct event_base *base, void *arg)
{
	struct http_lsn *l = arg;
	struct http_server *srv = l->srv;
	struct http_conn *c = calloc(1, sizeof(*c));
	SSL *ssl;

	if (!c)
		return NULL; /* evhttp makes its own; on_request refuses it */
	c->srv = srv;
	c->lsn = l;
	c->fd = -1;
	if (l->ctx) {
		/* SSL_new holds a reference to the context: a reload may drop
		 * the listener's while this connection lives */
		if ((ssl = SSL_new(l->ctx)))
			c->bev = bufferevent_openssl_socket_new(
				base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		c->ssl = c->bev ? ssl : NULL; /* else libevent freed ssl */
		ERR_clear_error();
	} else {
		c->bev = bufferevent_socket_new(base, -1, 0); /* as evhttp's own */
	}
	c->timer = c->bev ? event_new(base, -1, 0, on_conn_timer, c) : NULL;
	c->incb = c->timer ? evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c) : NULL;
	if (!c->incb) {
		if (c->timer)
			event_free(c->timer);
		if (c->bev)
			bufferevent_free(c->bev);
		free(c);
		return NULL;
	}
	/* Our reference keeps bev readable in http_conn_adopt even if evhttp
	 * gave the connection up meanwhile. */
	bufferevent_incref(c->bev);
	c->fresh = true;
	conn_link(&srv->fresh, c);
	if (++srv->nconns > srv->peak_conns)
		srv->peak_conns = srv->nconns;
	http_publish(srv);
	if (c->ssl)
		conn_begin(c); /* the handshake is read within the deadline too */
	event_active(srv->adopt_ev, EV_TIMEOUT, 1);
	return c->bev;
}

static int fd_index(struct http_server *srv, struct http_conn *c)
{
	if ((size_t)c->fd >= srv->by_fd_cap) {
		size_t cap = srv->by_fd_cap ? srv->by_fd_cap : 64;
		struct http_conn **t;
		while (cap <= (size_t)c->fd)
			cap *= 2;
		if (!(t = realloc(srv->by_fd, cap * sizeof(*t))))
			return RC_NOMEM;
		memset(t + srv->by_fd_cap, 0, (cap - srv->by_fd_cap) * sizeof(*t));
		srv->by_fd = t;
		srv->by_fd_cap = cap;
	}
	srv->by_fd[c->fd] = c;
	return 0;
}

/* Right after the accept callback: each new connection's evhttp_connection
 * is the argument libevent gave its bufferevent's callbacks. */
void http_conn_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	(void)fd;
	(void)what;

	while (srv->fresh) {
		struct http_conn *c = srv->fresh;
		bufferevent_data_cb rcb = NULL;
		void *evcon = NULL;

		bufferevent_getcb(c->bev, &rcb, NULL, NULL, &evcon);
		if (!rcb || !evcon) { /* evhttp gave it up already */
			http_conn_free(c);
			continue;
		}
		conn_unlink(&srv->fresh, c);
		conn_link(&srv->conns, c);
		c->fresh = false;
		bufferevent_decref(c->bev); /* evhttp holds it now */
		c->evcon = evcon;
		c->fd = bufferevent_getfd(c->bev);
		evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
		if (c->fd < 0 || fd_index(srv, c) != 0) {
			evhttp_connection_free(c->evcon);
			continue;
		}
		if (srv->draining) {
			conn_refuse(c, 503, "Service Unavailable");
		} else if (srv->max_conns > 0 && srv->nconns > srv->max_conns) {
			unsigned more = 0;
			char peer[80];
			struct log_ctx ctx = { .peer = peer };
			conn_peer(c, peer, sizeof(peer));
			if (http_ratelog_due(&srv->log_cap, RATELOG_S, 1, &more))
				log_warn(&ctx,
					 "%s: %d open connections on this worker, above %s %d "
					 "(%u more such since the last line)",
					 c->ssl ? "closed" : "503 and closed", srv->nconns,
					 srv->ops ? "the operations listener's cap"
						  : "http.max_connections",
					 srv->max_conns, more);
			conn_refuse(c, 503, "Service Unavailable");
		}
	}
}

struct http_conn *http_conn_of(struct http_server *srv, struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct http_conn *c;

	if (fd < 0 || (size_t)fd >= srv->by_fd_cap)
		return NULL;
	c = srv->by_fd[fd];
	return c && c->evcon == evcon ? c : NULL;
}

/* Runs once the reply is fully handed to the kernel: the next thing on this
 * connection is the client's next request, which must be ACKed at once.
 * The connection is between requests now; bytes of a pipelined next
 * request already read start its deadline and budget. On TLS, a
 * pipelined request the client-gone watch left inside OpenSSL (SSL_peek)
 * is not signalled by the socket any more: the bufferevent is made to
 * read it once evhttp resumes reading (later in this loop pass). */
void http_conn_sent(struct evhttp_request *ev, void *arg)
{
	struct http_conn *c = arg;
	size_t n = evbuffer_get_length(bufferevent_get_input(c->bev));
	(void)ev;

#ifdef TCP_QUICKACK
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
	c->phase = C_IDLE;
	if (n) {
		conn_begin(c);
		conn_charge(c, n);
		/* pipelined: evhttp reads it (its read is already scheduled) */
		c->looked = true;
	}
	if (c->ssl && SSL_pending(c->ssl) > 0)
		event_active(&c->bev->ev_read, EV_READ, 1);
}

/* ---- the client-gone watch ---- */

void http_req_unwatch(struct http_req *r)
{
	if (r->watch) {
		event_free(r->watch);
		r->watch = NULL;
	}
}

/* The client is gone while the dispatcher holds r: close the connection
 * now (the evhttp_request goes with it, on_conn_close cancels r) and let
 * the reply be dropped. */
static void peer_gone(struct http_req *r, const char *why)
{
	struct log_ctx ctx = { .peer = r->peer };

	http_req_unwatch(r);
	r->cancelled = true;
	log_info(&ctx, "client disconnected (%s) before its answer", why);
	if (r->evcon)
		evhttp_connection_free(r->evcon);
	r->ev = NULL;
	r->evcon = NULL;
	r->conn = NULL;
}

/* The TLS side of on_peer: the bytes are records, read through OpenSSL
 * (SSL_peek), never around it. Data is a pipelined request: OpenSSL
 * keeps it for the bufferevent (http_conn_sent). A record that is not
 * data (a TLS 1.3 KeyUpdate), or part of one, was consumed: keep
 * watching. close_notify, EOF or an error: the client is gone. */
static void tls_peer(struct http_req *r, SSL *ssl)
{
	char b, why[128];
	int n, e;

	ERR_clear_error();
	n = SSL_peek(ssl, &b, 1);
	if (n > 0) {
		http_req_unwatch(r);
		return;
	}
	e = SSL_get_error(ssl, n);
	if (e == SSL_ERROR_WANT_READ) {
		ERR_clear_error();
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) { /* cannot tell; stop rather than spin */
		ERR_clear_error();
		http_req_unwatch(r);
		return;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(why, sizeof(why), "TLS close_notify");
	} else {
		unsigned long err = ERR_peek_error();
		const char *reason = err ? ERR_reason_error_string(err) : NULL;
		snprintf(why, sizeof(why), "TLS: %s",
			 reason		  ? reason
			 : errno && n < 0 ? strerror(errno)
					  : "EOF");
	}
	ERR_clear_error();
	peer_gone(r, why);
}

/* Readable while the request is with the dispatcher: EOF (the client
 * closed or shut down its side: nobody will read the answer) or an error
 * such as ECONNRESET. Bytes are a pipelined next request: then stop
 * watching (a level-triggered watch would spin); a disconnect shows when
 * the answer is written, and libevent frees the connection then. */
static void on_peer(evutil_socket_t fd, short what, void *arg)
{
	struct http_req *r = arg;
	char c;
	ssize_t n;
	(void)what;

	if (r->conn && r->conn->ssl) {
		tls_peer(r, r->conn->ssl);
		return;
	}
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0) {
		http_req_unwatch(r);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	peer_gone(r, n == 0 ? "EOF" : strerror(errno));
}

void http_req_watch(struct http_req *r)
{
	struct bufferevent *bev = r->evcon ? evhttp_connection_get_bufferevent(r->evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

	if (fd < 0)
		return;
	r->watch = event_new(r->srv->base, fd, EV_READ | EV_PERSIST, on_peer, r);
	if (r->watch && event_add(r->watch, NULL) != 0)
		http_req_unwatch(r);
	if (!r->watch) {
		struct log_ctx ctx = { .peer = r->peer };
		log_warn(&ctx,
			 "cannot watch the connection; a disconnect shows only at the answer");
	}
}
