/*
 * core/httpc.h - a non-blocking HTTP/1.1 POST client on a worker's libevent
 * loop, for CMP over HTTP or HTTPS to an upstream (RFC 6712 / RFC 9811 3).
 *
 * One call = one new connection, one POST, one bounded reply. The
 * callback runs exactly once on the loop unless the call is cancelled
 * first (then never). Host names are resolved with evdns (non-blocking);
 * IP literals need no resolver.
 *
 * HTTPS (an "https://" url): the caller's SSL_CTX (core/tls.c: the
 * upstream's anchors only, TLS 1.2+) verifies the server; the name
 * checked in its certificate, and sent as SNI unless it is an IP address,
 * is opts->server_name or else the URL's host (an IP literal is checked
 * against the certificate's IP addresses).
 *
 * Threads: everything on the loop thread of base.
 */
#ifndef CMPGW_CORE_HTTPC_H
#define CMPGW_CORE_HTTPC_H

#include <stddef.h>

#include "core/rc.h"

struct event_base;
struct httpc_call;

/* Why a call failed; each has its rc (struct httpc_result). */
enum httpc_fail {
	HTTPC_OK = 0,
	HTTPC_CONNECT,	  /* RC_IO: DNS, refused, reset, unreachable */
	HTTPC_TLS,	  /* RC_CRYPTO: the TLS handshake failed (version, alert...) */
	HTTPC_TLS_VERIFY, /* RC_CRYPTO: the server certificate did not verify */
	HTTPC_TIMEOUT,	  /* RC_TIMEOUT: the exchange took longer than timeout_s */
	HTTPC_HTTP,	  /* RC_IO: closed or not HTTP after connecting */
	HTTPC_TOOBIG,	  /* RC_TOOBIG: reply beyond max_reply */
	HTTPC_NOMEM,	  /* RC_NOMEM */
};

/* A short name of f for logs and metrics labels: "ok", "connect", "tls",
 * "tls_verify", "timeout", "http", "too_big", "nomem". */
const char *httpc_fail_name(enum httpc_fail f);

/* What a call came to. why: fail's reason in words for the log
 * ("cannot connect: Connection refused", "TLS: certificate verify failed:
 * hostname mismatch"), "" when rc is 0. */
struct httpc_result {
	int rc; /* 0, or the rc of fail */
	enum httpc_fail fail;
	const char *why;
	int status;		   /* rc 0: the HTTP status */
	const char *content_type;  /* rc 0: Content-Type, or NULL */
	const unsigned char *body; /* rc 0: the body, len bytes */
	size_t len;
};

/* res and everything it points to are borrowed for the callback only. */
typedef void (*httpc_cb)(void *arg, const struct httpc_result *res);

struct httpc_opts {
	const char *content_type;
	int timeout_s;		 /* the whole exchange: connect, TLS, request, reply */
	size_t max_reply;	 /* reply body bound */
	void *ssl_ctx;		 /* SSL_CTX * for an https:// url (required then) */
	const char *server_name; /* https: name checked and sent as SNI; NULL: the URL's host */
};

/*
 * POST body (copied) to url ("http[s]://host[:port]/path") as o says.
 * *out (may be NULL) gets a handle for httpc_cancel(), valid until the
 * callback has run. Returns 0, RC_INVAL for a URL we cannot use (or https
 * without o->ssl_ctx), RC_NOMEM.
 */
int httpc_post(struct event_base *base, const char *url, const struct httpc_opts *o,
	       const unsigned char *body, size_t len, httpc_cb cb, void *arg,
	       struct httpc_call **out) WUR;

/* Abort a call that has not completed; its callback is not called. */
void httpc_cancel(struct httpc_call *c);

#endif
