/*
 * ra/renew.c - renewal with an operator certificate this CA issued:
 * kur (RFC 4210 5.3.5, RFC 9483 4.1.3), p10cr, and ir/cr signed with the
 * operator certificate (3GPP TS 33.310 9.5.4 re-runs the initial procedure
 * with it); also a downstream RA's kur for a device (ra/downstream.c).
 * Flows: validate the operator certificate, match oldCertID, check POP,
 * admit (the stored certificate must be active), issue for the same
 * device identity (or forward it in RA mode), commit, answer.
 */
#include "ra/renew.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "cmp/build.h"
#include "policy/profile.h"
#include "ra/fwd.h"
#include "ra/issued.h"
#include "ra/ra.h"
#include "ra/step_admit.h"
#include "ra/step_pop.h"
#include "ra/step_protect.h"
#include "ra/step_template.h"
#include "store/ops.h"

#define OID_OLDCERTID "1.3.6.1.5.5.7.5.1.5" /* id-regCtrl-oldCertID, RFC 4211 6.5 */

/* The issuing CA is the trust anchor for its own end entities. On an RA
 * alias the upstream CA issued it: only its validity is checked here,
 * and the certificate store must hold exactly this certificate, obtained
 * (and verified) through this alias (migration 009). */
static int verify_operator_cert(struct ra_req *req, X509 *old, const char **why)
{
	X509_STORE *st = NULL;
	X509_STORE_CTX *ctx = NULL;
	int verr = X509_V_ERR_UNSPECIFIED;

	if (req->alias->mode == CFG_MODE_RA) {
		verr = X509_cmp_current_time(X509_get0_notAfter(old)) <= 0
			       ? X509_V_ERR_CERT_HAS_EXPIRED
		       : X509_cmp_current_time(X509_get0_notBefore(old)) >= 0
			       ? X509_V_ERR_CERT_NOT_YET_VALID
			       : X509_V_OK;
	} else if ((st = X509_STORE_new()) && (ctx = X509_STORE_CTX_new()) &&
		   X509_STORE_add_cert(st, req->cfg->ca_cert) &&
		   X509_STORE_CTX_init(ctx, st, old, NULL)) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
		verr = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	if (verr == X509_V_OK)
		return -1;
	*why = verr == X509_V_ERR_CERT_HAS_EXPIRED     ? "operator certificate has expired"
	       : verr == X509_V_ERR_CERT_NOT_YET_VALID ? "operator certificate is not yet valid"
						       : "operator certificate does not verify";
	return CMP_FAIL_SIGNER_NOT_TRUSTED;
}

/* RFC 4211 6.5 oldCertID = CertId of the certificate being replaced; it
 * must name old (the protecting certificate, or the device's certificate
 * a downstream RA renews). Returns a fail bit or -1. */
static int check_old_cert_id(const struct ra_req *req, X509 *old, const CMPGW_CERTREQMSG *crm,
			     bool required, const char **why)
{
	STACK_OF(CMPGW_ATAV) *ctrls = crm ? crm->certReq->controls : NULL;
	CMPGW_CERTID *cid = NULL;
	char oid[64];
	int bit = -1;
	bool found = false;

	for (int i = 0; i < sk_CMPGW_ATAV_num(ctrls); i++) {
		const CMPGW_ATAV *a = sk_CMPGW_ATAV_value(ctrls, i);
		if (OBJ_obj2txt(oid, sizeof(oid), a->type, 1) <= 0 || strcmp(oid, OID_OLDCERTID))
			continue;
		found = true;
		if (!a->value || a->value->type != V_ASN1_SEQUENCE)
			break;
		const unsigned char *p = a->value->value.sequence->data;
		cid = d2i_CMPGW_CERTID(NULL, &p, a->value->value.sequence->length);
		break;
	}
	if (!found) {
		if (required) {
			*why = "oldCertID control missing";
			bit = CMP_FAIL_BAD_REQUEST;
		}
		goto out;
	}
	if (!cid || cid->issuer->type != GEN_DIRNAME ||
	    X509_NAME_cmp(cid->issuer->d.directoryName, X509_get_issuer_name(old)) != 0 ||
	    ASN1_INTEGER_cmp(cid->serialNumber, X509_get0_serialNumber(old)) != 0) {
		*why = old == req->signer
			       ? "oldCertID does not name the protecting certificate"
			       : "oldCertID does not name the device certificate in extraCerts";
		bit = CMP_FAIL_BAD_CERT_ID;
	}
out:
	CMPGW_CERTID_free(cid);
	ERR_clear_error();
	return bit;
}

/* The verdict cmpgw_renew_commit would give, in its order, from the
 * read-only admission (cmpgw_renew_admit): "ok" or its reason. On an RA
 * alias the forward's begin (cmpgw_fwd_begin_renew) checks what follows
 * the status before anything is forwarded. */
static enum store_outcome admission(const struct ra_req *req, const struct store_oldcert *o)
{
	if (o->status != STORE_OUT_ACTIVE)
		return o->status == STORE_OUT_REVOKED	   ? STORE_OUT_OLD_REVOKED
		       : o->status == STORE_OUT_SUPERSEDED ? STORE_OUT_OLD_SUPERSEDED
							   : STORE_OUT_OLD_UNCONFIRMED;
	if (req->alias->mode == CFG_MODE_RA)
		return STORE_OUT_OK;
	return o->serial_blocked ? STORE_OUT_SERIAL_BLOCKED
	       : o->tid_in_use	 ? STORE_OUT_TID_IN_USE
				 : STORE_OUT_OK;
}

/* The audit row cmpgw_renew_commit writes for a refusal; admission is
 * read-only, so it is written here. */
static void audit_refusal(struct ra_req *req, const struct store_oldcert *o,
			  enum store_outcome status)
{
	const ASN1_OCTET_STRING *t = req->msg->header->transactionID;
	struct store_bytes tid = { t->data, (size_t)t->length };
	char detail[96];

	snprintf(detail, sizeof(detail), "%s (renewal): %s",
		 cmp_asn1_body_name(req->msg->body->type), store_outcome_name(status));
	req->rw->ops->audit(req->rw->db, "rejected", req->alias->label, tid,
			    o->vendor[0] ? o->vendor : NULL,
			    o->device_serial[0] ? o->device_serial : NULL, req->log.peer, detail);
}

/* The certificate being renewed: the protecting one, or the device
 * certificate a downstream RA carries (ra/downstream.c). */
static X509 *old_of(const struct ra_req *req)
{
	return req->ext.renew.old_cert ? req->ext.renew.old_cert : req->signer;
}

/* Authenticate and check: the operator certificate verifies, oldCertID
 * names it (required in a kur), POP and key policy (p10cr: req->cr.pub is
 * the CSR key, its POP checked already). */
static int renew_check(struct ra_req *req)
{
	X509 *old = old_of(req);
	const char *why = NULL;
	int bit = verify_operator_cert(req, old, &why);

	if (bit < 0)
		bit = check_old_cert_id(req, old, req->cr.crm, req->msg->body->type == CMP_BODY_KUR,
					&why);
	if (bit < 0 && req->cr.crm)
		bit = ra_step_pop_check(req, req->cr.crm, &req->cr.pub, &why);
	else if (bit < 0 && !policy_profile_key_ok(req->alias->profile, req->cr.pub, &why))
		bit = CMP_FAIL_BAD_ALG;
	return bit >= 0 ? ra_req_refuse(req, bit, why) : RA_STEP_NEXT;
}

static void on_admit(void *arg, int rc, const struct store_oldcert *o)
{
	struct ra_req *req = arg;
	enum store_outcome verdict;

	if (ra_req_client_gone(req)) { /* ra_resume drops it: nothing signed or forwarded */
	} else if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (!o) {
		ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED,
			      req->alias->mode == CFG_MODE_RA
				      ? "certificate not obtained through this RA alias"
				      : "certificate not known to this CA");
	} else if ((verdict = admission(req, o)) != STORE_OUT_OK) {
		audit_refusal(req, o, verdict);
		ra_step_admit_refuse(req, verdict);
	} else {
		req->ext.renew.old_id = o->id;
		snprintf(req->cr.serial, sizeof(req->cr.serial), "%s", o->device_serial);
		/* no vendor: enrolled through a downstream RA (ra/downstream.c
		 * names the ${vendor} of such identities "ra") */
		snprintf(req->ext.renew.vendor, sizeof(req->ext.renew.vendor), "%s",
			 o->vendor[0] ? o->vendor : "ra");
		req->cr.id_vendor = req->ext.renew.vendor;
	}
	ra_resume(req);
}

/* Read-only admission before the CA signs: a refused or replayed renewal
 * costs no CA signature (issue 10 finding 3). */
static int renew_admit(struct ra_req *req)
{
	X509 *old = old_of(req);
	char issuer[512], *serial_hex = NULL;
	unsigned char *der = NULL;
	BIGNUM *bn = NULL;
	int len, rc = RA_STEP_WAIT;

	req->cr.implicit = req->alias->implicit_confirm && cmp_build_has_implicit_confirm(req->msg);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(old), NULL);
	serial_hex = bn ? BN_bn2hex(bn) : NULL;
	len = i2d_X509(old, &der);
	ra_name_str(X509_get_issuer_name(old), issuer, sizeof(issuer));
	struct store_bytes b = { der, len > 0 ? (size_t)len : 0 };
	const ASN1_OCTET_STRING *t = req->msg->header->transactionID;
	struct store_bytes tid = { t->data, (size_t)t->length };
	if (!serial_hex || len <= 0 ||
	    req->rw->ops->renew_admit(req->rw->db, issuer, serial_hex, b, tid, on_admit, req) != 0)
		rc = ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	OPENSSL_free(der);
	OPENSSL_free(serial_hex);
	BN_free(bn);
	return rc;
}

static void on_commit(void *arg, int rc, enum store_outcome status)
{
	struct ra_req *req = arg;

	if (rc != 0)
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else if (status != STORE_OUT_OK)
		ra_step_admit_refuse(req, status);
	else
		log_info(&req->log, "renewed certificate for device %s", req->cr.serial);
	ra_resume(req);
}

static int commit(struct ra_req *req)
{
	const CMPGW_HDR *h = req->msg->header;
	unsigned char sender_fp[32], *sender_der = NULL;
	int slen = i2d_X509(req->signer, &sender_der);
	struct ra_issued f;
	int rc = ra_issued_facts(req->cr.cert, &f);

	if (rc != 0 || slen <= 0 || ra_trust_cert_fp(req->signer, sender_fp) ||
	    RAND_bytes(req->cr.server_nonce, sizeof(req->cr.server_nonce)) != 1) {
		rc = RC_CRYPTO;
		goto out;
	}
	struct store_renew_commit c = {
		.tid = { h->transactionID->data, (size_t)h->transactionID->length },
		.sender_cert = { sender_der, (size_t)slen },
		.server_nonce = { req->cr.server_nonce, sizeof(req->cr.server_nonce) },
		.client_nonce = { h->senderNonce->data, (size_t)h->senderNonce->length },
		.cert = { f.der, f.len },
		.cert_hash = { f.hash, f.hlen },
		.sender_fp = sender_fp,
		.key_fp = f.key_fp,
		.alias = req->alias->label,
		.body = cmp_asn1_body_name(req->msg->body->type),
		.issuer = f.issuer,
		.serial_hex = f.serial_hex,
		.subject = f.subject,
		.peer = req->log.peer,
		.old_id = req->ext.renew.old_id,
		.cert_req_id = req->cr.cert_req_id,
		.not_before = f.not_before,
		.not_after = f.not_after,
		.implicit = req->cr.implicit,
		.revoke_old = req->alias->profile->renewal_revokes_old,
		.deadline_s = req->alias->confirm_deadline_s,
	};
	rc = req->rw->ops->renew_commit(req->rw->db, &c, on_commit, req);
out:
	ra_issued_clear(&f);
	OPENSSL_free(sender_der);
	return rc;
}

static int renew_commit(struct ra_req *req)
{
	if (commit(req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

/* kur: exactly one CertReqMsg, certReqId 0 (RFC 9483 4.1.3). */
static int kur_template(struct ra_req *req)
{
	return ra_step_template_single(req, req->msg->body->value.kur);
}

/* Who renews: a downstream RA on behalf of a device (RFC 9483 5.2), or
 * the holder of a certificate this CA issued (in RA mode the certificate
 * store decides, at admission). */
static int kur_route(struct ra_req *req)
{
	if (req->alias->n_ras > 0 && ra_downstream_authorized(req))
		return ra_downstream_old_cert(req);
	if (req->alias->mode != CFG_MODE_RA && !ra_issued_by_ca(req->cfg, req->signer))
		return ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED,
				     "kur must be protected with a certificate issued by this CA");
	return RA_STEP_NEXT;
}

/* p10cr (RFC 9483 4.1.4): no certReqId (answers use -1); signed with an
 * operator certificate; the CSR signature is the POP (RFC 2986). */
static int p10cr_template(struct ra_req *req)
{
	req->cr.cert_req_id = -1;
	req->cr.asked = X509_REQ_get_subject_name(req->msg->body->value.p10cr);
	return RA_STEP_NEXT;
}

static int p10cr_pop(struct ra_req *req)
{
	X509_REQ *csr = req->msg->body->value.p10cr;

	if (!ra_issued_by_ca(req->cfg, req->signer))
		return ra_req_refuse(
			req, CMP_FAIL_NOT_AUTHORIZED,
			"p10cr must be protected with a certificate issued by this CA");
	req->cr.pub = X509_REQ_get_pubkey(csr);
	if (!req->cr.pub || X509_REQ_verify(csr, req->cr.pub) != 1) {
		ERR_clear_error();
		return ra_req_refuse(req, CMP_FAIL_BAD_POP, "PKCS#10 signature does not verify");
	}
	return RA_STEP_NEXT;
}

const struct ra_flow ra_flow_renew_ca = {
	"renewal",
	{ renew_check, renew_admit, ra_step_sign, renew_commit, ra_step_answer_certrep },
};

const struct ra_flow ra_flow_kur_ca = {
	"kur",
	{ kur_template, ra_step_protect, kur_route, renew_check, renew_admit, ra_step_sign,
	  renew_commit, ra_step_answer_certrep },
};

const struct ra_flow ra_flow_kur_ra = {
	"kur (RA mode)",
	{ kur_template, ra_step_protect, kur_route, renew_check, renew_admit, ra_fwd_step_forward,
	  ra_step_answer_certrep },
};

const struct ra_flow ra_flow_p10cr = {
	"p10cr",
	{ p10cr_template, ra_step_protect, p10cr_pop, renew_check, renew_admit, ra_step_sign,
	  renew_commit, ra_step_answer_certrep },
};
