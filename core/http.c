#include "core/http.h"

#include <errno.h>
#include <stdint.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/log.h"

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
 * client that leaves then; r->watch does. */
struct http_server {
	struct evhttp *http;
	struct event_base *base;
	http_dispatch_cb cb;
	void *arg;
	bool draining;
	int inflight;
	struct http_req *live;	      /* dispatched, not yet replied to */
	struct http_req *dispatching; /* inside cb; NULL once it replied */
};

struct http_req {
	struct http_server *srv;      /* NULL once the server is freed */
	struct http_req *prev, *next; /* srv->live */
	struct evhttp_request *ev;   /* NULL once the connection is gone */
	struct evhttp_connection *evcon;
	struct event *watch; /* EOF/RST watch while the dispatcher holds req */
	bool cancelled;
	unsigned char *body;
	size_t len;
	char *path;
	char peer[80];
	const char *allow; /* Allow header of a 405, static string */
	void *data;
};

int http_listen(const char *address, int port, char *errbuf, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char portstr[16];
	int fd = -1, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(address, portstr, &hints, &ai);
	if (rc != 0) {
		snprintf(errbuf, errlen, "listen %s:%d: %s", address, port, gai_strerror(rc));
		return RC_INVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0)
		goto fail;
	freeaddrinfo(ai);
	return fd;
fail:
	snprintf(errbuf, errlen, "listen %s:%d: %s", address, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return RC_IO;
}

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

/* libevent is freeing the connection (evhttp_free at shutdown): it frees
 * the request still queued on it right after this callback. A request that
 * libevent already took off the connection (evhttp_connection_incoming_fail
 * on EOF before the user answered) it would never free: we do. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_req *r = arg;
	(void)evcon;
	unwatch(r);
	if (r->ev && !evhttp_request_get_connection(r->ev))
		evhttp_request_free(r->ev);
	r->ev = NULL;
	r->evcon = NULL;
	r->cancelled = true;
}

/* The client is gone while the dispatcher holds r: close the connection
 * now (the evhttp_request goes with it) and let the reply be dropped. */
static void peer_gone(struct http_req *r, const char *why)
{
	struct log_ctx ctx = { .peer = r->peer };

	unwatch(r);
	r->cancelled = true;
	log_info(&ctx, "client disconnected (%s) before its answer", why);
	if (r->evcon) {
		evhttp_connection_set_closecb(r->evcon, NULL, NULL);
		evhttp_connection_free(r->evcon);
	}
	r->ev = NULL;
	r->evcon = NULL;
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

#ifdef TCP_QUICKACK
/* Runs once the reply is fully handed to the kernel: the next thing on this
 * connection is the client's next request, which must be ACKed at once. */
static void on_sent(struct evhttp_request *ev, void *arg)
{
	int one = 1, fd = (int)(intptr_t)arg;
	(void)ev;
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}
#endif

static void on_request(struct evhttp_request *ev, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *r = calloc(1, sizeof(*r));
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	char *host = NULL;
	ev_uint16_t port = 0;
	size_t plen = 0;

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
	live_link(srv, r);
	if (srv->draining) {
		http_reply(r, 503, NULL, NULL, 0);
		return;
	}
	if (strlen(r->path) != plen) { /* %00: no path of ours has a NUL */
		http_reply(r, 400, NULL, NULL, 0);
		return;
	}
	squeeze_slashes(r->path);
	evhttp_connection_set_closecb(r->evcon, on_conn_close, r);
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

struct http_server *http_server_new(struct event_base *base, const int *fds, size_t nfds,
				    size_t max_body, int timeout_s, http_dispatch_cb cb, void *arg)
{
	struct http_server *srv = calloc(1, sizeof(*srv));

	if (!srv || !(srv->http = evhttp_new(base)))
		goto fail;
	srv->base = base;
	srv->cb = cb;
	srv->arg = arg;
	/* Every method reaches us so that we can answer 405 ourselves. */
	evhttp_set_allowed_methods(srv->http, 0xffff);
	evhttp_set_max_body_size(srv->http, (ev_ssize_t)max_body);
	evhttp_set_max_headers_size(srv->http, 16384);
	evhttp_set_timeout(srv->http, timeout_s);
	evhttp_set_default_content_type(srv->http, "text/plain");
	evhttp_set_gencb(srv->http, on_request, srv);
	for (size_t i = 0; i < nfds; i++) {
		int fd = dup(fds[i]);
		if (fd < 0 || evhttp_accept_socket(srv->http, fd) != 0) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
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
		evhttp_free(srv->http);
	free(srv);
}

void http_server_set_draining(struct http_server *srv, bool draining)
{
	srv->draining = draining;
}

int http_server_inflight(const struct http_server *srv)
{
	return srv->inflight;
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
		if (status != HTTP_DROPPED)
			log_info(&ctx, "answer (HTTP %d) dropped: the client is gone", status);
		goto out;
	}
	if (req->evcon) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(req->evcon);
		evhttp_connection_set_closecb(req->evcon, NULL, NULL);
#ifdef TCP_QUICKACK
		if (bev && bufferevent_getfd(bev) >= 0)
			evhttp_request_set_on_complete_cb(req->ev, on_sent,
							  (void *)(intptr_t)bufferevent_getfd(bev));
#endif
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
	if (draining)
		evhttp_add_header(hdrs, "Connection", "close");
	if (status == 405) /* RFC 9110 15.5.6 */
		evhttp_add_header(hdrs, "Allow", req->allow ? req->allow : "POST");
	evhttp_send_reply(req->ev, status, NULL, out);
out:
	if (out)
		evbuffer_free(out);
	req_free(req);
}
