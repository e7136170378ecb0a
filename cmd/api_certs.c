/*
 * cmd/api_certs.c - certificates and one-time tokens in the admin API
 * (cmd/api_int.h, docs/ADMIN.md "Certificates and tokens").
 *
 * Reads are async queries on the worker's pool (store/api_certs.h).
 * Changes (revoke, token create and revoke) run the CLI's own store
 * functions (store_api_*_audited, which `cmpgw cert revoke` and `cmpgw
 * token` call too) in a job, with the API principal in the audit row.
 *
 * Vendor principals: GET /certificates filters by api_scope(), so another
 * vendor's certificates never appear (?vendor=B gives an empty list) and
 * one of them asked for by serial is 404, as if it did not exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cmd/api_int.h"
#include "core/cfg.h"
#include "policy/crl.h"
#include "ra/ra.h"
#include "ra/token.h"
#include "store/api_audit.h"
#include "store/api_certs.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX     100
#define ISSUER_MAX    512
#define TEXT_MAX      256 /* device serial, vendor name in a query */
#define TTL_DEFAULT   "24h"

static void h_certs(struct api_req *a);
static void h_cert(struct api_req *a);
static void h_revoke(struct api_req *a);
static void h_tokens(struct api_req *a);
static void h_token_create(struct api_req *a);
static void h_token_revoke(struct api_req *a);

const struct api_route api_routes_certs[] = {
	{ "certificates", API_GET, API_ROLES_READ, h_certs },
	{ "certificates/{serial}", API_GET, API_ROLES_READ, h_cert },
	{ "certificates/{serial}/revoke", API_POST, API_ROLE_OPERATOR, h_revoke },
	{ "tokens", API_GET, API_ROLE_OPERATOR | API_ROLE_AUDITOR, h_tokens },
	{ "tokens", API_POST, API_ROLE_OPERATOR, h_token_create },
	{ "tokens/{ref}", API_DELETE, API_ROLE_OPERATOR, h_token_revoke },
	{ NULL, 0, 0, NULL },
};

/* ---- parameters ---- */

static const char *const STATUSES[] = { "unconfirmed", "active", "revoked", "superseded", NULL };

static bool status_ok(const char *s)
{
	for (const char *const *p = STATUSES; *p; p++)
		if (strcmp(*p, s) == 0)
			return true;
	return false;
}

/* ---- certificate JSON ---- */

static json_t *cert_json(const struct store_api_cert *c)
{
	json_t *j = json_object();

	if (!j)
		return NULL;
	json_object_set_new(j, "serial", json_string(c->serial_hex));
	json_object_set_new(j, "subject", json_string(c->subject));
	json_object_set_new(j, "issuer", json_string(c->issuer));
	json_object_set_new(j, "device_serial", api_json_str(c->device_serial));
	json_object_set_new(j, "vendor", api_json_str(c->vendor));
	json_object_set_new(j, "alias", api_json_str(c->alias));
	json_object_set_new(j, "status", json_string(c->status));
	json_object_set_new(j, "not_before", json_string(c->not_before));
	json_object_set_new(j, "not_after", json_string(c->not_after));
	json_object_set_new(j, "issued_at", json_string(c->issued_at));
	json_object_set_new(j, "revoked_at", api_json_str(c->revoked_at));
	json_object_set_new(j, "revocation_reason",
			    c->reason >= 0 ? json_string(policy_crl_reason_name(c->reason))
					   : json_null());
	return j;
}

/* ---- GET /certificates ---- */

struct list_q {
	int limit;
};

static void on_certs(void *arg, int rc, const struct store_api_cert *rows, size_t n)
{
	struct api_req *a = arg;
	int limit = ((struct list_q *)a->data)->limit;
	json_t *list, *j;
	char key[24], next[64];

	free(a->data);
	a->data = NULL;
	if (!api_resume(a, rc))
		return;
	if (!(list = json_array())) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < limit; i++)
		json_array_append_new(list, cert_json(&rows[i]));
	/* one row more than asked: there is a next page, after the last shown */
	if ((int)n > limit) {
		snprintf(key, sizeof(key), "%lld", rows[limit - 1].id);
		api_cursor_encode(key, next, sizeof(next));
	}
	j = json_pack("{s:o, s:o}", "certificates", list, "next_cursor",
		      (int)n > limit ? json_string(next) : json_null());
	api_reply_json(a, 200, j);
}

static void h_certs(struct api_req *a)
{
	static const char *const names[] = {
		"device_serial",
		"vendor",
		"status",
		"valid_at",
		"not_after_before",
		"not_after_after",
		"issued_after",
		"issued_before",
		"serial",
		"issuer",
		"limit",
		"cursor",
		NULL,
	};
	char after[32], ds[TEXT_MAX + 1], ven[TEXT_MAX + 1], st[16], t[5][64];
	char ser[STORE_API_CERT_SERIAL_MAX + 8], cser[STORE_API_CERT_SERIAL_MAX + 1];
	char iss[ISSUER_MAX + 1];
	struct store_api_cert_filter f = { 0 };
	const char *sp;
	struct list_q *q;
	bool has_after;
	int rc;

	if (!api_only_params(a, names) ||
	    !api_list_params(a, LIMIT_DEFAULT, LIMIT_MAX, &f.limit, after, sizeof(after),
			     &has_after) ||
	    !api_param(a, "device_serial", ds, sizeof(ds), &f.device_serial) ||
	    !api_param(a, "vendor", ven, sizeof(ven), &f.vendor) ||
	    !api_param(a, "status", st, sizeof(st), &f.status) ||
	    !api_param(a, "serial", ser, sizeof(ser), &sp) ||
	    !api_param(a, "issuer", iss, sizeof(iss), &f.issuer) ||
	    !api_time_param(a, "valid_at", t[0], sizeof(t[0]), &f.valid_at) ||
	    !api_time_param(a, "not_after_before", t[1], sizeof(t[1]), &f.not_after_before) ||
	    !api_time_param(a, "not_after_after", t[2], sizeof(t[2]), &f.not_after_after) ||
	    !api_time_param(a, "issued_after", t[3], sizeof(t[3]), &f.issued_after) ||
	    !api_time_param(a, "issued_before", t[4], sizeof(t[4]), &f.issued_before))
		return;
	if (f.status && !status_ok(f.status)) {
		api_problem(a, 400, "bad-request",
			    "status must be one of unconfirmed, active, revoked, superseded");
		return;
	}
	if (sp && !store_api_serial_canon(sp, cser, sizeof(cser))) {
		api_problem(a, 400, "bad-request",
			    "serial must be a hexadecimal serial number (1A2B, 0x1a2b or 1a:2b)");
		return;
	}
	f.serial_hex = sp ? cser : NULL;
	if (has_after) {
		char *end;
		f.after_id = strtoll(after, &end, 10);
		if (!after[0] || *end || f.after_id < 0) {
			api_problem(a, 400, "bad-request",
				    "cursor is not one this server handed out (next_cursor)");
			return;
		}
	}
	f.scope = api_scope(a);
	/* one row more than the page: tells whether a next page exists */
	f.limit += 1;
	if (!(q = calloc(1, sizeof(*q)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	q->limit = f.limit - 1;
	a->data = q;
	rc = api_pool(a) ? store_api_certs(api_pool(a), &f, on_certs, a) : RC_DB;
	if (rc != 0) {
		free(q);
		a->data = NULL;
		api_unavailable(a);
	}
}

/* ---- GET /certificates/{serial} ---- */

enum fmt { FMT_JSON, FMT_PEM, FMT_DER };

/* The PEM text of der (one CERTIFICATE block) as a new string. */
static char *pem_of(const struct store_bytes *der, size_t *len)
{
	const unsigned char *p = der->p;
	X509 *x = d2i_X509(NULL, &p, (long)der->len);
	BIO *b = x ? BIO_new(BIO_s_mem()) : NULL;
	char *data, *out = NULL;
	long n;

	if (b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &data)) > 0 &&
	    (out = malloc((size_t)n + 1))) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
		*len = (size_t)n;
	}
	BIO_free(b);
	X509_free(x);
	return out;
}

static void on_cert(void *arg, int rc, const struct store_api_cert *rows, size_t n)
{
	struct api_req *a = arg;
	enum fmt f = (enum fmt)(long)a->data;
	char *pem = NULL;
	size_t len = 0;
	json_t *j;

	if (!api_resume(a, rc))
		return;
	if (n == 0) {
		api_problem(a, 404, "not-found", "no certificate with serial %s", a->param[0]);
		return;
	}
	if (n > 1) {
		api_problem(a, 409, "ambiguous-serial",
			    "certificates of several issuers have serial %s; add "
			    "?issuer= (the issuer as GET /certificates?serial= lists it)",
			    a->param[0]);
		return;
	}
	if (f == FMT_DER) {
		api_finish(a, 200, "application/pkix-cert", rows[0].der.p, rows[0].der.len);
		return;
	}
	if (!(pem = pem_of(&rows[0].der, &len))) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	if (f == FMT_PEM) {
		api_finish(a, 200, "application/x-pem-file", (const unsigned char *)pem, len);
	} else {
		if ((j = cert_json(&rows[0])))
			json_object_set_new(j, "pem", json_string(pem));
		api_reply_json(a, 200, j);
	}
	free(pem);
}

/* ?format= first, else the Accept header's first type we serve. */
static bool format_of(struct api_req *a, enum fmt *f)
{
	const char *acc = http_req_header(a->req, "Accept");
	char v[16];
	bool answered;

	*f = FMT_JSON;
	if (api_query(a, "format", v, sizeof(v), &answered)) {
		if (strcmp(v, "json") == 0)
			*f = FMT_JSON;
		else if (strcmp(v, "pem") == 0)
			*f = FMT_PEM;
		else if (strcmp(v, "der") == 0)
			*f = FMT_DER;
		else {
			api_problem(a, 400, "bad-request", "format must be json, pem or der");
			return false;
		}
		return true;
	}
	if (answered)
		return false;
	if (acc) {
		const char *pem = strcasestr(acc, "application/x-pem-file");
		const char *der = strcasestr(acc, "application/pkix-cert");
		const char *json = strcasestr(acc, "application/json");
		/* the type named first wins (q-values are not weighed) */
		if (pem && (!der || pem < der) && (!json || pem < json))
			*f = FMT_PEM;
		else if (der && (!json || der < json))
			*f = FMT_DER;
	}
	return true;
}

static void h_cert(struct api_req *a)
{
	static const char *const names[] = { "issuer", "format", NULL };
	char cser[STORE_API_CERT_SERIAL_MAX + 1], iss[ISSUER_MAX + 1];
	struct store_api_cert_filter f = { 0 };
	enum fmt fmt;
	int rc;

	if (!api_only_params(a, names) || !format_of(a, &fmt) ||
	    !api_param(a, "issuer", iss, sizeof(iss), &f.issuer))
		return;
	if (!store_api_serial_canon(a->param[0], cser, sizeof(cser))) {
		api_problem(a, 400, "bad-request",
			    "the serial must be hexadecimal (1A2B, 0x1a2b or 1a:2b), at most %d "
			    "digits",
			    STORE_API_CERT_SERIAL_MAX);
		return;
	}
	f.serial_hex = cser;
	f.scope = api_scope(a);
	f.limit = 2; /* a second row: the serial is ambiguous without issuer */
	f.with_der = true;
	a->data = (void *)(long)fmt;
	rc = api_pool(a) ? store_api_certs(api_pool(a), &f, on_cert, a) : RC_DB;
	if (rc != 0)
		api_unavailable(a);
}

/* ---- POST /certificates/{serial}/revoke ---- */

struct revoke_job {
	char serial[STORE_API_CERT_SERIAL_MAX + 1];
	char issuer[ISSUER_MAX];
	int reason;
	enum store_outcome status;
};

static int revoke_work(struct api_job_ctx *ctx, void *arg)
{
	struct revoke_job *j = arg;
	char detail[1024];
	struct store_revoke r = { .issuer = j->issuer,
				  .serial_hex = j->serial,
				  .peer = "admin-api",
				  .by = ctx->principal,
				  .reason = j->reason };

	/* the same detail as `cmpgw cert revoke` writes */
	snprintf(detail, sizeof(detail), "certificate %s of %s, reason %s", j->serial, j->issuer,
		 policy_crl_reason_name(j->reason));
	return store_api_cert_revoke_audited(ctx->conn, ctx->principal, &r, detail, &j->status);
}

/* After the change: the certificate as it is now (200), or as it was
 * already revoked (409, with its revocation). */
static void on_revoked(void *arg, int rc, const struct store_api_cert *rows, size_t n)
{
	struct api_req *a = arg;
	struct revoke_job *j = a->data;
	json_t *p;

	a->data = NULL;
	if (api_gone(a)) {
		free(j);
		return;
	}
	if (rc != 0 || n != 1) {
		free(j);
		api_unavailable(a);
		return;
	}
	if (j->status == STORE_OUT_REVOKED) {
		char d[256];
		snprintf(d, sizeof(d), "certificate %s is already revoked (%s, at %s)", j->serial,
			 rows[0].reason >= 0 ? policy_crl_reason_name(rows[0].reason) : "?",
			 rows[0].revoked_at ? rows[0].revoked_at : "?");
		/* RFC 9457 3.2: an extension member carries the existing
		 * revocation for a client to read */
		p = json_pack("{s:s, s:s, s:i, s:s, s:o}", "type",
			      "urn:cmpgw:problem:already-revoked", "title", "Conflict", "status",
			      409, "detail", d, "certificate", cert_json(&rows[0]));
		free(j);
		api_reply_json(a, 409, p);
		return;
	}
	free(j);
	api_reply_json(a, 200, cert_json(&rows[0]));
}

static void revoke_done(struct api_req *a, int rc, void *arg)
{
	struct revoke_job *j = arg;
	struct store_api_cert_filter f = { 0 };

	if (api_gone(a)) {
		free(j);
		return;
	}
	if (rc != 0) {
		free(j);
		api_unavailable(a);
		return;
	}
	switch (j->status) {
	case STORE_OUT_OK:
	case STORE_OUT_RELEASED:
	case STORE_OUT_REVOKED:
		break;
	case STORE_OUT_UNKNOWN:
		api_problem(a, 404, "not-found", "no certificate with serial %s was issued by %s",
			    j->serial, j->issuer);
		free(j);
		return;
	case STORE_OUT_NOT_ON_HOLD:
		api_problem(a, 409, "not-on-hold",
			    "certificate %s is not on hold (certificateHold): removeFromCRL "
			    "releases a hold only",
			    j->serial);
		free(j);
		return;
	default:
		api_problem(a, 409, "refused", "revocation of %s refused (%s)", j->serial,
			    store_outcome_name(j->status));
		free(j);
		return;
	}
	f.serial_hex = j->serial;
	f.issuer = j->issuer;
	f.limit = 1;
	a->data = j;
	if ((rc = api_pool(a) ? store_api_certs(api_pool(a), &f, on_revoked, a) : RC_DB) != 0) {
		a->data = NULL;
		free(j);
		api_unavailable(a);
	}
}

static void h_revoke(struct api_req *a)
{
	struct revoke_job *j = NULL;
	json_t *body = NULL, *v;
	const char *k;
	size_t blen = 0;

	if (!api_only_params(a, (const char *const[]){ NULL }))
		return;
	if (!(j = calloc(1, sizeof(*j)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	if (!store_api_serial_canon(a->param[0], j->serial, sizeof(j->serial))) {
		api_problem(a, 400, "bad-request",
			    "the serial must be hexadecimal (1A2B, 0x1a2b or 1a:2b)");
		goto fail;
	}
	j->reason = POLICY_CRL_REASON_UNSPECIFIED;
	/* an empty body revokes with reason unspecified, as the CLI does */
	http_req_body(a->req, &blen);
	if (blen > 0) {
		if (!(body = api_body_json(a))) {
			free(j);
			return;
		}
		json_object_foreach(body, k, v)
		{
			if (strcmp(k, "reason") != 0) {
				api_problem(a, 400, "bad-request",
					    "unknown member \"%.40s\" (only \"reason\")", k);
				goto fail;
			}
		}
		if ((v = json_object_get(body, "reason"))) {
			if (!json_is_string(v) ||
			    (j->reason = policy_crl_reason_parse(json_string_value(v))) < 0) {
				api_problem(a, 400, "bad-request",
					    "reason must be one of unspecified keyCompromise "
					    "cACompromise "
					    "affiliationChanged superseded cessationOfOperation "
					    "certificateHold removeFromCRL privilegeWithdrawn "
					    "aACompromise");
				goto fail;
			}
		}
	}
	if (!a->w->cfg || !a->w->cfg->ca_cert) {
		api_problem(a, 409, "no-issuing-ca",
			    "this gateway has no issuing CA (ca.*): nothing to revoke here");
		goto fail;
	}
	/* the issuing CA's certificates only, like `cmpgw cert revoke`: its
	 * CRL is the one this gateway publishes */
	ra_name_str(X509_get_subject_name(a->w->cfg->ca_cert), j->issuer, sizeof(j->issuer));
	json_decref(body);
	if (api_job(a, revoke_work, revoke_done, j) != 0)
		free(j);
	return;
fail:
	json_decref(body);
	free(j);
}

/* ---- tokens ---- */

static void on_tokens(void *arg, int rc, const struct store_api_token *rows, size_t n)
{
	struct api_req *a = arg;
	int limit = ((struct list_q *)a->data)->limit;
	json_t *list, *t;
	char next[2 * 200 + 8];

	free(a->data);
	a->data = NULL;
	if (!api_resume(a, rc))
		return;
	if (!(list = json_array())) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < limit; i++) {
		t = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "ref", rows[i].ref, "alias",
			      rows[i].alias, "identity", rows[i].identity, "state", rows[i].state,
			      "created_at", rows[i].created_at, "expires_at", rows[i].expires_at,
			      "used_at", api_json_str(rows[i].used_at));
		json_array_append_new(list, t);
	}
	if ((int)n > limit)
		api_cursor_encode(rows[limit - 1].key, next, sizeof(next));
	api_reply_json(a, 200,
		       json_pack("{s:o, s:o}", "tokens", list, "next_cursor",
				 (int)n > limit ? json_string(next) : json_null()));
}

static void h_tokens(struct api_req *a)
{
	static const char *const names[] = { "limit", "cursor", NULL };
	char after[200];
	struct list_q *q;
	bool has_after;
	int limit, rc;

	if (!api_only_params(a, names) ||
	    !api_list_params(a, LIMIT_DEFAULT, LIMIT_MAX, &limit, after, sizeof(after), &has_after))
		return;
	if (!(q = calloc(1, sizeof(*q)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	q->limit = limit;
	a->data = q;
	rc = api_pool(a) ? store_api_tokens(api_pool(a), NULL, has_after ? after : NULL, limit + 1,
					    on_tokens, a)
			 : RC_DB;
	if (rc != 0) {
		free(q);
		a->data = NULL;
		if (rc == RC_INVAL)
			api_problem(a, 400, "bad-request",
				    "cursor is not one this server handed out (next_cursor)");
		else
			api_unavailable(a);
	}
}

struct token_job {
	char alias[129], identity[RA_TOKEN_IDENTITY_MAX + 1];
	long ttl;
	char ref[RA_TOKEN_REF_LEN + 1], secret[RA_TOKEN_SECRET_LEN + 1];
	int status;	  /* HTTP status of a refusal, 0: created */
	char why[256];	  /* its detail */
	char expires[32]; /* UTC, when created */
};

static int token_work(struct api_job_ctx *ctx, void *arg)
{
	struct token_job *j = arg;
	const struct cfg_alias *al = cfg_alias_find(ctx->cfg, j->alias);
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	char detail[256];
	int rc;

	/* the checks of `cmpgw token create`, against the serving snapshot
	 * (which holds the real tokens.key_file key) */
	if (!al) {
		j->status = 422;
		snprintf(j->why, sizeof(j->why), "no alias \"%s\" is configured", j->alias);
		return 0;
	}
	if (!(al->auth & CFG_AUTH_TOKEN)) {
		j->status = 422;
		snprintf(j->why, sizeof(j->why),
			 "alias \"%s\" does not accept tokens (add \"token\" to its \"auth\")",
			 j->alias);
		return 0;
	}
	if (!ctx->cfg->has_token_key || ctx->cfg->admin_only) {
		j->status = 422;
		snprintf(j->why, sizeof(j->why), "tokens.key_file is not configured");
		return 0;
	}
	if (ra_token_generate(j->ref, j->secret) != 0 ||
	    ra_token_seal(ctx->cfg->token_key, j->ref, (unsigned char *)j->secret,
			  strlen(j->secret), &sealed, &sealed_len) != 0)
		return RC_CRYPTO;
	snprintf(detail, sizeof(detail), "token %s identity %s ttl %lds", j->ref, j->identity,
		 j->ttl);
	rc = store_api_token_add_audited(ctx->conn, ctx->principal, j->ref, j->alias, j->identity,
					 sealed, sealed_len, j->ttl, detail);
	OPENSSL_free(sealed);
	return rc;
}

static void token_created(void *arg, int rc, const struct store_api_token *rows, size_t n)
{
	struct api_req *a = arg;
	struct token_job *j = a->data;
	json_t *r;

	a->data = NULL;
	if (api_gone(a)) {
		OPENSSL_cleanse(j->secret, sizeof(j->secret));
		free(j);
		return;
	}
	/* the one time the secret is shown */
	r = json_pack("{s:s, s:s, s:s, s:s, s:I, s:o}", "ref", j->ref, "secret", j->secret, "alias",
		      j->alias, "identity", j->identity, "ttl", (json_int_t)j->ttl, "expires_at",
		      rc == 0 && n == 1 ? json_string(rows[0].expires_at) : json_null());
	OPENSSL_cleanse(j->secret, sizeof(j->secret));
	free(j);
	api_reply_json(a, 201, r);
}

static void token_done(struct api_req *a, int rc, void *arg)
{
	struct token_job *j = arg;

	if (api_gone(a)) {
		OPENSSL_cleanse(j->secret, sizeof(j->secret));
		free(j);
		return;
	}
	if (rc != 0 || j->status) {
		if (j->status)
			api_problem(a, j->status, "unprocessable", "%s", j->why);
		else if (rc == RC_DB)
			api_unavailable(a);
		else
			api_finish(a, 500, NULL, NULL, 0);
		OPENSSL_cleanse(j->secret, sizeof(j->secret));
		free(j);
		return;
	}
	a->data = j;
	if (store_api_tokens(api_pool(a), j->ref, NULL, 1, token_created, a) != 0)
		token_created(a, RC_DB, NULL, 0);
}

static void h_token_create(struct api_req *a)
{
	struct token_job *j = NULL;
	json_t *body, *v;
	const char *k, *alias = NULL, *identity = NULL, *ttl = TTL_DEFAULT;
	char ttlbuf[24];

	if (!api_only_params(a, (const char *const[]){ NULL }) || !(body = api_body_json(a)))
		return;
	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "alias") && strcmp(k, "identity") && strcmp(k, "ttl")) {
			api_problem(a, 400, "bad-request",
				    "unknown member \"%.40s\" (alias, identity, ttl)", k);
			goto out;
		}
	}
	v = json_object_get(body, "alias");
	if (!json_is_string(v) || !(alias = json_string_value(v))[0] || strlen(alias) > 128) {
		api_problem(a, 400, "bad-request", "alias must be an alias label (a string)");
		goto out;
	}
	v = json_object_get(body, "identity");
	if (!json_is_string(v) || !ra_token_identity_ok(identity = json_string_value(v))) {
		api_problem(a, 400, "bad-request", "identity must be 1..%d printable characters",
			    RA_TOKEN_IDENTITY_MAX);
		goto out;
	}
	if ((v = json_object_get(body, "ttl"))) {
		if (json_is_integer(v)) {
			snprintf(ttlbuf, sizeof(ttlbuf), "%lld", (long long)json_integer_value(v));
			ttl = ttlbuf;
		} else if (json_is_string(v)) {
			ttl = json_string_value(v);
		} else {
			ttl = "";
		}
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		api_finish(a, 503, NULL, NULL, 0);
		goto out;
	}
	if ((j->ttl = ra_token_ttl_parse(ttl)) < 0) {
		api_problem(a, 400, "bad-request",
			    "ttl must be seconds or e.g. 1h, 30m, 86400s, 7d (up to 10 years)");
		goto out;
	}
	snprintf(j->alias, sizeof(j->alias), "%s", alias);
	snprintf(j->identity, sizeof(j->identity), "%s", identity);
	if (api_job(a, token_work, token_done, j) == 0)
		j = NULL;
out:
	free(j);
	json_decref(body);
}

struct token_revoke_job {
	char ref[129];
	const char *was;
};

static int token_revoke_work(struct api_job_ctx *ctx, void *arg)
{
	struct token_revoke_job *j = arg;

	return store_api_token_revoke_audited(ctx->conn, ctx->principal, j->ref, &j->was);
}

static void token_revoke_done(struct api_req *a, int rc, void *arg)
{
	struct token_revoke_job *j = arg;

	if (api_gone(a)) {
		free(j);
		return;
	}
	if (rc != 0)
		api_unavailable(a);
	else if (strcmp(j->was, "revoked") == 0)
		api_finish(a, 204, NULL, NULL, 0);
	else if (strcmp(j->was, "unknown") == 0)
		api_problem(a, 404, "not-found", "no token with reference %s", j->ref);
	else
		api_problem(a, 409, strcmp(j->was, "used") == 0 ? "token-used" : "already-revoked",
			    "token %s: %s", j->ref,
			    strcmp(j->was, "used") == 0 ? "already used, nothing to revoke"
							: "already revoked");
	free(j);
}

static void h_token_revoke(struct api_req *a)
{
	struct token_revoke_job *j;

	if (!api_only_params(a, (const char *const[]){ NULL }))
		return;
	if (strlen(a->param[0]) > 128) {
		api_problem(a, 404, "not-found", "no token with reference %.32s...", a->param[0]);
		return;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	snprintf(j->ref, sizeof(j->ref), "%s", a->param[0]);
	j->was = "unknown";
	if (api_job(a, token_revoke_work, token_revoke_done, j) != 0)
		free(j);
}
