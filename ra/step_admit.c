/*
 * ra/step_admit.c - read-only admission of an ir/cr (ra/step_admit.h).
 */
#include "ra/step_admit.h"

#include <stdio.h>

#include "cmp/build.h"
#include "ra/audit.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "store/ops.h"

/* The answers to the refusals of admission and commit, enrollment and
 * renewal, CA and RA mode alike (cmpgw_admit, cmpgw_renew_admit). */
static const struct {
	enum store_outcome status;
	int bit;
	const char *why;
} refusals[] = {
	{ STORE_OUT_SERIAL_UNKNOWN, CMP_FAIL_NOT_AUTHORIZED,
	  "device serial is not on the vendor's list" },
	{ STORE_OUT_SERIAL_BLOCKED, CMP_FAIL_NOT_AUTHORIZED, "device serial is blocked" },
	{ STORE_OUT_CLONE, CMP_FAIL_NOT_AUTHORIZED,
	  "device serial is bound to another vendor key" },
	{ STORE_OUT_REENROLL_DENIED, CMP_FAIL_NOT_AUTHORIZED,
	  "device already enrolled; re-enrollment not allowed for this vendor" },
	{ STORE_OUT_TID_IN_USE, CMP_FAIL_TRANSACTION_ID_IN_USE, "transactionID already in use" },
	/* renewal: the certificate being renewed */
	{ STORE_OUT_OLD_REVOKED, CMP_FAIL_CERT_REVOKED, "certificate has been revoked" },
	{ STORE_OUT_OLD_SUPERSEDED, CMP_FAIL_NOT_AUTHORIZED,
	  "certificate was superseded by a newer one" },
	{ STORE_OUT_OLD_UNCONFIRMED, CMP_FAIL_NOT_AUTHORIZED, "certificate was never confirmed" },
};

int ra_step_admit_refuse(struct ra_req *req, enum store_outcome status)
{
	if (status == STORE_OUT_OLD_UNKNOWN)
		return ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED,
				     req->alias->mode == CFG_MODE_RA
					     ? "certificate not obtained through this RA alias"
					     : "certificate not known to this CA");
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (status == refusals[i].status)
			return ra_req_refuse(req, refusals[i].bit, refusals[i].why);
	log_error(&req->log, "admission: unexpected store outcome %s", store_outcome_name(status));
	return ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

/* The audit row cmpgw_ir_commit / cmpgw_ra_ir_commit write for a refusal;
 * admission is read-only, so it is written here. */
static void audit_refusal(struct ra_req *req, enum store_outcome status)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "%s%s: %s", cmp_asn1_body_name(req->msg->body->type),
		 req->ra ? " (downstream RA)" : "", store_outcome_name(status));
	ra_audit_req(req, !req->ra && status == STORE_OUT_CLONE ? "clone_suspected" : "rejected",
		     detail);
}

static void on_admit(void *arg, int rc, enum store_outcome status)
{
	struct ra_req *req = arg;

	if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (status != STORE_OUT_OK && !ra_req_client_gone(req)) {
		audit_refusal(req, status);
		ra_step_admit_refuse(req, status);
	}
	ra_resume(req); /* dropped if gone: nothing signed, nothing written */
}

int ra_step_admit(struct ra_req *req)
{
	const CMPGW_HDR *h = req->msg->header;
	unsigned char vendor_fp[32];

	req->cr.implicit = req->alias->implicit_confirm && cmp_build_has_implicit_confirm(req->msg);
	if (ra_trust_spki_fp(req->signer, vendor_fp) != 0)
		goto fail;
	struct store_ir_admit q = {
		.tid = { h->transactionID->data, (size_t)h->transactionID->length },
		.vendor_key_fp = vendor_fp,
		.serial = req->cr.serial,
		.vendor_id = req->cr.vendor ? req->cr.vendor->id : 0,
		.allow_reenroll = !req->cr.vendor || req->cr.vendor->allow_reenroll,
	};
	if ((req->ra ? req->rw->ops->admit_ra_ir(req->rw->db, &q, on_admit, req)
		     : req->rw->ops->admit_ir(req->rw->db, &q, on_admit, req)) == 0)
		return RA_STEP_WAIT;
fail:
	return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
}
