/*
 * core/http.h - HTTP/1.x transfer for CMP (RFC 6712 / RFC 9811) on libevent.
 *
 * Each worker owns one http_server on its event_base, accepting on a shared
 * listening socket. The server enforces what is not CMP before any parsing:
 * body size (413, by libevent while reading), then hands every complete
 * request to the dispatch callback. The dispatcher answers with exactly one
 * http_reply() call, now or later (async); the request object stays valid
 * until then even if the client disconnects (the reply is then dropped).
 *
 * Threads: everything on the owning worker's loop thread.
 */
#ifndef CMPGW_CORE_HTTP_H
#define CMPGW_CORE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

struct event_base;
struct http_server;
struct http_req;

enum http_method { HTTP_M_GET, HTTP_M_POST, HTTP_M_HEAD, HTTP_M_OTHER };

typedef void (*http_dispatch_cb)(struct http_req *req, void *arg);

/* Bind+listen (blocking, main thread). Returns the fd or a negative rc;
 * errbuf names address and errno text. */
int http_listen(const char *address, int port, char *errbuf, size_t errlen);

/* Per worker: accept on dup()s of the given listening fds. */
struct http_server *http_server_new(struct event_base *base, const int *fds, size_t nfds,
				    size_t max_body, int timeout_s, http_dispatch_cb cb, void *arg);
/* Stop accepting; open connections are closed. NULL ok. */
void http_server_free(struct http_server *srv);
/* While draining, every new request gets 503. */
void http_server_set_draining(struct http_server *srv, bool draining);
/* Requests dispatched and not yet replied to. */
int http_server_inflight(const struct http_server *srv);

enum http_method http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req);   /* decoded path, no query */
const char *http_req_peer(const struct http_req *req);   /* "addr:port" */
/* Content-Type header value, or NULL. */
const char *http_req_content_type(const struct http_req *req);
/* Body bytes (get0: owned by req). */
const unsigned char *http_req_body(const struct http_req *req, size_t *len);
/* True once the client has gone away; a reply will be dropped. */
bool http_req_cancelled(const struct http_req *req);
/* Opaque per-request slot for the dispatcher. */
void http_req_set_data(struct http_req *req, void *data);
void *http_req_get_data(const struct http_req *req);

/* Methods named in the Allow header of a 405 reply (default "POST");
 * allow must be a static string. */
void http_req_set_allow(struct http_req *req, const char *allow);

/* The one function that answers: sends status/body (copied) and frees req.
 * content_type NULL = no body type (error pages get text/plain). */
void http_reply(struct http_req *req, int status, const char *content_type,
		const unsigned char *body, size_t len);

#endif
