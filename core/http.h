/*
 * core/http.h - HTTP/1.x transfer for CMP (RFC 6712 / RFC 9811) on libevent.
 *
 * Each worker owns one http_server on its event_base, accepting on a shared
 * listening socket. The server enforces what is not CMP before any parsing:
 * body size (413, by libevent while reading), then hands every complete
 * request to the dispatch callback. The path is percent-decoded, with runs
 * of '/' squeezed to one ("//.well-known//cmp" is "/.well-known/cmp"); a
 * path that decodes to a NUL byte gets 400 before dispatch.
 *
 * Lifetime: the dispatcher owns the request from the callback until it
 * answers with exactly one http_reply() call, now or later (async), on
 * every path. The request object stays valid until then whatever the
 * client does: if the client disconnects first (EOF or RST, seen while the
 * request waits, or when the server shuts down), http_req_cancelled()
 * turns true, the connection is closed at once, and http_reply() only
 * frees the request. Async code checks http_req_cancelled() where it
 * resumes, before spending work (a signature, a forward) on it.
 *
 * Limits per worker (issue 11; docs/OPERATIONS.md): at most
 * http.max_connections open connections (a connection above it gets a 503
 * and is closed at once); at most http.max_body_memory bytes held by
 * requests still being read, all connections together (the connection
 * whose bytes go above it gets a 503 and is closed); a request's header
 * and body must arrive within http.read_deadline_s of its first byte
 * (else 408 and closed; idle time between requests is http.timeout_s).
 * An accept() that fails for want of descriptors or memory pauses
 * accepting on the worker for 250 ms (open connections are served) and is
 * logged at most once per 10 s. After a peak of connections or partial
 * requests, once the load is down to a quarter of it, freed memory is
 * handed back to the system (glibc malloc_trim).
 *
 * TLS (issue 13; docs/TLS.md): a listener whose cfg->listen[i].tls.ctx is
 * set speaks HTTPS. The TLS handshake counts against the connection's
 * first read deadline (a client that never finishes it, or trickles it, is
 * cut at http.read_deadline_s); max_connections and max_body_memory hold
 * as on plain HTTP (bytes counted after decryption), but a TLS connection
 * refused by them, by the deadline or by draining is closed without an
 * HTTP answer. A failed handshake is logged with OpenSSL's reason (info,
 * at most 20 lines per 10 s and worker, then counted; a client that just
 * closes, at debug). The client-gone watch reads TLS records through OpenSSL, never
 * around it. New connections use the context of the snapshot applied
 * last (http_server_set_limits), so a reload rotates the certificate;
 * open ones keep theirs.
 *
 * The operations listener (http_server_new_ops): plain HTTP, fixed small
 * limits (HTTP_OPS_*), never draining, its own connection cap.
 *
 * Threads: everything on the owning worker's loop thread, except struct
 * http_counters, which other threads read.
 */
#ifndef CMPGW_CORE_HTTP_H
#define CMPGW_CORE_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "core/rc.h"

struct cfg;
struct event_base;
struct http_server;
struct http_req;

enum http_method {
	HTTP_M_GET,
	HTTP_M_POST,
	HTTP_M_HEAD,
	HTTP_M_PUT,
	HTTP_M_DELETE,
	HTTP_M_PATCH,
	HTTP_M_OTHER
};

typedef void (*http_dispatch_cb)(struct http_req *req, void *arg);

/* Per worker: accept on dup()s of the given listening fds (fds[i] is
 * cfg->listen[i]), with the http.* limits of cfg (values copied; cfg is
 * not kept) and, for a TLS listener, a reference to its SSL_CTX. */
struct http_server *http_server_new(struct event_base *base, const int *fds, size_t nfds,
				    const struct cfg *cfg, http_dispatch_cb cb, void *arg);
/* The operations listener of a worker, on a dup() of fd: plain HTTP, at
 * most HTTP_OPS_MAX_CONNS connections, bodies up to HTTP_OPS_MAX_BODY,
 * HTTP_OPS_TIMEOUT_S to read a request and between requests. Never
 * draining; http_server_set_limits leaves it alone. */
#define HTTP_OPS_MAX_CONNS 16
#define HTTP_OPS_MAX_BODY  4096
#define HTTP_OPS_TIMEOUT_S 10
struct http_server *http_server_new_ops(struct event_base *base, int fd, http_dispatch_cb cb,
					void *arg);
/* The admin API listener of a worker (issue 14), on a dup() of fd: TLS
 * with ssl_ctx (an SSL_CTX *, gets a reference; required), at most
 * HTTP_ADMIN_MAX_CONNS connections, bodies up to HTTP_ADMIN_MAX_BODY,
 * HTTP_ADMIN_TIMEOUT_S to read a request and between requests. Fixed
 * limits (http_server_set_limits leaves it alone), its context kept
 * until a restart. */
#define HTTP_ADMIN_MAX_CONNS 64
#define HTTP_ADMIN_MAX_BODY  (1024 * 1024)
#define HTTP_ADMIN_TIMEOUT_S 30
struct http_server *http_server_new_admin(struct event_base *base, int fd, void *ssl_ctx,
					  http_dispatch_cb cb, void *arg);
/* Apply cfg's http.* limits (max_body, timeout_s, read_deadline_s,
 * max_connections, max_body_memory) to new reads from now on, e.g. after a
 * reload. Connections above a lowered cap are not closed. A TLS listener
 * takes cfg's context for its new connections while cfg->listen[i] is
 * the listener it was started with (address, port, TLS on); else it keeps
 * its own (a changed listen needs a restart). */
void http_server_set_limits(struct http_server *srv, const struct cfg *cfg);
/* Stop accepting; open connections are closed. Requests still held by the
 * dispatcher become cancelled and still need their http_reply(). NULL ok. */
void http_server_free(struct http_server *srv);
/* Stop accepting new connections for good (a worker about to leave its
 * loop: a connection it accepted now would never be served). Open
 * connections are not touched. NULL ok. */
void http_server_stop_accepting(struct http_server *srv);
/* Count the refusals srv answers itself (408, 503, 400) in m
 * (metrics_http_refused); NULL: none. */
struct metrics;
void http_server_set_metrics(struct http_server *srv, struct metrics *m);
/* While draining, every new request gets 503. */
void http_server_set_draining(struct http_server *srv, bool draining);
/* Requests dispatched and not yet replied to, plus connections whose last
 * answer left a transaction open (http_req_set_continues). */
int http_server_inflight(const struct http_server *srv);

/* Counts a server stores (relaxed atomics) as they change, for readers on
 * other threads (core/server.h server_stats): open connections (accepted,
 * not yet closed), requests dispatched and not yet answered, connections
 * awaiting a transaction's next request. */
struct http_counters {
	atomic_int connections;
	atomic_int inflight;
	atomic_int awaiting;
};
/* From now on srv keeps *ctr up to date (ctr outlives srv). */
void http_server_set_counters(struct http_server *srv, struct http_counters *ctr);

enum http_method http_req_method(const struct http_req *req);
const char *http_req_path(const struct http_req *req); /* decoded path, no query */
const char *http_req_peer(const struct http_req *req); /* "addr:port" */
/* Content-Type header value, or NULL. */
const char *http_req_content_type(const struct http_req *req);
/* A request header's value (first of that name, case-insensitive), or
 * NULL; borrowed until http_reply. */
const char *http_req_header(const struct http_req *req, const char *name);
/* The raw (still percent-encoded) query string after '?', or NULL. */
const char *http_req_query(const struct http_req *req);
/* One extra header of the reply (e.g. WWW-Authenticate); name and value
 * must be static strings. */
void http_req_set_header(struct http_req *req, const char *name, const char *value);
/* Body bytes (get0: owned by req). */
const unsigned char *http_req_body(const struct http_req *req, size_t *len);
/* True once the client has gone away (EOF or connection reset while the
 * request was with the dispatcher, or server shutdown); the reply will be
 * dropped. Pipelining clients: a disconnect after a pipelined next request
 * shows only when the answer is written (libevent then cleans up). */
bool http_req_cancelled(const struct http_req *req);
/* Whether req came over TLS. */
bool http_req_tls(const struct http_req *req);
/* The client certificate of req's TLS connection, verified against the
 * listener's client_ca during the handshake (client_auth optional or
 * require), or NULL (none sent, plain HTTP, or the connection is gone).
 * Borrowed: valid until http_reply(req). */
X509 *http_req_get0_peer_cert(const struct http_req *req);
/* Opaque per-request slot for the dispatcher. */
void http_req_set_data(struct http_req *req, void *data);
void *http_req_get_data(const struct http_req *req);

/* The answer about to be sent leaves the client's transaction open (CMP: a
 * certificate awaiting certConf, or "waiting" awaiting pollReq). While the
 * server drains, such a connection stays open and its next request is
 * still served (others get 503), and it counts in http_server_inflight
 * until that request is answered or the connection closes, so a stop
 * waits for it within the drain time. */
void http_req_set_continues(struct http_req *req);

/* Methods named in the Allow header of a 405 reply (default "POST");
 * allow must be a static string. */
void http_req_set_allow(struct http_req *req, const char *allow);

/* The one function that answers: sends status/body (copied) and frees req;
 * on a cancelled request it frees req and sends nothing. A status other
 * than 200 without a body gets a short text/plain one ("405 Method Not
 * Allowed"); 405 carries Allow. The connection stays open for the next
 * request (keep-alive as the client asked), except while draining.
 * content_type NULL = no body type. */
/*
 * Streamed request bodies (issue 14: serial lists of up to 10,000,000
 * lines through the admin API; evhttp 2.1 buffers a whole body before it
 * dispatches and has no server-side streaming hook).
 *
 * A server with a stream match (http_server_set_stream_match; the admin
 * listener) looks at each request line as it arrives, before evhttp reads
 * it: a POST or PUT whose decoded path fn accepts is taken over by the
 * transport. It reads the header itself (at most 16 KiB and 100 fields,
 * within the listener's read deadline, as evhttp would; an error is a
 * short 400 and close) and dispatches the request to the normal dispatch
 * callback BEFORE reading any body byte: http_req_method, _path, _query,
 * _header, _content_type, _peer, _get0_peer_cert and _cancelled work as
 * usual; http_req_body gives nothing (len 0). The dispatcher then either
 * answers at once (e.g. 401: no body byte is read; a client that sent
 * "Expect: 100-continue" sends none) or pulls the body with
 * http_req_stream. A pipelined request behind another one on the same
 * connection is never streamed (evhttp reads it, bodies up to its cap).
 *
 * The body (Content-Length, or chunked transfer coding with its trailer
 * read and dropped) goes to cb in pieces as it arrives, at most
 * HTTP_STREAM_BUF bytes held per request (so HTTP_ADMIN_MAX_CONNS streams
 * hold no more than the listener's budget for partial requests; a
 * header being read still counts in that budget and its read deadline):
 * cb returns how many bytes of the
 * piece it took; fewer than offered pauses the stream (the socket is not
 * read any more: TCP backpressure to the client) until
 * http_req_stream_resume. Then cb gets exactly one final event:
 * HTTP_STREAM_END (the whole body was delivered), or a negative code:
 * RC_TOOBIG (the body goes past max_bytes), RC_DECODE (bad chunked
 * framing), RC_TIMEOUT (no byte for the listener's read deadline while
 * the stream was not paused), RC_CANCELLED (the client closed or reset
 * the connection, cutting the body short, or the server is shutting
 * down: the request is cancelled). cb runs on the loop thread, never from
 * inside http_req_stream or _resume; after the final event, or once
 * req is answered, it is never called again.
 *
 * http_reply on a streamed request writes the answer itself with
 * "Connection: close" and closes the connection once it is sent; a body
 * still arriving is read and dropped for up to HTTP_STREAM_LINGER_S
 * first, so that the close does not reset the connection under the
 * answer. A client that goes away while the request is with the
 * dispatcher is seen at once (http_req_cancelled), body phase or not.
 */
#define HTTP_STREAM_BUF	     (64 * 1024)
#define HTTP_STREAM_LINGER_S 2
#define HTTP_STREAM_DATA     0
#define HTTP_STREAM_END	     1
/* Which requests of srv are streamed (path: decoded, '/' runs squeezed). */
typedef bool (*http_stream_match_cb)(enum http_method m, const char *path);
void http_server_set_stream_match(struct http_server *srv, http_stream_match_cb fn);
/* Whether req was dispatched in streamed mode. */
bool http_req_streamed(const struct http_req *req);
typedef size_t (*http_stream_cb)(struct http_req *req, int event, const unsigned char *data,
				 size_t len, void *arg);
/* Start reading req's body into cb (see above); an "Expect: 100-continue"
 * gets its interim answer now. Returns 0; RC_TOOBIG when the declared
 * Content-Length is above max_bytes (nothing read: answer 413); RC_INVAL
 * (not a streamed request, or its stream already started); RC_CANCELLED
 * (the client is gone). */
int http_req_stream(struct http_req *req, unsigned long long max_bytes, http_stream_cb cb,
		    void *arg) WUR;
/* The consumer caught up: offer the rest (from a later loop pass). */
void http_req_stream_resume(struct http_req *req);

/*
 * Chunked answers (large exports: the answer is produced as it is sent,
 * never held whole). http_reply_start sends the status line and header
 * (Transfer-Encoding: chunked; an HTTP/1.0 client gets the body up to
 * the close); each http_reply_chunk queues one piece (copied) and, when
 * sent is given, calls sent(req, arg) once that piece and all before it
 * are handed to the kernel: produce the next piece from there, so that
 * at most one piece waits per request (backpressure). http_reply_end
 * ends the answer and frees req (it replaces http_reply; exactly one of
 * the two per request). A piece must not be empty (RC_INVAL: evhttp
 * would drop it and never report it sent). A client that goes away
 * meanwhile: a pending sent is still called, from a later loop pass,
 * with http_req_cancelled(req) true; _chunk returns RC_CANCELLED; _end
 * only frees req (and drops a sent not yet called). Not for streamed
 * requests (RC_INVAL). Loop thread only.
 */
typedef void (*http_sent_cb)(struct http_req *req, void *arg);
int http_reply_start(struct http_req *req, int status, const char *content_type) WUR;
int http_reply_chunk(struct http_req *req, const unsigned char *data, size_t len, http_sent_cb sent,
		     void *arg) WUR;
void http_reply_end(struct http_req *req);

/* Status for http_reply() on a request the caller found cancelled and has
 * logged as dropped itself (nginx's "client closed request"). */
#define HTTP_DROPPED 499

void http_reply(struct http_req *req, int status, const char *content_type,
		const unsigned char *body, size_t len);

#endif
