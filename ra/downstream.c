/*
 * ra/downstream.c - a CA-mode alias serving downstream RAs (RFC 9483 5.2,
 * the CA side of EJBCA's "RA mode"): authorize the RA that protected a
 * request (aliases[].ras), take the device identity from its certTemplate
 * (aliases[].ra_identity), accept raVerified POP from it (RFC 4211 4.1),
 * and unwrap nested messages (RFC 9483 5.2.2.1), answering with a nested
 * message of the inner response.
 * Threads: everything on the owning worker's loop.
 */
#include "ra/ra.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "policy/profile.h"
#include "ra/audit.h"
#include "ra/downstream.h"
#include "ra/issued.h"
#include "ra/step_admit.h"
#include "ra/step_commit.h"
#include "ra/step_pop.h"
#include "ra/step_protect.h"

#define OID_CMC_RA "1.3.6.1.5.5.7.3.28" /* id-kp-cmcRA, RFC 6402 2.10 */

static bool has_eku(X509 *x, const ASN1_OBJECT *want)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	bool found = false;

	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku) && !found; i++)
		found = OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0;
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return found;
}

static bool is_ra_cert(X509 *x)
{
	ASN1_OBJECT *o = OBJ_txt2obj(OID_CMC_RA, 1);
	bool r = o && has_eku(x, o);

	ASN1_OBJECT_free(o);
	return r;
}

/* signer chains to issuer (an anchor, possibly an intermediate), helped by
 * untrusted, now, strict (RFC 5280 6.1). */
static bool chains_to(X509 *signer, X509 *issuer, STACK_OF(X509) *untrusted)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = false;

	if (st && ctx && X509_STORE_add_cert(st, issuer) == 1 &&
	    X509_STORE_CTX_init(ctx, st, signer, untrusted) == 1) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT | X509_V_FLAG_PARTIAL_CHAIN);
		X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
		ok = X509_verify_cert(ctx) == 1;
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

/*
 * The entry of alias->ras authorizing signer, or NULL with *bit and *why:
 * notAuthorized when an issuer entry's chain matched but its subject or
 * EKU did not, signerNotTrusted when nothing matched.
 */
static const struct cfg_ra *match_ra(const struct cfg_alias *a, X509 *signer,
				     STACK_OF(X509) *untrusted, int *bit, const char **why)
{
	unsigned char fp[32], want[32];
	char subj[512];

	*bit = CMP_FAIL_SIGNER_NOT_TRUSTED;
	*why = "protecting certificate is not an authorized RA of this alias";
	if (ra_trust_cert_fp(signer, fp) != 0)
		return NULL;
	for (size_t i = 0; i < a->n_ras; i++) {
		const struct cfg_ra *r = &a->ras[i];
		if (r->cert) {
			if (ra_trust_cert_fp(r->cert, want) == 0 && memcmp(fp, want, 32) == 0 &&
			    X509_cmp_current_time(X509_get0_notBefore(signer)) < 0 &&
			    X509_cmp_current_time(X509_get0_notAfter(signer)) > 0)
				return r;
			continue;
		}
		if (!chains_to(signer, r->issuer, untrusted))
			continue;
		ra_name_str(X509_get_subject_name(signer), subj, sizeof(subj));
		if (r->subject && strcmp(subj, r->subject) != 0) {
			*bit = CMP_FAIL_NOT_AUTHORIZED;
			*why = "RA certificate subject is not the one authorized on this alias";
		} else if (r->eku_obj && !has_eku(signer, r->eku_obj)) {
			*bit = CMP_FAIL_NOT_AUTHORIZED;
			*why = "RA certificate lacks the extendedKeyUsage required on this alias";
		} else {
			return r;
		}
	}
	return NULL;
}

static void audit(struct ra_req *req, const char *event, const char *detail)
{
	ra_audit_req(req, event, detail);
}

/* Device identity from the certTemplate subject (aliases[].ra_identity):
 * printable ASCII, 1..128 bytes. Returns a fail bit or -1. */
static int identity(struct ra_req *req, const X509_NAME *subj, const char **why)
{
	int nid =
		req->alias->ra_identity == CFG_RA_ID_SUBJECT_CN ? NID_commonName : NID_serialNumber;
	int idx = subj ? X509_NAME_get_index_by_NID(subj, nid, -1) : -1;
	const ASN1_STRING *s =
		idx >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)) : NULL;
	int n = s ? ASN1_STRING_length(s) : 0;

	*why = nid == NID_commonName ? "certTemplate subject has no usable CN (device identity)"
				     : "certTemplate subject has no usable serialNumber (device "
				       "identity)";
	if (n < 1 || (size_t)n >= sizeof(req->cr.serial))
		return CMP_FAIL_BAD_CERT_TEMPLATE;
	const unsigned char *d = ASN1_STRING_get0_data(s);
	for (int i = 0; i < n; i++)
		if (d[i] < 0x20 || d[i] > 0x7e)
			return CMP_FAIL_BAD_CERT_TEMPLATE;
	memcpy(req->cr.serial, d, (size_t)n);
	req->cr.serial[n] = '\0';
	return -1;
}

/* The RA entry's vendor, which must be registered and allowed here. */
static int vendor_of(struct ra_req *req, const char **why)
{
	const struct cfg_alias *a = req->alias;
	bool allowed = a->n_vendors == 0;

	if (!req->ra->vendor)
		return -1;
	for (size_t i = 0; i < a->n_vendors; i++)
		allowed = allowed || strcmp(a->vendors[i], req->ra->vendor) == 0;
	for (size_t i = 0; req->trust && i < req->trust->n; i++)
		if (strcmp(req->trust->v[i].name, req->ra->vendor) == 0)
			req->cr.vendor = &req->trust->v[i];
	*why = !req->cr.vendor ? "the RA's vendor is not registered"
			       : "the RA's vendor is not accepted on this alias";
	return req->cr.vendor && allowed ? -1 : CMP_FAIL_NOT_AUTHORIZED;
}

/* The authorized RA's request for a device: identity from the template,
 * the RA entry's vendor. */
static int ds_identity(struct ra_req *req)
{
	const X509_NAME *subj = req->cr.crm->certReq->certTemplate
					? req->cr.crm->certReq->certTemplate->subject
					: NULL;
	const char *why = NULL;
	int bit;

	if ((bit = identity(req, subj, &why)) >= 0 || (bit = vendor_of(req, &why)) >= 0) {
		audit(req, "rejected", why);
		return ra_req_refuse(req, bit, why);
	}
	/* a downstream RA's identity without vendor is named "ra" (${vendor}) */
	req->cr.id_vendor = req->cr.vendor ? req->cr.vendor->name : "ra";
	log_debug(&req->log, "request of downstream RA for device %s", req->cr.serial);
	return RA_STEP_NEXT;
}

/* ir/cr of a downstream RA: POP (raVerified accepted), then admit
 * (read-only), sign, commit (re-checks atomically), answer. */
static const struct ra_flow flow_downstream_ir = {
	"ir (downstream RA)",
	{ ds_identity, ra_step_pop, ra_step_admit, ra_step_sign, ra_step_commit,
	  ra_step_answer_certrep },
};

int ra_downstream_route(struct ra_req *req)
{
	const CMPGW_CERTREQMSG *crm = req->cr.crm;
	const char *why = NULL;
	int bit;

	req->ra = match_ra(req->alias, req->signer, req->msg->extraCerts, &bit, &why);
	if (req->ra)
		return ra_req_goto(req, &flow_downstream_ir);
	/* Not an RA here: a device's own request (also a renewal with an
	 * operator certificate when an entry's issuer is our issuing CA) goes
	 * on as before, unless the signer carries cmcRA, or failed an entry's
	 * subject/EKU and asks for raVerified. */
	bool ra_pop = crm->popo && crm->popo->type == CMPGW_POPO_RAVERIFIED;
	bool ra_like = is_ra_cert(req->signer) || (bit == CMP_FAIL_NOT_AUTHORIZED && ra_pop);
	if (!ra_like)
		return RA_STEP_NEXT;
	audit(req, "auth_failed", why);
	return ra_req_refuse(req, bit, why);
}

bool ra_downstream_authorized(struct ra_req *req)
{
	const char *why;
	int bit;

	if (req->alias->n_ras == 0 || !req->signer)
		return false;
	req->ra = match_ra(req->alias, req->signer, req->msg->extraCerts, &bit, &why);
	return req->ra != NULL;
}

int ra_downstream_old_cert(struct ra_req *req)
{
	STACK_OF(X509) *xs = req->msg->extraCerts;

	/* renew_check (ra/renew.c) then checks it against oldCertID, validity
	 * and the store */
	for (int i = 1; i < sk_X509_num(xs) && !req->ext.renew.old_cert; i++)
		if (ra_issued_by_ca(req->cfg, sk_X509_value(xs, i)))
			req->ext.renew.old_cert = sk_X509_value(xs, i);
	if (!req->ext.renew.old_cert) {
		audit(req, "rejected", "kur by an RA without the device certificate in extraCerts");
		return ra_req_refuse(req, CMP_FAIL_BAD_CERT_ID,
				     "kur by an RA needs the device certificate in extraCerts");
	}
	log_debug(&req->log, "kur of downstream RA on behalf of a device");
	return RA_STEP_NEXT;
}

/* RFC 9483 5.2.2.1/5.2.2.2: the outer message is protected by an
 * authorized RA; each inner message is processed, and authorized, as a
 * request of its own, and the answers go back in one nested message, in
 * the order of the requests. */
#define RA_NESTED_MAX 16

struct ra_nested {
	int n, pending; /* pending: answers still missing, +1 while dispatching */
	bool failed;	/* an inner answer could not be built */
	CMPGW_MSG *out[];
};

static void nested_free(struct ra_nested *b)
{
	for (int i = 0; b && i < b->n; i++)
		CMPGW_MSG_free(b->out[i]);
	free(b);
}

/* One answer fewer to wait for; the last one answers parent. */
static void nested_step(struct ra_req *parent)
{
	struct ra_nested *b = parent->ext.nested.batch;
	CMPGW_MSG *rsp = NULL;

	if (--b->pending > 0)
		return;
	parent->ext.nested.batch = NULL;
	if (ra_answer_gone(parent)) { /* the downstream RA left: nothing to sign */
		nested_free(b);
		return;
	}
	if (!b->failed &&
	    (rsp = cmp_build_response(parent->msg, parent->cfg->cmp_cert, CMP_BODY_NESTED))) {
		for (int i = 0; i < b->n && rsp; i++) {
			if (!sk_CMPGW_MSG_push(rsp->body->value.nested, b->out[i])) {
				CMPGW_MSG_free(rsp);
				rsp = NULL;
				break;
			}
			b->out[i] = NULL;
		}
	}
	nested_free(b);
	if (!rsp) {
		ERR_clear_error();
		ra_req_fail(parent, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	ra_req_answer(parent, rsp);
}

/* The protected DER answer of inner request idx of parent (NULL: building
 * it failed or its client went away); once every inner request answered,
 * answers parent with a nested message of the answers in order. */
static void nested_inner_done(struct ra_req *parent, int idx, const unsigned char *der, size_t len)
{
	struct ra_nested *b = parent->ext.nested.batch;
	const unsigned char *p = der;

	if (idx < 0 || idx >= b->n || b->out[idx]) {
		b->failed = true;
	} else if (!der || !(b->out[idx] = d2i_CMPGW_MSG(NULL, &p, (long)len))) {
		ERR_clear_error();
		b->failed = true;
	}
	nested_step(parent);
}

/* The answer sink of an inner message (ra/req.h): its answer goes to the
 * nested request it came in; it owns the inner message's DER. */
struct nested_child {
	struct ra_req *parent;
	int idx;
	unsigned char *der;
};

static void child_deliver(void *arg, enum ra_sink_what what, const unsigned char *der, size_t len,
			  bool continues)
{
	struct nested_child *c = arg;
	struct ra_req *parent = c->parent;
	int idx = c->idx;

	(void)continues;
	OPENSSL_free(c->der);
	free(c);
	if (what == RA_SINK_ANSWER)
		nested_inner_done(parent, idx, der, len);
	else
		nested_inner_done(parent, idx, NULL, 0);
}

static bool child_gone(void *arg)
{
	const struct nested_child *c = arg;
	return ra_req_client_gone(c->parent);
}

static const struct ra_sink nested_sink = { child_deliver, child_gone, true };

/* The outer message: not itself inner, on an alias with downstream RAs,
 * protected by an authorized RA, 1..16 inner messages. */
static int nested_authorize(struct ra_req *req)
{
	int n = sk_CMPGW_MSG_num(req->msg->body->value.nested);
	const char *why = NULL;
	int bit;

	if (req->sink->inner)
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST,
				     "nested inside nested is not supported");
	if (req->alias->n_ras == 0)
		return ra_req_refuse(req, CMP_FAIL_NOT_AUTHORIZED,
				     "this alias accepts no downstream RA");
	if ((bit = ra_step_protect_check(req, &why)) >= 0)
		return ra_req_refuse(req, bit, why);
	if (!(req->ra = match_ra(req->alias, req->signer, req->msg->extraCerts, &bit, &why))) {
		audit(req, "auth_failed", why);
		return ra_req_refuse(req, bit, why);
	}
	if (n < 1 || n > RA_NESTED_MAX)
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST,
				     "nested must hold 1 to 16 inner messages");
	return RA_STEP_NEXT;
}

/* Each inner message through the pipeline as a request of its own (its
 * sink collects the answer); the last answer answers req (nested_step). */
static int nested_dispatch(struct ra_req *req)
{
	STACK_OF(CMPGW_MSG) *inner = req->msg->body->value.nested;
	int n = sk_CMPGW_MSG_num(inner);
	struct ra_nested *b = calloc(1, sizeof(*b) + (size_t)n * sizeof(CMPGW_MSG *));

	if (!b)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	req->ext.nested.batch = b;
	b->n = n;
	b->pending = n + 1;
	log_debug(&req->log, "nested from downstream RA: %d inner message(s)", n);
	for (int i = 0; i < n; i++) {
		/* The inner message's protection covers its own DER (RFC 4210
		 * 5.1.3): our codec re-encodes a DER input unchanged. */
		struct nested_child *c = calloc(1, sizeof(*c));
		int len = c ? i2d_CMPGW_MSG(sk_CMPGW_MSG_value(inner, i), &c->der) : 0;
		if (len <= 0) {
			ERR_clear_error();
			free(c);
			nested_inner_done(req, i, NULL, 0);
			continue;
		}
		c->parent = req;
		c->idx = i;
		ra_submit(req->rw, req->cfg, req->alias, c->der, (size_t)len, req->log.peer,
			  &nested_sink, c);
	}
	nested_step(req);
	return RA_STEP_DONE;
}

const struct ra_flow ra_flow_nested = {
	"nested",
	{ nested_authorize, nested_dispatch },
};
