/*
 * ra/step_vendor.c - vendor chain and device serial (ra/step_vendor.h).
 */
#include "ra/step_vendor.h"

#include <stdio.h>

#include "ra/audit.h"
#include "ra/pipeline.h"
#include "ra/trust.h"

/* A valid chain to a registered vendor that the alias does not accept.
 * The client proved that chain (its signature was checked by the protect
 * step), so naming its own vendor and the alias it asked tells it nothing
 * about the registry it did not know; RFC 9483 3.6.4 notAuthorized. */
static int not_accepted(struct ra_req *req, const struct ra_vendor *v)
{
	char why[256];

	snprintf(why, sizeof(why), "vendor %s is not accepted on alias %s", v->name,
		 req->alias->label);
	ra_audit_unauth(req, "rejected", v->name, NULL, why);
	return ra_req_refuse(req, CMP_FAIL_NOT_AUTHORIZED, why);
}

int ra_step_vendor(struct ra_req *req)
{
	const char *why;
	struct ra_auth auth;
	int rc;

	if (!req->trust) {
		why = "vendor registry not loaded";
		ra_audit_unauth(req, "auth_failed", NULL, NULL, why);
		return ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED, why);
	}
	rc = ra_trust_authenticate_alias(req->trust, req->alias->vendors, req->alias->n_vendors,
					 req->signer, req->msg->extraCerts, &auth);
	if (rc == RC_UNSUPPORTED && auth.not_accepted)
		return not_accepted(req, auth.vendor);
	if (rc != 0) {
		ra_audit_unauth(req, "auth_failed", NULL, NULL, auth.text);
		return ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED, auth.text);
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
