/*
 * ra/step_admit.h - authorize step (read-only admission) of a vendor
 * certificate ir/cr (req->cr.vendor) or a downstream RA's (req->ra; vendor
 * may then be NULL) for the identity req->cr.serial: the verdict the commit
 * would give (serial list, blocked, clone, re-enrollment, transactionID
 * in use), asked before the CA signs so that a refused or replayed
 * request costs no CA signature (issue 10 finding 3). Async: resumes
 * through ra_resume(). A refusal writes the audit row the commit would
 * have written. Also decides implicitConfirm (req->cr.implicit).
 * Threads: the worker's loop.
 */
#ifndef CMPGW_RA_STEP_ADMIT_H
#define CMPGW_RA_STEP_ADMIT_H

#include "ra/req.h"
#include "store/outcome.h"

int ra_step_admit(struct ra_req *req);

/* Record the verdict for a refusal of cmpgw_ir_admit / cmpgw_ir_commit /
 * cmpgw_ra_ir_commit (migrations 011, 012); an unexpected outcome is an
 * internal error (logged). Returns RA_STEP_REFUSED. */
int ra_step_admit_refuse(struct ra_req *req, enum store_outcome status);

#endif
