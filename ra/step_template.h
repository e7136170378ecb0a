/*
 * ra/step_template.h - the single CertReqMsg of an ir, cr or kur
 * (RFC 9483 4.1.1, 4.1.3: exactly one, certReqId 0), taken into req->cr.
 * Threads: the owning worker's loop only.
 */
#ifndef CMPGW_RA_STEP_TEMPLATE_H
#define CMPGW_RA_STEP_TEMPLATE_H

#include "cmp/asn1.h"
#include "ra/req.h"

/* Sets req->cr.crm, cert_req_id and asked (borrowed from req->msg) from
 * reqs; RA_STEP_NEXT, or a badRequest verdict (ra_req_refuse). */
int ra_step_template_single(struct ra_req *req, STACK_OF(CMPGW_CERTREQMSG) *reqs);

#endif
