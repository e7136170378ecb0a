/*
 * core/httpc.h - a non-blocking HTTP/1.1 POST client on a worker's libevent
 * loop, for CMP over HTTP to an upstream (RFC 6712 / RFC 9811 3).
 *
 * One call = one new connection, one POST, one bounded reply. The
 * callback runs exactly once on the loop unless the call is cancelled
 * first (then never). Host names are resolved with evdns (non-blocking);
 * IP literals need no resolver.
 *
 * Threads: everything on the loop thread of base.
 */
#ifndef CMPGW_CORE_HTTPC_H
#define CMPGW_CORE_HTTPC_H

#include <stddef.h>

#include "core/rc.h"

struct event_base;
struct httpc_call;

/* rc: 0 with the HTTP status and body (borrowed for the callback only);
 * RC_IO (connection refused/reset, DNS), RC_TIMEOUT, RC_TOOBIG (reply
 * beyond max_reply), RC_NOMEM. */
typedef void (*httpc_cb)(void *arg, int rc, int status, const char *content_type,
			 const unsigned char *body, size_t len);

/*
 * POST body (copied) with content_type to url ("http://host[:port]/path").
 * The whole exchange is bounded by timeout_s. *out (may be NULL) gets a
 * handle for httpc_cancel(), valid until the callback has run. Returns 0,
 * RC_INVAL for a URL we cannot use, RC_NOMEM.
 */
int httpc_post(struct event_base *base, const char *url, const char *content_type,
	       const unsigned char *body, size_t len, int timeout_s, size_t max_reply, httpc_cb cb,
	       void *arg, struct httpc_call **out) WUR;

/* Abort a call that has not completed; its callback is not called. */
void httpc_cancel(struct httpc_call *c);

#endif
