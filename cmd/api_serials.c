/*
 * cmd/api_serials.c - vendors and their serial lists in the admin API
 * (cmd/api_int.h, docs/ADMIN.md): the vendor list and one vendor with
 * their counts by state; creating a vendor and changing its strictness
 * (the CLI's code, cmd/vendor.h); one serial's state, blocking and
 * unblocking it; the serial list as JSON pages and as text pages (the
 * export). Changes run on a job thread (api_job) with their audit row in
 * the same transaction; reads are async queries on the worker's pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/api_int.h"
#include "cmd/vendor.h"
#include "core/log.h"
#include "policy/serial.h"
#include "store/admin.h"
#include "store/api.h"
#include "store/serial.h"
#include "store/vendor.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX     100

static void h_vendors(struct api_req *a);
static void h_vendor(struct api_req *a);
static void h_serial(struct api_req *a);
static void h_create(struct api_req *a);
static void h_patch(struct api_req *a);
static void h_block(struct api_req *a);
static void h_unblock(struct api_req *a);
static void h_list(struct api_req *a);
static void h_export(struct api_req *a);

#define OP_VENDOR (API_ROLE_OPERATOR | API_ROLE_VENDOR)

/* The export is serials.txt, not serials/export: a path below serials/
 * would shadow the device serial "export" (serials/{serial}). */
const struct api_route api_routes_serials[] = {
	{ "vendors", API_GET, API_ROLES_READ, h_vendors },
	{ "vendors", API_POST, API_ROLE_OPERATOR, h_create },
	{ "vendors/{vendor}", API_GET, API_ROLES_READ, h_vendor },
	{ "vendors/{vendor}", API_PATCH, API_ROLE_OPERATOR, h_patch },
	{ "vendors/{vendor}/serials", API_GET, API_ROLES_READ, h_list },
	{ "vendors/{vendor}/serials.txt", API_GET, API_ROLES_READ, h_export },
	{ "vendors/{vendor}/serials/{serial}", API_GET, API_ROLES_READ, h_serial },
	{ "vendors/{vendor}/serials/{serial}/block", API_POST, OP_VENDOR, h_block },
	{ "vendors/{vendor}/serials/{serial}/unblock", API_POST, OP_VENDOR, h_unblock },
	{ NULL, 0, 0, NULL },
};

/* what a vendor list request asked (a->data) */
struct vendors_q {
	int limit;
	bool one;
	int status; /* of a one-vendor answer: 200, or 201 after a creation */
};

static json_t *vendor_json(const struct store_api_vendor *v)
{
	return json_pack("{s:s, s:s, s:{s:I, s:I, s:I}, s:I, s:I}", "name", v->name, "strictness",
			 v->strict ? "strict" : "lenient", "serials", "allowed",
			 (json_int_t)v->allowed, "blocked", (json_int_t)v->blocked, "enrolled",
			 (json_int_t)v->enrolled, "anchors", (json_int_t)v->anchors,
			 "intermediates", (json_int_t)v->intermediates);
}

static void on_vendors(void *arg, int rc, const struct store_api_vendor *rows, size_t n)
{
	struct api_req *a = arg;
	struct vendors_q q = *(struct vendors_q *)a->data;
	json_t *list, *j;
	char next[2 * STORE_API_NAME_MAX + 8];

	free(a->data);
	a->data = NULL;
	if (!api_resume(a, rc))
		return;
	if (q.one) {
		if (n != 1)
			api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		else
			api_reply_json(a, q.status, vendor_json(&rows[0]));
		return;
	}
	if (!(list = json_array())) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < q.limit; i++)
		json_array_append_new(list, vendor_json(&rows[i]));
	/* one row more than the page was asked for: there is a next page */
	if ((int)n > q.limit)
		api_cursor_encode(rows[q.limit - 1].name, next, sizeof(next));
	j = json_pack("{s:o, s:s?}", "vendors", list, "next_cursor",
		      (int)n > q.limit ? next : NULL);
	if (j && (int)n <= q.limit)
		json_object_set_new(j, "next_cursor", json_null());
	api_reply_json(a, 200, j);
}

static void vendors_query(struct api_req *a, const char *only, const char *after, int limit,
			  bool one, int status)
{
	struct vendors_q *q = calloc(1, sizeof(*q));
	int rc;

	if (!q) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	q->limit = limit;
	q->one = one;
	q->status = status;
	a->data = q;
	rc = api_pool(a) ? store_api_vendors(api_pool(a), only, after, one ? 1 : limit + 1,
					     on_vendors, a)
			 : RC_DB;
	if (rc != 0) {
		free(q);
		a->data = NULL;
		api_unavailable(a);
	}
}

static void h_vendors(struct api_req *a)
{
	char after[STORE_API_NAME_MAX + 1];
	bool has_after;
	int limit;

	if (!api_list_params(a, LIMIT_DEFAULT, LIMIT_MAX, &limit, after, sizeof(after), &has_after))
		return;
	vendors_query(a, api_scope(a), has_after ? after : NULL, limit, false, 200);
}

static void h_vendor(struct api_req *a)
{
	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	vendors_query(a, a->vendor, NULL, 1, true, 200);
}

static void on_serial(void *arg, int rc, const struct store_api_serial *s)
{
	struct api_req *a = arg;
	json_t *j;

	if (!api_resume(a, rc))
		return;
	if (!s->vendor_found) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	if (!s->listed && !s->cert_serial) {
		api_problem(a, 404, "not-found", "serial \"%s\" is not in vendor %s's list",
			    a->param[1], a->vendor);
		return;
	}
	j = json_pack("{s:s, s:s, s:s?, s:s?}", "vendor", a->vendor, "serial", a->param[1], "state",
		      s->listed ? s->state : "unlisted", "enrolled_at", s->enrolled_at);
	if (j && !s->enrolled_at)
		json_object_set_new(j, "enrolled_at", json_null());
	if (j)
		json_object_set_new(j, "certificate",
				    s->cert_serial
					    ? json_pack("{s:s, s:s, s:s}", "serial", s->cert_serial,
							"issuer", s->cert_issuer, "status",
							s->cert_status)
					    : json_null());
	api_reply_json(a, 200, j);
}

static void h_serial(struct api_req *a)
{
	int rc;

	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	rc = api_pool(a) ? store_api_serial(api_pool(a), a->vendor, a->param[1], on_serial, a)
			 : RC_DB;
	if (rc != 0)
		api_unavailable(a);
}

/* ---- creating and changing vendors (operator) ---- */

/* What a vendor change job does and found (a->data while it runs). */
struct vjob {
	char name[STORE_API_NAME_MAX + 1];
	char rule[32];
	bool reenroll, strict, was;
};

/* A vendor name the API can address as one path segment. */
static bool name_ok(const char *s, size_t n)
{
	if (n < 1 || n > STORE_API_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int w_create(struct api_job_ctx *ctx, void *arg)
{
	struct vjob *v = arg;

	return cmd_vendor_create(ctx->conn, ctx->principal, v->name, v->rule, v->reenroll,
				 v->strict);
}

static void d_create(struct api_req *a, int rc, void *arg)
{
	struct vjob *v = arg;

	if (api_gone(a)) {
		free(v);
		return;
	}
	if (rc == RC_EXISTS)
		api_problem(a, 409, "conflict", "vendor \"%s\" already exists", v->name);
	else if (rc != 0)
		api_unavailable(a);
	else /* answer the vendor as GET /vendors/{vendor} shows it */
		vendors_query(a, v->name, NULL, 1, true, 201);
	free(v);
}

static void start_job(struct api_req *a, api_job_work work, api_job_done done, void *arg)
{
	if (api_job(a, work, done, arg) != 0)
		free(arg);
}

/* body's "strictness": "strict" | "lenient" into *strict; absent: def.
 * false: answered 400. */
static bool strictness(struct api_req *a, json_t *body, bool required, bool *strict)
{
	json_t *s = json_object_get(body, "strictness");
	const char *v = json_string_value(s);

	if (!s && !required)
		return true;
	if (!v || (strcmp(v, "strict") && strcmp(v, "lenient"))) {
		api_problem(a, 400, "bad-request", "strictness must be \"strict\" or \"lenient\"");
		return false;
	}
	*strict = strcmp(v, "strict") == 0;
	return true;
}

static void h_create(struct api_req *a)
{
	json_t *body = api_body_json(a), *name, *rule, *re;
	struct vjob *v = NULL;
	const char *r;

	if (!body)
		return;
	if (!(v = calloc(1, sizeof(*v)))) {
		json_decref(body);
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	v->strict = v->reenroll = true;
	name = json_object_get(body, "name");
	rule = json_object_get(body, "serial_rule");
	re = json_object_get(body, "reenroll");
	r = rule ? json_string_value(rule) : "subject_serialnumber";
	if (!json_is_string(name) || !name_ok(json_string_value(name), json_string_length(name))) {
		api_problem(a, 400, "bad-request",
			    "name must be 1..%d letters, digits, '.', '_' or '-'",
			    STORE_API_NAME_MAX);
		goto fail;
	}
	if (!r || (strcmp(r, "subject_serialnumber") && strcmp(r, "subject_cn") &&
		   strcmp(r, "cert_serial"))) {
		api_problem(a, 400, "bad-request",
			    "serial_rule must be subject_serialnumber, subject_cn or cert_serial");
		goto fail;
	}
	if (re && !json_is_boolean(re)) {
		api_problem(a, 400, "bad-request", "reenroll must be true or false");
		goto fail;
	}
	if (!strictness(a, body, false, &v->strict))
		goto fail;
	if (json_object_size(body) !=
	    1u + (rule != NULL) + (re != NULL) + (json_object_get(body, "strictness") != NULL)) {
		api_problem(a, 400, "bad-request",
			    "the body holds only name, serial_rule, strictness and reenroll");
		goto fail;
	}
	snprintf(v->name, sizeof(v->name), "%s", json_string_value(name));
	snprintf(v->rule, sizeof(v->rule), "%s", r);
	v->reenroll = !re || json_is_true(re);
	json_decref(body);
	start_job(a, w_create, d_create, v);
	return;
fail:
	json_decref(body);
	free(v);
}

static int w_patch(struct api_job_ctx *ctx, void *arg)
{
	struct vjob *v = arg;

	return cmd_vendor_set_strict(ctx->conn, ctx->principal, v->name, v->strict, &v->was);
}

static void d_patch(struct api_req *a, int rc, void *arg)
{
	struct vjob *v = arg;

	if (api_gone(a)) {
		free(v);
		return;
	}
	if (rc == RC_NOTFOUND)
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", v->name);
	else if (rc != 0)
		api_unavailable(a);
	else
		vendors_query(a, v->name, NULL, 1, true, 200);
	free(v);
}

static void h_patch(struct api_req *a)
{
	json_t *body;
	struct vjob *v;

	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	if (!(body = api_body_json(a)))
		return;
	if (!(v = calloc(1, sizeof(*v)))) {
		json_decref(body);
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	if (!strictness(a, body, true, &v->strict)) {
		json_decref(body);
		free(v);
		return;
	}
	if (json_object_size(body) != 1) {
		api_problem(a, 400, "bad-request", "the body holds only strictness");
		json_decref(body);
		free(v);
		return;
	}
	json_decref(body);
	snprintf(v->name, sizeof(v->name), "%s", a->vendor);
	start_job(a, w_patch, d_patch, v);
}

/* ---- block / unblock one serial ---- */

struct bjob {
	char vendor[STORE_API_NAME_MAX + 1];
	char serial[API_PARAM_MAX + 1];
	bool block, vendor_found;
	char state[16], prev[16];
	char why[POLICY_SERIAL_WHY_MAX];
};

/* A serial the block would add to the list must have the vendor's serial
 * syntax, as an uploaded one must (docs/SERIALS.md). 0, RC_INVAL (why). */
static int syntax_ok(struct store_conn *c, int64_t vid, struct bjob *b)
{
	struct policy_serial_syntax sx;
	char charset[256], err[128];
	int max = 0,
	    rc = store_serial_syntax_get(c, vid, &max, charset, sizeof(charset), err, sizeof(err));

	if (rc != 0)
		return RC_DB;
	policy_serial_syntax_default(&sx);
	if ((charset[0] && policy_serial_syntax_set_charset(&sx, charset, NULL, 0) != 0) ||
	    (max > 0 && policy_serial_syntax_set_max_len(&sx, max) != 0))
		return RC_DB;
	return policy_serial_check(&sx, b->serial, strlen(b->serial), b->why, sizeof(b->why));
}

static int block_tx(struct store_conn *c, const char *principal, struct bjob *b)
{
	char detail[64];
	bool added = false;
	int64_t vid;
	int rc = store_vendor_find(c, b->vendor, &vid);

	if (rc != 0)
		return rc;
	b->vendor_found = true;
	rc = store_vendor_serial_set_blocked(c, vid, b->serial, b->block, b->state, b->prev,
					     &added);
	if (rc == 0 && added)
		rc = syntax_ok(c, vid, b);
	if (rc != 0 || strcmp(b->state, b->prev) == 0)
		return rc; /* nothing changed, nothing to audit */
	snprintf(detail, sizeof(detail), "%s -> %s", b->prev[0] ? b->prev : "unlisted", b->state);
	return store_audit_admin(c, principal, b->block ? "serial_blocked" : "serial_unblocked",
				 b->vendor, b->serial, NULL, detail)
		       ? RC_DB
		       : 0;
}

static int w_block(struct api_job_ctx *ctx, void *arg)
{
	struct bjob *b = arg;
	int rc;

	if (store_admin_begin(ctx->conn) != 0)
		return RC_DB;
	rc = block_tx(ctx->conn, ctx->principal, b);
	if (store_admin_end(ctx->conn, rc == 0) != 0 && rc == 0)
		rc = RC_DB;
	return rc;
}

static void d_block(struct api_req *a, int rc, void *arg)
{
	struct bjob *b = arg;

	if (api_gone(a))
		goto out;
	if (rc == RC_NOTFOUND && !b->vendor_found)
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
	else if (rc == RC_NOTFOUND)
		api_problem(a, 404, "not-found", "serial \"%s\" is not in vendor %s's list",
			    b->serial, a->vendor);
	else if (rc == RC_INVAL)
		api_problem(a, 422, "bad-serial", "serial \"%s\" cannot be on vendor %s's list: %s",
			    b->serial, a->vendor, b->why);
	else if (rc != 0)
		api_unavailable(a);
	else if ((rc = api_pool(a)
			       ? store_api_serial(api_pool(a), a->vendor, a->param[1], on_serial, a)
			       : RC_DB) != 0)
		api_unavailable(a); /* the change is made: answer the serial as GET does */
out:
	free(b);
}

static void block(struct api_req *a, bool on)
{
	struct bjob *b;

	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	if (!(b = calloc(1, sizeof(*b)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	snprintf(b->vendor, sizeof(b->vendor), "%s", a->vendor);
	snprintf(b->serial, sizeof(b->serial), "%s", a->param[1]);
	b->block = on;
	start_job(a, w_block, d_block, b);
}

static void h_block(struct api_req *a)
{
	block(a, true);
}

static void h_unblock(struct api_req *a)
{
	block(a, false);
}

/* ---- the serial list: JSON pages and text pages ---- */

#define SERIALS_DEFAULT	     100
#define SERIALS_MAX	     1000
#define EXPORT_DEFAULT	     100000
#define EXPORT_MAX	     1000000
#define SERIAL_CURSOR_BUFLEN (2 * API_PARAM_MAX + 8)

struct list_q {
	int limit;
};

/* An export page: the serials as text lines; the next page's cursor in a
 * header (docs/ADMIN.md). */
static void on_export(void *arg, int rc, bool vendor_found, const char *text, size_t len, bool more,
		      const char *last)
{
	struct api_req *a = arg;
	char next[SERIAL_CURSOR_BUFLEN];

	if (!api_resume(a, rc))
		return;
	if (!vendor_found) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	if (more) {
		api_cursor_encode(last, next, sizeof(next));
		/* http_req_set_header keeps the pointer: next lives until
		 * api_finish has sent the reply, within this call */
		http_req_set_header(a->req, "Cmpgw-Next-Cursor", next);
	}
	api_finish(a, 200, "text/plain; charset=us-ascii", (const unsigned char *)text, len);
}

/* The page's next cursor into next when a row past limit came back. */
static bool next_cursor(const struct store_api_serial_row *rows, size_t n, int limit, char *next,
			size_t len)
{
	if ((int)n <= limit)
		return false;
	api_cursor_encode(rows[limit - 1].serial, next, len);
	return true;
}

static void on_list(void *arg, int rc, bool vendor_found, const struct store_api_serial_row *rows,
		    size_t n)
{
	struct api_req *a = arg;
	struct list_q q = *(struct list_q *)a->data;
	char next[SERIAL_CURSOR_BUFLEN];
	bool more;
	json_t *list, *j;

	free(a->data);
	a->data = NULL;
	if (!api_resume(a, rc))
		return;
	if (!vendor_found) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	more = next_cursor(rows, n, q.limit, next, sizeof(next));
	if (!(list = json_array())) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < q.limit; i++) {
		json_t *e = json_pack("{s:s, s:s, s:s?, s:s}", "serial", rows[i].serial, "state",
				      rows[i].state, "enrolled_at", rows[i].enrolled_at,
				      "updated_at", rows[i].updated_at);
		if (e && !rows[i].enrolled_at)
			json_object_set_new(e, "enrolled_at", json_null());
		json_array_append_new(list, e);
	}
	j = json_pack("{s:s, s:o, s:o}", "vendor", a->vendor, "serials", list, "next_cursor",
		      more ? json_string(next) : json_null());
	api_reply_json(a, 200, j);
}

/* ?state= and ?prefix= of a list; false: answered 400. */
static bool list_filters(struct api_req *a, char *state, char *prefix, bool *has_state,
			 bool *has_prefix)
{
	bool answered;

	*has_state = api_query(a, "state", state, 16, &answered);
	if (answered)
		return false;
	if (*has_state && strcmp(state, "allowed") && strcmp(state, "blocked") &&
	    strcmp(state, "enrolled")) {
		api_problem(a, 400, "bad-request", "state must be allowed, blocked or enrolled");
		return false;
	}
	*has_prefix = api_query(a, "prefix", prefix, API_PARAM_MAX + 1, &answered);
	if (answered)
		return false;
	if (*has_prefix && !*prefix) {
		api_problem(a, 400, "bad-request", "prefix must not be empty");
		return false;
	}
	return true;
}

/* ---- the whole export as one chunked answer ---- */

/* Serials per database query and per chunk of the answer: about 250 KiB
 * of text at most, so that a stream holds one such piece at a time. */
#define STREAM_PAGE 20000

/* One streamed export (docs/ADMIN.md): pages of STREAM_PAGE serials
 * through the primary key, each sent as one chunk; the next page is read
 * once the last chunk went to the kernel (backpressure: a slow client
 * holds one page, never the list). */
struct stream {
	struct api_req *a;
	char state[16], prefix[API_PARAM_MAX + 1], after[API_PARAM_MAX + 1];
	bool has_state, has_prefix, has_after;
	bool started; /* the 200 and its header are sent */
	long long lines;
};

static void stream_page(void *arg, int rc, bool vendor_found, const char *text, size_t len,
			bool more, const char *last);

/* End the answer (the last chunk is sent, or the client is gone) and free
 * everything; why (may be NULL) is logged. */
static void stream_end(struct stream *st, const char *why)
{
	struct api_req *a = st->a;
	struct log_ctx ctx = { .peer = http_req_peer(a->req) };

	log_info(&ctx, "admin api: GET %s -> 200 (%s), %lld serials streamed%s%s",
		 http_req_path(a->req), a->principal, st->lines, why ? ": " : "", why ? why : "");
	http_reply_end(a->req);
	free(a);
	free(st);
}

/* Submit the query of the page after st->after; false: it could not be. */
static bool stream_next(struct stream *st)
{
	struct api_req *a = st->a;

	return api_pool(a) &&
	       store_api_serials_text(api_pool(a), a->vendor, st->has_state ? st->state : NULL,
				      st->has_prefix ? st->prefix : NULL,
				      st->has_after ? st->after : NULL, STREAM_PAGE, stream_page,
				      st) == 0;
}

/* The chunk before went to the kernel: read the next page. */
static void stream_sent(struct http_req *req, void *arg)
{
	struct stream *st = arg;

	/* core/http also calls this when the client left meanwhile */
	if (http_req_cancelled(req)) {
		stream_end(st, "the client went away");
		return;
	}
	if (!stream_next(st))
		stream_end(st, "the database cannot be reached; the list is cut short");
}

/* The first page decides the status (404, 503); a failure after the 200
 * can only end the list early: its last line then says so (a line with
 * spaces, which no serial holds). */
static void stream_page(void *arg, int rc, bool vendor_found, const char *text, size_t len,
			bool more, const char *last)
{
	static const char cut[] = "#ERROR the database failed: this list is incomplete\n";
	struct stream *st = arg;
	struct api_req *a = st->a;
	int r;

	if (!st->started) {
		bool answered = true;
		if (api_gone(a))
			; /* freed a */
		else if (rc != 0)
			api_unavailable(a);
		else if (!vendor_found)
			api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		else if (http_req_method(a->req) == HTTP_M_HEAD) /* no body to stream */
			api_finish(a, 200, "text/plain; charset=us-ascii", NULL, 0);
		else
			answered = false;
		if (answered) {
			free(st);
			return;
		}
		if (http_reply_start(a->req, 200, "text/plain; charset=us-ascii") != 0) {
			api_finish(a, HTTP_DROPPED, NULL, NULL, 0);
			free(st);
			return;
		}
		st->started = true;
	}
	if (http_req_cancelled(a->req)) {
		stream_end(st, "the client went away");
		return;
	}
	if (rc != 0) {
		r = http_reply_chunk(a->req, (const unsigned char *)cut, sizeof(cut) - 1, NULL,
				     NULL);
		(void)r; /* ending either way */
		stream_end(st, "the database failed; the list is cut short");
		return;
	}
	st->lines += more ? STREAM_PAGE : 0;
	for (size_t i = 0; !more && i < len; i++)
		st->lines += text[i] == '\n';
	if (more) {
		snprintf(st->after, sizeof(st->after), "%s", last);
		st->has_after = true;
	}
	/* an empty piece would never report as sent: only the last page can
	 * be empty, and it ends the answer without a callback */
	r = len ? http_reply_chunk(a->req, (const unsigned char *)text, len,
				   more ? stream_sent : NULL, st)
		: 0;
	/* more: stream_sent reads the next page once this one is sent */
	if (r != 0 || !more)
		stream_end(st, r == RC_CANCELLED ? "the client went away"
			       : r != 0		 ? "out of memory; the list is cut short"
						 : NULL);
}

static void stream(struct api_req *a, const char *state, const char *prefix)
{
	struct stream *st = calloc(1, sizeof(*st));

	if (!st) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	st->a = a;
	if ((st->has_state = state != NULL))
		snprintf(st->state, sizeof(st->state), "%s", state);
	if ((st->has_prefix = prefix != NULL))
		snprintf(st->prefix, sizeof(st->prefix), "%s", prefix);
	if (!stream_next(st)) {
		free(st);
		api_unavailable(a);
	}
}

static void list(struct api_req *a, bool text)
{
	char state[16], prefix[API_PARAM_MAX + 1], after[API_PARAM_MAX + 1];
	bool has_state, has_prefix, has_after, paged = false;
	struct list_q *q;
	int limit, rc;

	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	/* the export without limit or cursor: the whole list, streamed */
	if (text) {
		char v[API_PARAM_MAX * 2 + 8];
		bool answered;
		paged = api_query(a, "limit", v, sizeof(v), &answered);
		if (!answered)
			paged |= api_query(a, "cursor", v, sizeof(v), &answered);
		if (answered)
			return;
	}
	if (!api_list_params(a, text ? EXPORT_DEFAULT : SERIALS_DEFAULT,
			     text ? EXPORT_MAX : SERIALS_MAX, &limit, after, sizeof(after),
			     &has_after) ||
	    !list_filters(a, state, prefix, &has_state, &has_prefix))
		return;
	if (text && !paged) {
		stream(a, has_state ? state : NULL, has_prefix ? prefix : NULL);
		return;
	}
	if (text) {
		rc = api_pool(a)
			     ? store_api_serials_text(api_pool(a), a->vendor,
						      has_state ? state : NULL,
						      has_prefix ? prefix : NULL,
						      has_after ? after : NULL, limit, on_export, a)
			     : RC_DB;
		if (rc != 0)
			api_unavailable(a);
		return;
	}
	if (!(q = calloc(1, sizeof(*q)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	q->limit = limit;
	a->data = q;
	/* one row more than the page: tells whether there is a next one */
	rc = api_pool(a) ? store_api_serials(api_pool(a), a->vendor, has_state ? state : NULL,
					     has_prefix ? prefix : NULL, has_after ? after : NULL,
					     limit + 1, on_list, a)
			 : RC_DB;
	if (rc != 0) {
		free(q);
		a->data = NULL;
		api_unavailable(a);
	}
}

static void h_list(struct api_req *a)
{
	list(a, false);
}

static void h_export(struct api_req *a)
{
	list(a, true);
}
