/*
 * core/http.c - the HTTP servers of a worker (core/http.h): listeners,
 * requests, routing to the dispatcher, answers (whole or chunked).
 * Connections, limits, TLS and the client-gone watch are
 * core/http_conn.c; streamed request bodies core/http_stream.c; what they
 * share, and the lifetime rules, core/http_int.h.
 */
#include "core/http_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "core/cfg.h"
#include "core/log.h"
#include "core/metrics.h"

static void req_free(struct http_req *r)
{
	if (!r)
		return;
	free(r->body);
	free(r->path);
	if (r->shdrs) {
		evhttp_clear_headers(r->shdrs);
		free(r->shdrs);
	}
	free(r->squery);
	if (r->gone_ev)
		event_free(r->gone_ev);
	free(r);
}

static void live_link(struct http_server *srv, struct http_req *r)
{
	r->srv = srv;
	r->next = srv->live;
	if (srv->live)
		srv->live->prev = r;
	srv->live = r;
	srv->inflight++;
	http_publish(srv);
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
	http_publish(srv);
	if (srv->dispatching == r)
		srv->dispatching = NULL;
	r->srv = NULL;
}

/* Repeated slashes count as one ("//.well-known//cmp" is
 * "/.well-known/cmp"), as other CMP servers treat them (README). */
void http_path_squeeze(char *p)
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
char *http_path_decode(const char *target, size_t *len)
{
	char *raw, *out;

	if (!(raw = strndup(target, strcspn(target, "?#"))))
		return NULL;
	out = evhttp_uridecode(raw, 0, len);
	free(raw);
	return out;
}

static char *decode_path(struct evhttp_request *ev, size_t *len)
{
	const char *target = evhttp_request_get_uri(ev);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

	if (!target || target[0] != '/')
		return evhttp_uridecode(path && *path ? path : "/", 0, len);
	return http_path_decode(target, len);
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
	case EVHTTP_REQ_PUT:
		return HTTP_M_PUT;
	case EVHTTP_REQ_DELETE:
		return HTTP_M_DELETE;
	case EVHTTP_REQ_PATCH:
		return HTTP_M_PATCH;
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

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *r = calloc(1, sizeof(*r));
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	struct http_conn *c = http_conn_of(srv, evhttp_request_get_connection(ev));
	char *host = NULL;
	ev_uint16_t port = 0;
	size_t plen = 0;

	if (!c) { /* accepted while out of memory: not tracked, not served */
		req_free(r);
		evhttp_send_error(ev, 503, NULL);
		return;
	}
	http_conn_dispatched(c);
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
	http_req_dispatch(srv, r, plen);
	return;
fail:
	req_free(r);
	evhttp_send_error(ev, 500, NULL);
}

void http_req_dispatch(struct http_server *srv, struct http_req *r, size_t plen)
{
	struct http_conn *c = r->conn;

	live_link(srv, r);
	/* Draining: only a client whose transaction this connection left open
	 * (its certConf or pollReq) is still served; everything else 503. */
	if (srv->draining && !c->awaiting) {
		metrics_http_refused(srv->metrics, 503);
		http_reply(r, 503, NULL, NULL, 0);
		return;
	}
	if (strlen(r->path) != plen) { /* %00: no path of ours has a NUL */
		metrics_http_refused(srv->metrics, 400);
		http_reply(r, 400, NULL, NULL, 0);
		return;
	}
	http_path_squeeze(r->path);
	srv->dispatching = r;
	srv->cb(r, srv->arg);
	if (srv->dispatching == r) { /* not answered yet: it goes async */
		srv->dispatching = NULL;
		http_req_watch(r);
	}
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
	for (size_t i = 0; i < srv->nlsn; i++)
		if (srv->lsn[i].http == f->http) {
			f->srv = srv;
			return 1;
		}
	return 0;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	(void)fd;
	(void)what;

	srv->paused = false;
	for (size_t i = 0; i < srv->nlsn && !srv->stopped; i++)
		if (srv->lsn[i].lev)
			evconnlistener_enable(srv->lsn[i].lev);
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
		if (srv->lsn[i].lev)
			evconnlistener_disable(srv->lsn[i].lev);
	srv->paused = true;
	if (event_add(srv->resume_ev, &tv) != 0)
		on_resume(-1, 0, srv);
	if (http_ratelog_due(&srv->log_accept, RATELOG_S, 1, &more))
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

static void apply_limits(struct http_server *srv, size_t max_body, int timeout_s)
{
	for (size_t i = 0; i < srv->nlsn; i++) {
		evhttp_set_max_body_size(srv->lsn[i].http, (ev_ssize_t)max_body);
		evhttp_set_timeout(srv->lsn[i].http, timeout_s);
	}
}

/* A reloaded snapshot's TLS context for listener l: taken only while l is
 * still the same listener (address, port, TLS on or off); a changed
 * listen needs a restart (core/server.h), and l keeps its context. */
static void take_tls(struct http_lsn *l, const struct cfg *cfg)
{
	const struct cfg_listen *n = l->index < cfg->n_listen ? &cfg->listen[l->index] : NULL;
	SSL_CTX *ctx = n ? n->tls.ctx : NULL;

	if (!n || n->port != l->port || !n->address || !l->address ||
	    strcmp(n->address, l->address) != 0 || !ctx != !l->ctx || ctx == l->ctx)
		return;
	SSL_CTX_up_ref(ctx);
	SSL_CTX_free(l->ctx);
	l->ctx = ctx;
}

void http_server_set_limits(struct http_server *srv, const struct cfg *cfg)
{
	if (srv->ops)
		return; /* fixed limits, never TLS */
	apply_limits(srv, cfg->http_max_body, cfg->http_timeout_s);
	srv->read_deadline_s = cfg->http_read_deadline_s;
	srv->max_conns = cfg->http_max_conns;
	srv->max_body_mem = cfg->http_max_body_mem;
	for (size_t i = 0; i < srv->nlsn; i++)
		take_tls(&srv->lsn[i], cfg);
}

static struct http_server *server_new(struct event_base *base, size_t nfds, http_dispatch_cb cb,
				      void *arg)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct timeval tick = { TICK_S, 0 };

	if (!srv)
		return NULL;
	srv->base = base;
	srv->cb = cb;
	srv->arg = arg;
	srv->adopt_ev = event_new(base, -1, 0, http_conn_adopt, srv);
	srv->resume_ev = event_new(base, -1, 0, on_resume, srv);
	srv->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, srv);
	srv->lsn = calloc(nfds ? nfds : 1, sizeof(*srv->lsn));
	if (!srv->adopt_ev || !srv->resume_ev || !srv->tick_ev || !srv->lsn ||
	    event_add(srv->tick_ev, &tick) != 0) {
		http_server_free(srv);
		return NULL;
	}
	return srv;
}

/* Listener srv->lsn[srv->nlsn] on a dup() of fd; ctx (may be NULL) gets a
 * reference. */
static int add_listener(struct http_server *srv, int fd, size_t index, const struct cfg_listen *l,
			SSL_CTX *ctx)
{
	struct http_lsn *x = &srv->lsn[srv->nlsn];
	struct evhttp_bound_socket *b = NULL;
	int dfd;

	x->srv = srv;
	x->index = index;
	if (!(x->http = evhttp_new(srv->base)))
		return RC_NOMEM;
	srv->nlsn++; /* from here http_server_free frees x */
	if (l) {
		x->port = l->port;
		if (l->address && !(x->address = strdup(l->address)))
			return RC_NOMEM;
	}
	if (ctx && SSL_CTX_up_ref(ctx) == 1)
		x->ctx = ctx;
	else if (ctx)
		return RC_CRYPTO;
	/* Every method reaches us so that we can answer 405 ourselves. */
	evhttp_set_allowed_methods(x->http, 0xffff);
	evhttp_set_max_headers_size(x->http, 16384);
	evhttp_set_default_content_type(x->http, "text/plain");
	evhttp_set_gencb(x->http, on_request, srv);
	evhttp_set_bevcb(x->http, http_conn_new_bev, x);
	if ((dfd = dup(fd)) < 0)
		return RC_IO;
	if (!(b = evhttp_accept_socket_with_handle(x->http, dfd))) {
		close(dfd);
		return RC_IO;
	}
	x->lev = evhttp_bound_socket_get_listener(b);
	evconnlistener_set_error_cb(x->lev, on_accept_error);
	return 0;
}

struct http_server *http_server_new(struct event_base *base, const int *fds, size_t nfds,
				    const struct cfg *cfg, http_dispatch_cb cb, void *arg)
{
	struct http_server *srv = server_new(base, nfds, cb, arg);

	if (!srv)
		return NULL;
	for (size_t i = 0; i < nfds; i++) {
		const struct cfg_listen *l = i < cfg->n_listen ? &cfg->listen[i] : NULL;
		if (add_listener(srv, fds[i], i, l, l ? l->tls.ctx : NULL) != 0) {
			http_server_free(srv);
			return NULL;
		}
	}
	http_server_set_limits(srv, cfg);
	return srv;
}

struct http_server *http_server_new_ops(struct event_base *base, int fd, http_dispatch_cb cb,
					void *arg)
{
	struct http_server *srv = server_new(base, 1, cb, arg);

	if (!srv)
		return NULL;
	srv->ops = true;
	if (add_listener(srv, fd, 0, NULL, NULL) != 0) {
		http_server_free(srv);
		return NULL;
	}
	apply_limits(srv, HTTP_OPS_MAX_BODY, HTTP_OPS_TIMEOUT_S);
	srv->read_deadline_s = HTTP_OPS_TIMEOUT_S;
	srv->max_conns = HTTP_OPS_MAX_CONNS;
	srv->max_body_mem = HTTP_OPS_MAX_CONNS * (size_t)HTTP_OPS_MAX_BODY;
	return srv;
}

struct http_server *http_server_new_admin(struct event_base *base, int fd, void *ssl_ctx,
					  http_dispatch_cb cb, void *arg)
{
	struct http_server *srv = server_new(base, 1, cb, arg);

	if (!srv)
		return NULL;
	srv->ops = true; /* fixed limits: http_server_set_limits leaves it alone */
	if (!ssl_ctx || add_listener(srv, fd, 0, NULL, ssl_ctx) != 0) {
		http_server_free(srv);
		return NULL;
	}
	apply_limits(srv, HTTP_ADMIN_MAX_BODY, HTTP_ADMIN_TIMEOUT_S);
	srv->read_deadline_s = HTTP_ADMIN_TIMEOUT_S;
	srv->max_conns = HTTP_ADMIN_MAX_CONNS;
	srv->max_body_mem = 4 * (size_t)HTTP_ADMIN_MAX_BODY;
	return srv;
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
		http_req_unwatch(r);
		live_unlink(r);
	}
	for (size_t i = 0; i < srv->nlsn; i++)
		evhttp_free(srv->lsn[i].http); /* every adopted connection: on_conn_close */
	while (srv->fresh)
		http_conn_free(srv->fresh);
	for (size_t i = 0; i < srv->nlsn; i++) {
		SSL_CTX_free(srv->lsn[i].ctx);
		free(srv->lsn[i].address);
	}
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

void http_server_stop_accepting(struct http_server *srv)
{
	if (!srv)
		return;
	srv->stopped = true;
	for (size_t i = 0; i < srv->nlsn; i++)
		if (srv->lsn[i].lev)
			evconnlistener_disable(srv->lsn[i].lev);
}

void http_server_set_metrics(struct http_server *srv, struct metrics *m)
{
	srv->metrics = m;
}

void http_server_set_draining(struct http_server *srv, bool draining)
{
	srv->draining = draining;
}

int http_server_inflight(const struct http_server *srv)
{
	return srv->inflight + srv->awaiting;
}

void http_server_set_counters(struct http_server *srv, struct http_counters *ctr)
{
	srv->ctr = ctr;
	http_publish(srv);
}

void http_server_set_stream_match(struct http_server *srv, http_stream_match_cb fn)
{
	srv->stream_match = fn;
}

bool http_req_streamed(const struct http_req *req)
{
	return req->streamed;
}

enum http_method http_req_method(const struct http_req *req)
{
	if (req->streamed)
		return req->smethod;
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
	return http_req_header(req, "Content-Type");
}

const char *http_req_header(const struct http_req *req, const char *name)
{
	if (req->streamed)
		return req->shdrs ? evhttp_find_header(req->shdrs, name) : NULL;
	if (!req->ev)
		return NULL;
	return evhttp_find_header(evhttp_request_get_input_headers(req->ev), name);
}

const char *http_req_query(const struct http_req *req)
{
	const struct evhttp_uri *u = req->ev ? evhttp_request_get_evhttp_uri(req->ev) : NULL;

	if (req->streamed)
		return req->squery;
	return u ? evhttp_uri_get_query(u) : NULL;
}

void http_req_set_header(struct http_req *req, const char *name, const char *value)
{
	req->hname = name;
	req->hvalue = value;
}

const unsigned char *http_req_body(const struct http_req *req, size_t *len)
{
	*len = req->len;
	return req->body ? req->body : (const unsigned char *)"";
}

bool http_req_cancelled(const struct http_req *req)
{
	return req->cancelled || (req->streamed ? !req->st : !req->ev);
}

bool http_req_tls(const struct http_req *req)
{
	return req->conn && req->conn->ssl;
}

X509 *http_req_get0_peer_cert(const struct http_req *req)
{
	if (!req->conn || !req->conn->ssl)
		return NULL;
	return SSL_get0_peer_certificate(req->conn->ssl);
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

const char *http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 409:
		return "Conflict";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
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

int http_reply_start(struct http_req *req, int status, const char *content_type)
{
	struct evkeyvalq *hdrs;

	if (req->streamed || req->chunking)
		return RC_INVAL;
	if (http_req_cancelled(req))
		return RC_CANCELLED;
	hdrs = evhttp_request_get_output_headers(req->ev);
	if (content_type)
		evhttp_add_header(hdrs, "Content-Type", content_type);
	if (req->srv && req->srv->draining)
		evhttp_add_header(hdrs, "Connection", "close");
	if (req->hname && req->hvalue)
		evhttp_add_header(hdrs, req->hname, req->hvalue);
	if (req->conn)
		evhttp_request_set_on_complete_cb(req->ev, http_conn_sent, req->conn);
	req->chunking = true;
	evhttp_send_reply_start(req->ev, status, http_status_text(status));
	return 0;
}

/* evhttp's "written" callback of the last chunk queued */
static void chunk_sent(struct evhttp_connection *evcon, void *arg)
{
	struct http_req *req = arg;
	http_sent_cb cb = req->sent;
	(void)evcon;

	req->sent = NULL;
	if (cb && !http_req_cancelled(req))
		cb(req, req->sent_arg);
}

int http_reply_chunk(struct http_req *req, const unsigned char *data, size_t len, http_sent_cb sent,
		     void *arg)
{
	struct evbuffer *buf;

	if (!req->chunking || len == 0)
		return RC_INVAL;
	if (http_req_cancelled(req))
		return RC_CANCELLED;
	if (!(buf = evbuffer_new()) || evbuffer_add(buf, data, len) != 0) {
		if (buf)
			evbuffer_free(buf);
		return RC_NOMEM;
	}
	req->sent = sent;
	req->sent_arg = arg;
	evhttp_send_reply_chunk_with_cb(req->ev, buf, sent ? chunk_sent : NULL, sent ? req : NULL);
	evbuffer_free(buf);
	return 0;
}

void http_reply_end(struct http_req *req)
{
	if (!req)
		return;
	if (!req->chunking) { /* never started: an answer all the same */
		http_reply(req, 500, NULL, NULL, 0);
		return;
	}
	live_unlink(req);
	http_req_unwatch(req);
	if (req->conn) {
		req->conn->req = NULL;
		http_conn_set_awaiting(req->conn, false);
	}
	if (!http_req_cancelled(req))
		evhttp_send_reply_end(req->ev);
	req->conn = NULL;
	req_free(req);
}

/* A streamed request's answer: written by the stream, which closes the
 * connection after it (core/http_stream.c). */
static void reply_streamed(struct http_req *req, int status, const char *content_type,
			   const unsigned char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();
	char text[64];

	if (status != 200 && !(body && len)) {
		content_type = "text/plain; charset=utf-8";
		snprintf(text, sizeof(text), "%d %s\n", status, http_status_text(status));
		body = (const unsigned char *)text;
		len = strlen(text);
	}
	if (out) {
		evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, http_status_text(status));
		if (content_type)
			evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
		evbuffer_add_printf(out, "Content-Length: %zu\r\nConnection: close\r\n", len);
		if (req->hname && req->hvalue)
			evbuffer_add_printf(out, "%s: %s\r\n", req->hname, req->hvalue);
		if (status == 405) /* RFC 9110 15.5.6 */
			evbuffer_add_printf(out, "Allow: %s\r\n", req->allow ? req->allow : "POST");
		evbuffer_add(out, "\r\n", 2);
		if (body && len)
			evbuffer_add(out, body, len);
	}
	if (req->conn)
		req->conn->req = NULL;
	req->conn = NULL;
	http_stream_send(req, out); /* NULL out: closes without an answer */
	if (out)
		evbuffer_free(out);
	req_free(req);
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
	http_req_unwatch(req);
	if (req->streamed && !http_req_cancelled(req)) {
		reply_streamed(req, status, content_type, body, len);
		return;
	}
	if (http_req_cancelled(req)) {
		struct log_ctx ctx = { .peer = req->peer };
		if (req->conn)
			req->conn->req = NULL;
		if (req->st)
			http_stream_send(req, NULL);
		if (status != HTTP_DROPPED)
			log_info(&ctx, "answer (HTTP %d) dropped: the client is gone", status);
		goto out;
	}
	if (req->conn) {
		req->conn->req = NULL;
		http_conn_set_awaiting(req->conn, status == 200 && req->continues);
		evhttp_request_set_on_complete_cb(req->ev, http_conn_sent, req->conn);
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
		evbuffer_add_printf(out, "%d %s\n", status, http_status_text(status));
	} else if (body && len) {
		evbuffer_add(out, body, len);
	}
	if (content_type)
		evhttp_add_header(hdrs, "Content-Type", content_type);
	if (draining && !(status == 200 && req->continues))
		evhttp_add_header(hdrs, "Connection", "close");
	if (req->hname && req->hvalue)
		evhttp_add_header(hdrs, req->hname, req->hvalue);
	if (status == 405) /* RFC 9110 15.5.6 */
		evhttp_add_header(hdrs, "Allow", req->allow ? req->allow : "POST");
	evhttp_send_reply(req->ev, status, NULL, out);
out:
	if (out)
		evbuffer_free(out);
	req_free(req);
}
