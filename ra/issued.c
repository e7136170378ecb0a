#include "ra/issued.h"

#include <string.h>

#include <openssl/bn.h>

#include "cmp/certhash.h"
#include "core/key.h"
#include "policy/profile.h"
#include "ra/pipeline.h"
#include "ra/ra.h"

int ra_issue(struct ra_req *req, const struct policy_identity *id, const X509_NAME *requested,
	     EVP_PKEY *pub, char *why, size_t whylen)
{
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int rc = policy_profile_issue(req->cfg, req->alias->profile, id, requested, pub,
				      &req->cr.cert, why, whylen);

	if (rc != 0)
		return rc;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(req->cr.cert), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	log_info(&req->log, "CA signature: certificate serial %s for %s/%s", hex ? hex : "?",
		 id->vendor ? id->vendor : "-", id->serial ? id->serial : "-");
	OPENSSL_free(hex);
	BN_free(bn);
	return 0;
}

int ra_issued_facts(X509 *cert, struct ra_issued *f)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	int len;

	memset(f, 0, sizeof(*f));
	f->hlen = sizeof(f->hash);
	len = i2d_X509(cert, &f->der);
	f->serial_hex = bn ? BN_bn2hex(bn) : NULL;
	BN_free(bn);
	if (len <= 0 || !f->serial_hex || ra_trust_spki_fp(cert, f->key_fp) != 0 ||
	    cmp_certhash_compute(cert, NULL, f->hash, &f->hlen) != 0) {
		ra_issued_clear(f);
		return RC_CRYPTO;
	}
	f->len = (size_t)len;
	ra_name_str(X509_get_issuer_name(cert), f->issuer, sizeof(f->issuer));
	ra_name_str(X509_get_subject_name(cert), f->subject, sizeof(f->subject));
	f->not_before = ra_asn1_epoch(X509_get0_notBefore(cert));
	f->not_after = ra_asn1_epoch(X509_get0_notAfter(cert));
	return 0;
}

void ra_issued_clear(struct ra_issued *f)
{
	OPENSSL_free(f->der);
	OPENSSL_free(f->serial_hex);
	memset(f, 0, sizeof(*f));
}

int ra_step_sign(struct ra_req *req)
{
	struct policy_identity id = { req->cr.serial, req->cr.id_vendor };
	char reason[256];
	int rc = ra_issue(req, &id, req->cr.asked, req->cr.pub, reason, sizeof(reason));

	if (rc == 0)
		return RA_STEP_NEXT;
	log_openssl(&req->log, LOG_ERROR, "issuing failed");
	if (rc == RC_INVAL)
		return ra_req_refuse(req, CMP_FAIL_BAD_CERT_TEMPLATE, reason);
	/* RFC 9483 3.6.4 / RFC 4210 5.2.3: an HSM that stopped answering is a
	 * temporary condition the client may retry, not an internal fault */
	if (key_unavailable(req->cfg->ca_key))
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable (CA key)");
	return ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

bool ra_issued_by_ca(const struct cfg *cfg, X509 *x)
{
	return X509_check_issued(cfg->ca_cert, x) == X509_V_OK;
}
