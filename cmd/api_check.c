/*
 * cmd/api_check.c - the factory dry run in the admin API (cmd/api_int.h,
 * docs/ADMIN.md "Factory dry run"): POST /api/v1/vendors/{vendor}/check
 * runs ra_check_run, the dry run `cmpgw vendor check` runs, on an api_job
 * (it reads the registry, the serial list and the clone binding with the
 * CLI's blocking store functions) and answers its JSON report. It issues
 * nothing and changes nothing but one audit row naming the principal.
 *
 * The body is parsed and bounded on the loop thread (the listener caps it
 * at 1 MiB): a chain of at most CHAIN_MAX certificates, a request of at
 * most REQ_MAX bytes of DER.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cmd/api_int.h"
#include "core/cfg.h"
#include "ra/check.h"
#include "store/admin.h"

#define CHAIN_MAX 10	    /* certificates: a device certificate and its CAs */
#define REQ_MAX	  (1 << 18) /* bytes of a request's DER (a PKIMessage is a few KiB) */
#define ALIAS_MAX 128	    /* bytes of an alias label */

static void h_check(struct api_req *a);

const struct api_route api_routes_check[] = {
	{ "vendors/{vendor}/check", API_POST, API_ROLE_OPERATOR | API_ROLE_FACTORY, h_check },
	{ NULL, 0, 0, NULL },
};

/* One dry run: filled on the loop thread, run on the job thread. */
struct check_job {
	char alias[ALIAS_MAX + 1];
	char vendor[API_PARAM_MAX + 1];
	STACK_OF(X509) *certs;
	unsigned char *req;
	size_t reqlen;
	json_t *report; /* the job's answer (rc 0) */
};

static void job_free(struct check_job *j)
{
	if (!j)
		return;
	sk_X509_pop_free(j->certs, X509_free);
	free(j->req);
	json_decref(j->report);
	free(j);
}

/* chain_pem: every PEM block a CERTIFICATE that decodes, 1..CHAIN_MAX of
 * them, nothing but whitespace outside the blocks being ignored as PEM
 * does. NULL with why filled. */
static STACK_OF(X509) *parse_chain(const char *pem, size_t len, char *why, size_t wlen)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	bool ok = false;

	snprintf(why, wlen, "out of memory");
	while (b && sk && PEM_read_bio(b, &name, &header, &data, &dlen) == 1) {
		int i = sk_X509_num(sk) + 1;
		const unsigned char *p = data;
		X509 *x = NULL;
		if (i > CHAIN_MAX) {
			snprintf(why, wlen, "chain_pem holds more than %d certificates", CHAIN_MAX);
			goto out;
		}
		if (strcmp(name, "CERTIFICATE") != 0) {
			snprintf(why, wlen,
				 "chain_pem: PEM block %d is \"%.40s\", not a CERTIFICATE", i,
				 name);
			goto out;
		}
		if (!(x = d2i_X509(NULL, &p, dlen)) || p != data + dlen || !sk_X509_push(sk, x)) {
			X509_free(x);
			snprintf(why, wlen, "chain_pem: certificate %d does not decode", i);
			goto out;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	/* the end of the blocks reads as "no start line"; anything else is a
	 * block that does not decode */
	if (b && sk && ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		snprintf(why, wlen, "chain_pem: PEM block %d does not decode", sk_X509_num(sk) + 1);
	else if (b && sk && sk_X509_num(sk) == 0)
		snprintf(why, wlen, "chain_pem holds no PEM CERTIFICATE block");
	else
		ok = b && sk;
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	if (!ok) {
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
	}
	return sk;
}

/* request: base64 (RFC 4648, line breaks allowed) of 1..REQ_MAX bytes of
 * DER; the DER itself is judged by the dry run. False with why. */
static bool parse_request(const char *b64, size_t len, struct check_job *j, char *why, size_t wlen)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	size_t cap = len / 4 * 3 + 3;
	int n = 0, fin = 0;
	bool ok = false;

	if (len == 0 || len > (size_t)REQ_MAX / 3 * 4 + 1024) {
		snprintf(why, wlen, "request must be base64 of 1..%d bytes of DER", REQ_MAX);
		goto out;
	}
	if (!ctx || !(j->req = malloc(cap))) {
		snprintf(why, wlen, "out of memory");
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, j->req, &n, (const unsigned char *)b64, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, j->req + n, &fin) != 1 || n + fin == 0 || n + fin > REQ_MAX) {
		snprintf(why, wlen, "request is not base64 of 1..%d bytes (a DER PKIMessage)",
			 REQ_MAX);
		goto out;
	}
	j->reqlen = (size_t)(n + fin);
	ok = true;
out:
	EVP_ENCODE_CTX_free(ctx);
	return ok;
}

/* The body into j; false with why (a 400) when it is not what
 * docs/openapi/check.json's CheckRequest describes. */
static bool parse_body(json_t *body, struct check_job *j, char *why, size_t wlen)
{
	json_t *alias = json_object_get(body, "alias"), *chain = json_object_get(body, "chain_pem");
	json_t *req = json_object_get(body, "request");
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v)
	{
		if (strcmp(k, "alias") && strcmp(k, "chain_pem") && strcmp(k, "request")) {
			snprintf(why, wlen,
				 "unknown field \"%.40s\" (alias, chain_pem, request are known)",
				 k);
			return false;
		}
	}
	if (!json_is_string(alias) || json_string_length(alias) < 1 ||
	    json_string_length(alias) > ALIAS_MAX ||
	    strlen(json_string_value(alias)) != json_string_length(alias)) {
		snprintf(why, wlen, "alias must be a string of 1..%d characters", ALIAS_MAX);
		return false;
	}
	snprintf(j->alias, sizeof(j->alias), "%s", json_string_value(alias));
	if (!json_is_string(chain) || json_string_length(chain) == 0) {
		snprintf(why, wlen,
			 "chain_pem must be a string: the PEM of the device certificate and its "
			 "chain");
		return false;
	}
	if (!(j->certs =
		      parse_chain(json_string_value(chain), json_string_length(chain), why, wlen)))
		return false;
	if (req && !json_is_null(req)) {
		if (!json_is_string(req)) {
			snprintf(why, wlen, "request must be a base64 string or null");
			return false;
		}
		return parse_request(json_string_value(req), json_string_length(req), j, why, wlen);
	}
	return true;
}

/* On the job thread: the dry run and its audit row. */
static int check_work(struct api_job_ctx *ctx, void *arg)
{
	struct check_job *j = arg;
	struct ra_check_input in = { .alias = cfg_alias_find(ctx->cfg, j->alias),
				     .certs = j->certs,
				     .req = j->req,
				     .reqlen = j->reqlen,
				     .vendor = j->vendor };
	struct ra_check *r = calloc(1, sizeof(*r));
	char what[96], detail[256];
	int rc;

	if (!r)
		return RC_NOMEM;
	if (!in.alias) { /* a reload removed it since the loop thread looked */
		free(r);
		return RC_CONFIG;
	}
	snprintf(what, sizeof(what), "an admin API chain of %d certificate%s%s",
		 sk_X509_num(j->certs), sk_X509_num(j->certs) == 1 ? "" : "s",
		 j->req ? " with a request" : "");
	rc = ra_check_run(ctx->conn, &in, r);
	if (rc == 0) {
		if (ra_check_audit(ctx->conn, ctx->principal, r, in.alias->label, what) != 0)
			rc = RC_DB;
		else if (!(j->report = ra_check_json(r, in.alias->label)))
			rc = RC_NOMEM;
	} else if (rc == RC_PERM) {
		/* refused before the other vendor's serial state was read */
		snprintf(detail, sizeof(detail),
			 "dry run of %s: refused: the chain belongs to another vendor", what);
		if (store_audit_admin(ctx->conn, ctx->principal, "vendor_check", j->vendor, NULL,
				      in.alias->label, detail) != 0)
			rc = RC_DB;
	}
	ra_check_release(r);
	free(r);
	return rc;
}

static void check_done(struct api_req *a, int rc, void *arg)
{
	struct check_job *j = arg;

	if (api_gone(a)) {
		job_free(j);
		return;
	}
	switch (rc) {
	case 0:
		api_reply_json(a, 200, j->report);
		j->report = NULL;
		break;
	case RC_NOTFOUND:
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		break;
	case RC_PERM:
		api_problem(a, 422, "chain-of-another-vendor",
			    "the certificate chain belongs to another registered vendor, not %s; "
			    "nothing was checked",
			    a->vendor);
		break;
	case RC_CONFIG:
		api_problem(a, 422, "unknown-alias", "no alias \"%s\" in the configuration",
			    j->alias);
		break;
	case RC_DB:
		api_unavailable(a);
		break;
	default:
		api_finish(a, 500, NULL, NULL, 0);
	}
	job_free(j);
}

static void h_check(struct api_req *a)
{
	json_t *body = api_body_json(a);
	struct check_job *j;
	char why[200];

	if (!body)
		return;
	if (!(j = calloc(1, sizeof(*j)))) {
		json_decref(body);
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	snprintf(j->vendor, sizeof(j->vendor), "%s", a->vendor);
	if (!parse_body(body, j, why, sizeof(why))) {
		json_decref(body);
		job_free(j);
		api_problem(a, 400, "bad-request", "%s", why);
		return;
	}
	json_decref(body);
	if (!cfg_alias_find(a->w->cfg, j->alias)) {
		api_problem(a, 422, "unknown-alias", "no alias \"%s\" in the configuration",
			    j->alias);
		job_free(j);
		return;
	}
	if (api_job(a, check_work, check_done, j) != 0)
		job_free(j);
}
