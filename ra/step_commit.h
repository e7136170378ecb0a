/*
 * ra/step_commit.h - store step of a CA-mode ir/cr (vendor certificate
 * or downstream RA): one statement that re-checks the admission
 * atomically and stores the transaction and req->cr.cert (cmpgw_ir_commit /
 * cmpgw_ra_ir_commit). Draws req->cr.server_nonce. Async: resumes through
 * ra_resume(); a refusal is answered as the admission's.
 * Threads: the worker's loop.
 */
#ifndef CMPGW_RA_STEP_COMMIT_H
#define CMPGW_RA_STEP_COMMIT_H

#include "ra/req.h"

int ra_step_commit(struct ra_req *req);

#endif
