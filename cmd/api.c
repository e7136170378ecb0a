/*
 * cmd/api.c - the admin HTTPS API (cmd/api.h, docs/ADMIN.md).
 *
 * A request goes: limits (method, path, query length) -> authenticate
 * (certificate, then bearer key; the key only after its syntax checked,
 * so an unauthenticated client costs no query) -> route -> authorise (the
 * table below) -> the handler -> one reply. A vendor:X principal asking
 * for another vendor gets the same 404 as for a vendor that does not
 * exist: it learns nothing about which vendors are registered.
 */
#include "cmd/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cmd/api_int.h"
#include "core/log.h"
#include "ra/audit.h"
#include "ra/ra.h"
#include "store/api_audit.h"
#include "store/apikey.h"

extern const unsigned char cmd_openapi_json[];
extern const size_t cmd_openapi_json_len;

#define PREFIX	       "/api/v1/"
#define QUERY_MAX      1024
#define SUBJECT_MAX    1024
#define PROBLEM_PREFIX "urn:cmpgw:problem:"

static void h_whoami(struct api_req *a);
static void h_openapi(struct api_req *a);

const struct api_route api_routes_core[] = {
	{ "whoami", API_GET, API_ROLES_ALL, h_whoami },
	{ "openapi.json", API_GET, API_ROLES_ALL, h_openapi },
	{ NULL, 0, 0, NULL },
};

/* The authorisation tables, tried in order: the one place that says who
 * may do what (each file's table lists its routes' methods and roles). */
static const struct api_route *const tables[] = {
	api_routes_core,  api_routes_upload, api_routes_serials, api_routes_anchors,
	api_routes_certs, api_routes_audit,  api_routes_check,	 api_routes_page,
};

struct store_pool *api_pool(const struct api_req *a)
{
	const struct ra_worker *rw = a->w->app;
	return rw ? rw->pool : NULL;
}

static unsigned role_bit(const char *role)
{
	if (strcmp(role, "operator") == 0)
		return API_ROLE_OPERATOR;
	if (strcmp(role, "auditor") == 0)
		return API_ROLE_AUDITOR;
	if (strncmp(role, "vendor:", 7) == 0)
		return API_ROLE_VENDOR;
	if (strncmp(role, "factory:", 8) == 0)
		return API_ROLE_FACTORY;
	return 0;
}

/* ---- replies: the only ways out ---- */

static const char *method_name(enum http_method m)
{
	switch (m) {
	case HTTP_M_GET:
		return "GET";
	case HTTP_M_HEAD:
		return "HEAD";
	case HTTP_M_POST:
		return "POST";
	case HTTP_M_PUT:
		return "PUT";
	case HTTP_M_DELETE:
		return "DELETE";
	case HTTP_M_PATCH:
		return "PATCH";
	default:
		return "other method";
	}
}

void api_finish(struct api_req *a, int status, const char *ctype, const unsigned char *body,
		size_t len)
{
	struct log_ctx ctx = { .peer = http_req_peer(a->req) };

	if (http_req_cancelled(a->req)) {
		http_reply(a->req, HTTP_DROPPED, NULL, NULL, 0);
	} else {
		log_info(&ctx, "admin api: %s %s -> %d (%s)", method_name(http_req_method(a->req)),
			 http_req_path(a->req), status, a->principal[0] ? a->principal : "-");
		http_reply(a->req, status, ctype, body, len);
	}
	free(a);
}

bool api_gone(struct api_req *a)
{
	if (!http_req_cancelled(a->req))
		return false;
	api_finish(a, HTTP_DROPPED, NULL, NULL, 0);
	return true;
}

bool api_resume(struct api_req *a, int rc)
{
	if (api_gone(a))
		return false;
	if (rc != 0) {
		api_unavailable(a);
		return false;
	}
	return true;
}

void api_reply_json(struct api_req *a, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!s) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	api_finish(a, status, status >= 400 ? "application/problem+json" : "application/json",
		   (const unsigned char *)s, strlen(s));
	free(s);
}

static const char *title_of(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 422:
		return "Unprocessable Content";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return status < 500 ? "Bad Request" : "Internal Server Error";
	}
}

/* RFC 9457: type, title, status, detail. detail never holds a secret. */
void api_problem(struct api_req *a, int status, const char *slug, const char *fmt, ...)
{
	char type[96], detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	snprintf(type, sizeof(type), PROBLEM_PREFIX "%s", slug);
	if (status == 401)
		http_req_set_header(
			a->req, "WWW-Authenticate",
			strcmp(slug, "invalid-token") == 0
				? "Bearer realm=\"cmpgw-admin\", error=\"invalid_token\""
				: "Bearer realm=\"cmpgw-admin\"");
	if (status == 405)
		http_req_set_allow(a->req, a->allow[0] ? a->allow : "GET, HEAD");
	if (status == 429)
		http_req_set_header(a->req, "Retry-After", "60");
	if (status == 503)
		http_req_set_header(a->req, "Retry-After", "5");
	api_reply_json(a, status,
		       json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title_of(status),
				 "status", status, "detail", detail));
}

void api_unavailable(struct api_req *a)
{
	api_problem(a, 503, "unavailable", "the database cannot be reached; retry later");
}

/* ---- authentication ---- */

/* The subject of x in RFC 2253 form into buf; false when it does not fit. */
static bool subject_2253(X509 *x, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	bool ok = false;

	if (b && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) >= 0 && (size_t)n < len && !memchr(p, 0, (size_t)n)) {
		memcpy(buf, p, (size_t)n);
		buf[n] = '\0';
		ok = true;
	}
	BIO_free(b);
	return ok;
}

/* The verified client certificate through admin.principals (first match):
 * fills principal and role; false when none maps it. */
static bool map_cert(struct api_req *a, X509 *x)
{
	const struct cfg *cfg = a->w->cfg;
	char subj[SUBJECT_MAX + 1];

	if (!subject_2253(x, subj, sizeof(subj)))
		return false;
	for (size_t i = 0; i < cfg->n_principals; i++) {
		const struct cfg_principal *p = &cfg->principals[i];
		bool hit = p->cert ? X509_cmp(p->cert, x) == 0
				   : X509_NAME_cmp(X509_get_issuer_name(x),
						   X509_get_subject_name(p->issuer)) == 0 &&
					     X509_check_issued(p->issuer, x) == X509_V_OK &&
					     X509_verify(x, X509_get0_pubkey(p->issuer)) == 1 &&
					     api_glob_match(p->subject, subj);
		if (!hit)
			continue;
		snprintf(a->principal, sizeof(a->principal), "cert:%s", subj);
		snprintf(a->role, sizeof(a->role), "%s", p->role);
		return true;
	}
	return false;
}

static void authorised(struct api_req *a);

/* A refused bearer key: 401 invalid_token, or 403 when the client also
 * sent a certificate that maps to no principal (it is known to TLS, and
 * neither credential grants anything). */
static void deny_key(struct api_req *a, const char *why)
{
	if (a->cert_unmapped)
		api_problem(a, 403, "unmapped-certificate",
			    "the client certificate maps to no admin principal, and %s", why);
	else
		api_problem(a, 401, "invalid-token", "%s", why);
}

static void on_key(void *arg, int rc, enum store_apikey_verdict v, const char *role,
		   const char *key_id)
{
	struct api_req *a = arg;

	if (http_req_cancelled(a->req)) {
		api_finish(a, HTTP_DROPPED, NULL, NULL, 0);
		return;
	}
	if (rc != 0) {
		api_problem(a, 503, "unavailable", "the key store cannot be reached; retry later");
		return;
	}
	if (v != STORE_APIKEY_VALID) {
		if (a->w->app)
			ra_unauth_key_failed(a->w->app, http_req_peer(a->req));
		deny_key(a, v == STORE_APIKEY_REVOKED	? "the API key was revoked"
			    : v == STORE_APIKEY_EXPIRED ? "the API key has expired"
							: "unknown API key or wrong secret");
		return;
	}
	snprintf(a->principal, sizeof(a->principal), "apikey:%s", key_id);
	snprintf(a->role, sizeof(a->role), "%s", role);
	authorised(a);
}

/* Certificate first, then the bearer key (async); answers on failure. */
static void authenticate(struct api_req *a)
{
	X509 *x = http_req_get0_peer_cert(a->req);
	const char *h = http_req_header(a->req, "Authorization");
	const char *key;
	int rc;

	if (x && map_cert(a, x)) {
		authorised(a);
		return;
	}
	a->cert_unmapped = x != NULL;
	if (!h) {
		if (a->cert_unmapped)
			api_problem(a, 403, "unmapped-certificate",
				    "the client certificate maps to no admin principal");
		else
			api_problem(
				a, 401, "no-credentials",
				"send a client certificate or an Authorization: Bearer API key");
		return;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		deny_key(a, "the Authorization scheme must be Bearer");
		return;
	}
	for (key = h + 7; *key == ' '; key++)
		;
	if (!store_apikey_syntax_ok(key)) {
		deny_key(a, "the bearer token is not a cmpgw API key");
		return;
	}
	if (a->w->app && ra_unauth_key_blocked(a->w->app, http_req_peer(a->req))) {
		api_problem(a, 429, "too-many-failures",
			    "too many refused API keys from this address; retry in a minute");
		return;
	}
	rc = api_pool(a) ? store_apikey_verify_async(api_pool(a), key, on_key, a) : RC_DB;
	if (rc != 0)
		api_problem(a, 503, "unavailable", "the key store cannot be reached; retry later");
}

/* ---- routing ---- */

/* pattern against path: a's parameters and vendor on a match. */
static bool match(struct api_req *a, const char *pattern, const char *path)
{
	int np, vendor;

	if (!api_route_match(pattern, path, a->param, &np, &vendor))
		return false;
	a->vendor = vendor >= 0 ? a->param[vendor] : NULL;
	return true;
}

/* The route of a's path and method (NULL: none); *methods gets the
 * methods every route of that path allows. */
static const struct api_route *find_route(struct api_req *a, unsigned *methods)
{
	const char *path = http_req_path(a->req);
	unsigned m = SERVER_METHOD(http_req_method(a->req));
	bool api = path && strncmp(path, PREFIX, strlen(PREFIX)) == 0;

	*methods = 0;
	if (!path)
		return NULL;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct api_route *r = tables[t]; r->pattern; r++) {
			if (r->pattern[0] == '/'
				    ? !match(a, r->pattern + 1, path + 1)
				    : !api || !match(a, r->pattern, path + strlen(PREFIX)))
				continue;
			*methods |= r->methods;
			if (r->methods & m)
				return r;
		}
	return NULL;
}

static void authorised(struct api_req *a)
{
	unsigned m = SERVER_METHOD(http_req_method(a->req)), methods;
	const struct api_route *hit = find_route(a, &methods);
	const char *scope;

	a->role_bit = role_bit(a->role);
	if (!hit && !methods) {
		api_problem(a, 404, "not-found", "no such resource");
		return;
	}
	if (!hit) {
		api_allow_of(methods, a->allow, sizeof(a->allow));
		api_problem(a, 405, "method-not-allowed", "this resource allows %s", a->allow);
		return;
	}
	if (!(hit->roles & (a->role_bit | API_PUBLIC))) {
		api_problem(a, 403, "forbidden", "role %s may not %s this resource", a->role,
			    (m & API_GET) ? "read" : "change");
		return;
	}
	/* vendor:X and factory:X see only X: another vendor is not there */
	if (a->vendor && (scope = api_scope(a)) && strcmp(scope, a->vendor) != 0) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	a->route = hit;
	hit->handle(a);
}

void cmd_api_dispatch(struct http_req *req, void *arg)
{
	struct api_req *a = calloc(1, sizeof(*a));
	const char *q = http_req_query(req);

	if (!a) {
		http_reply(req, 503, NULL, NULL, 0);
		return;
	}
	a->req = req;
	a->w = arg;
	if (q && strlen(q) > QUERY_MAX) {
		api_problem(a, 400, "bad-request", "the query string is longer than %d bytes",
			    QUERY_MAX);
		return;
	}
	/* a public route (no data) needs no credentials; unknown paths are
	 * 404 only after authentication, so that an anonymous client learns
	 * nothing */
	{
		unsigned methods;
		const struct api_route *r = find_route(a, &methods);
		if (r && (r->roles & API_PUBLIC)) {
			a->route = r;
			r->handle(a);
			return;
		}
	}
	authenticate(a);
}

/* ---- helpers of the handler files ---- */

const char *api_scope(const struct api_req *a)
{
	if (a->role_bit == API_ROLE_VENDOR)
		return a->role + 7;
	if (a->role_bit == API_ROLE_FACTORY)
		return a->role + 8;
	return NULL;
}

bool api_query(struct api_req *a, const char *name, char *buf, size_t len, bool *answered)
{
	const char *q = http_req_query(a->req), *v;
	struct evkeyvalq kv;
	bool found = false;

	*answered = false;
	if (!q || !*q)
		return false;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0) {
		api_problem(a, 400, "bad-request", "the query string does not parse");
		*answered = true;
		return false;
	}
	if ((v = evhttp_find_header(&kv, name))) {
		if (strlen(v) >= len) {
			api_problem(a, 400, "bad-request", "%s is longer than %zu bytes", name,
				    len - 1);
			*answered = true;
		} else {
			memcpy(buf, v, strlen(v) + 1);
			found = true;
		}
	}
	evhttp_clear_headers(&kv);
	return found;
}

bool api_only_params(struct api_req *a, const char *const *names)
{
	const char *q = http_req_query(a->req);
	struct evkeyvalq kv;
	struct evkeyval *e;
	char bad[64] = "";

	if (!q || !*q)
		return true;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0) {
		api_problem(a, 400, "bad-request", "the query string does not parse");
		return false;
	}
	TAILQ_FOREACH(e, &kv, next)
	{
		const char *const *n = names;
		while (*n && strcmp(*n, e->key) != 0)
			n++;
		if (!*n) {
			snprintf(bad, sizeof(bad), "%.40s", e->key);
			break;
		}
	}
	evhttp_clear_headers(&kv);
	if (bad[0]) {
		api_problem(a, 400, "bad-request", "unknown query parameter \"%s\"", bad);
		return false;
	}
	return true;
}

bool api_param(struct api_req *a, const char *name, char *buf, size_t len, const char **out)
{
	bool answered;

	*out = api_query(a, name, buf, len, &answered) ? buf : NULL;
	return !answered;
}

bool api_time_param(struct api_req *a, const char *name, char *buf, size_t len, const char **out)
{
	if (!api_param(a, name, buf, len, out))
		return false;
	if (*out && !store_api_time_ok(*out)) {
		api_problem(a, 400, "bad-request",
			    "%s must be an RFC 3339 time such as 2026-12-03T10:00:00Z", name);
		return false;
	}
	return true;
}

bool api_list_params(struct api_req *a, int def, int max, int *limit, char *after, size_t len,
		     bool *has_after)
{
	char v[API_PARAM_MAX * 2 + 8];
	bool answered;

	*limit = def;
	*has_after = false;
	if (api_query(a, "limit", v, sizeof(v), &answered)) {
		char *end;
		long l = strtol(v, &end, 10);
		if (!*v || *end || l < 1 || l > max) {
			api_problem(a, 400, "bad-request", "limit must be an integer 1..%d", max);
			return false;
		}
		*limit = (int)l;
	}
	if (answered)
		return false;
	if (api_query(a, "cursor", v, sizeof(v), &answered)) {
		if (!api_cursor_decode(v, after, len)) {
			api_problem(a, 400, "bad-request",
				    "cursor is not one this server handed out (next_cursor)");
			return false;
		}
		*has_after = true;
	}
	return !answered;
}

json_t *api_json_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *api_body_json(struct api_req *a)
{
	const char *ct = http_req_content_type(a->req);
	const unsigned char *b;
	size_t n;
	json_t *j;
	json_error_t e;

	if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
		api_problem(a, 415, "unsupported-media-type", "the body must be application/json");
		return NULL;
	}
	b = http_req_body(a->req, &n);
	if (!(j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES, &e))) {
		api_problem(a, 400, "bad-request", "the body is not JSON: %s (line %d)", e.text,
			    e.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		api_problem(a, 400, "bad-request", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* ---- handlers ---- */

static void h_whoami(struct api_req *a)
{
	api_reply_json(a, 200, json_pack("{s:s, s:s}", "principal", a->principal, "role", a->role));
}

static void h_openapi(struct api_req *a)
{
	api_finish(a, 200, "application/json", cmd_openapi_json, cmd_openapi_json_len);
}
