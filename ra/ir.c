/*
 * ra/ir.c - initial registration with a vendor certificate (TS 33.310
 * 9.5.4, RFC 9483 4.1.1), CA mode: authenticate, authorize, check POP,
 * issue, commit, answer.
 */
#include "ra/ra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "cmp/build.h"
#include "cmp/certhash.h"
#include "cmp/pop.h"
#include "cmp/prot.h"
#include "policy/profile.h"
#include "ra/audit.h"
#include "ra/fwd.h"
#include "ra/issued.h"
#include "store/admit.h"
#include "store/enroll.h"
#include "store/ops.h"

#define OID_PBM "1.2.840.113533.7.66.13"

static bool is_pbm(const X509_ALGOR *alg)
{
	char oid[64];
	const ASN1_OBJECT *obj = NULL;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return obj && OBJ_obj2txt(oid, sizeof(oid), obj, 1) > 0 && strcmp(oid, OID_PBM) == 0;
}

void ra_name_str(const X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = 0;
	buf[0] = '\0';
	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0)
		r = BIO_read(b, buf, (int)len - 1);
	buf[r > 0 ? r : 0] = '\0';
	BIO_free(b);
}

long long ra_asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (long long)timegm(&tm);
}

/* Signature protection by the first extraCerts certificate
 * (RFC 9483 3.2, RFC 4210 5.1.3.3). Returns a fail bit or -1. */
int ra_ir_verify_protection(struct ra_req *req, const char **why)
{
	const CMPGW_MSG *m = req->msg;
	int rc;

	if (is_pbm(m->header->protectionAlg)) {
		*why = "this alias requires signature protection with the vendor certificate";
		return CMP_FAIL_WRONG_INTEGRITY;
	}
	if (!m->extraCerts || sk_X509_num(m->extraCerts) < 1) {
		*why = "protecting certificate missing: it must be the first of extraCerts";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	req->signer = sk_X509_value(m->extraCerts, 0);
	/* RFC 4210 5.1.1 / RFC 9483 3.1: senderKID names the protecting key by
	 * its subjectKeyIdentifier; a certificate without one cannot be the
	 * key the sender names (OpenSSL's verifier refuses it too). */
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(req->signer);
	if (m->header->senderKID &&
	    (!ski || ASN1_OCTET_STRING_cmp(ski, m->header->senderKID) != 0)) {
		*why = ski ? "senderKID does not match the first extraCerts certificate"
			   : "senderKID given but the protecting certificate has no "
			     "subjectKeyIdentifier";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	/* RFC 4210 5.1.1: with signature protection the sender is the subject
	 * of the protecting certificate (an empty name means "unknown"). */
	const GENERAL_NAME *snd = m->header->sender;
	if (snd && snd->type == GEN_DIRNAME && X509_NAME_entry_count(snd->d.directoryName) > 0 &&
	    X509_NAME_cmp(snd->d.directoryName, X509_get_subject_name(req->signer)) != 0) {
		*why = "sender does not match the subject of the protecting certificate";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	rc = cmp_prot_verify_sig(req->der, req->len, m, req->signer);
	ERR_clear_error();
	if (rc == RC_UNSUPPORTED) {
		*why = "protection algorithm not supported";
		return CMP_FAIL_BAD_ALG;
	}
	if (rc != 0) {
		*why = "protection signature does not verify";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	return -1;
}

/* POP and key policy for the single CertReqMsg (RFC 4211 4, RFC 9483
 * 4.1.1). *pub gets the template key. Returns a fail bit or -1. */
int ra_ir_check_request(struct ra_req *req, const CMPGW_CERTREQMSG *crm, EVP_PKEY **pub,
			const char **why)
{
	const CMPGW_CERTTEMPLATE *tmpl = crm->certReq->certTemplate;
	int rc;

	if (!tmpl || !tmpl->publicKey) {
		*why = "certTemplate carries no publicKey";
		return CMP_FAIL_BAD_CERT_TEMPLATE;
	}
	if (!crm->popo) {
		*why = "proof-of-possession missing";
		return CMP_FAIL_BAD_POP;
	}
	if (crm->popo->type == CMPGW_POPO_RAVERIFIED && !req->ra) {
		*why = "raVerified proof-of-possession is not accepted from an end entity";
		return CMP_FAIL_BAD_POP;
	}
	/* RFC 4211 4.1: an authorized downstream RA verified it (ra/downstream.c) */
	if (crm->popo->type == CMPGW_POPO_RAVERIFIED) {
		if (!(*pub = X509_PUBKEY_get(tmpl->publicKey))) {
			ERR_clear_error();
			*why = "certTemplate publicKey cannot be decoded";
			return CMP_FAIL_BAD_CERT_TEMPLATE;
		}
		rc = 0;
	} else {
		rc = cmp_pop_verify(crm, pub);
	}
	ERR_clear_error();
	if (rc != 0) {
		*why = rc == RC_CRYPTO ? "proof-of-possession signature does not verify"
		       : rc == RC_UNSUPPORTED ? "proof-of-possession algorithm not supported"
					      : "only signature proof-of-possession is supported";
		return CMP_FAIL_BAD_POP;
	}
	if (!policy_profile_key_ok(req->alias->profile, *pub, why))
		return CMP_FAIL_BAD_ALG;
	return -1;
}

static void audit_reject(struct ra_req *req, const char *event, const char *detail)
{
	struct store_bytes tid = { req->msg->header->transactionID->data,
				   (size_t)req->msg->header->transactionID->length };
	req->rw->ops->audit(req->rw->db, event, req->alias->label, tid,
			    req->vendor ? req->vendor->name : NULL,
			    req->serial[0] ? req->serial : NULL, req->log.peer, detail);
}

/* ir->ip, cr->cp, kur->kup, p10cr->cp (RFC 4210 5.3.4) */
static int rep_type(int req_type)
{
	switch (req_type) {
	case CMP_BODY_CR:
	case CMP_BODY_P10CR:
		return CMP_BODY_CP;
	case CMP_BODY_KUR:
		return CMP_BODY_KUP;
	default:
		return CMP_BODY_IP;
	}
}

void ra_ir_send_rep(struct ra_req *req)
{
	const struct cfg *cfg = req->cfg;
	CMPGW_MSG *rsp = cmp_build_response(
		req->msg, cfg->cmp_cert, req->rep_body ? req->rep_body : rep_type(req->msg->body->type));
	const X509_NAME *asked = req->asked;
	/* RFC 4210 5.2.3: grantedWithMods when the profile replaced the
	 * subject the device suggested (3GPP TS 33.310 allows the RA/CA to),
	 * or when notAfter was capped at the issuing CA's (issue 10 finding 4;
	 * only this CA's own issuance is capped, not an upstream CA's). */
	bool modified = asked && X509_NAME_entry_count(asked) > 0 &&
			X509_NAME_cmp(asked, X509_get_subject_name(req->cert)) != 0;
	bool capped = req->alias->mode != CFG_MODE_RA && cfg->ca_cert &&
		      policy_profile_capped(cfg, req->cert);
	const char *text = modified && capped
				   ? "subject set by the operator profile; validity capped at the "
				     "issuing CA's notAfter"
			   : modified ? "subject set by the operator profile"
			   : capped   ? "validity capped at the issuing CA's notAfter"
				      : NULL;
	CMPGW_STATUSINFO *si = cmp_build_statusinfo(
		text ? CMP_STATUS_GRANTED_WITH_MODS : CMP_STATUS_ACCEPTED, -1, text);

	if (!rsp || !si ||
	    !ASN1_OCTET_STRING_set(rsp->header->senderNonce, req->server_nonce,
				   sizeof(req->server_nonce)))
		goto fail;
	if (cmp_build_certrep_add(rsp, req->cert_req_id, si, req->cert) != 0)
		goto fail;
	si = NULL; /* consumed */
	if ((cfg->root_cert && cmp_build_capubs_push1(rsp, cfg->root_cert) != 0) ||
	    (req->implicit && cmp_build_implicit_confirm(rsp) != 0))
		goto fail;
	log_info(&req->log, "issued certificate for %s serial %s%s",
		 req->vendor ? req->vendor->name : "device", req->serial,
		 req->implicit ? " (implicitConfirm)" : "");
	ra_req_answer(req, rsp);
	return;
fail:
	CMPGW_STATUSINFO_free(si);
	CMPGW_MSG_free(rsp);
	ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

/* The answers to the refusals of admission and commit, the reasons of
 * cmpgw_ir_commit and cmpgw_ra_ir_commit (migrations 011, 012). */
static const struct {
	enum store_outcome status;
	int bit;
	const char *why;
} ir_refusals[] = {
	{ STORE_OUT_SERIAL_UNKNOWN, CMP_FAIL_NOT_AUTHORIZED,
	  "device serial is not on the vendor's list" },
	{ STORE_OUT_SERIAL_BLOCKED, CMP_FAIL_NOT_AUTHORIZED, "device serial is blocked" },
	{ STORE_OUT_CLONE, CMP_FAIL_NOT_AUTHORIZED,
	  "device serial is bound to another vendor key" },
	{ STORE_OUT_REENROLL_DENIED, CMP_FAIL_NOT_AUTHORIZED,
	  "device already enrolled; re-enrollment not allowed for this vendor" },
	{ STORE_OUT_TID_IN_USE, CMP_FAIL_TRANSACTION_ID_IN_USE, "transactionID already in use" },
};

static void refuse(struct ra_req *req, enum store_outcome status)
{
	for (size_t i = 0; i < sizeof(ir_refusals) / sizeof(ir_refusals[0]); i++)
		if (status == ir_refusals[i].status) {
			ra_req_fail(req, ir_refusals[i].bit, ir_refusals[i].why);
			return;
		}
	log_error(&req->log, "enrollment: unexpected status %s", store_outcome_name(status));
	ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

static void on_commit(void *arg, int rc, enum store_outcome status)
{
	struct ra_req *req = arg;

	if (rc != 0)
		ra_req_fail(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else if (status == STORE_OUT_OK)
		ra_ir_send_rep(req);
	else
		refuse(req, status);
}

static int commit(struct ra_req *req)
{
	unsigned char vendor_fp[32], sender_fp[32], *sender_der = NULL;
	const CMPGW_HDR *h = req->msg->header;
	int slen = i2d_X509(req->signer, &sender_der);
	struct ra_issued f;
	int rc = ra_issued_facts(req->cert, &f);

	if (rc != 0 || slen <= 0 || ra_trust_spki_fp(req->signer, vendor_fp) ||
	    ra_trust_cert_fp(req->signer, sender_fp) ||
	    RAND_bytes(req->server_nonce, sizeof(req->server_nonce)) != 1) {
		rc = RC_CRYPTO;
		goto out;
	}
	struct store_ir_commit c = {
		.tid = { h->transactionID->data, (size_t)h->transactionID->length },
		.sender_cert = { sender_der, (size_t)slen },
		.server_nonce = { req->server_nonce, sizeof(req->server_nonce) },
		.client_nonce = { h->senderNonce->data, (size_t)h->senderNonce->length },
		.cert = { f.der, f.len },
		.cert_hash = { f.hash, f.hlen },
		.vendor_key_fp = vendor_fp,
		.sender_fp = sender_fp,
		.key_fp = f.key_fp,
		.alias = req->alias->label,
		.body = cmp_asn1_body_name(req->msg->body->type),
		.vendor_name = req->vendor ? req->vendor->name : NULL,
		.serial = req->serial,
		.issuer = f.issuer,
		.serial_hex = f.serial_hex,
		.subject = f.subject,
		.peer = req->log.peer,
		.vendor_id = req->vendor ? req->vendor->id : 0,
		.cert_req_id = req->cert_req_id,
		.not_before = f.not_before,
		.not_after = f.not_after,
		.implicit = req->implicit,
		.allow_reenroll = !req->vendor || req->vendor->allow_reenroll,
		.revoke_old = req->alias->profile->renewal_revokes_old,
		.deadline_s = req->alias->confirm_deadline_s,
	};
	rc = req->ra ? req->rw->ops->ra_ir_commit(req->rw->db, &c, on_commit, req)
		     : req->rw->ops->ir_commit(req->rw->db, &c, on_commit, req);
out:
	ra_issued_clear(&f);
	OPENSSL_free(sender_der);
	return rc;
}

/* The audit row cmpgw_ir_commit / cmpgw_ra_ir_commit write for a refusal;
 * admission is read-only, so it is written here. */
static void audit_refusal(struct ra_req *req, enum store_outcome status)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "%s%s: %s", cmp_asn1_body_name(req->msg->body->type),
		 req->ra ? " (downstream RA)" : "", store_outcome_name(status));
	audit_reject(req, !req->ra && status == STORE_OUT_CLONE ? "clone_suspected" : "rejected",
		     detail);
}

/* The request was admitted: the CA signs (the request's only CA
 * signature), then the commit re-checks atomically and answers. */
static void issue_commit(struct ra_req *req, EVP_PKEY *pub)
{
	/* a downstream RA's identity without vendor is named "ra" (${vendor}) */
	struct policy_identity id = { req->serial, req->vendor ? req->vendor->name : "ra" };
	char reason[256];
	int rc = ra_issue(req, &id, req->asked, pub, reason, sizeof(reason));

	if (rc != 0) {
		log_openssl(&req->log, LOG_ERROR, "issuing failed");
		ra_req_fail(req,
			    rc == RC_INVAL ? CMP_FAIL_BAD_CERT_TEMPLATE : CMP_FAIL_SYSTEM_FAILURE,
			    rc == RC_INVAL ? reason : "internal error");
		return;
	}
	if (commit(req) != 0)
		ra_req_fail(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
}

/* What the admission step keeps besides req: the template key. */
struct ir_admit {
	struct ra_req *req;
	EVP_PKEY *pub;
};

static void on_admit(void *arg, int rc, enum store_outcome status)
{
	struct ir_admit *a = arg;
	struct ra_req *req = a->req;
	EVP_PKEY *pub = a->pub;

	free(a);
	if (ra_req_gone(req)) {
		/* dropped and freed: nothing signed, nothing written */
	} else if (rc != 0) {
		ra_req_fail(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (status != STORE_OUT_OK) {
		audit_refusal(req, status);
		refuse(req, status);
	} else {
		issue_commit(req, pub);
	}
	EVP_PKEY_free(pub);
}

void ra_ir_admit_issue(struct ra_req *req, EVP_PKEY *pub)
{
	const CMPGW_HDR *h = req->msg->header;
	unsigned char vendor_fp[32];
	struct ir_admit *a = NULL;
	int rc = RC_NOMEM;

	req->implicit = req->alias->implicit_confirm && cmp_build_has_implicit_confirm(req->msg);
	if (ra_trust_spki_fp(req->signer, vendor_fp) != 0 || !(a = malloc(sizeof(*a))))
		goto fail;
	a->req = req;
	a->pub = pub;
	struct store_ir_admit q = {
		.tid = { h->transactionID->data, (size_t)h->transactionID->length },
		.vendor_key_fp = vendor_fp,
		.serial = req->serial,
		.vendor_id = req->vendor ? req->vendor->id : 0,
		.allow_reenroll = !req->vendor || req->vendor->allow_reenroll,
	};
	rc = req->ra ? req->rw->ops->admit_ra_ir(req->rw->db, &q, on_admit, a)
		     : req->rw->ops->admit_ir(req->rw->db, &q, on_admit, a);
	if (rc == 0)
		return;
fail:
	free(a);
	EVP_PKEY_free(pub);
	ra_req_fail(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
}

void ra_ir_handle(struct ra_req *req)
{
	/* ir and cr share the CertReqMessages layout (value.ir aliases value.cr) */
	STACK_OF(CMPGW_CERTREQMSG) *reqs = req->msg->body->value.ir;
	const CMPGW_CERTREQMSG *crm;
	const char *why = NULL;
	EVP_PKEY *pub = NULL;
	struct ra_auth auth;
	int bit, rc;

	if (sk_CMPGW_CERTREQMSG_num(reqs) != 1) {
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, "exactly one CertReqMsg is supported");
		return;
	}
	crm = sk_CMPGW_CERTREQMSG_value(reqs, 0);
	req->cert_req_id = ASN1_INTEGER_get(crm->certReq->certReqId);
	req->asked = crm->certReq->certTemplate ? crm->certReq->certTemplate->subject : NULL;
	/* RFC 9483 4.1.1: a single request carries certReqId 0. */
	if (req->cert_req_id != 0) {
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, "certReqId must be 0");
		return;
	}
	/* Shared-secret enrollment with a one-time token (ra/token_ir.c) */
	if (req->msg->body->type == CMP_BODY_IR && (req->alias->auth & CFG_AUTH_TOKEN) &&
	    cmp_prot_is_pbmac(req->msg)) {
		ra_token_ir_handle(req, crm);
		return;
	}
	bit = ra_ir_verify_protection(req, &why);
	if (bit >= 0) {
		if (cmp_prot_is_pbmac(req->msg)) /* a token tried where none is accepted */
			ra_audit_unauth(req, "token_rejected", NULL, NULL, why);
		goto fail;
	}
	/* RFC 9483 5.2: a request of an authorized downstream RA */
	if (req->alias->n_ras > 0 && ra_downstream_ir(req, crm))
		return;
	/* 3GPP TS 33.310 9.5.4: renewal re-runs the initial procedure with the
	 * operator certificate in place of the vendor certificate. */
	if (req->alias->mode != CFG_MODE_RA && ra_renew_is_operator_cert(req->cfg, req->signer)) {
		ra_renew_start(req, crm, NULL);
		return;
	}
	if (!(req->alias->auth & CFG_AUTH_VENDOR_CERT)) {
		why = "this alias requires MAC protection with an enrollment token";
		bit = CMP_FAIL_WRONG_INTEGRITY;
		goto fail;
	}
	if (!req->trust ||
	    ra_trust_authenticate(req->trust, req->alias->vendors, req->alias->n_vendors,
				  req->signer, req->msg->extraCerts, &auth) != 0) {
		why = req->trust ? auth.text : "vendor registry not loaded";
		bit = CMP_FAIL_SIGNER_NOT_TRUSTED;
		ra_audit_unauth(req, "auth_failed", NULL, NULL, why);
		goto fail;
	}
	req->vendor = auth.vendor;
	rc = ra_trust_device_serial(req->vendor->rule, req->signer, req->serial,
				    sizeof(req->serial));
	if (rc != 0) {
		why = "vendor certificate carries no usable device serial";
		bit = CMP_FAIL_NOT_AUTHORIZED;
		audit_reject(req, "rejected", why);
		goto fail;
	}
	bit = ra_ir_check_request(req, crm, &pub, &why);
	if (bit >= 0) {
		audit_reject(req, "rejected", why);
		goto fail;
	}
	if (req->alias->mode == CFG_MODE_RA) { /* RA mode: the upstream CA issues (ra/fwd.c) */
		ra_fwd_start(req, pub, req->vendor->name);
		EVP_PKEY_free(pub);
		return;
	}
	/* admit (read-only), sign, commit (re-checks atomically), answer */
	ra_ir_admit_issue(req, pub);
	return;
fail:
	EVP_PKEY_free(pub);
	ra_req_fail(req, bit, why);
}
