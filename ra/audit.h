/*
 * ra/audit.h - what an unauthenticated client can make the gateway do is
 * bounded here: audit rows for requests refused before their sender was
 * authenticated (signer not trusted, token refused, ...), and failed
 * PasswordBasedMac checks (each one costs a key derivation).
 *
 * Anyone can send such requests, so
 * - their audit rows are bounded per peer address
 *   (limits.audit_unauthenticated_per_minute); what is held back is
 *   counted: one `audit_suppressed` row when a peer first goes over in a
 *   minute, and one with the count ("N rows suppressed for peer X") when
 *   that minute ends;
 * - failed MAC checks are bounded per peer address and per token
 *   reference (limits.mac_failures_per_minute); past that, MAC-protected
 *   requests from the peer or for the reference are refused before any
 *   key derivation.
 * Peers are counted by address (the port of req->log.peer dropped). The
 * counters are per worker thread (one struct ra_unauth per struct
 * ra_worker, no locks), in tables of fixed size (core/ratelimit.h).
 * Threads: the owning worker's loop.
 */
#ifndef CMPGW_RA_AUDIT_H
#define CMPGW_RA_AUDIT_H

#include <stdbool.h>

#include "ra/ra.h"

#define RA_UNAUTH_TOO_MANY_MAC "too many failed MAC attempts; retry later"

/* New counters; NULL if out of memory. */
struct ra_unauth *ra_unauth_new(void);
void ra_unauth_free(struct ra_unauth *u);

/* One audit row for req (transactionID, alias, peer from req), unless the
 * peer is over its budget. vendor/serial/detail may be NULL. */
void ra_audit_unauth(struct ra_req *req, const char *event, const char *vendor, const char *serial,
		     const char *detail);

/* One audit row for an authenticated request (not bounded): event, req's
 * transactionID, alias, vendor name and device serial when known, peer,
 * detail (may be NULL). */
void ra_audit_req(struct ra_req *req, const char *event, const char *detail);

/* True when req's peer, or token reference ref (may be NULL), had
 * limits.mac_failures_per_minute failed MAC checks in the running minute:
 * refuse (notAuthorized, RA_UNAUTH_TOO_MANY_MAC) without deriving a key. */
bool ra_unauth_mac_blocked(struct ra_req *req, const char *ref);
/* Count one failed MAC check for req's peer and for ref (may be NULL). */
void ra_unauth_mac_failed(struct ra_req *req, const char *ref);

/* The admin API (cmd/api.c): true when peer ("addr:port") had
 * admin.key_failures_per_minute refused API keys in the running minute on
 * this worker: refuse (429) without a database query. */
bool ra_unauth_key_blocked(struct ra_worker *rw, const char *peer);
/* Count one refused API key (unknown, wrong, revoked, expired) for peer. */
void ra_unauth_key_failed(struct ra_worker *rw, const char *peer);

/* Periodic (worker timer): write the count rows of the minutes that ended
 * with rows suppressed, and free the entries of ended minutes. */
void ra_unauth_sweep(struct ra_worker *rw);

#endif
