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

struct http_server {
	struct evhttp *http;
	http_dispatch_cb cb;
	void *arg;
	bool draining;
	int inflight;
};

struct http_req {
	struct http_server *srv;
	struct evhttp_request *ev;   /* NULL once the connection is gone */
	struct evhttp_connection *evcon;
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

/* libevent frees the connection (and its pending request) when the peer
 * goes away; from then on our reply has nowhere to go. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct http_req *r = arg;
	(void)evcon;
	r->ev = NULL;
	r->evcon = NULL;
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
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *host = NULL;
	ev_uint16_t port = 0;

	if (!r)
		goto fail;
	r->srv = srv;
	r->ev = ev;
	r->evcon = evhttp_request_get_connection(ev);
	r->path = evhttp_uridecode(path && *path ? path : "/", 0, NULL);
	r->len = evbuffer_get_length(in);
	r->body = malloc(r->len ? r->len : 1);
	if (!r->path || !r->body)
		goto fail;
	evbuffer_remove(in, r->body, r->len);
	evhttp_connection_get_peer(r->evcon, &host, &port);
	snprintf(r->peer, sizeof(r->peer), "%s:%u", host ? host : "?", port);
	tune_socket(r->evcon);
	srv->inflight++;
	if (srv->draining) {
		http_reply(r, 503, NULL, NULL, 0);
		return;
	}
	evhttp_connection_set_closecb(r->evcon, on_conn_close, r);
	srv->cb(r, srv->arg);
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
	return req->ev == NULL;
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

void http_reply(struct http_req *req, int status, const char *content_type,
		const unsigned char *body, size_t len)
{
	struct evbuffer *out = NULL;

	if (!req)
		return;
	req->srv->inflight--;
	if (!req->ev)
		goto out;
	if (req->evcon) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(req->evcon);
		evhttp_connection_set_closecb(req->evcon, NULL, NULL);
#ifdef TCP_QUICKACK
		if (bev && bufferevent_getfd(bev) >= 0)
			evhttp_request_set_on_complete_cb(req->ev, on_sent,
							  (void *)(intptr_t)bufferevent_getfd(bev));
#endif
	}
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req->ev);
	if (content_type)
		evhttp_add_header(hdrs, "Content-Type", content_type);
	if (req->srv->draining)
		evhttp_add_header(hdrs, "Connection", "close");
	if (status == 405)
		evhttp_add_header(hdrs, "Allow", req->allow ? req->allow : "POST");
	out = evbuffer_new();
	if (out && body && len)
		evbuffer_add(out, body, len);
	if (status == 200 || (body && len))
		evhttp_send_reply(req->ev, status, NULL, out);
	else
		evhttp_send_error(req->ev, status, NULL);
out:
	if (out)
		evbuffer_free(out);
	req_free(req);
}
