/*
 * core/httpc.c - non-blocking HTTP(S) POST client (see httpc.h). libevent's
 * evhttp client does the protocol, over an OpenSSL bufferevent for https;
 * this file adds the whole-exchange deadline, the reply bound, a single
 * completion path, and tells apart why a call failed: the certificate
 * check (our verify callback keeps the first error), the handshake (the
 * OpenSSL errors the bufferevent kept), the connection, the timeout.
 */
#include "core/httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct httpc_call {
	struct event_base *base;
	struct evdns_base *dns;
	struct evhttp_connection *conn;
	struct bufferevent *bev; /* https: the OpenSSL bufferevent (conn's) */
	SSL *ssl;		 /* https: bev's */
	struct event *deadline;
	struct event *reap; /* frees the call outside libevent's callbacks */
	httpc_cb cb;
	void *arg;
	int err;	 /* from the error callback: RC_TIMEOUT, RC_TOOBIG, RC_IO */
	int sys_err;	 /* errno at the error callback */
	bool errored;	 /* the error callback ran */
	bool connected;	 /* evhttp had the connection up (closecb) */
	bool tls_up;	 /* the TLS handshake completed */
	long verify_err; /* the first X509_V_ERR_* of the server's chain, or 0 */
	bool done;
	char why[256];
};

static const char *const fail_names[] = {
	"ok", "connect", "tls", "tls_verify", "timeout", "http", "too_big", "nomem",
};

const char *httpc_fail_name(enum httpc_fail f)
{
	return (unsigned)f < sizeof(fail_names) / sizeof(fail_names[0]) ? fail_names[f] : "error";
}

static int rc_of(enum httpc_fail f)
{
	switch (f) {
	case HTTPC_OK:
		return 0;
	case HTTPC_TLS:
	case HTTPC_TLS_VERIFY:
		return RC_CRYPTO;
	case HTTPC_TIMEOUT:
		return RC_TIMEOUT;
	case HTTPC_TOOBIG:
		return RC_TOOBIG;
	case HTTPC_NOMEM:
		return RC_NOMEM;
	default:
		return RC_IO;
	}
}

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
static void finish(struct httpc_call *c, enum httpc_fail f, int status, const char *ct,
		   const unsigned char *body, size_t len)
{
	static const struct timeval now = { 0, 0 };
	struct httpc_result res = {
		.rc = rc_of(f),
		.fail = f,
		.why = f == HTTPC_OK ? "" : c->why,
		.status = status,
		.content_type = ct,
		.body = body,
		.len = len,
	};

	if (c->done)
		return;
	c->done = true;
	event_del(c->deadline);
	c->cb(c->arg, &res);
	evtimer_add(c->reap, &now);
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	struct httpc_call *c = arg;

	c->sys_err = errno;
	c->errored = true;
	c->err = e == EVREQ_HTTP_TIMEOUT	 ? RC_TIMEOUT
		 : e == EVREQ_HTTP_DATA_TOO_LONG ? RC_TOOBIG
						 : RC_IO;
}

static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct httpc_call *c = arg;
	(void)conn;
	c->connected = true;
}

/* The first OpenSSL error the bufferevent kept (values up to 0xff are
 * SSL_get_error() codes it keeps too), or 0. */
static unsigned long tls_cause(struct httpc_call *c)
{
	unsigned long e, cause = 0;

	while (c->bev && (e = bufferevent_get_openssl_error(c->bev)))
		if (e > 0xff)
			cause = e;
	return cause;
}

/* Why a call without an HTTP answer failed. */
static enum httpc_fail classify(struct httpc_call *c)
{
	unsigned long cause = tls_cause(c);
	int sys = c->errored ? c->sys_err : ECONNREFUSED;

	ERR_clear_error();
	if (c->err == RC_TIMEOUT) {
		snprintf(c->why, sizeof(c->why), "no answer in time");
		return HTTPC_TIMEOUT;
	}
	if (c->err == RC_TOOBIG) {
		snprintf(c->why, sizeof(c->why), "answer too big");
		return HTTPC_TOOBIG;
	}
	if (c->verify_err) {
		snprintf(c->why, sizeof(c->why), "TLS: certificate verify failed: %s",
			 X509_verify_cert_error_string(c->verify_err));
		return HTTPC_TLS_VERIFY;
	}
	if (cause && ERR_GET_LIB(cause) == ERR_LIB_SYS)
		sys = ERR_GET_REASON(cause);
	else if (cause) {
		const char *r = ERR_reason_error_string(cause);
		snprintf(c->why, sizeof(c->why), "TLS: %s", r ? r : "handshake failed");
		return c->tls_up ? HTTPC_HTTP : HTTPC_TLS;
	}
	if (c->tls_up || (!c->ssl && c->connected)) {
		snprintf(c->why, sizeof(c->why), "connection closed before a complete answer");
		return HTTPC_HTTP;
	}
	/* evhttp handles a refused connect without its error callback, and
	 * reports other connect failures with errno */
	snprintf(c->why, sizeof(c->why), "cannot connect: %s",
		 sys && sys != ENOTCONN ? strerror(sys) : "connection failed");
	return HTTPC_CONNECT;
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct httpc_call *c = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code == 0) {
		finish(c, classify(c), 0, NULL, NULL, 0);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const unsigned char *body = len ? evbuffer_pullup(in, -1) : NULL;
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!body && len)
		snprintf(c->why, sizeof(c->why), "out of memory");
	finish(c, body || !len ? HTTPC_OK : HTTPC_NOMEM, code, ct, body, len);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct httpc_call *c = arg;
	(void)fd, (void)what;
	snprintf(c->why, sizeof(c->why), "no answer in time");
	finish(c, HTTPC_TIMEOUT, 0, NULL, NULL, 0);
}

static bool is_ip(const char *host)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The server's chain as OpenSSL checks it: keep the first error. */
static int on_verify(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct httpc_call *c = ssl ? SSL_get_app_data(ssl) : NULL;

	if (!ok && c && !c->verify_err)
		c->verify_err = X509_STORE_CTX_get_error(x);
	return ok;
}

static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct httpc_call *c = SSL_get_app_data(ssl);
	(void)ret;

	if (c && (where & SSL_CB_HANDSHAKE_DONE))
		c->tls_up = true;
}

/* The OpenSSL bufferevent for an https call: name is checked in the
 * server certificate (DNS name or IP address) and sent as SNI (not an IP
 * address: RFC 6066 3). */
static int tls_bev(struct httpc_call *c, SSL_CTX *ctx, const char *name)
{
	SSL *ssl = SSL_new(ctx);
	int ok;

	if (!ssl)
		return RC_NOMEM;
	SSL_set_app_data(ssl, c);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, on_verify);
	SSL_set_info_callback(ssl, on_tls_info);
	if (is_ip(name)) {
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
	} else {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		ok = SSL_set1_host(ssl, name) == 1 && SSL_set_tlsext_host_name(ssl, name) == 1;
	}
	if (!ok) {
		SSL_free(ssl);
		ERR_clear_error();
		return RC_INVAL;
	}
	c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!c->bev) /* ssl freed with it */
		return RC_NOMEM;
	c->ssl = ssl;
	/* an answer delimited by the end of the connection may end without
	 * close_notify; a Content-Length one is complete before that */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	return 0;
}

static int start(struct httpc_call *c, const struct evhttp_uri *u, bool https,
		 const struct httpc_opts *o, const unsigned char *body, size_t len)
{
	const char *uhost = evhttp_uri_get_host(u), *path = evhttp_uri_get_path(u);
	const char *query = evhttp_uri_get_query(u);
	int port = evhttp_uri_get_port(u), rc;
	struct evhttp_request *req = NULL;
	struct timeval tv = { o->timeout_s, 0 };
	char target[2048], host[256];
	size_t hl = uhost ? strlen(uhost) : 0;

	if (!hl || hl >= sizeof(host))
		return RC_INVAL;
	/* "[::1]" in a URL is the address ::1 */
	if (uhost[0] == '[' && uhost[hl - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(hl - 2), uhost + 1);
	else
		snprintf(host, sizeof(host), "%s", uhost);
	if (!host[0])
		return RC_INVAL;
	if (snprintf(target, sizeof(target), "%s%s%s", path && path[0] ? path : "/",
		     query ? "?" : "", query ? query : "") >= (int)sizeof(target))
		return RC_INVAL;
	if (!is_ip(host) && !(c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)))
		return RC_NOMEM;
	if (https && (rc = tls_bev(c, o->ssl_ctx, o->server_name ? o->server_name : host)) != 0)
		return rc;
	c->conn = evhttp_connection_base_bufferevent_new(c->base, c->dns, c->bev, host,
							 port > 0 ? port
							 : https  ? 443
								  : 80);
	if (!c->conn && c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->ssl = NULL;
	}
	c->deadline = evtimer_new(c->base, on_deadline, c);
	c->reap = evtimer_new(c->base, on_reap, c);
	if (!c->conn || !c->deadline || !c->reap || !(req = evhttp_request_new(on_done, c)))
		return RC_NOMEM;
	evhttp_connection_set_timeout(c->conn, o->timeout_s);
	evhttp_connection_set_retries(c->conn, 0);
	evhttp_connection_set_max_body_size(c->conn, (ev_ssize_t)o->max_reply);
	evhttp_connection_set_closecb(c->conn, on_close, c);
	evhttp_request_set_error_cb(req, on_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", uhost) != 0 ||
	    evhttp_add_header(h, "Content-Type", o->content_type) != 0 ||
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

int httpc_post(struct event_base *base, const char *url, const struct httpc_opts *o,
	       const unsigned char *body, size_t len, httpc_cb cb, void *arg,
	       struct httpc_call **out)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	struct httpc_call *c = NULL;
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	bool https = scheme && strcmp(scheme, "https") == 0;
	int rc = RC_INVAL;

	if (out)
		*out = NULL;
	if (!scheme || (!https && strcmp(scheme, "http") != 0) || (https && !o->ssl_ctx))
		goto out;
	rc = RC_NOMEM;
	if (!(c = calloc(1, sizeof(*c))))
		goto out;
	c->base = base;
	c->cb = cb;
	c->arg = arg;
	if ((rc = start(c, u, https, o, body, len)) != 0) {
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
