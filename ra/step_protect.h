/*
 * ra/step_protect.h - authenticate step, signature protection: the
 * message is signed by the first extraCerts certificate (RFC 9483 3.2,
 * RFC 4210 5.1.3.3), which becomes req->signer. Whether that signer is
 * trusted is the next step's business (vendor chain, operator
 * certificate, downstream RA). Threads: the worker's loop.
 */
#ifndef CMPGW_RA_STEP_PROTECT_H
#define CMPGW_RA_STEP_PROTECT_H

#include "ra/req.h"

/* Check the protection; sets req->signer (borrowed from extraCerts).
 * Returns a PKIFailureInfo bit with *why set, or -1 when it verifies. */
int ra_step_protect_check(struct ra_req *req, const char **why);
/* The step: ra_step_protect_check, refusing with its verdict. */
int ra_step_protect(struct ra_req *req);

#endif
