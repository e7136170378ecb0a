/*
 * ra/step_pop.h - proof-of-possession and key policy of the single
 * CertReqMsg (RFC 4211 4, RFC 9483 4.1.1): the template carries a public
 * key, the POP verifies for it (raVerified only from an authorized
 * downstream RA, req->ra), and the alias profile accepts the key.
 * Threads: the worker's loop.
 */
#ifndef CMPGW_RA_STEP_POP_H
#define CMPGW_RA_STEP_POP_H

#include <openssl/evp.h>

#include "ra/req.h"

/* Check crm; *pub gets the template key (the caller's, also on failure
 * when set). Returns a PKIFailureInfo bit with *why set, or -1. */
int ra_step_pop_check(struct ra_req *req, const CMPGW_CERTREQMSG *crm, EVP_PKEY **pub,
		      const char **why);
/* The step over req->cr.crm: sets req->cr.pub; a refusal is audited (rejected). */
int ra_step_pop(struct ra_req *req);

#endif
