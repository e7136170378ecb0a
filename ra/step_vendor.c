/*
 * ra/step_vendor.c - vendor chain and device serial (ra/step_vendor.h).
 */
#include "ra/step_vendor.h"

#include "ra/audit.h"
#include "ra/pipeline.h"
#include "ra/trust.h"

int ra_step_vendor(struct ra_req *req)
{
	const char *why;
	struct ra_auth auth;

	if (!req->trust ||
	    ra_trust_authenticate(req->trust, req->alias->vendors, req->alias->n_vendors,
				  req->signer, req->msg->extraCerts, &auth) != 0) {
		why = req->trust ? auth.text : "vendor registry not loaded";
		ra_audit_unauth(req, "auth_failed", NULL, NULL, why);
		return ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED, why);
	}
	req->cr.vendor = auth.vendor;
	req->cr.id_vendor = req->cr.vendor->name;
	if (ra_trust_device_serial(req->cr.vendor->rule, req->signer, req->cr.serial,
				   sizeof(req->cr.serial)) != 0) {
		why = "vendor certificate carries no usable device serial";
		ra_audit_req(req, "rejected", why);
		return ra_req_refuse(req, CMP_FAIL_NOT_AUTHORIZED, why);
	}
	return RA_STEP_NEXT;
}
