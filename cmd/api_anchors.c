/*
 * cmd/api_anchors.c - a vendor's trust anchors and intermediates in the
 * admin API (cmd/api_int.h, docs/ADMIN.md, docs/VENDORS.md): a vendor
 * submits a CA certificate, an operator approves (or rejects) it; only an
 * approval registers it, so a vendor can never make the gateway trust a
 * new root on its own. Submission and approval run the CLI's registration
 * code (cmd/vendor.h) on a job thread: the same checks, the same rows,
 * the same audit events, and running gateways reload the registry on the
 * rows' notification as after `cmpgw vendor anchor add`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "cmd/api_int.h"
#include "cmd/vendor.h"
#include "store/api.h"
#include "store/vendor.h"

#define LIMIT_DEFAULT 100
#define LIMIT_MAX     1000
#define NOTES_MAX     8
#define NOTE_LEN      512

static void h_list(struct api_req *a);
static void h_submit(struct api_req *a);
static void h_one(struct api_req *a);
static void h_withdraw(struct api_req *a);
static void h_approve(struct api_req *a);
static void h_reject(struct api_req *a);

#define OP_VENDOR (API_ROLE_OPERATOR | API_ROLE_VENDOR)

const struct api_route api_routes_anchors[] = {
	{ "vendors/{vendor}/certificates", API_GET, API_ROLES_READ, h_list },
	{ "vendors/{vendor}/certificates", API_POST, OP_VENDOR, h_submit },
	{ "vendors/{vendor}/certificates/{id}", API_GET, API_ROLES_READ, h_one },
	{ "vendors/{vendor}/certificates/{id}", API_DELETE, OP_VENDOR, h_withdraw },
	{ "vendors/{vendor}/certificates/{id}/approve", API_POST, API_ROLE_OPERATOR, h_approve },
	{ "vendors/{vendor}/certificates/{id}/reject", API_POST, API_ROLE_OPERATOR, h_reject },
	{ NULL, 0, 0, NULL },
};

/* One request's work on its job thread and what it found (a->data). */
struct aj {
	char vendor[STORE_API_NAME_MAX + 1];
	char kind[16];
	char state[16]; /* list filter ("" any) or the decision */
	char reason[STORE_VSUB_REASON_MAX + 1];
	int64_t id; /* submission; list: below this id (0: newest) */
	int limit;
	STACK_OF(X509) *certs;
	/* out */
	char refusal[NOTE_LEN];
	char warn[NOTES_MAX][NOTE_LEN];
	int nwarn;
	struct store_vsub sub;
	struct store_vsub *subs, *regs;
	size_t nsubs, nregs;
};

static void aj_free(struct aj *j)
{
	if (!j)
		return;
	sk_X509_pop_free(j->certs, X509_free);
	store_vendor_sub_clear(&j->sub);
	store_vendor_sub_free_all(j->subs, j->nsubs);
	store_vendor_sub_free_all(j->regs, j->nregs);
	free(j);
}

/* The registry's messages, kept for the answer: the first refusal is the
 * problem's detail, warnings (a CA expiring soon) go with a success. */
static void on_note(void *arg, int level, const char *msg)
{
	struct aj *j = arg;

	if (level == CMD_NOTE_REFUSED && !j->refusal[0])
		snprintf(j->refusal, sizeof(j->refusal), "%s", msg);
	else if (level == CMD_NOTE_WARN && j->nwarn < NOTES_MAX)
		snprintf(j->warn[j->nwarn++], NOTE_LEN, "%s", msg);
}

/* The blocking store gives an empty string for a NULL column. */
static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* The PEM of der, or NULL. */
static json_t *pem_of(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	BIO *b = x ? BIO_new(BIO_s_mem()) : NULL;
	json_t *j = NULL;
	char *s;
	long n;

	if (b && PEM_write_bio_X509(b, x) == 1 && (n = BIO_get_mem_data(b, &s)) > 0)
		j = json_stringn(s, (size_t)n);
	BIO_free(b);
	X509_free(x);
	return j ? j : json_null();
}

/* A submission (AnchorSubmission in docs/openapi/anchors.json). */
static json_t *sub_json(const struct store_vsub *s, bool pem)
{
	json_t *j = json_pack(
		"{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id",
		(json_int_t)s->id, "vendor", s->vendor, "kind", s->kind, "state", s->state,
		"subject", s->subject, "fingerprint", s->fp_hex, "not_after", s->not_after,
		"submitted_by", s->submitted_by, "submitted_at", s->submitted_at, "decided_by",
		api_json_str(nonempty(s->decided_by)), "decided_at",
		api_json_str(nonempty(s->decided_at)), "reason", api_json_str(nonempty(s->reason)));
	if (j && pem)
		json_object_set_new(j, "pem", pem_of(s->der, s->derlen));
	return j;
}

/* A registered certificate (AnchorRegistered). */
static json_t *reg_json(const struct store_vsub *s)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", s->kind, "subject", s->subject,
			 "fingerprint", s->fp_hex, "not_after", s->not_after, "registered_at",
			 s->submitted_at);
}

/* A new job of a; NULL: answered. */
static struct aj *aj_new(struct api_req *a)
{
	struct aj *j = calloc(1, sizeof(*j));

	if (!j) {
		api_finish(a, 503, NULL, NULL, 0);
		return NULL;
	}
	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		free(j);
		return NULL;
	}
	snprintf(j->vendor, sizeof(j->vendor), "%s", a->vendor);
	return j;
}

static void start(struct api_req *a, struct aj *j, api_job_work work, api_job_done done)
{
	if (api_job(a, work, done, j) != 0)
		aj_free(j);
}

/* {id}: a positive decimal submission id; false: answered 404. */
static bool path_id(struct api_req *a, struct aj *j)
{
	char *end;
	long long v = strtoll(a->param[1], &end, 10);

	if (*end || v < 1 || a->param[1][0] == '+' || a->param[1][0] == '0') {
		api_problem(a, 404, "not-found", "no submission %s of vendor %s", a->param[1],
			    a->vendor);
		aj_free(j);
		return false;
	}
	j->id = v;
	return true;
}

/* ---- GET /vendors/{vendor}/certificates ---- */

static int w_list(struct api_job_ctx *ctx, void *arg)
{
	struct aj *j = arg;
	int64_t vid;
	int rc = store_vendor_find(ctx->conn, j->vendor, &vid);

	if (rc == 0)
		rc = store_vendor_certs_list(ctx->conn, j->vendor, &j->regs, &j->nregs);
	if (rc == 0)
		rc = store_vendor_sub_list(ctx->conn, j->vendor, j->state[0] ? j->state : NULL,
					   j->id, j->limit + 1, &j->subs, &j->nsubs);
	return rc;
}

static void d_list(struct api_req *a, int rc, void *arg)
{
	struct aj *j = arg;
	json_t *regs = json_array(), *subs = json_array(), *out;
	char next[64], key[24];

	if (api_gone(a))
		goto out;
	if (rc == RC_NOTFOUND) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		goto out;
	}
	if (rc != 0 || !regs || !subs) {
		api_unavailable(a);
		goto out;
	}
	for (size_t i = 0; i < j->nregs; i++)
		json_array_append_new(regs, reg_json(&j->regs[i]));
	for (size_t i = 0; i < j->nsubs && (int)i < j->limit; i++)
		json_array_append_new(subs, sub_json(&j->subs[i], false));
	/* one row more than asked: there is a next page, below the last id */
	if ((int)j->nsubs > j->limit) {
		snprintf(key, sizeof(key), "%" PRId64, j->subs[j->limit - 1].id);
		api_cursor_encode(key, next, sizeof(next));
	}
	out = json_pack("{s:s, s:O, s:O, s:o}", "vendor", a->vendor, "registered", regs,
			"submissions", subs, "next_cursor",
			(int)j->nsubs > j->limit ? json_string(next) : json_null());
	api_reply_json(a, 200, out);
out:
	json_decref(regs);
	json_decref(subs);
	aj_free(j);
}

static void h_list(struct api_req *a)
{
	struct aj *j = aj_new(a);
	char after[32], st[16];
	bool has_after, answered;
	char *end;

	if (!j)
		return;
	if (!api_list_params(a, LIMIT_DEFAULT, LIMIT_MAX, &j->limit, after, sizeof(after),
			     &has_after)) {
		aj_free(j);
		return;
	}
	if (has_after) {
		j->id = strtoll(after, &end, 10);
		if (*end || j->id < 1) {
			api_problem(a, 400, "bad-request",
				    "cursor is not one this server handed out (next_cursor)");
			aj_free(j);
			return;
		}
	}
	if (api_query(a, "state", st, sizeof(st), &answered)) {
		if (strcmp(st, "pending") && strcmp(st, "approved") && strcmp(st, "rejected") &&
		    strcmp(st, "withdrawn")) {
			api_problem(a, 400, "bad-request",
				    "state must be pending, approved, rejected or withdrawn");
			aj_free(j);
			return;
		}
		snprintf(j->state, sizeof(j->state), "%s", st);
	}
	if (answered) {
		aj_free(j);
		return;
	}
	start(a, j, w_list, d_list);
}

/* ---- POST /vendors/{vendor}/certificates ---- */

static int w_submit(struct api_job_ctx *ctx, void *arg)
{
	struct aj *j = arg;
	struct cmd_vnote n = { on_note, j, false };
	int rc = cmd_vendor_submit(ctx->conn, ctx->principal, j->vendor, j->kind, j->certs, &j->id,
				   &n);

	if (rc == 0)
		rc = store_vendor_sub_get(ctx->conn, j->id, NULL, &j->sub);
	return rc;
}

static void d_submit(struct api_req *a, int rc, void *arg)
{
	struct aj *j = arg;
	json_t *out, *w;

	if (api_gone(a))
		goto out;
	switch (rc) {
	case 0:
		out = sub_json(&j->sub, false);
		w = json_array();
		for (int i = 0; i < j->nwarn; i++)
			json_array_append_new(w, json_string(j->warn[i]));
		if (out)
			json_object_set_new(out, "warnings", w);
		else
			json_decref(w);
		api_reply_json(a, 201, out);
		break;
	case RC_NOTFOUND:
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		break;
	case RC_PERM:
	case RC_INVAL:
		api_problem(a, 422, "certificate-refused", "%s", j->refusal);
		break;
	case RC_EXISTS:
		api_problem(a, 409, "conflict", "%s", j->refusal);
		break;
	default:
		api_unavailable(a);
	}
out:
	aj_free(j);
}

/* One certificate can fill at most this much of a JSON body (the admin
 * listener bounds bodies at 1 MiB anyway). */
#define PEM_MAX (256 * 1024)

static void h_submit(struct api_req *a)
{
	struct aj *j = aj_new(a);
	struct cmd_vnote n = { on_note, j, false };
	json_t *body = NULL, *kind, *pem;
	const char *k;

	if (!j)
		return;
	if (!(body = api_body_json(a))) {
		aj_free(j);
		return;
	}
	kind = json_object_get(body, "kind");
	pem = json_object_get(body, "pem");
	k = json_string_value(kind);
	if (!k || (strcmp(k, "anchor") && strcmp(k, "intermediate"))) {
		api_problem(a, 400, "bad-request", "kind must be \"anchor\" or \"intermediate\"");
		goto fail;
	}
	if (!json_is_string(pem) || json_string_length(pem) == 0 ||
	    json_string_length(pem) > PEM_MAX) {
		api_problem(a, 400, "bad-request",
			    "pem must be the certificate in PEM (a string of 1..%d bytes)",
			    PEM_MAX);
		goto fail;
	}
	if (json_object_size(body) != 2) {
		api_problem(a, 400, "bad-request", "the body holds only kind and pem");
		goto fail;
	}
	snprintf(j->kind, sizeof(j->kind), "%s", k);
	if (!strstr(json_string_value(pem), "-----BEGIN ")) {
		api_problem(a, 422, "certificate-refused", "pem: not a PEM certificate");
		goto fail;
	}
	j->certs = cmd_vendor_certs_parse("pem", (const unsigned char *)json_string_value(pem),
					  json_string_length(pem), &n);
	if (!j->certs) {
		api_problem(a, 422, "certificate-refused", "%s", j->refusal);
		goto fail;
	}
	json_decref(body);
	start(a, j, w_submit, d_submit);
	return;
fail:
	json_decref(body);
	aj_free(j);
}

/* ---- one submission: GET, DELETE, approve, reject ---- */

static int w_one(struct api_job_ctx *ctx, void *arg)
{
	struct aj *j = arg;

	return store_vendor_sub_get(ctx->conn, j->id, j->vendor, &j->sub);
}

static int w_decide(struct api_job_ctx *ctx, void *arg)
{
	struct aj *j = arg;
	struct cmd_vnote n = { on_note, j, false };

	return cmd_vendor_decide(ctx->conn, ctx->principal, j->id, j->vendor, j->state,
				 j->reason[0] ? j->reason : NULL, &j->sub, &n);
}

static void d_one(struct api_req *a, int rc, void *arg)
{
	struct aj *j = arg;

	if (api_gone(a))
		goto out;
	switch (rc) {
	case 0:
		api_reply_json(a, 200, sub_json(&j->sub, true));
		break;
	case RC_NOTFOUND:
		api_problem(a, 404, "not-found", "no submission %" PRId64 " of vendor %s", j->id,
			    a->vendor);
		break;
	case RC_EXISTS:
		api_problem(a, 409, "conflict", "%s", j->refusal);
		break;
	case RC_PERM:
		/* checked again at approval: the registry or the clock moved on
		 * since the submission; it stays pending */
		api_problem(a, 422, "certificate-refused", "%s", j->refusal);
		break;
	default:
		api_unavailable(a);
	}
out:
	aj_free(j);
}

static void h_one(struct api_req *a)
{
	struct aj *j = aj_new(a);

	if (j && path_id(a, j))
		start(a, j, w_one, d_one);
}

static void decide(struct api_req *a, const char *state)
{
	struct aj *j = aj_new(a);

	if (!j || !path_id(a, j))
		return;
	snprintf(j->state, sizeof(j->state), "%s", state);
	if (strcmp(state, "rejected") == 0) {
		json_t *body = api_body_json(a), *r;
		const char *s;
		if (!body) {
			aj_free(j);
			return;
		}
		r = json_object_get(body, "reason");
		s = json_string_value(r);
		if (!s || !*s || json_string_length(r) > STORE_VSUB_REASON_MAX ||
		    strlen(s) != json_string_length(r) || json_object_size(body) != 1) {
			api_problem(a, 400, "bad-request",
				    "the body is {\"reason\": \"...\"} (1..%d bytes, no NUL)",
				    STORE_VSUB_REASON_MAX);
			json_decref(body);
			aj_free(j);
			return;
		}
		snprintf(j->reason, sizeof(j->reason), "%s", s);
		json_decref(body);
	}
	start(a, j, w_decide, d_one);
}

static void h_withdraw(struct api_req *a)
{
	decide(a, "withdrawn");
}

static void h_approve(struct api_req *a)
{
	decide(a, "approved");
}

static void h_reject(struct api_req *a)
{
	decide(a, "rejected");
}
