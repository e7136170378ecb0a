/*
 * core/httpc.c - non-blocking HTTP POST client (see httpc.h). libevent's
 * evhttp client does the protocol; this file adds the whole-exchange
 * deadline, the reply bound and a single completion path.
 */
#include "core/httpc.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

struct httpc_call {
	struct event_base *base;
	struct evdns_base *dns;
	struct evhttp_connection *conn;
	struct event *deadline;
	struct event *reap; /* frees the call outside libevent's callbacks */
	httpc_cb cb;
	void *arg;
	int err; /* from the error callback */
	bool done;
};

static void call_free(struct httpc_call *c)
{
	if (!c)
		return;
	if (c->conn)
		evhttp_connection_free(c->conn); /* pending requests freed, no callbacks */
	if (c->dns)
		evdns_base_free(c->dns, 0);
	if (c->deadline)
		event_free(c->deadline);
	if (c->reap)
		event_free(c->reap);
	free(c);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	call_free(arg);
}

/* Report once, then free on the next loop turn: the connection may not be
 * freed from inside its own request callback. */
static void finish(struct httpc_call *c, int rc, int status, const char *ct,
		   const unsigned char *body, size_t len)
{
	static const struct timeval now = { 0, 0 };

	if (c->done)
		return;
	c->done = true;
	event_del(c->deadline);
	c->cb(c->arg, rc, status, ct, body, len);
	evtimer_add(c->reap, &now);
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	struct httpc_call *c = arg;
	c->err = e == EVREQ_HTTP_TIMEOUT	 ? RC_TIMEOUT
		 : e == EVREQ_HTTP_DATA_TOO_LONG ? RC_TOOBIG
						 : RC_IO;
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct httpc_call *c = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code == 0) {
		finish(c, c->err ? c->err : RC_IO, 0, NULL, NULL, 0);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const unsigned char *body = len ? evbuffer_pullup(in, -1) : NULL;
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	finish(c, body || !len ? 0 : RC_NOMEM, code, ct, body, len);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	finish(arg, RC_TIMEOUT, 0, NULL, NULL, 0);
}

static bool is_ip(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int start(struct httpc_call *c, const struct evhttp_uri *u, const char *ct,
		 const unsigned char *body, size_t len, int timeout_s, size_t max_reply)
{
	const char *host = evhttp_uri_get_host(u), *path = evhttp_uri_get_path(u);
	const char *query = evhttp_uri_get_query(u);
	int port = evhttp_uri_get_port(u);
	struct evhttp_request *req = NULL;
	struct timeval tv = { timeout_s, 0 };
	char target[2048];

	if (!host || !host[0])
		return RC_INVAL;
	if (snprintf(target, sizeof(target), "%s%s%s", path && path[0] ? path : "/",
		     query ? "?" : "", query ? query : "") >= (int)sizeof(target))
		return RC_INVAL;
	if (!is_ip(host) && !(c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)))
		return RC_NOMEM;
	c->conn = evhttp_connection_base_new(c->base, c->dns, host, port > 0 ? port : 80);
	c->deadline = evtimer_new(c->base, on_deadline, c);
	c->reap = evtimer_new(c->base, on_reap, c);
	if (!c->conn || !c->deadline || !c->reap || !(req = evhttp_request_new(on_done, c)))
		return RC_NOMEM;
	evhttp_connection_set_timeout(c->conn, timeout_s);
	evhttp_connection_set_retries(c->conn, 0);
	evhttp_connection_set_max_body_size(c->conn, (ev_ssize_t)max_reply);
	evhttp_request_set_error_cb(req, on_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", host) != 0 ||
	    evhttp_add_header(h, "Content-Type", ct) != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body, len) != 0) {
		evhttp_request_free(req);
		return RC_NOMEM;
	}
	/* evhttp_make_request owns req from here, also when it fails */
	if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, target) != 0)
		return RC_IO;
	return evtimer_add(c->deadline, &tv) == 0 ? 0 : RC_NOMEM;
}

int httpc_post(struct event_base *base, const char *url, const char *content_type,
	       const unsigned char *body, size_t len, int timeout_s, size_t max_reply, httpc_cb cb,
	       void *arg, struct httpc_call **out)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	struct httpc_call *c = NULL;
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	int rc = RC_INVAL;

	if (out)
		*out = NULL;
	if (!scheme || strcmp(scheme, "http") != 0)
		goto out;
	rc = RC_NOMEM;
	if (!(c = calloc(1, sizeof(*c))))
		goto out;
	c->base = base;
	c->cb = cb;
	c->arg = arg;
	if ((rc = start(c, u, content_type, body, len, timeout_s, max_reply)) != 0) {
		call_free(c);
		goto out;
	}
	if (out)
		*out = c;
out:
	if (u)
		evhttp_uri_free(u);
	return rc;
}

void httpc_cancel(struct httpc_call *c)
{
	if (c && !c->done)
		call_free(c);
}
