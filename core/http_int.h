/*
 * core/http_int.h - what core/http.c (servers, requests, answers),
 * core/http_conn.c (connections: accounting, limits, TLS, the client-gone
 * watch) and core/http_stream.c (streamed request bodies: a request taken
 * over from evhttp at its request line) share. Internal to those files.
 *
 * Request lifetime (one owner at a time, freed once):
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
 * (http_conn_new_bev, the only per-connection hook evhttp 2.1 offers before
 * a request is complete) until its close callback (on_conn_close, which
 * libevent calls exactly once for a server connection, from
 * evhttp_connection_free or _reset). The evhttp_connection is not known
 * yet then: http_conn_adopt, run from the same loop pass right after the
 * accept callback, reads it from the bufferevent's callback argument
 * (libevent's own evcon) and applies the connection cap. A counting
 * callback on the bufferevent's input buffer sees every byte read (on a
 * TLS connection: every decrypted byte): it starts the read deadline at a
 * request's first byte and charges bytes to the worker's partial-request
 * budget until the request is complete (on_request). Phases: IDLE
 * (between requests), READING, DISPATCHED (with the dispatcher, then
 * being written; http_conn_sent makes it IDLE). A TLS connection is
 * READING from its accept: the handshake and its first request share the
 * read deadline.
 *
 * Listeners (issue 13): one evhttp per listening socket (struct http_lsn),
 * since evhttp's bufferevent callback does not know which socket accepted;
 * a TLS listener's connections get an OpenSSL bufferevent made with the
 * SSL_CTX the listener holds at that moment (a reload swaps it for new
 * connections; open ones keep theirs: SSL_new holds a reference).
 */
#ifndef CMPGW_CORE_HTTP_INT_H
#define CMPGW_CORE_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "core/http.h"

#define ACCEPT_PAUSE_MS 250	   /* accept() failed (EMFILE...): retry after */
#define RATELOG_S	10	   /* repeated events: one log line per interval */
#define TICK_S		2	   /* housekeeping: returning memory after a peak */
#define TRIM_MIN_CONNS	64	   /* a peak worth trimming after: connections */
#define TRIM_MIN_BYTES	(4u << 20) /* ... or bytes of partial requests */
#define TLS_LOG_BURST	20	   /* handshake failures logged per RATELOG_S */

enum conn_phase { C_IDLE, C_READING, C_DISPATCHED };

struct ratelog {
	bool used;
	time_t last;	/* start of the interval */
	unsigned lines; /* lines logged in it */
	unsigned n;	/* events not logged since the last line */
};

/* One listening socket of a server. */
struct http_lsn {
	struct http_server *srv;
	struct evhttp *http;
	struct evconnlistener *lev;
	size_t index; /* cfg->listen[index] */
	SSL_CTX *ctx; /* TLS: what new connections use (a reference); NULL: plain */
	/* listen[index] as at start: a reloaded snapshot's TLS context is
	 * taken only while its listener is the same one */
	char *address;
	int port;
};

struct http_conn {
	struct http_server *srv;
	struct http_lsn *lsn;
	struct http_conn *prev, *next;	 /* srv->conns, or srv->fresh */
	struct bufferevent *bev;	 /* libevent's; our ref while fresh */
	struct evhttp_connection *evcon; /* NULL while fresh */
	struct evbuffer_cb_entry *incb;	 /* on_input on bev's input */
	struct event *timer;		 /* read deadline or a refusal */
	struct http_req *req;		 /* with the dispatcher, or NULL */
	SSL *ssl;			 /* TLS: bev's (borrowed); NULL: plain */
	evutil_socket_t fd;
	enum conn_phase phase;
	bool fresh;
	/* its last answer leaves the client's transaction open (a certConf
	 * or pollReq is to follow): a draining server still serves it */
	bool awaiting;
	int refuse; /* status the timer answers with (0: deadline, 408) */
	/* streamed mode (core/http_stream.c): the request line of the
	 * request being read was looked at; the stream that took it over */
	bool looked;
	struct http_stream *st;
	size_t held; /* bytes read of the request being read */
};

struct http_server {
	struct event_base *base;
	http_dispatch_cb cb;
	void *arg;
	bool ops; /* the operations listener: fixed limits, never TLS */
	bool draining;
	int inflight;
	int awaiting;		      /* connections with awaiting set */
	struct http_req *live;	      /* dispatched, not yet replied to */
	struct http_req *dispatching; /* inside cb; NULL once it replied */
	struct http_counters *ctr;    /* published counts, or NULL */

	/* limits (http_server_set_limits) */
	int read_deadline_s;
	int max_conns;
	size_t max_body_mem;

	struct http_conn *conns;  /* adopted connections */
	struct http_conn *fresh;  /* accepted, waiting for adoption */
	struct http_conn **by_fd; /* conns by descriptor, for on_request */
	size_t by_fd_cap;
	int nconns;  /* fresh + adopted */
	size_t held; /* bytes of partial requests, all connections */
	int peak_conns;
	size_t peak_held;

	struct http_lsn *lsn;
	size_t nlsn;
	bool paused;		 /* listeners disabled after an accept error */
	bool stopped;		 /* listeners disabled for good (http_server_stop_accepting) */
	struct metrics *metrics; /* refusals counted here, or NULL */
	struct event *adopt_ev, *resume_ev, *tick_ev;
	struct ratelog log_accept, log_cap, log_mem, log_deadline, log_tls;
	http_stream_match_cb stream_match; /* NULL: nothing is streamed */
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
	const char *allow;	    /* Allow header of a 405, static string */
	const char *hname, *hvalue; /* http_req_set_header, static strings */
	void *data;
	/* streamed mode: ev and evcon stay NULL; the transport parsed the
	 * header (owned by req); st is NULL once the connection is gone */
	bool streamed;
	/* http_reply_start: a chunked answer is being sent */
	bool chunking;
	http_sent_cb sent;
	void *sent_arg;
	struct event *gone_ev; /* runs sent once the client is gone */
	enum http_method smethod;
	struct evkeyvalq *shdrs;
	char *squery;
	struct http_stream *st;
};

/* ---- core/http_conn.c ---- */

/* At most burst lines per interval_s for a repeated event; *more gets how
 * many were not logged since the last line. */
bool http_ratelog_due(struct ratelog *rl, int interval_s, unsigned burst, unsigned *more);
/* Store the server's counts where other threads read them (srv->ctr). */
void http_publish(struct http_server *srv);
/* evhttp's bufferevent callback (arg: the struct http_lsn). */
struct bufferevent *http_conn_new_bev(struct event_base *base, void *arg);
/* srv->adopt_ev: the connections accepted in this loop pass. */
void http_conn_adopt(evutil_socket_t fd, short what, void *arg);
/* Forget c (counts, budget, index); libevent's objects stay libevent's. */
void http_conn_free(struct http_conn *c);
/* The connection of a complete request, or NULL (not ours: out of memory
 * when it was accepted). */
struct http_conn *http_conn_of(struct http_server *srv, struct evhttp_connection *evcon);
/* The request read on c is complete: the dispatcher's now. */
void http_conn_dispatched(struct http_conn *c);
/* The answer on c is written (evhttp's on-complete callback, arg c). */
void http_conn_sent(struct evhttp_request *ev, void *arg);
void http_conn_set_awaiting(struct http_conn *c, bool awaiting);
/* ---- core/http.c, for core/http_stream.c ---- */

/* The decoded path of an origin-form target ("/a%2Fb?q" -> "/a/b"), or
 * NULL (out of memory); *len: bytes decoded (a %00 makes it differ from
 * strlen). http_path_squeeze: runs of '/' as one. */
char *http_path_decode(const char *target, size_t *len);
void http_path_squeeze(char *p);
/* Hand r (its connection c, already http_conn_dispatched) to the
 * dispatcher, as on_request does for evhttp's requests; plen as above. */
void http_req_dispatch(struct http_server *srv, struct http_req *r, size_t plen);
const char *http_status_text(int status);

/* ---- core/http_stream.c ---- */

/* From on_input while c reads a request on a server with a stream
 * match: take the request over when its line is complete and matches. */
void http_stream_look(struct http_conn *c);
/* c is being closed (on_conn_close): the stream goes with it; a body
 * still being read ends with RC_CANCELLED for its consumer. */
void http_stream_conn_closed(struct http_conn *c);
/* Send out (status line, header and body: moved from out) on r's stream
 * and close once written; r is forgotten. */
void http_stream_send(struct http_req *r, struct evbuffer *out);

/* Watch r's connection for the client going away while r is with the
 * dispatcher; unwatch stops it. */
void http_req_watch(struct http_req *r);
void http_req_unwatch(struct http_req *r);

#endif
