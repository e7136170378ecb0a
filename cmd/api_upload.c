/*
 * cmd/api_upload.c - POST /api/v1/vendors/{vendor}/serials: a vendor's
 * serial list uploaded through the admin API (issue 14; docs/ADMIN.md,
 * docs/SERIALS.md), up to 10,000,000 lines, never held in memory.
 *
 * The body is streamed (core/http.h "Streamed request bodies"): the loop
 * writes each piece into a pipe, without blocking, and pauses the stream
 * while the pipe is full; a job thread (cmd/api_int.h api_job) reads the
 * pipe as a FILE * and runs exactly what `cmpgw serials import` runs
 * (cmd/serials.h: line reading, syntax, COPY, merge, audit row, commit).
 * A body that does not arrive whole (the client goes, the framing breaks,
 * it grows past the cap, it stalls, the worker stops) sets the job's
 * abort flag before the pipe is closed: the job rolls back.
 *
 * Concurrent uploads for one vendor serialize in the store (the import
 * lock of store_serial_import_begin): the second waits, its body held
 * back by the pipe, and then runs on the list the first left.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>

#include "cmd/api.h"
#include "cmd/api_int.h"
#include "cmd/serials.h"
#include "store/vendor.h"

#define UPLOAD_MAX_LINES 10000000L
#define UPLOAD_MAX_BYTES (1ULL << 30) /* 10M lines of ~100 bytes */
#define UPLOAD_PIPE	 (1 << 20)    /* bytes in flight between loop and job */
#define POLL_MS		 200	      /* the job looks at stop/abort this often */

static void h_upload(struct api_req *a);

const struct api_route api_routes_upload[] = {
	{ "vendors/{vendor}/serials", API_POST, API_ROLE_OPERATOR | API_ROLE_VENDOR, h_upload },
	{ NULL, 0, 0, NULL },
};

/* The same matcher as the route table's, so that every path the route
 * takes (a trailing '/' too) is streamed. */
bool cmd_api_stream_match(enum http_method m, const char *path)
{
	static const char prefix[] = "/api/v1/";
	char param[API_PARAMS_MAX][API_PARAM_MAX + 1];
	int np, vendor;

	return m == HTTP_M_POST && strncmp(path, prefix, sizeof(prefix) - 1) == 0 &&
	       api_route_match(api_routes_upload[0].pattern, path + sizeof(prefix) - 1, param, &np,
			       &vendor);
}

struct upload {
	struct api_req *a;
	char vendor[API_PARAM_MAX + 1];
	bool blocked, skip_invalid, csv;
	int rfd, wfd; /* the pipe: the job reads rfd, the loop writes wfd */
	struct event *wev;
	atomic_bool abort;
	const atomic_bool *stop;
	int stream_rc;	     /* 0: running; HTTP_STREAM_END; a failure (< 0) */
	bool drop;	     /* the job stopped reading: the rest is dropped */
	unsigned char *body; /* a request evhttp buffered (not streamed) */
	size_t blen, boff;
	struct cmd_serials_result res;
};

static void close_w(struct upload *u)
{
	if (u->wev)
		event_del(u->wev);
	if (u->wfd >= 0)
		close(u->wfd);
	u->wfd = -1;
}

static void upload_free(struct upload *u)
{
	if (!u)
		return;
	close_w(u);
	if (u->wev)
		event_free(u->wev);
	if (u->rfd >= 0)
		close(u->rfd);
	free(u->body);
	free(u);
}

/* ---- the loop side ---- */

static size_t on_body(struct http_req *req, int event, const unsigned char *data, size_t len,
		      void *arg)
{
	struct upload *u = arg;
	ssize_t w;
	(void)req;

	if (event != HTTP_STREAM_DATA) {
		u->stream_rc = event;
		if (event != HTTP_STREAM_END)
			atomic_store(&u->abort, true); /* before the EOF it causes */
		close_w(u);
		return 0;
	}
	if (u->drop || u->wfd < 0)
		return len;
	w = write(u->wfd, data, len);
	if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
		w = 0;
	} else if (w < 0) { /* EPIPE: the job is done reading; its answer follows */
		u->drop = true;
		return len;
	}
	if ((size_t)w < len)
		event_add(u->wev, NULL);
	return (size_t)w;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct upload *u = arg;
	(void)fd;
	(void)what;

	http_req_stream_resume(u->a->req);
}

/* ---- the job side ---- */

/* The FILE * the import reads: the pipe (waiting in POLL_MS steps so
 * that stop and abort are seen), or the buffered body. */
static ssize_t job_read(void *cookie, char *buf, size_t size)
{
	struct upload *u = cookie;

	if (u->body) {
		size_t n = u->blen - u->boff < size ? u->blen - u->boff : size;
		memcpy(buf, u->body + u->boff, n);
		u->boff += n;
		return (ssize_t)n;
	}
	for (;;) {
		struct pollfd p = { .fd = u->rfd, .events = POLLIN };
		ssize_t n;
		if (atomic_load(&u->abort) || (u->stop && atomic_load(u->stop))) {
			errno = ECANCELED;
			return -1;
		}
		if (poll(&p, 1, POLL_MS) <= 0)
			continue;
		n = read(u->rfd, buf, size);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			return n;
	}
}

static int job_work(struct api_job_ctx *ctx, void *arg)
{
	struct upload *u = arg;
	cookie_io_functions_t io = { .read = job_read };
	struct cmd_serials_opts o = { .blocked = u->blocked,
				      .skip_invalid = u->skip_invalid,
				      .csv = u->csv,
				      .max_lines = UPLOAD_MAX_LINES,
				      .label = u->csv ? "admin API upload (text/csv)"
						      : "admin API upload (text/plain)",
				      .principal = ctx->principal,
				      .stop = ctx->stop,
				      .abort = &u->abort };
	FILE *in;
	int64_t vid;
	int rc;

	u->stop = ctx->stop;
	rc = store_vendor_find(ctx->conn, u->vendor, &vid);
	if (rc == 0 && !(in = fopencookie(u, "r", io)))
		rc = RC_NOMEM;
	if (rc == 0) {
		setvbuf(in, NULL, _IOFBF, 1 << 16);
		rc = cmd_serials_import(ctx->conn, u->vendor, vid, in, &o, &u->res);
		fclose(in);
	}
	/* from now on the loop's writes fail (EPIPE) instead of filling a
	 * pipe nobody reads */
	if (u->rfd >= 0)
		close(u->rfd);
	u->rfd = -1;
	return rc;
}

/* ---- answers ---- */

static json_t *refusals_json(const struct cmd_serials_result *res)
{
	json_t *l = json_array();

	for (int i = 0; l && i < res->nrefusals; i++)
		json_array_append_new(l, json_pack("{s:I, s:s}", "line",
						   (json_int_t)res->refusals[i].line, "reason",
						   res->refusals[i].why));
	return l;
}

static json_t *report_json(const struct upload *u)
{
	const struct cmd_serials_result *res = &u->res;
	const struct store_serial_counts *k = &res->k;
	json_t *dups = json_array(), *cases = json_array();

	for (int i = 0; dups && i < k->ndup; i++)
		json_array_append_new(dups, json_pack("{s:I, s:I, s:s}", "line",
						      (json_int_t)k->dup[i].line, "first_line",
						      (json_int_t)k->dup[i].first, "serial",
						      k->dup[i].serial));
	for (int i = 0; cases && i < k->ncase; i++)
		json_array_append_new(
			cases, json_pack("{s:I, s:I}", "line", (json_int_t)k->casepair[i].line,
					 "other_line", (json_int_t)k->casepair[i].other));
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o?, s:I, "
			 "s:o?, s:I}",
			 "vendor", u->vendor, "state", u->blocked ? "blocked" : "allowed", "lines",
			 (json_int_t)res->lines, "rows", (json_int_t)res->serial_lines, "new",
			 (json_int_t)k->inserted, "changed", (json_int_t)k->changed, "unchanged",
			 (json_int_t)k->unchanged, "refused", (json_int_t)res->refused,
			 "duplicates", (json_int_t)k->duplicates, "kept_blocked",
			 (json_int_t)k->kept_blocked, "refusals", refusals_json(res),
			 "duplicate_examples", dups, "case_groups", (json_int_t)k->case_groups,
			 "case_examples", cases, "refusals_more",
			 (json_int_t)(res->refused - res->nrefusals));
}

/* 422: nothing imported; the refused lines with their numbers. */
static void reply_refused(struct api_req *a, const struct upload *u)
{
	const struct cmd_serials_result *res = &u->res;
	char detail[400];
	json_t *j;

	snprintf(detail, sizeof(detail),
		 "nothing imported for vendor %s: %ld of %ld serial line(s) refused (fix them, or "
		 "upload the %ld valid one(s) with skip_invalid=true)",
		 u->vendor, res->refused, res->serial_lines, res->serial_lines - res->refused);
	j = json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:o, s:I}", "type",
		      "urn:cmpgw:problem:serials-refused", "title", "Unprocessable Content",
		      "status", 422, "detail", detail, "rows", (json_int_t)res->serial_lines,
		      "refused", (json_int_t)res->refused, "refusals", refusals_json(res),
		      "refusals_more", (json_int_t)(res->refused - res->nrefusals));
	api_reply_json(a, 422, j);
}

static void job_done(struct api_req *a, int rc, void *arg)
{
	struct upload *u = arg;

	close_w(u);
	if (api_gone(a)) {
		upload_free(u);
		return;
	}
	if (u->stream_rc == RC_TOOBIG)
		api_problem(a, 413, "too-large",
			    "the body is larger than %llu bytes; nothing imported",
			    UPLOAD_MAX_BYTES);
	else if (u->stream_rc == RC_DECODE)
		api_problem(a, 400, "bad-request",
			    "the chunked body does not parse (RFC 9112 7.1); nothing imported");
	else if (u->stream_rc == RC_TIMEOUT)
		api_problem(a, 408, "request-timeout",
			    "the body stopped arriving before its end; nothing imported");
	else if (u->stream_rc < 0)
		api_problem(a, 400, "bad-request", "the body was cut short; nothing imported");
	else if (rc == 0)
		api_reply_json(a, 200, report_json(u));
	else if (rc == RC_INVAL)
		reply_refused(a, u);
	else if (rc == RC_TOOBIG)
		api_problem(a, 413, "too-large",
			    "the list has more than %ld lines; nothing imported", UPLOAD_MAX_LINES);
	else if (rc == RC_NOTFOUND)
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", u->vendor);
	else if (rc == RC_DB || rc == RC_CANCELLED)
		api_problem(a, 503, "unavailable", "nothing imported: %s; retry later",
			    u->res.err[0] ? u->res.err : "the database cannot be reached");
	else
		api_problem(a, 500, "internal", "nothing imported: %s",
			    u->res.err[0] ? u->res.err : rc_str(rc));
	upload_free(u);
}

/* ---- the handler ---- */

/* ct is type (case-insensitive), parameters allowed ("; charset=utf-8"). */
static bool media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	return ct && strncasecmp(ct, type, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

/* ?name=true|false; false: answered 400. */
static bool query_bool(struct api_req *a, const char *name, bool *v)
{
	char buf[8];
	bool answered;

	if (api_query(a, name, buf, sizeof(buf), &answered)) {
		if (strcmp(buf, "true") != 0 && strcmp(buf, "false") != 0) {
			api_problem(a, 400, "bad-request", "%s must be true or false", name);
			return false;
		}
		*v = strcmp(buf, "true") == 0;
	}
	return !answered;
}

static struct upload *upload_new(struct api_req *a)
{
	struct upload *u = calloc(1, sizeof(*u));
	int fds[2];

	if (!u)
		return NULL;
	u->a = a;
	u->rfd = u->wfd = -1;
	atomic_init(&u->abort, false);
	snprintf(u->vendor, sizeof(u->vendor), "%s", a->vendor);
	if (!http_req_streamed(a->req)) {
		const unsigned char *b = http_req_body(a->req, &u->blen);
		if (!(u->body = malloc(u->blen ? u->blen : 1))) {
			free(u);
			return NULL;
		}
		memcpy(u->body, b, u->blen);
		return u;
	}
	if (pipe2(fds, O_CLOEXEC) != 0) {
		free(u);
		return NULL;
	}
	u->rfd = fds[0];
	u->wfd = fds[1];
	(void)fcntl(u->wfd, F_SETPIPE_SZ, UPLOAD_PIPE); /* best effort */
	if (fcntl(u->wfd, F_SETFL, O_NONBLOCK) != 0 ||
	    !(u->wev = event_new(a->w->base, u->wfd, EV_WRITE, on_writable, u))) {
		upload_free(u);
		return NULL;
	}
	return u;
}

static void h_upload(struct api_req *a)
{
	const char *ct = http_req_content_type(a->req);
	struct upload *u;
	char state[16];
	bool answered, csv = media_is(ct, "text/csv"), blocked = false, skip = false;
	int rc;

	if (!csv && !media_is(ct, "text/plain")) {
		api_problem(a, 415, "unsupported-media-type",
			    "the body must be text/plain (one serial per line) or text/csv (the "
			    "serial in the first field)");
		return;
	}
	if (api_query(a, "state", state, sizeof(state), &answered)) {
		if (strcmp(state, "allowed") != 0 && strcmp(state, "blocked") != 0) {
			api_problem(a, 400, "bad-request", "state must be allowed or blocked");
			return;
		}
		blocked = strcmp(state, "blocked") == 0;
	}
	if (answered || !query_bool(a, "skip_invalid", &skip))
		return;
	if (!(u = upload_new(a))) {
		api_problem(a, 503, "unavailable", "out of memory or descriptors; retry later");
		return;
	}
	u->csv = csv;
	u->blocked = blocked;
	u->skip_invalid = skip;
	if (http_req_streamed(a->req) &&
	    (rc = http_req_stream(a->req, UPLOAD_MAX_BYTES, on_body, u)) != 0) {
		if (rc == RC_TOOBIG)
			api_problem(a, 413, "too-large",
				    "the body is larger than %llu bytes; nothing imported",
				    UPLOAD_MAX_BYTES);
		else if (!api_gone(a))
			api_problem(a, 500, "internal", "the body cannot be read: %s", rc_str(rc));
		upload_free(u);
		return;
	}
	if (api_job(a, job_work, job_done, u) != 0)
		upload_free(u);
}
