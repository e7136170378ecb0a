/*
 * ra/audit.h - audit rows for requests refused before their sender was
 * authenticated (signer not trusted, token MAC refused, ...).
 *
 * Anyone can send such requests, so their rows are bounded per peer
 * address (limits.audit_unauthenticated_per_minute); what is held back is
 * counted, and summed up in one `audit_suppressed` row per peer.
 * Threads: the request's worker loop.
 */
#ifndef CMPGW_RA_AUDIT_H
#define CMPGW_RA_AUDIT_H

#include "ra/ra.h"

/* One audit row for req (transactionID, alias, peer from req), unless the
 * peer is over its budget. vendor/serial/detail may be NULL. */
void ra_audit_unauth(struct ra_req *req, const char *event, const char *vendor, const char *serial,
		     const char *detail);

#endif
