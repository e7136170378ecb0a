/*
 * ra/step_template.c - the single CertReqMsg of an ir, cr or kur.
 */
#include "ra/step_template.h"

#include "ra/pipeline.h"

int ra_step_template_single(struct ra_req *req, STACK_OF(CMPGW_CERTREQMSG) *reqs)
{
	const CMPGW_CERTTEMPLATE *tmpl;

	if (sk_CMPGW_CERTREQMSG_num(reqs) != 1)
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST,
				     "exactly one CertReqMsg is supported");
	req->cr.crm = sk_CMPGW_CERTREQMSG_value(reqs, 0);
	req->cr.cert_req_id = ASN1_INTEGER_get(req->cr.crm->certReq->certReqId);
	tmpl = req->cr.crm->certReq->certTemplate;
	req->cr.asked = tmpl ? tmpl->subject : NULL;
	/* RFC 9483 4.1.1: a single request carries certReqId 0 */
	if (req->cr.cert_req_id != 0)
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST, "certReqId must be 0");
	return RA_STEP_NEXT;
}
