/*
 * cmd/api_int.h - what the admin API's handler files share (cmd/api.c is
 * the framework: authentication, routing, authorisation, replies, jobs;
 * cmd/api_*.c are the resources; docs/ADMIN.md).
 *
 * A handler is called once a request is authenticated and its route and
 * role admitted it; it answers exactly once, now or later, with
 * api_reply_json, api_problem or api_finish (each frees a). Async code
 * resumes with api_gone(a) first: a client that went away gets nothing.
 *
 * Blocking work (the CLI's store functions, so that the CLI and the API
 * run the same code) goes to a job thread with its own database
 * connection (api_job); the loop thread never blocks.
 *
 * Threads: the worker's loop thread, except the work function of a job.
 */
#ifndef CMPGW_CMD_API_INT_H
#define CMPGW_CMD_API_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/http.h"
#include "cmd/api_match.h"
#include "core/server.h"
#include "store/apikey.h"

struct store_conn;
struct store_pool;

enum api_role {
	API_ROLE_OPERATOR = 1,
	API_ROLE_AUDITOR = 2,
	API_ROLE_VENDOR = 4,  /* vendor:<name>: that vendor's data only */
	API_ROLE_FACTORY = 8, /* factory:<name>: dry runs for that vendor */
};
/* A route anyone may call, without credentials (only for content that
 * holds no data, such as the status page's HTML and script). */
#define API_PUBLIC     16
#define API_ROLES_ALL  (API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_VENDOR | API_ROLE_FACTORY)
#define API_ROLES_READ (API_ROLE_OPERATOR | API_ROLE_AUDITOR | API_ROLE_VENDOR)

#define API_GET	   (SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD))
#define API_POST   SERVER_METHOD(HTTP_M_POST)
#define API_PUT	   SERVER_METHOD(HTTP_M_PUT)
#define API_DELETE SERVER_METHOD(HTTP_M_DELETE)
#define API_PATCH  SERVER_METHOD(HTTP_M_PATCH)

struct api_req;
typedef void (*api_handler)(struct api_req *a);

/*
 * One entry of the authorisation table: a path pattern below /api/v1/
 * ("vendors/{vendor}/serials/{serial}": literal segments and {name}
 * placeholders, each one whole segment; a pattern starting with '/' is
 * an absolute path outside /api/v1, e.g. "/status"), the methods and the roles it
 * admits, and its handler. Several entries may share a pattern with
 * different methods. A pattern with a {vendor} placeholder confines
 * vendor:X and factory:X principals to X: another name gets the same 404
 * as a vendor that does not exist (the framework checks it before the
 * handler runs). Routes without {vendor} that a vendor role may use must
 * filter by api_scope() themselves. Each table ends with { NULL }.
 */
struct api_route {
	const char *pattern;
	unsigned methods;
	unsigned roles;
	api_handler handle;
};

/* One table per resource file; cmd/api.c tries them in this order. */
extern const struct api_route api_routes_core[];    /* cmd/api.c */
extern const struct api_route api_routes_upload[];  /* cmd/api_upload.c */
extern const struct api_route api_routes_serials[]; /* cmd/api_serials.c */
extern const struct api_route api_routes_anchors[]; /* cmd/api_anchors.c */
extern const struct api_route api_routes_certs[];   /* cmd/api_certs.c */
extern const struct api_route api_routes_audit[];   /* cmd/api_audit.c */
extern const struct api_route api_routes_check[];   /* cmd/api_check.c */
extern const struct api_route api_routes_page[];    /* cmd/api_page.c */

#define API_PRINCIPAL_MAX 1032

/* One request of the admin listener, from dispatch to its reply. */
struct api_req {
	struct http_req *req;
	struct worker *w;
	const struct api_route *route;
	/* the {placeholders} of the pattern, in order, decoded; printable
	 * ASCII without '/', 1..API_PARAM_MAX bytes */
	char param[API_PARAMS_MAX][API_PARAM_MAX + 1];
	const char *vendor;		       /* the {vendor} parameter, or NULL */
	char principal[API_PRINCIPAL_MAX + 1]; /* "cert:<subject>" or "apikey:<id>" */
	char role[STORE_APIKEY_ROLE_MAX + 1];
	unsigned role_bit;
	bool cert_unmapped; /* a verified client certificate no principal maps */
	char allow[64];	    /* Allow of a 405 */
	void *data;	    /* the handler's */
};

/* ---- replies (each frees a; exactly one per request) ---- */

/* status with body (copied) of type ctype; HTTP_DROPPED when the client
 * went away (nothing sent). */
void api_finish(struct api_req *a, int status, const char *ctype, const unsigned char *body,
		size_t len);
/* j (stolen; NULL: 500) as application/json, or application/problem+json
 * for status >= 400. */
void api_reply_json(struct api_req *a, int status, json_t *j);
/* RFC 9457 problem: type urn:cmpgw:problem:<slug>, title of status,
 * detail (never a secret). 401 adds WWW-Authenticate, 429 Retry-After,
 * 503 Retry-After: 5. */
void api_problem(struct api_req *a, int status, const char *slug, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 503 "the database cannot be reached; retry later". */
void api_unavailable(struct api_req *a);
/* True (and a is answered and freed) when the client went away: resume
 * every async path with `if (api_gone(a)) return;`. */
bool api_gone(struct api_req *a);
/* Where a query's callback resumes: false (and a answered and freed) when
 * the client went away or rc is not 0 (503 unavailable). */
bool api_resume(struct api_req *a, int rc);

/* ---- request helpers ---- */

/* The worker's database pool (async queries, store/call.h), or NULL. */
struct store_pool *api_pool(const struct api_req *a);
/* The vendor a vendor:X or factory:X principal is confined to, or NULL
 * (operator, auditor: any). */
const char *api_scope(const struct api_req *a);
/* The query parameter name (decoded; first occurrence) into buf; false
 * when absent. A value longer than len-1 bytes or holding a NUL byte
 * answers 400 and sets *answered. */
bool api_query(struct api_req *a, const char *name, char *buf, size_t len, bool *answered);
/* Every query parameter is one of names (NULL-terminated): a misspelt
 * filter is an error, not a silently wider search. false: answered 400. */
bool api_only_params(struct api_req *a, const char *const *names);
/* An optional query parameter into buf; *out is buf, or NULL when absent.
 * false: answered (400: too long, or the query does not parse). */
bool api_param(struct api_req *a, const char *name, char *buf, size_t len, const char **out);
/* The same for an RFC 3339 time, checked strictly (store_api_time_ok). */
bool api_time_param(struct api_req *a, const char *name, char *buf, size_t len, const char **out);
/* ?limit= (1..max, default def) and ?cursor= (decoded into after, len
 * bytes; *has_after) of a list; false: answered 400. */
bool api_list_params(struct api_req *a, int def, int max, int *limit, char *after, size_t len,
		     bool *has_after);
/* cursors: api_cursor_encode / api_cursor_decode (cmd/api_match.h) */
/* A JSON string of s, or JSON null when s is NULL (new reference). */
json_t *api_json_str(const char *s);
/* The request body as JSON: Content-Type must be application/json (else
 * 415), the body an object (else 400). NULL: answered. */
json_t *api_body_json(struct api_req *a);

/* ---- jobs: blocking work off the loop ---- */

/* What a job's work function gets, on its own thread. */
struct api_job_ctx {
	struct store_conn *conn; /* blocking, on the job's own connection */
	const char *principal;	 /* the request's, for store_audit_admin */
	const atomic_bool *stop; /* true: the worker is stopping; give up */
	const struct cfg *cfg;	 /* the worker's snapshot (a reference) */
};
/* Runs on a job thread; returns a result code that done gets. */
typedef int (*api_job_work)(struct api_job_ctx *ctx, void *arg);
/* Runs on the loop thread once work returned; must answer a (api_gone
 * first). When the database could not be reached, work is not called and
 * rc is RC_DB. */
typedef void (*api_job_done)(struct api_req *a, int rc, void *arg);
/* Start work(arg) on a new job thread. 0: done(a, rc, arg) follows on the
 * loop thread; otherwise nothing was started and a is answered (503 with
 * Retry-After: API_JOBS_MAX jobs run on this worker, or no thread): the
 * caller only frees arg. */
#define API_JOBS_MAX 4
int api_job(struct api_req *a, api_job_work work, api_job_done done, void *arg);

/* Worker start/stop (cmd/serve.c hooks): fini, after the loop ended,
 * stops this worker's jobs (stop set, threads joined, each done run; its
 * answer is never sent). */
int cmd_api_worker_init(struct worker *w);
void cmd_api_worker_fini(struct worker *w);

#endif
