/*
 * core/http_stream.c - streamed request bodies (core/http.h "Streamed
 * request bodies"; core/http_int.h for the connection it works on).
 *
 * evhttp 2.1 reads a whole request, body included, before it calls us.
 * For a request the server's stream match accepts, the transport takes
 * the connection's bufferevent over from evhttp (its read, write and
 * event callbacks) as soon as the request line is complete, before
 * evhttp's read callback has parsed anything: the counting callback on
 * the input buffer (on_input) runs inside the bufferevent's read, and the
 * bufferevent calls the read callback after it. evhttp keeps owning the
 * connection object and the bufferevent: we close with
 * evhttp_connection_free, which runs on_conn_close as for any connection.
 *
 * Phases of a stream: HEAD (reading the header; the connection's read
 * deadline and partial-request budget apply), WAIT (dispatched; the body
 * is not read: at most HTTP_STREAM_BUF bytes wait in the input buffer,
 * the bufferevent's read watermark stops reading the socket above it),
 * BODY (http_req_stream: pieces to the consumer), DONE (the body is read;
 * more bytes are dropped), CLOSING (the answer is being written, then
 * the connection is closed). A read of EOF or an error in WAIT, BODY or
 * DONE means the client is gone: the connection closes at once and the
 * request is cancelled.
 */
#include "core/http_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/bufferevent_struct.h>
#include <event2/keyvalq_struct.h>

#include "core/log.h"
#include "core/metrics.h"

#define HEAD_MAX	16384 /* bytes of a request header, as evhttp's max_headers_size */
#define HEAD_FIELDS_MAX 100
#define LINE_MAX_BYTES	8192 /* the request line */
#define CHUNK_LINE_MAX	1024 /* a chunk-size line with its extensions */
#define LINGER_MAX	(4u << 20)

enum st_phase { SP_HEAD, SP_WAIT, SP_BODY, SP_DONE, SP_CLOSING };
enum st_body { SB_LEN, SB_CSIZE, SB_CDATA, SB_CCRLF, SB_TRAILER };

struct http_stream {
	struct http_conn *c;
	struct http_req *r; /* dispatched and not answered yet, or NULL */
	enum st_phase phase;
	enum st_body body;
	enum http_method m;
	bool http11, chunked, paused, expect100, complete;
	/* the request until it is dispatched (then req's) */
	char *path, *query;
	size_t plen;
	struct evkeyvalq *hdrs;
	size_t head_bytes, fields, lines;
	uint64_t left;	/* Content-Length or chunk bytes still to come */
	uint64_t total; /* body bytes delivered */
	uint64_t max;
	size_t lingered;
	http_stream_cb cb;
	void *arg;
	struct event *timer; /* BODY: no progress; CLOSING: the end of lingering */
	struct event *kick;  /* BODY: pump from a fresh loop pass */
};

static void st_close(struct http_stream *st)
{
	/* on_conn_close -> http_stream_conn_closed frees st */
	evhttp_connection_free(st->c->evcon);
}

static int deadline_s(const struct http_stream *st)
{
	return st->c->srv->read_deadline_s > 0 ? st->c->srv->read_deadline_s : 30;
}

/* A request refused before dispatch (bad header): a short answer, then
 * close. */
static void st_refuse(struct http_stream *st, int status, const char *why)
{
	struct evbuffer *out = evbuffer_new();
	char peer[80];
	struct log_ctx ctx = { .peer = peer };
	char *host = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(st->c->evcon, &host, &port);
	snprintf(peer, sizeof(peer), "%s:%u", host ? host : "?", port);
	log_info(&ctx, "streamed request refused (%d): %s", status, why);
	metrics_http_refused(st->c->srv->metrics, status);
	if (out)
		evbuffer_add_printf(out,
				    "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
				    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
				    status, http_status_text(status), strlen(why) + 1, why);
	/* no request to forget: send directly. The header's deadline and
	 * budget end here (the raw 408 of the deadline must not cut into
	 * this answer); the linger bounds what is still read. */
	http_conn_dispatched(st->c);
	st->phase = SP_CLOSING;
	if (!out || bufferevent_write_buffer(st->c->bev, out) != 0) {
		if (out)
			evbuffer_free(out);
		event_active(st->timer, EV_TIMEOUT, 1);
		return;
	}
	evbuffer_free(out);
	bufferevent_enable(st->c->bev, EV_WRITE);
}

/* ---- the header ---- */

static void trim(char **b, char *e)
{
	while (**b == ' ' || **b == '\t')
		(*b)++;
	while (e > *b && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
}

/* One header field line (not the request line, not empty). 0 or -1. */
static int st_field(struct http_stream *st, char *line, size_t n)
{
	char *colon = strchr(line, ':'), *v;

	if (line[0] == ' ' || line[0] == '\t' || !colon || colon == line ||
	    strcspn(line, " \t") < (size_t)(colon - line) || ++st->fields > HEAD_FIELDS_MAX)
		return -1; /* obs-fold (RFC 9112 5.2), no name, space in the name */
	*colon = '\0';
	v = colon + 1;
	trim(&v, line + n);
	return evhttp_add_header(st->hdrs, line, v);
}

static bool digits_only(const char *s)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void st_dispatch(struct http_stream *st);

/* How many fields named name the header has. */
static int field_count(const struct evkeyvalq *h, const char *name)
{
	const struct evkeyval *kv;
	int n = 0;

	TAILQ_FOREACH(kv, h, next)
	n += strcasecmp(kv->key, name) == 0;
	return n;
}

/* HEAD: read the header lines (the request line was parsed by
 * http_stream_look and is skipped). */
static void st_head(struct http_stream *st)
{
	struct evbuffer *in = bufferevent_get_input(st->c->bev);
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
		st->head_bytes += n + 2;
		if (st->head_bytes > HEAD_MAX) {
			free(line);
			st_refuse(st, 431, "the request header is larger than 16384 bytes");
			return;
		}
		if (st->lines++ == 0) {
			free(line);
			continue;
		}
		if (n == 0) {
			free(line);
			st_dispatch(st);
			return;
		}
		if (memchr(line, '\0', n) || st_field(st, line, n) != 0) {
			free(line);
			st_refuse(st, 400, "a header field does not parse");
			return;
		}
		free(line);
	}
	if (st->head_bytes + evbuffer_get_length(in) > HEAD_MAX)
		st_refuse(st, 431, "the request header is larger than 16384 bytes");
}

/* The header is complete: the framing of the body, then the dispatcher. */
static void st_dispatch(struct http_stream *st)
{
	struct http_conn *c = st->c;
	const char *te = evhttp_find_header(st->hdrs, "Transfer-Encoding");
	const char *cl = evhttp_find_header(st->hdrs, "Content-Length");
	const char *ex = evhttp_find_header(st->hdrs, "Expect");
	struct http_req *r;
	char *host = NULL;
	ev_uint16_t port = 0;

	/* RFC 9112 6.1-6.3: chunked is the only coding we take; both
	 * framings at once is a smuggling attempt */
	if (field_count(st->hdrs, "Transfer-Encoding") > 1 ||
	    field_count(st->hdrs, "Content-Length") > 1) {
		st_refuse(st, 400, "Transfer-Encoding or Content-Length given twice");
		return;
	}
	if (te && (cl || !st->http11 || strcasecmp(te, "chunked") != 0)) {
		st_refuse(st, 400, "Transfer-Encoding must be chunked alone (HTTP/1.1)");
		return;
	}
	if (cl && !digits_only(cl)) {
		st_refuse(st, 400, "Content-Length is not a decimal number");
		return;
	}
	st->chunked = te != NULL;
	st->left = cl ? strtoull(cl, NULL, 10) : 0;
	st->expect100 = ex && st->http11 && strcasecmp(ex, "100-continue") == 0;
	if (!(r = calloc(1, sizeof(*r)))) {
		st_refuse(st, 503, "out of memory");
		return;
	}
	r->streamed = true;
	r->smethod = st->m;
	r->path = st->path;
	r->shdrs = st->hdrs;
	r->squery = st->query;
	st->path = st->query = NULL;
	st->hdrs = NULL;
	evhttp_connection_get_peer(c->evcon, &host, &port);
	snprintf(r->peer, sizeof(r->peer), "%s:%u", host ? host : "?", port);
	r->conn = c;
	r->st = st;
	st->r = r;
	c->req = r;
	st->phase = SP_WAIT;
	http_conn_dispatched(c); /* its header deadline and budget end here */
	http_req_dispatch(c->srv, r, st->plen);
}

/* ---- the body ---- */

static void st_arm(struct http_stream *st)
{
	struct timeval tv = { deadline_s(st), 0 };

	if (st->phase == SP_BODY && !st->paused)
		event_add(st->timer, &tv);
	else if (st->phase != SP_CLOSING)
		event_del(st->timer);
}

/* The one final event of a body. */
static void st_final(struct http_stream *st, int event)
{
	struct http_req *r = st->r;

	st->phase = SP_DONE;
	st->complete = event == HTTP_STREAM_END;
	event_del(st->timer);
	if (r && st->cb)
		st->cb(r, event, NULL, 0, st->arg);
}

/* A chunk-size line: hex digits, then nothing, extensions (';') or
 * spaces. UINT64_MAX: not one. */
static uint64_t chunk_size(const char *line)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; line[i]; i++) {
		int d = line[i] >= '0' && line[i] <= '9'   ? line[i] - '0'
			: line[i] >= 'a' && line[i] <= 'f' ? line[i] - 'a' + 10
			: line[i] >= 'A' && line[i] <= 'F' ? line[i] - 'A' + 10
							   : -1;
		if (d < 0)
			break;
		if (i >= 15)
			return UINT64_MAX;
		v = v * 16 + (uint64_t)d;
	}
	if (i == 0 || (line[i] && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
		return UINT64_MAX;
	return v;
}

/* The body's bytes in st's input to the consumer, as far as it takes
 * them. Returns when the input is used up, the consumer is behind, or the
 * body ended. */
static void st_pump(struct http_stream *st)
{
	struct evbuffer *in = bufferevent_get_input(st->c->bev);
	char *line;
	size_t n;

	while (st->phase == SP_BODY && !st->paused && st->r) {
		if (st->body == SB_LEN || st->body == SB_CDATA) {
			size_t took;
			unsigned char *d;
			if (st->left == 0) {
				if (st->body == SB_LEN) {
					st_final(st, HTTP_STREAM_END);
					return;
				}
				st->body = SB_CCRLF;
				continue;
			}
			n = evbuffer_get_contiguous_space(in);
			if (n == 0)
				return;
			if (n > st->left)
				n = (size_t)st->left;
			d = evbuffer_pullup(in, (ev_ssize_t)n);
			took = st->cb(st->r, HTTP_STREAM_DATA, d, n, st->arg);
			if (st->phase != SP_BODY)
				return; /* answered from the callback */
			if (took > n)
				took = n;
			evbuffer_drain(in, took);
			st->left -= took;
			st->total += took;
			if (took < n) {
				st->paused = true;
				st_arm(st);
				return;
			}
			continue;
		}
		line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
		if (!line) {
			if (evbuffer_get_length(in) >
			    (st->body == SB_TRAILER ? HEAD_MAX - st->head_bytes : CHUNK_LINE_MAX))
				st_final(st, RC_DECODE);
			return;
		}
		if (st->body == SB_CSIZE) {
			uint64_t size = chunk_size(line);
			if (size == UINT64_MAX) {
				st_final(st, RC_DECODE);
			} else if (size == 0) {
				st->body = SB_TRAILER;
				st->head_bytes = 0;
			} else if (st->total + size > st->max) {
				st_final(st, RC_TOOBIG);
			} else {
				st->left = size;
				st->body = SB_CDATA;
			}
		} else if (st->body == SB_CCRLF) {
			if (n != 0)
				st_final(st, RC_DECODE);
			else
				st->body = SB_CSIZE;
		} else { /* trailer fields: read and dropped (RFC 9112 7.1.2) */
			st->head_bytes += n + 2;
			if (n == 0)
				st_final(st, HTTP_STREAM_END);
			else if (st->head_bytes > HEAD_MAX)
				st_final(st, RC_DECODE);
		}
		free(line);
	}
}

/* libevent 2.1's OpenSSL bufferevent stops reading at the read
 * watermark with records already inside OpenSSL, and when it resumes it
 * only waits for the socket again: bytes the client sent last would sit
 * there until the no-progress deadline. Once there is room, read them. */
static void st_refill(struct http_stream *st)
{
	struct http_conn *c = st->c;

	if (c->ssl && SSL_has_pending(c->ssl) &&
	    evbuffer_get_length(bufferevent_get_input(c->bev)) < HTTP_STREAM_BUF)
		event_active(&c->bev->ev_read, EV_READ, 1);
}

static void st_run(struct http_stream *st)
{
	st_pump(st);
	st_arm(st);
	if (st->phase == SP_BODY && !st->paused)
		st_refill(st);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	st_run(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_stream *st = arg;
	(void)fd;
	(void)what;

	if (st->phase == SP_CLOSING) {
		st_close(st);
		return;
	}
	if (st->phase == SP_BODY && !st->paused) {
		struct log_ctx ctx = { .peer = st->r ? st->r->peer : NULL };
		log_info(&ctx, "request body: no byte for %d s after %" PRIu64 " bytes; cut",
			 deadline_s(st), st->total);
		st_final(st, RC_TIMEOUT);
	}
}

int http_req_stream(struct http_req *req, unsigned long long max_bytes, http_stream_cb cb,
		    void *arg)
{
	struct http_stream *st = req->st;

	if (!req->streamed)
		return RC_INVAL;
	if (!st)
		return RC_CANCELLED;
	if (st->phase != SP_WAIT || !cb)
		return RC_INVAL;
	if (!st->chunked && st->left > max_bytes)
		return RC_TOOBIG;
	st->max = max_bytes;
	st->cb = cb;
	st->arg = arg;
	st->body = st->chunked ? SB_CSIZE : SB_LEN;
	st->phase = SP_BODY;
	if (st->expect100) /* RFC 9110 10.1.1: the client waits for this */
		bufferevent_write(st->c->bev, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	event_active(st->kick, EV_TIMEOUT, 1);
	return 0;
}

void http_req_stream_resume(struct http_req *req)
{
	struct http_stream *st = req->st;

	if (!st || st->phase != SP_BODY || !st->paused)
		return;
	st->paused = false;
	event_active(st->kick, EV_TIMEOUT, 1);
}

/* ---- the bufferevent's callbacks once taken over ---- */

static void st_read(struct bufferevent *bev, void *arg)
{
	struct http_stream *st = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	switch (st->phase) {
	case SP_HEAD:
		st_head(st);
		break;
	case SP_WAIT:
		break; /* held until the dispatcher asks; the watermark bounds it */
	case SP_BODY:
		st_run(st);
		break;
	case SP_DONE:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	case SP_CLOSING:
		st->lingered += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (st->lingered > LINGER_MAX)
			st_close(st);
		break;
	}
}

/* Everything we wrote was handed to the kernel (output at its low
 * watermark, 0). */
static void st_write(struct bufferevent *bev, void *arg)
{
	struct http_stream *st = arg;
	struct timeval tv = { HTTP_STREAM_LINGER_S, 0 };

	if (st->phase != SP_CLOSING || evbuffer_get_length(bufferevent_get_output(bev)))
		return;
	/* the whole request was read: nothing the client sends can reset the
	 * connection under the answer */
	if (st->complete) {
		st_close(st);
		return;
	}
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_enable(bev, EV_READ);
	event_add(st->timer, &tv);
}

static void st_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_stream *st = arg;
	(void)bev;

	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (st->r) {
		struct log_ctx ctx = { .peer = st->r->peer };
		log_info(&ctx, "client disconnected (%s) %s",
			 what & BEV_EVENT_EOF ? "EOF" : "error",
			 st->phase == SP_BODY ? "during its request body" : "before its answer");
	}
	st_close(st);
}

/* ---- taking a request over ---- */

/* The request line "METHOD SP origin-form SP HTTP/1.x" into st, when it
 * is one we stream. */
static struct http_stream *st_parse_line(struct http_server *srv, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	struct http_stream *st;
	enum http_method m;
	char *path, *q;
	size_t plen = 0;

	if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1[1] != '/')
		return NULL;
	*sp1 = *sp2 = '\0';
	if (strcmp(line, "POST") == 0)
		m = HTTP_M_POST;
	else if (strcmp(line, "PUT") == 0)
		m = HTTP_M_PUT;
	else
		return NULL;
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0 && strcmp(sp2 + 1, "HTTP/1.0") != 0)
		return NULL;
	if (!(path = http_path_decode(sp1 + 1, &plen)))
		return NULL;
	http_path_squeeze(path);
	if (strlen(path) != plen || !srv->stream_match(m, path) || !(st = calloc(1, sizeof(*st)))) {
		free(path); /* evhttp answers a %00 path (400) as usual */
		return NULL;
	}
	st->m = m;
	st->path = path;
	st->plen = plen;
	st->http11 = strcmp(sp2 + 1, "HTTP/1.1") == 0;
	q = strchr(sp1 + 1, '?');
	if (q && !(st->query = strndup(q + 1, strcspn(q + 1, "#")))) {
		free(path);
		free(st);
		return NULL;
	}
	return st;
}

void http_stream_look(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr eol;
	struct http_stream *st;
	struct event_base *base = c->srv->base;
	char line[LINE_MAX_BYTES + 1];
	size_t eol_len = 0;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (eol.pos < 0) {
		if (evbuffer_get_length(in) > LINE_MAX_BYTES)
			c->looked = true; /* evhttp refuses it */
		return;
	}
	c->looked = true;
	if ((size_t)eol.pos > LINE_MAX_BYTES)
		return;
	evbuffer_copyout(in, line, (size_t)eol.pos);
	line[eol.pos] = '\0';
	if (memchr(line, '\0', (size_t)eol.pos) || !(st = st_parse_line(c->srv, line)))
		return;
	st->c = c;
	st->timer = event_new(base, -1, 0, on_timer, st);
	st->kick = event_new(base, -1, 0, on_kick, st);
	st->hdrs = calloc(1, sizeof(*st->hdrs));
	if (!st->timer || !st->kick || !st->hdrs) {
		/* out of memory: leave the request to evhttp (its body cap) */
		if (st->timer)
			event_free(st->timer);
		if (st->kick)
			event_free(st->kick);
		free(st->hdrs);
		free(st->path);
		free(st->query);
		free(st);
		return;
	}
	TAILQ_INIT(st->hdrs);
	c->st = st;
	st->phase = SP_HEAD;
	/* evhttp's own timeouts would fire into our callbacks: the read
	 * deadline (c->timer) and our progress timer cover the reads */
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_setwatermark(c->bev, EV_READ, 0, HTTP_STREAM_BUF);
	bufferevent_setcb(c->bev, st_read, st_write, st_event, st);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

void http_stream_send(struct http_req *r, struct evbuffer *out)
{
	struct http_stream *st = r->st;

	r->st = NULL;
	if (!st)
		return;
	st->r = NULL;
	st->phase = SP_CLOSING;
	if (!out || bufferevent_write_buffer(st->c->bev, out) != 0) {
		/* not from inside the caller (a stream callback, maybe) */
		event_active(st->timer, EV_TIMEOUT, 1);
		return;
	}
	event_del(st->timer);
	bufferevent_enable(st->c->bev, EV_WRITE);
}

void http_stream_conn_closed(struct http_conn *c)
{
	struct http_stream *st = c->st;
	struct http_req *r;

	if (!st)
		return;
	c->st = NULL;
	if ((r = st->r)) {
		st->r = NULL;
		r->st = NULL;
		r->conn = NULL;
		r->cancelled = true;
		if (st->phase == SP_BODY && st->cb)
			st->cb(r, RC_CANCELLED, NULL, 0, st->arg);
	}
	event_free(st->timer);
	event_free(st->kick);
	if (st->hdrs) {
		evhttp_clear_headers(st->hdrs);
		free(st->hdrs);
	}
	free(st->path);
	free(st->query);
	free(st);
}
