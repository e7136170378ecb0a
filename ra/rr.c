/*
 * ra/rr.c - revocation request (RFC 4210 5.3.9, RFC 9483 4.2): verify the
 * signature, find who may revoke (the certificate's holder, or a revoker
 * certificate configured on the alias), record the revocation in
 * PostgreSQL, answer rp, and have the CRL regenerated. On an RA alias the
 * upstream CA revokes first (ra/fwd.c); the record follows its consent.
 *
 * Malformed or badly protected requests get an error message; decisions
 * about the named certificate (unknown, already revoked, not yours) get an
 * rp whose PKIStatusInfo is a rejection with the precise failInfo bit.
 */
#include "ra/ra.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp/build.h"
#include "core/metrics.h"
#include "policy/crl.h"
#include "ra/crl.h"
#include "ra/fwd.h"
#include "ra/pipeline.h"
#include "ra/step_protect.h"
#include "store/ops.h"
#include "store/renew.h"
#include "store/revoke.h"

static struct store_bytes tid_of(const struct ra_req *req)
{
	const ASN1_OCTET_STRING *t = req->msg->header->transactionID;
	struct store_bytes b = { t->data, (size_t)t->length };
	return b;
}

static const CMPGW_CERTTEMPLATE *details_of(const struct ra_req *req)
{
	return sk_CMPGW_REVDETAILS_value(req->msg->body->value.rr, 0)->certDetails;
}

static void on_revoked(void *arg, int rc, enum store_outcome status)
{
	struct ra_req *req = arg;
	struct ra_worker *rw = req->rw;

	if (rc == 0 && status == STORE_OUT_OK) /* committed (RA mode: the upstream's too) */
		metrics_revoked(rw->w ? rw->w->metrics : NULL, req->alias->label);
	if (req->alias->mode == CFG_MODE_RA) {
		/* the upstream CA, the authority, has revoked it already */
		if (rc != 0 || (status != STORE_OUT_OK && status != STORE_OUT_RELEASED))
			log_warn(&req->log, "rr: done by the upstream CA; local record: %s",
				 rc != 0 ? "database unavailable" : store_outcome_name(status));
	} else if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (status == STORE_OUT_OK || status == STORE_OUT_RELEASED) {
		log_info(&req->log, "rr: certificate %s",
			 status == STORE_OUT_OK ? "revoked" : "released");
		ra_crl_kick(rw->crl); /* RFC 5280 5: the next CRL lists it */
	} else if (status == STORE_OUT_UNKNOWN) {
		ra_req_refuse_rp(req, CMP_FAIL_BAD_CERT_ID,
				 "no certificate with this serialNumber was issued by this CA");
	} else if (status == STORE_OUT_REVOKED) {
		ra_req_refuse_rp(req, CMP_FAIL_CERT_REVOKED, "certificate is already revoked");
	} else if (status == STORE_OUT_NOT_HOLDER) {
		ra_req_refuse_rp(req, CMP_FAIL_NOT_AUTHORIZED,
				 "request is not signed by the certificate to be revoked");
	} else if (status == STORE_OUT_NOT_ON_HOLD) {
		ra_req_refuse_rp(req, CMP_FAIL_BAD_REQUEST,
				 "removeFromCRL for a certificate that is not on hold");
	} else {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	}
	ra_resume(req);
}

/* RFC 9483 4.2: certDetails names issuer and serialNumber; crlEntryDetails
 * may carry a CRLReason (RFC 5280 5.3.1). Returns a fail bit or -1. */
static int check_details(struct ra_req *req, const CMPGW_REVDETAILS *rd, int *reason,
			 const char **why)
{
	const CMPGW_CERTTEMPLATE *t = rd->certDetails;
	ASN1_ENUMERATED *e = NULL;
	int crit = -1;

	*reason = POLICY_CRL_REASON_UNSPECIFIED;
	if (!t || !t->serialNumber || !t->issuer) {
		*why = "certDetails must name issuer and serialNumber";
		return CMP_FAIL_BAD_REQUEST;
	}
	/* RA mode: the upstream CA issued it; the store and the upstream decide */
	if (req->alias->mode != CFG_MODE_RA &&
	    X509_NAME_cmp(t->issuer, X509_get_subject_name(req->cfg->ca_cert)) != 0) {
		*why = "certDetails issuer is not this CA";
		return CMP_FAIL_BAD_CERT_ID;
	}
	if (t->serialNumber->type == V_ASN1_NEG_INTEGER) {
		*why = "serialNumber must be positive";
		return CMP_FAIL_BAD_CERT_ID;
	}
	if (rd->crlEntryDetails)
		e = X509V3_get_d2i(rd->crlEntryDetails, NID_crl_reason, &crit, NULL);
	ERR_clear_error();
	if (crit == -2 || (crit >= 0 && !e)) {
		*why = "crlEntryDetails: reasonCode repeated or malformed";
		ASN1_ENUMERATED_free(e);
		return CMP_FAIL_BAD_REQUEST;
	}
	if (e) {
		long r = ASN1_ENUMERATED_get(e);
		ASN1_ENUMERATED_free(e);
		if (r < 0 || r > POLICY_CRL_REASON_MAX || r == 7) {
			*why = "crlEntryDetails: reasonCode is not a CRLReason";
			return CMP_FAIL_BAD_REQUEST;
		}
		*reason = (int)r;
	}
	return -1;
}

/* Is the signer one of the alias's revoker certificates (SHA-256)? */
static bool is_revoker(const struct ra_req *req)
{
	unsigned char fp[32], rfp[32];
	STACK_OF(X509) *rv = req->alias->revokers;

	if (!rv || sk_X509_num(rv) == 0 || ra_trust_cert_fp(req->signer, fp) != 0)
		return false;
	for (int i = 0; i < sk_X509_num(rv); i++)
		if (ra_trust_cert_fp(sk_X509_value(rv, i), rfp) == 0 &&
		    CRYPTO_memcmp(fp, rfp, sizeof(fp)) == 0)
			return true;
	return false;
}

static int reject(struct ra_req *req, int bit, const char *why, bool as_rp)
{
	req->rw->ops->audit(req->rw->db, "revoke_rejected", req->alias->label, tid_of(req), NULL,
			    NULL, req->log.peer, why);
	return as_rp ? ra_req_refuse_rp(req, bit, why) : ra_req_refuse(req, bit, why);
}

/* Record the revocation the request asks for (checked by the steps
 * before); on_revoked resumes. */
static void record(struct ra_req *req)
{
	const CMPGW_CERTTEMPLATE *t = details_of(req);
	const char *why = NULL;
	unsigned char holder_fp[32];
	char issuer[512], *serial_hex = NULL;
	BIGNUM *bn = NULL;
	int reason;
	bool revoker = is_revoker(req) || ra_downstream_authorized(req);

	if (check_details(req, sk_CMPGW_REVDETAILS_value(req->msg->body->value.rr, 0), &reason,
			  &why) >= 0 ||
	    (!revoker && ra_trust_cert_fp(req->signer, holder_fp) != 0) ||
	    !(bn = ASN1_INTEGER_to_BN(t->serialNumber, NULL)) || !(serial_hex = BN_bn2hex(bn))) {
		ERR_clear_error();
		ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		ra_resume(req);
		goto out;
	}
	ra_name_str(t->issuer, issuer, sizeof(issuer));
	struct store_revoke r = {
		.issuer = issuer,
		.serial_hex = serial_hex,
		.alias = req->alias->label,
		.peer = req->log.peer,
		.by = req->alias->mode == CFG_MODE_RA ? "upstream CA"
		      : req->ra			      ? "downstream RA"
		      : revoker			      ? "revoker"
						      : "holder",
		.holder_fp = revoker ? NULL : holder_fp,
		.tid = tid_of(req),
		.reason = reason,
	};
	log_debug(&req->log, "rr: serial %s reason %s by %s", serial_hex,
		  policy_crl_reason_name(reason), r.by);
	if (req->rw->ops->revoke(req->rw->db, &r, on_revoked, req) != 0)
		on_revoked(req, RC_DB, STORE_OUT_OTHER);
out:
	OPENSSL_free(serial_hex);
	BN_free(bn);
}

/* RA mode, holder's rr: the certificate must be one obtained through us
 * (exact DER), not yet revoked here; then the upstream decides. */
static void on_holder(void *arg, int rc, const struct store_oldcert *o)
{
	struct ra_req *req = arg;

	if (rc != 0)
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else if (!o)
		reject(req, CMP_FAIL_BAD_CERT_ID, "certificate not obtained through this RA alias",
		       true);
	else if (o->status == STORE_OUT_REVOKED)
		reject(req, CMP_FAIL_CERT_REVOKED, "certificate is already revoked", true);
	else {
		ra_fwd_rr(req, record); /* record resumes, or the forward's verdict does */
		return;
	}
	ra_resume(req);
}

/* RA mode: the upstream CA revokes first (ra/fwd.c); a holder's
 * certificate must be one obtained through this alias. record resumes,
 * or the forward records its verdict and resumes req. */
static int rr_forward(struct ra_req *req)
{
	char issuer[512], *serial_hex = NULL;
	unsigned char *der = NULL;
	BIGNUM *bn = NULL;
	int len, rc = RA_STEP_WAIT;

	if (is_revoker(req) || ra_downstream_authorized(req)) {
		ra_fwd_rr(req, record);
		return RA_STEP_WAIT;
	}
	len = i2d_X509(req->signer, &der);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(req->signer), NULL);
	serial_hex = bn ? BN_bn2hex(bn) : NULL;
	ra_name_str(X509_get_issuer_name(req->signer), issuer, sizeof(issuer));
	struct store_bytes b = { der, len > 0 ? (size_t)len : 0 };
	if (len <= 0 || !serial_hex ||
	    req->rw->ops->renew_lookup(req->rw->db, issuer, serial_hex, b, on_holder, req) != 0)
		rc = ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	OPENSSL_free(der);
	OPENSSL_free(serial_hex);
	BN_free(bn);
	return rc;
}

/* CA mode: record the revocation (on_revoked resumes). */
static int rr_record(struct ra_req *req)
{
	record(req);
	return RA_STEP_WAIT;
}

/* RFC 4210 5.3.9: exactly one RevDetails is supported. */
static int rr_template(struct ra_req *req)
{
	if (sk_CMPGW_REVDETAILS_num(req->msg->body->value.rr) != 1)
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST,
				     "exactly one RevDetails is supported");
	return RA_STEP_NEXT;
}

/* certDetails and crlEntryDetails; a request about a certificate that is
 * not ours is answered in an rp, a malformed one with an error. */
static int rr_details(struct ra_req *req)
{
	const char *why = NULL;
	int reason, bit = check_details(req, sk_CMPGW_REVDETAILS_value(req->msg->body->value.rr, 0),
					&reason, &why);

	return bit >= 0 ? reject(req, bit, why, bit != CMP_FAIL_BAD_REQUEST) : RA_STEP_NEXT;
}

/* Who may revoke: the holder (RFC 9483 4.2: the certificate that protects
 * the request), a revoker configured on the alias, or an authorized
 * downstream RA on behalf of its devices (RFC 9483 5.2). */
static int rr_authorize(struct ra_req *req)
{
	const CMPGW_CERTTEMPLATE *t = details_of(req);
	const char *why = NULL;
	int reason;
	bool revoker = is_revoker(req) || ra_downstream_authorized(req);

	if (revoker)
		return RA_STEP_NEXT;
	if (X509_NAME_cmp(X509_get_issuer_name(req->signer), t->issuer) != 0 ||
	    ASN1_INTEGER_cmp(X509_get0_serialNumber(req->signer), t->serialNumber) != 0)
		return reject(req, CMP_FAIL_NOT_AUTHORIZED,
			      "only the holder of a certificate (or an authorized revoker) may "
			      "revoke it",
			      true);
	(void)check_details(req, sk_CMPGW_REVDETAILS_value(req->msg->body->value.rr, 0), &reason,
			    &why);
	if (reason == POLICY_CRL_REASON_REMOVE)
		return reject(req, CMP_FAIL_NOT_AUTHORIZED,
			      "only an authorized revoker may release a hold", true);
	return RA_STEP_NEXT;
}

/* rp accepted (RFC 4210 5.3.10). */
static int rr_answer(struct ra_req *req)
{
	ra_answer_rp(req, CMP_STATUS_ACCEPTED, -1, NULL);
	return RA_STEP_DONE;
}

const struct ra_flow ra_flow_rr_ca = {
	"rr",
	{ rr_template, ra_step_protect, rr_details, rr_authorize, rr_record, rr_answer },
};

const struct ra_flow ra_flow_rr_ra = {
	"rr (RA mode)",
	{ rr_template, ra_step_protect, rr_details, rr_authorize, rr_forward, rr_answer },
};
