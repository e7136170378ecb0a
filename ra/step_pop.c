/*
 * ra/step_pop.c - POP and key policy (ra/step_pop.h).
 */
#include "ra/step_pop.h"

#include <openssl/err.h>

#include "cmp/pop.h"
#include "policy/profile.h"
#include "ra/audit.h"
#include "ra/pipeline.h"

int ra_step_pop_check(struct ra_req *req, const CMPGW_CERTREQMSG *crm, EVP_PKEY **pub,
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
		*why = rc == RC_CRYPTO	      ? "proof-of-possession signature does not verify"
		       : rc == RC_UNSUPPORTED ? "proof-of-possession algorithm not supported"
					      : "only signature proof-of-possession is supported";
		return CMP_FAIL_BAD_POP;
	}
	if (!policy_profile_key_ok(req->alias->profile, *pub, why))
		return CMP_FAIL_BAD_ALG;
	return -1;
}

int ra_step_pop(struct ra_req *req)
{
	const char *why = NULL;
	int bit = ra_step_pop_check(req, req->cr.crm, &req->cr.pub, &why);

	if (bit < 0)
		return RA_STEP_NEXT;
	ra_audit_req(req, "rejected", why);
	return ra_req_refuse(req, bit, why);
}
