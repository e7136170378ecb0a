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

#include "core/log.h"
#include "ra/audit.h"
#include "ra/ra.h"
#include "store/api.h"
#include "store/apikey.h"

extern const unsigned char cmd_openapi_json[];
extern const size_t cmd_openapi_json_len;

#define PREFIX	       "/api/v1/"
#define QUERY_MAX      1024
#define SUBJECT_MAX    1024
#define LIMIT_DEFAULT  50
#define LIMIT_MAX      100
#define PRINCIPAL_MAX  (SUBJECT_MAX + 8)
#define SERIAL_MAX     256
#define PROBLEM_PREFIX "urn:cmpgw:problem:"

/* ---- roles and the authorisation table ---- */

enum role { ROLE_OPERATOR = 1, ROLE_AUDITOR = 2, ROLE_VENDOR = 4, ROLE_FACTORY = 8 };
#define ROLES_ALL  (ROLE_OPERATOR | ROLE_AUDITOR | ROLE_VENDOR | ROLE_FACTORY)
#define ROLES_READ (ROLE_OPERATOR | ROLE_AUDITOR | ROLE_VENDOR)

enum route { R_WHOAMI, R_OPENAPI, R_VENDORS, R_VENDOR, R_SERIAL };

struct api_req;
typedef void (*api_handler)(struct api_req *a);

static void h_whoami(struct api_req *a);
static void h_openapi(struct api_req *a);
static void h_vendors(struct api_req *a);
static void h_serial(struct api_req *a);

/* Route x method -> roles: the one place that says who may do what. Every
 * route here is read-only (GET and HEAD); a write route lists its own
 * methods and roles (operator only, factory for dry runs). vendor:X is
 * further confined to X's data by the handlers (scope_ok). */
static const struct {
	enum route route;
	unsigned methods;
	unsigned roles;
	api_handler handle;
} authz[] = {
	{ R_WHOAMI, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), ROLES_ALL, h_whoami },
	{ R_OPENAPI, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), ROLES_ALL, h_openapi },
	{ R_VENDORS, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), ROLES_READ,
	  h_vendors },
	{ R_VENDOR, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), ROLES_READ, h_vendors },
	{ R_SERIAL, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), ROLES_READ, h_serial },
};

/* One request of the admin listener, from dispatch to its reply. */
struct api_req {
	struct http_req *req;
	struct worker *w;
	enum route route;
	char vendor[STORE_API_NAME_MAX + 1]; /* {name} of the path */
	char serial[SERIAL_MAX + 1];	     /* {serial} */
	char principal[PRINCIPAL_MAX + 1];   /* "cert:<subject>" or "apikey:<id>" */
	char role[STORE_APIKEY_ROLE_MAX + 1];
	unsigned role_bit;
	bool cert_unmapped; /* a verified client certificate no principal maps */
	int limit;
	char after[STORE_API_NAME_MAX + 1]; /* decoded cursor */
	bool has_after;
};

static struct store_pool *pool_of(const struct api_req *a)
{
	const struct ra_worker *rw = a->w->app;
	return rw ? rw->pool : NULL;
}

static unsigned role_bit(const char *role)
{
	if (strcmp(role, "operator") == 0)
		return ROLE_OPERATOR;
	if (strcmp(role, "auditor") == 0)
		return ROLE_AUDITOR;
	if (strncmp(role, "vendor:", 7) == 0)
		return ROLE_VENDOR;
	if (strncmp(role, "factory:", 8) == 0)
		return ROLE_FACTORY;
	return 0;
}

/* ---- replies: the only two ways out ---- */

static void finish(struct api_req *a, int status, const char *ctype, const unsigned char *body,
		   size_t len)
{
	struct log_ctx ctx = { .peer = http_req_peer(a->req) };

	if (http_req_cancelled(a->req)) {
		http_reply(a->req, HTTP_DROPPED, NULL, NULL, 0);
	} else {
		enum http_method m = http_req_method(a->req);
		log_info(&ctx, "admin api: %s %s -> %d (%s)",
			 m == HTTP_M_GET    ? "GET"
			 : m == HTTP_M_HEAD ? "HEAD"
			 : m == HTTP_M_POST ? "POST"
					    : "other method",
			 http_req_path(a->req), status, a->principal[0] ? a->principal : "-");
		http_reply(a->req, status, ctype, body, len);
	}
	free(a);
}

static void reply_json(struct api_req *a, int status, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!s) {
		finish(a, 500, NULL, NULL, 0);
		return;
	}
	finish(a, status, status >= 400 ? "application/problem+json" : "application/json",
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
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

/* RFC 9457: type, title, status, detail. detail never holds a secret. */
static void problem(struct api_req *a, int status, const char *slug, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void problem(struct api_req *a, int status, const char *slug, const char *fmt, ...)
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
		http_req_set_allow(a->req, "GET, HEAD");
	if (status == 429)
		http_req_set_header(a->req, "Retry-After", "60");
	reply_json(a, status,
		   json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title_of(status),
			     "status", status, "detail", detail));
}

/* ---- authentication ---- */

/* '*' matches any run of characters (none included); everything else
 * itself. Iterative, linear in practice (backtracks to the last star). */
static bool glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

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
					     glob_match(p->subject, subj);
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
		problem(a, 403, "unmapped-certificate",
			"the client certificate maps to no admin principal, and %s", why);
	else
		problem(a, 401, "invalid-token", "%s", why);
}

static void on_key(void *arg, int rc, enum store_apikey_verdict v, const char *role,
		   const char *key_id)
{
	struct api_req *a = arg;

	if (http_req_cancelled(a->req)) {
		finish(a, HTTP_DROPPED, NULL, NULL, 0);
		return;
	}
	if (rc != 0) {
		problem(a, 503, "unavailable", "the key store cannot be reached; retry later");
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
			problem(a, 403, "unmapped-certificate",
				"the client certificate maps to no admin principal");
		else
			problem(a, 401, "no-credentials",
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
		problem(a, 429, "too-many-failures",
			"too many refused API keys from this address; retry in a minute");
		return;
	}
	rc = pool_of(a) ? store_apikey_verify_async(pool_of(a), key, on_key, a) : RC_DB;
	if (rc != 0)
		problem(a, 503, "unavailable", "the key store cannot be reached; retry later");
}

/* ---- routing ---- */

/* A path segment: 1..max bytes, printable, no '/'. */
static bool segment(const char *s, size_t n, size_t max, char *out)
{
	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* path (below PREFIX) -> route and its parameters; false: no such path. */
static bool parse_route(struct api_req *a, const char *p)
{
	const char *slash, *rest;

	if (strcmp(p, "whoami") == 0)
		return a->route = R_WHOAMI, true;
	if (strcmp(p, "openapi.json") == 0)
		return a->route = R_OPENAPI, true;
	if (strcmp(p, "vendors") == 0 || strcmp(p, "vendors/") == 0)
		return a->route = R_VENDORS, true;
	if (strncmp(p, "vendors/", 8) != 0)
		return false;
	p += 8;
	if (!(slash = strchr(p, '/'))) {
		a->route = R_VENDOR;
		return segment(p, strlen(p), STORE_API_NAME_MAX, a->vendor);
	}
	if (!segment(p, (size_t)(slash - p), STORE_API_NAME_MAX, a->vendor) ||
	    strncmp(slash, "/serials/", 9) != 0)
		return false;
	rest = slash + 9;
	a->route = R_SERIAL;
	return !strchr(rest, '/') && segment(rest, strlen(rest), SERIAL_MAX, a->serial);
}

static void authorised(struct api_req *a)
{
	for (size_t i = 0; i < sizeof(authz) / sizeof(authz[0]); i++) {
		if (authz[i].route != a->route)
			continue;
		a->role_bit = role_bit(a->role);
		if (!(authz[i].methods & SERVER_METHOD(http_req_method(a->req)))) {
			problem(a, 405, "method-not-allowed",
				"this resource is read-only (GET, HEAD)");
			return;
		}
		if (!(authz[i].roles & a->role_bit)) {
			problem(a, 403, "forbidden", "role %s may not read this resource", a->role);
			return;
		}
		authz[i].handle(a);
		return;
	}
	problem(a, 404, "not-found", "no such resource");
}

void cmd_api_dispatch(struct http_req *req, void *arg)
{
	struct api_req *a = calloc(1, sizeof(*a));
	const char *path = http_req_path(req), *q = http_req_query(req);

	if (!a) {
		http_reply(req, 503, NULL, NULL, 0);
		return;
	}
	a->req = req;
	a->w = arg;
	if (q && strlen(q) > QUERY_MAX) {
		problem(a, 400, "bad-request", "the query string is longer than %d bytes",
			QUERY_MAX);
		return;
	}
	/* unknown paths are 404 after authentication, so that an anonymous
	 * client learns nothing; bad parameters of a known path too */
	if (!path || strncmp(path, PREFIX, strlen(PREFIX)) != 0 ||
	    !parse_route(a, path + strlen(PREFIX)))
		a->route = (enum route) - 1;
	authenticate(a);
}

/* ---- handlers ---- */

static void h_whoami(struct api_req *a)
{
	reply_json(a, 200, json_pack("{s:s, s:s}", "principal", a->principal, "role", a->role));
}

static void h_openapi(struct api_req *a)
{
	finish(a, 200, "application/json", cmd_openapi_json, cmd_openapi_json_len);
}

/* The vendor a vendor:X principal is confined to, or NULL (any). */
static const char *scope_of(const struct api_req *a)
{
	return a->role_bit == ROLE_VENDOR ? a->role + 7 : NULL;
}

static json_t *vendor_json(const struct store_api_vendor *v)
{
	return json_pack("{s:s, s:s, s:{s:I, s:I, s:I}, s:I, s:I}", "name", v->name, "strictness",
			 v->strict ? "strict" : "lenient", "serials", "allowed",
			 (json_int_t)v->allowed, "blocked", (json_int_t)v->blocked, "enrolled",
			 (json_int_t)v->enrolled, "anchors", (json_int_t)v->anchors,
			 "intermediates", (json_int_t)v->intermediates);
}

/* Cursor: "v1." + hex of the last name listed; opaque to clients. */
static void cursor_of(const char *name, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "v1.");

	for (const unsigned char *p = (const unsigned char *)name; *p && o + 3 <= len; p++)
		o += (size_t)snprintf(out + o, len - o, "%02x", *p);
}

static bool cursor_parse(const char *c, char *out, size_t len)
{
	size_t n = strlen(c), k = 0;

	if (n < 5 || strncmp(c, "v1.", 3) != 0 || (n - 3) % 2 || (n - 3) / 2 >= len)
		return false;
	for (size_t i = 3; i < n; i += 2) {
		unsigned v;
		if (sscanf(c + i, "%2x", &v) != 1 || v < 0x21 || v > 0x7e ||
		    !strchr("0123456789abcdef", c[i]) || !strchr("0123456789abcdef", c[i + 1]))
			return false;
		out[k++] = (char)v;
	}
	out[k] = '\0';
	return true;
}

static void on_vendors(void *arg, int rc, const struct store_api_vendor *rows, size_t n)
{
	struct api_req *a = arg;
	json_t *list, *j;
	char next[2 * STORE_API_NAME_MAX + 8];

	if (http_req_cancelled(a->req)) {
		finish(a, HTTP_DROPPED, NULL, NULL, 0);
		return;
	}
	if (rc != 0) {
		problem(a, 503, "unavailable", "the database cannot be reached; retry later");
		return;
	}
	if (a->route == R_VENDOR) {
		if (n != 1)
			problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		else
			reply_json(a, 200, vendor_json(&rows[0]));
		return;
	}
	if (!(list = json_array())) {
		finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < a->limit; i++)
		json_array_append_new(list, vendor_json(&rows[i]));
	/* one row more than the page was asked for: there is a next page */
	if ((int)n > a->limit)
		cursor_of(rows[a->limit - 1].name, next, sizeof(next));
	j = json_pack("{s:o, s:s?}", "vendors", list, "next_cursor",
		      (int)n > a->limit ? next : NULL);
	if (j && (int)n <= a->limit)
		json_object_set_new(j, "next_cursor", json_null());
	reply_json(a, 200, j);
}

/* ?limit=&cursor= of the vendor list; answers and returns false when bad. */
static bool list_params(struct api_req *a)
{
	const char *q = http_req_query(a->req), *v;
	struct evkeyvalq kv;
	bool ok = true;

	a->limit = LIMIT_DEFAULT;
	if (!q || !*q)
		return true;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0) {
		problem(a, 400, "bad-request", "the query string does not parse");
		return false;
	}
	if ((v = evhttp_find_header(&kv, "limit"))) {
		char *end;
		long l = strtol(v, &end, 10);
		if (!*v || *end || l < 1 || l > LIMIT_MAX) {
			problem(a, 400, "bad-request", "limit must be an integer 1..%d", LIMIT_MAX);
			ok = false;
		} else {
			a->limit = (int)l;
		}
	}
	if (ok && (v = evhttp_find_header(&kv, "cursor"))) {
		if (!cursor_parse(v, a->after, sizeof(a->after))) {
			problem(a, 400, "bad-request",
				"cursor is not one this server handed out (next_cursor)");
			ok = false;
		} else {
			a->has_after = true;
		}
	}
	evhttp_clear_headers(&kv);
	return ok;
}

static void h_vendors(struct api_req *a)
{
	const char *scope = scope_of(a), *only = NULL;
	int rc;

	if (a->route == R_VENDOR) {
		/* another vendor's name: the same 404 as an unknown one */
		if (scope && strcmp(scope, a->vendor) != 0) {
			problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
			return;
		}
		only = a->vendor;
		a->limit = 1;
	} else {
		if (!list_params(a))
			return;
		only = scope;
	}
	rc = pool_of(a) ? store_api_vendors(pool_of(a), only, a->has_after ? a->after : NULL,
					    a->route == R_VENDOR ? 1 : a->limit + 1, on_vendors, a)
			: RC_DB;
	if (rc != 0)
		problem(a, 503, "unavailable", "the database cannot be reached; retry later");
}

static void on_serial(void *arg, int rc, const struct store_api_serial *s)
{
	struct api_req *a = arg;
	json_t *j;

	if (http_req_cancelled(a->req)) {
		finish(a, HTTP_DROPPED, NULL, NULL, 0);
		return;
	}
	if (rc != 0) {
		problem(a, 503, "unavailable", "the database cannot be reached; retry later");
		return;
	}
	if (!s->vendor_found) {
		problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	if (!s->listed && !s->cert_serial) {
		problem(a, 404, "not-found", "serial \"%s\" is not in vendor %s's list", a->serial,
			a->vendor);
		return;
	}
	j = json_pack("{s:s, s:s, s:s?, s:s?}", "vendor", a->vendor, "serial", a->serial, "state",
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
	reply_json(a, 200, j);
}

static void h_serial(struct api_req *a)
{
	const char *scope = scope_of(a);
	int rc;

	if (scope && strcmp(scope, a->vendor) != 0) {
		problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	rc = pool_of(a) ? store_api_serial(pool_of(a), a->vendor, a->serial, on_serial, a) : RC_DB;
	if (rc != 0)
		problem(a, 503, "unavailable", "the database cannot be reached; retry later");
}
