#include "core/http.h"

#include <errno.h>
#include <stdint.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "core/cfg.h"
#include "core/log.h"

#define ACCEPT_PAUSE_MS 250	   /* accept() failed (EMFILE...): retry after */
#define RATELOG_S	10	   /* repeated events: one log line per interval */
#define TICK_S		2	   /* housekeeping: returning memory after a peak */
#define TRIM_MIN_CONNS	64	   /* a peak worth trimming after: connections */
#define TRIM_MIN_BYTES	(4u << 20) /* ... or bytes of partial requests */

/* Request lifetime (one owner at a time, freed once):
 * - struct http_req belongs to the dispatcher from srv->cb until its one
 *   http_reply(); nothing else frees it, whatever the peer does.
 * - the evhttp_request and its connection belong to libevent. We borrow
 *   them (r->ev, r->evcon) while the connection lives and forget them the
 *   moment it goes: when we see the peer gone (peer_gone: we free the
 *   connection, which frees the evhttp_request with it) or when libevent
 *   frees the connection itself (on_conn_close, e.g. evhttp_free at
 *   shutdown).
 * libevent 2.1 stops reading a connection while its request is with the
 * user (evhttp_handle_request disables EV_READ), so it never notices a
 * client that leaves then; r->watch does.
 *
 * Connections (issue 11): every accepted connection has a struct
 * http_conn from the moment libevent asks us for its bufferevent
 * (on_new_bev, the only per-connection hook evhttp 2.1 offers before a
 * request is complete) until its close callback (on_conn_close, which
 * libevent calls exactly once for a server connection, from
 * evhttp_connection_free or _reset). The evhttp_connection is not known
 * yet in on_new_bev: on_adopt, run from the same loop pass right after the
 * accept callback, reads it from the bufferevent's callback argument
 * (libevent's own evcon) and applies the connection cap. A counting
 * callback on the bufferevent's input buffer sees every byte read: it
 * starts the read deadline at a request's first byte and charges bytes to
 * the worker's partial-request budget until the request is complete
 * (on_request). Phases: IDLE (between requests), READING, DISPATCHED
 * (with the dispatcher, then being written; on_sent makes it IDLE). */
enum conn_phase { C_IDLE, C_READING, C_DISPATCHED };

struct ratelog {
	bool used;
	time_t last;
	unsigned n; /* events since the last line */
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;	 /* srv->conns, or srv->fresh */
	struct bufferevent *bev;	 /* libevent's; our ref while fresh */
	struct evhttp_connection *evcon; /* NULL while fresh */
	struct evbuffer_cb_entry *incb;	 /* on_input on bev's input */
	struct event *timer;		 /* read deadline or a refusal */
	struct http_req *req;		 /* with the dispatcher, or NULL */
	evutil_socket_t fd;
	enum conn_phase phase;
	bool fresh;
	/* its last answer leaves the client's transaction open (a certConf
	 * or pollReq is to follow): a draining server still serves it */
	bool awaiting;
	int refuse;  /* status the timer answers with (0: deadline, 408) */
	size_t held; /* bytes read of the request being read */
};

struct http_server {
	struct evhttp *http;
	struct event_base *base;
	http_dispatch_cb cb;
	void *arg;
	bool draining;
	int inflight;
	int awaiting;		      /* connections with awaiting set */
	struct http_req *live;	      /* dispatched, not yet replied to */
	struct http_req *dispatching; /* inside cb; NULL once it replied */

	/* limits (http_server_set_limits) */
	int read_deadline_s;
	int max_conns;
	size_t max_body_mem;

	struct http_conn *conns;  /* adopted connections */
	struct http_conn *fresh;  /* accepted, waiting for on_adopt */
	struct http_conn **by_fd; /* conns by descriptor, for on_request */
	size_t by_fd_cap;
	int nconns;  /* fresh + adopted */
	size_t held; /* bytes of partial requests, all connections */
	int peak_conns;
	size_t peak_held;

	struct evconnlistener **lsn;
	size_t nlsn;
	bool paused; /* listeners disabled after an accept error */
	struct event *adopt_ev, *resume_ev, *tick_ev;
	struct ratelog log_accept, log_cap, log_mem, log_deadline;
};

struct http_req {
	struct http_server *srv;      /* NULL once the server is freed */
	struct http_req *prev, *next; /* srv->live */
	struct evhttp_request *ev;    /* NULL once the connection is gone */
	struct evhttp_connection *evcon;
	struct http_conn *conn; /* NULL once the connection is gone */
	struct event *watch;	/* EOF/RST watch while the dispatcher holds req */
	bool cancelled;
	bool continues; /* http_req_set_continues */
	unsigned char *body;
	size_t len;
	char *path;
	char peer[80];
	const char *allow; /* Allow header of a 405, static string */
	void *data;
};

static void req_free(struct http_req *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->path);
	free(r);
}

static void unwatch(struct http_req *r)
{
	if (r->watch) {
		event_free(r->watch);
		r->watch = NULL;
	}
}

/* One line per RATELOG_S for a repeated event; *more gets how many were
 * not logged since the last line. */
static bool ratelog_due(struct ratelog *rl, unsigned *more)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rl->used && now.tv_sec - rl->last < RATELOG_S) {
		rl->n++;
		return false;
	}
	*more = rl->n;
	rl->used = true;
	rl->n = 0;
	rl->last = now.tv_sec;
	return true;
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

static void conn_set_awaiting(struct http_conn *c, bool awaiting)
{
	if (c->awaiting != awaiting)
		c->srv->awaiting += awaiting ? 1 : -1;
	c->awaiting = awaiting;
}

/* Forget c: counts, budget, index; libevent's objects stay libevent's. */
static void conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	conn_set_awaiting(c, false);
	conn_unlink(c->fresh ? &srv->fresh : &srv->conns, c);
	srv->nconns--;
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
		unwatch(r);
		if (r->ev && !evhttp_request_get_connection(r->ev))
			evhttp_request_free(r->ev);
		r->ev = NULL;
		r->evcon = NULL;
		r->conn = NULL;
		r->cancelled = true;
	}
	conn_free(c);
}

/* The client is gone while the dispatcher holds r: close the connection
 * now (the evhttp_request goes with it, on_conn_close cancels r) and let
 * the reply be dropped. */
static void peer_gone(struct http_req *r, const char *why)
{
	struct log_ctx ctx = { .peer = r->peer };

	unwatch(r);
	r->cancelled = true;
	log_info(&ctx, "client disconnected (%s) before its answer", why);
	if (r->evcon)
		evhttp_connection_free(r->evcon);
	r->ev = NULL;
	r->evcon = NULL;
	r->conn = NULL;
}

/* Answer without evhttp and close: for a connection still being read
 * (nothing of ours written on it yet) or never read. Best effort: one
 * non-blocking send of a short answer; what the client already sent is
 * read and dropped first so that the close is a FIN, not a reset that
 * could discard the answer at the client. */
static void conn_refuse(struct http_conn *c, int status, const char *text)
{
	char body[64], msg[256], sink[4096];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status, text);
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			 status, text, blen, body);

	if (c->fd >= 0) {
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
		if (ratelog_due(&srv->log_mem, &more))
			log_warn(
				&ctx,
				"503 and closed: partial requests on this worker hold %zu bytes, "
				"above http.max_body_memory %zu (%u more such since the last line)",
				srv->held, srv->max_body_mem, more);
		conn_refuse(c, 503, "Service Unavailable");
		return;
	}
	if (ratelog_due(&srv->log_deadline, &more))
		log_info(&ctx,
			 "408 and closed: request not read within http.read_deadline_s %d s "
			 "(%u more such since the last line)",
			 srv->read_deadline_s, more);
	conn_refuse(c, 408, "Request Timeout");
}

/* A request's first byte: its read deadline starts. */
static void conn_begin(struct http_conn *c)
{
	struct timeval tv = { c->srv->read_deadline_s, 0 };

	c->phase = C_READING;
	c->refuse = 0;
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
		return; /* drained by the parser, or pipelined: counted in on_sent */
	if (c->phase == C_IDLE)
		conn_begin(c);
	conn_charge(c, info->n_added);
}

/* The request is complete: it is the dispatcher's now, not partial. */
static void conn_dispatched(struct http_conn *c)
{
	c->phase = C_DISPATCHED;
	c->refuse = 0;
	event_del(c->timer);
	conn_release(c);
}

/* evhttp asks for a bufferevent for each accepted connection. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	struct http_server *srv = arg;
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL; /* evhttp makes its own; on_request refuses it */
	c->srv = srv;
	c->fd = -1;
	c->bev = bufferevent_socket_new(base, -1, 0); /* as evhttp's own */
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
	/* Our reference keeps bev readable in on_adopt even if evhttp gave
	 * the connection up meanwhile. */
	bufferevent_incref(c->bev);
	c->fresh = true;
	conn_link(&srv->fresh, c);
	if (++srv->nconns > srv->peak_conns)
		srv->peak_conns = srv->nconns;
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
static void on_adopt(evutil_socket_t fd, short what, void *arg)
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
			conn_free(c);
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
			if (ratelog_due(&srv->log_cap, &more))
				log_warn(&ctx,
					 "503 and closed: %d open connections on this worker, "
					 "above http.max_connections %d (%u more such since the "
					 "last line)",
					 srv->nconns, srv->max_conns, more);
			conn_refuse(c, 503, "Service Unavailable");
		}
	}
}

/* The connection of a complete request, or NULL (not ours: out of memory
 * when it was accepted). */
static struct http_conn *conn_of(struct http_server *srv, struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct http_conn *c;

	if (fd < 0 || (size_t)fd >= srv->by_fd_cap)
		return NULL;
	c = srv->by_fd[fd];
	return c && c->evcon == evcon ? c : NULL;
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
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	(void)what;

	if (n > 0) {
		unwatch(r);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	peer_gone(r, n == 0 ? "EOF" : strerror(errno));
}

static void watch_peer(struct http_req *r)
{
	struct bufferevent *bev = r->evcon ? evhttp_connection_get_bufferevent(r->evcon) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

	if (fd < 0)
		return;
	r->watch = event_new(r->srv->base, fd, EV_READ | EV_PERSIST, on_peer, r);
	if (r->watch && event_add(r->watch, NULL) != 0)
		unwatch(r);
	if (!r->watch) {
		struct log_ctx ctx = { .peer = r->peer };
		log_warn(&ctx,
			 "cannot watch the connection; a disconnect shows only at the answer");
	}
}

static void live_link(struct http_server *srv, struct http_req *r)
{
	r->srv = srv;
	r->next = srv->live;
	if (srv->live)
		srv->live->prev = r;
	srv->live = r;
	srv->inflight++;
}

static void live_unlink(struct http_req *r)
{
	struct http_server *srv = r->srv;

	if (!srv)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		srv->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
	srv->inflight--;
	if (srv->dispatching == r)
		srv->dispatching = NULL;
	r->srv = NULL;
}

/* Repeated slashes count as one ("//.well-known//cmp" is
 * "/.well-known/cmp"), as other CMP servers treat them (README). */
static void squeeze_slashes(char *p)
{
	char *o = p;

	for (const char *i = p; *i; i++)
		if (*i != '/' || o == p || o[-1] != '/')
			*o++ = *i;
	*o = '\0';
}

/* The decoded path of the request target, or NULL (out of memory). From
 * the raw target when it is origin-form ("/a//b?q"): libevent's URI parser
 * would read a leading "//x" as an authority and lose "x". *len: bytes
 * decoded (a %00 makes it differ from strlen). */
static char *decode_path(struct evhttp_request *ev, size_t *len)
{
	const char *target = evhttp_request_get_uri(ev);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *raw, *out;

	if (!target || target[0] != '/')
		return evhttp_uridecode(path && *path ? path : "/", 0, len);
	if (!(raw = strndup(target, strcspn(target, "?#"))))
		return NULL;
	out = evhttp_uridecode(raw, 0, len);
	free(raw);
	return out;
}

static enum http_method map_method(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return HTTP_M_GET;
	case EVHTTP_REQ_POST:
		return HTTP_M_POST;
	case EVHTTP_REQ_HEAD:
		return HTTP_M_HEAD;
	default:
		return HTTP_M_OTHER;
	}
}

/* Clients such as OpenSSL's write a request's header and body in two
 * segments without TCP_NODELAY; if we delay the ACK of the first, Nagle
 * holds the second back for the delayed-ACK timeout (~40 ms). So: answer in
 * one write (NODELAY) and ACK at once (QUICKACK, which the kernel clears on
 * its own; it is re-armed on every request and reply). */
static void tune_socket(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	int one = 1, fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef TCP_QUICKACK
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
#endif
}

/* Runs once the reply is fully handed to the kernel: the next thing on this
 * connection is the client's next request, which must be ACKed at once.
 * The connection is between requests now; bytes of a pipelined next
 * request already read start its deadline and budget. */
static void on_sent(struct evhttp_request *ev, void *arg)
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
	}
}

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *r = calloc(1, sizeof(*r));
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	struct http_conn *c = conn_of(srv, evhttp_request_get_connection(ev));
	char *host = NULL;
	ev_uint16_t port = 0;
	size_t plen = 0;

	if (!c) { /* accepted while out of memory: not tracked, not served */
		req_free(r);
		evhttp_send_error(ev, 503, NULL);
		return;
	}
	conn_dispatched(c);
	if (!r)
		goto fail;
	r->ev = ev;
	r->evcon = evhttp_request_get_connection(ev);
	r->path = decode_path(ev, &plen);
	r->len = evbuffer_get_length(in);
	r->body = malloc(r->len ? r->len : 1);
	if (!r->path || !r->body)
		goto fail;
	evbuffer_remove(in, r->body, r->len);
	evhttp_connection_get_peer(r->evcon, &host, &port);
	snprintf(r->peer, sizeof(r->peer), "%s:%u", host ? host : "?", port);
	tune_socket(r->evcon);
	r->conn = c;
	c->req = r;
	live_link(srv, r);
	/* Draining: only a client whose transaction this connection left open
	 * (its certConf or pollReq) is still served; everything else 503. */
	if (srv->draining && !c->awaiting) {
		http_reply(r, 503, NULL, NULL, 0);
		return;
	}
	if (strlen(r->path) != plen) { /* %00: no path of ours has a NUL */
		http_reply(r, 400, NULL, NULL, 0);
		return;
	}
	squeeze_slashes(r->path);
	srv->dispatching = r;
	srv->cb(r, srv->arg);
	if (srv->dispatching == r) { /* not answered yet: it goes async */
		srv->dispatching = NULL;
		watch_peer(r);
	}
	return;
fail:
	req_free(r);
	evhttp_send_error(ev, 500, NULL);
}

/* libevent 2.1's evhttp_bind_listener takes the listener's user pointer
 * (its accept callback gets the evhttp), so the error callback gets the
 * evhttp too. The server whose housekeeping timer is on this base and
 * holds that evhttp is ours; only on an accept error, and with accepting
 * then paused, so at most a few times a second. */
static void on_tick(evutil_socket_t fd, short what, void *arg);

struct find_srv {
	const struct evhttp *http;
	struct http_server *srv;
};

static int find_srv(const struct event_base *base, const struct event *ev, void *arg)
{
	struct find_srv *f = arg;
	struct http_server *srv;
	(void)base;

	if (event_get_callback(ev) != on_tick)
		return 0;
	srv = event_get_callback_arg(ev);
	if (srv->http != f->http)
		return 0;
	f->srv = srv;
	return 1;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	(void)fd;
	(void)what;

	srv->paused = false;
	for (size_t i = 0; i < srv->nlsn; i++)
		evconnlistener_enable(srv->lsn[i]);
}

/* accept() failed with something other than EAGAIN/EINTR/ECONNABORTED:
 * out of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS, ENOMEM).
 * Retrying at once spins (the pending connection stays in the backlog);
 * pause accepting on this worker, keep serving its open connections. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	struct find_srv f = { arg, NULL };
	struct timeval tv = { 0, ACCEPT_PAUSE_MS * 1000 };
	struct http_server *srv;
	unsigned more = 0;

	event_base_foreach_event(evconnlistener_get_base(lev), find_srv, &f);
	if (!(srv = f.srv)) {
		log_error(NULL, "accept: %s", strerror(err));
		return;
	}
	for (size_t i = 0; i < srv->nlsn; i++)
		evconnlistener_disable(srv->lsn[i]);
	srv->paused = true;
	if (event_add(srv->resume_ev, &tv) != 0)
		on_resume(-1, 0, srv);
	if (ratelog_due(&srv->log_accept, &more))
		log_error(NULL,
			  "accept: %s; not accepting for %d ms, serving the %d open connections "
			  "of this worker (%u more such since the last line)",
			  strerror(err), ACCEPT_PAUSE_MS, srv->nconns, more);
}

/* Memory after a peak: connections and partial requests are freed when
 * they go, but glibc keeps the freed pages in its arenas (one per worker
 * thread) and the RSS stays at the peak. Once the load has dropped well
 * below a peak worth it, give them back. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	bool conns = srv->peak_conns >= TRIM_MIN_CONNS && srv->nconns <= srv->peak_conns / 4;
	bool bytes = srv->peak_held >= TRIM_MIN_BYTES && srv->held <= srv->peak_held / 4;
	(void)fd;
	(void)what;

	if (!conns && !bytes)
		return;
#ifdef __GLIBC__
	malloc_trim(0);
	log_debug(NULL,
		  "memory returned after a peak of %d connections, %zu bytes of partial requests",
		  srv->peak_conns, srv->peak_held);
#endif
	srv->peak_conns = srv->nconns;
	srv->peak_held = srv->held;
}

void http_server_set_limits(struct http_server *srv, const struct cfg *cfg)
{
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->http_max_body);
	evhttp_set_timeout(srv->http, cfg->http_timeout_s);
	srv->read_deadline_s = cfg->http_read_deadline_s;
	srv->max_conns = cfg->http_max_conns;
	srv->max_body_mem = cfg->http_max_body_mem;
}

struct http_server *http_server_new(struct event_base *base, const int *fds, size_t nfds,
				    const struct cfg *cfg, http_dispatch_cb cb, void *arg)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct timeval tick = { TICK_S, 0 };

	if (!srv || !(srv->http = evhttp_new(base)))
		goto fail;
	srv->base = base;
	srv->cb = cb;
	srv->arg = arg;
	srv->adopt_ev = event_new(base, -1, 0, on_adopt, srv);
	srv->resume_ev = event_new(base, -1, 0, on_resume, srv);
	srv->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, srv);
	srv->lsn = calloc(nfds ? nfds : 1, sizeof(*srv->lsn));
	if (!srv->adopt_ev || !srv->resume_ev || !srv->tick_ev || !srv->lsn ||
	    event_add(srv->tick_ev, &tick) != 0)
		goto fail;
	/* Every method reaches us so that we can answer 405 ourselves. */
	evhttp_set_allowed_methods(srv->http, 0xffff);
	evhttp_set_max_headers_size(srv->http, 16384);
	evhttp_set_default_content_type(srv->http, "text/plain");
	evhttp_set_gencb(srv->http, on_request, srv);
	evhttp_set_bevcb(srv->http, on_new_bev, srv);
	http_server_set_limits(srv, cfg);
	for (size_t i = 0; i < nfds; i++) {
		int fd = dup(fds[i]);
		struct evhttp_bound_socket *b = NULL;
		if (fd < 0 || !(b = evhttp_accept_socket_with_handle(srv->http, fd))) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		srv->lsn[srv->nlsn] = evhttp_bound_socket_get_listener(b);
		evconnlistener_set_error_cb(srv->lsn[srv->nlsn++], on_accept_error);
	}
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

void http_server_free(struct http_server *srv)
{
	if (!srv)
		return;
	/* Requests still held by the dispatcher stay its to answer (the
	 * answer is then dropped); they lose their server and, through
	 * on_conn_close, their connection. */
	while (srv->live) {
		struct http_req *r = srv->live;
		unwatch(r);
		live_unlink(r);
	}
	if (srv->http)
		evhttp_free(srv->http); /* every adopted connection: on_conn_close */
	while (srv->fresh)
		conn_free(srv->fresh);
	if (srv->adopt_ev)
		event_free(srv->adopt_ev);
	if (srv->resume_ev)
		event_free(srv->resume_ev);
	if (srv->tick_ev)
		event_free(srv->tick_ev);
	free(srv->lsn);
	free(srv->by_fd);
	free(srv);
}

void http_server_set_draining(struct http_server *srv, bool draining)
{
	srv->draining = draining;
}

int http_server_inflight(const struct http_server *srv)
{
	return srv->inflight + srv->awaiting;
}

enum http_method http_req_method(const struct http_req *req)
{
	return req->ev ? map_method(evhttp_request_get_command(req->ev)) : HTTP_M_OTHER;
}

const char *http_req_path(const struct http_req *req)
{
	return req->path;
}

const char *http_req_peer(const struct http_req *req)
{
	return req->peer;
}

const char *http_req_content_type(const struct http_req *req)
{
	if (!req->ev)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), "Content-Type");
}

const unsigned char *http_req_body(const struct http_req *req, size_t *len)
{
	*len = req->len;
	return req->body;
}

bool http_req_cancelled(const struct http_req *req)
{
	return req->cancelled || !req->ev;
}

void http_req_set_data(struct http_req *req, void *data)
{
	req->data = data;
}

void http_req_set_continues(struct http_req *req)
{
	req->continues = true;
}

void http_req_set_allow(struct http_req *req, const char *allow)
{
	req->allow = allow;
}

void *http_req_get_data(const struct http_req *req)
{
	return req->data;
}

static const char *status_text(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 400 ? "Error" : "OK";
	}
}

void http_reply(struct http_req *req, int status, const char *content_type,
		const unsigned char *body, size_t len)
{
	struct evbuffer *out = NULL;
	struct evkeyvalq *hdrs;
	bool draining = req && req->srv && req->srv->draining;

	if (!req)
		return;
	live_unlink(req);
	unwatch(req);
	if (http_req_cancelled(req)) {
		struct log_ctx ctx = { .peer = req->peer };
		if (req->conn)
			req->conn->req = NULL;
		if (status != HTTP_DROPPED)
			log_info(&ctx, "answer (HTTP %d) dropped: the client is gone", status);
		goto out;
	}
	if (req->conn) {
		req->conn->req = NULL;
		conn_set_awaiting(req->conn, status == 200 && req->continues);
		evhttp_request_set_on_complete_cb(req->ev, on_sent, req->conn);
		req->conn = NULL;
	}
	hdrs = evhttp_request_get_output_headers(req->ev);
	out = evbuffer_new();
	if (!out) {
		/* nothing to answer with: close (frees the request with it) */
		evhttp_connection_free(req->evcon);
		goto out;
	}
	if (status != 200 && !(body && len)) {
		/* Not evhttp_send_error: it drops our headers (Allow) and
		 * closes the connection; a short text answer keeps both. */
		content_type = "text/plain; charset=utf-8";
		evbuffer_add_printf(out, "%d %s\n", status, status_text(status));
	} else if (body && len) {
		evbuffer_add(out, body, len);
	}
	if (content_type)
		evhttp_add_header(hdrs, "Content-Type", content_type);
	if (draining && !(status == 200 && req->continues))
		evhttp_add_header(hdrs, "Connection", "close");
	if (status == 405) /* RFC 9110 15.5.6 */
		evhttp_add_header(hdrs, "Allow", req->allow ? req->allow : "POST");
	evhttp_send_reply(req->ev, status, NULL, out);
out:
	if (out)
		evbuffer_free(out);
	req_free(req);
}
