/*
 * ra/ir.c - initial registration (ir, cr) with a vendor certificate (TS
 * 33.310 9.5.4, RFC 9483 4.1.1): what is specific to it, and its flow
 * tables over the shared steps. A token ir goes to ra/token_ir.c, a
 * request of a downstream RA to ra/downstream.c, one signed with an
 * operator certificate to the renewal (ra/renew.c).
 */
#include "ra/ra.h"

#include "cmp/prot.h"
#include "ra/answer.h"
#include "ra/audit.h"
#include "ra/fwd.h"
#include "ra/issued.h"
#include "ra/pipeline.h"
#include "ra/renew.h"
#include "ra/step_admit.h"
#include "ra/step_commit.h"
#include "ra/step_pop.h"
#include "ra/step_protect.h"
#include "ra/step_template.h"
#include "ra/step_vendor.h"
#include "ra/token_ir.h"

/* Exactly one CertReqMsg, certReqId 0 (RFC 9483 4.1.1); a PBMAC-protected
 * ir on an alias that accepts tokens is a shared-secret enrollment. */
static int ir_template(struct ra_req *req)
{
	/* ir and cr share the CertReqMessages layout (value.ir aliases value.cr) */
	int rc = ra_step_template_single(req, req->msg->body->value.ir);

	if (rc != RA_STEP_NEXT)
		return rc;
	/* Shared-secret enrollment with a one-time token (ra/token_ir.c) */
	if (req->msg->body->type == CMP_BODY_IR && (req->alias->auth & CFG_AUTH_TOKEN) &&
	    cmp_prot_is_pbmac(req->msg))
		return ra_req_goto(req, &ra_flow_token_ir);
	return RA_STEP_NEXT;
}

/* Signature protection; a token tried where none is accepted is audited. */
static int ir_protect(struct ra_req *req)
{
	const char *why = NULL;
	int bit = ra_step_protect_check(req, &why);

	if (bit < 0)
		return RA_STEP_NEXT;
	if (cmp_prot_is_pbmac(req->msg))
		ra_audit_unauth(req, "token_rejected", NULL, NULL, why);
	return ra_req_refuse(req, bit, why);
}

/* Who signed: an authorized downstream RA (RFC 9483 5.2), an operator
 * certificate (renewal), or a device with its vendor certificate. */
static int ir_route(struct ra_req *req)
{
	int rc;

	if (req->alias->n_ras > 0 && (rc = ra_downstream_route(req)) != RA_STEP_NEXT)
		return rc;
	/* 3GPP TS 33.310 9.5.4: renewal re-runs the initial procedure with the
	 * operator certificate in place of the vendor certificate. */
	if (req->alias->mode != CFG_MODE_RA && ra_issued_by_ca(req->cfg, req->signer))
		return ra_req_goto(req, &ra_flow_renew_ca);
	if (!(req->alias->auth & CFG_AUTH_VENDOR_CERT))
		return ra_req_refuse(req, CMP_FAIL_WRONG_INTEGRITY,
				     "this alias requires MAC protection with an enrollment token");
	return RA_STEP_NEXT;
}

const struct ra_flow ra_flow_ir_ca = {
	"ir",
	{ ir_template, ir_protect, ir_route, ra_step_vendor, ra_step_pop, ra_step_admit,
	  ra_step_sign, ra_step_commit, ra_step_answer_certrep },
};

const struct ra_flow ra_flow_ir_ra = {
	"ir (RA mode)",
	{ ir_template, ir_protect, ir_route, ra_step_vendor, ra_step_pop, ra_fwd_step_forward,
	  ra_step_answer_certrep },
};
