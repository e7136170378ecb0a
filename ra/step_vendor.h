/*
 * ra/step_vendor.h - authenticate step, vendor certificate (3GPP TS
 * 33.310 9.5.4): req->signer chains to a registered vendor trust anchor
 * accepted on the alias (ra/trust.h), and carries the device serial by
 * the vendor's rule. Sets req->cr.vendor and req->cr.serial. Refusals:
 * signerNotTrusted with the reason of ra/trust.h (audited as
 * auth_failed, bounded per peer), notAuthorized "vendor X is not accepted
 * on alias Y" for a valid chain to a registered vendor the alias does not
 * accept (audited as rejected, bounded per peer) or notAuthorized (no
 * usable serial, audited as rejected).
 * Threads: the worker's loop.
 */
#ifndef CMPGW_RA_STEP_VENDOR_H
#define CMPGW_RA_STEP_VENDOR_H

#include "ra/req.h"

int ra_step_vendor(struct ra_req *req);

#endif
