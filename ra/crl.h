/*
 * ra/crl.h - publishing the issuing CA's CRL over HTTP GET (RFC 5280 5;
 * served as application/pkix-crl like RFC 2585 describes for HTTP), and
 * its certificate (application/pkix-cert) for authorityInfoAccess.
 *
 * The CRL lives in PostgreSQL (store/revoke.h), so every node serves the
 * same one. A GET asks the database whether the current CRL is stale
 * (revoked set changed, none yet, or nextUpdate closer than
 * crl.refresh_before_s); if so this worker builds the next one
 * (policy/crl.h), stores it (a node that lost the race re-reads) and
 * serves it. Concurrent GETs on a worker share one refresh.
 *
 * Threads: everything on the owning worker's loop.
 */
#ifndef CMPGW_RA_CRL_H
#define CMPGW_RA_CRL_H

#include <stdbool.h>

#include "core/cfg.h"
#include "core/http.h"

struct ra_worker;
struct ra_crl;

/* Per-worker state; NULL on allocation failure. With timer, it also
 * refreshes shortly after start (staggered by worker id) and then
 * periodically, so the stored CRL never runs past nextUpdate unseen and
 * this worker holds a current copy in memory: while the database is
 * unavailable, a GET gets that copy (200) until its nextUpdate, and 503
 * only when there is none or it has expired. */
struct ra_crl *ra_crl_new(struct ra_worker *rw, bool timer);
/* Call after the worker's pool is freed (its callbacks have run); requests
 * still waiting get 503. NULL ok. */
void ra_crl_free(struct ra_crl *c);

/* The paths of the two GET routes (core/server.h struct server_route,
 * filled by cmd/serve.c): crl.path and crl.ca_cert_path of cfg (NULL: not
 * configured, route off). */
const char *ra_crl_path(const struct cfg *cfg);
const char *ra_crl_ca_cert_path(const struct cfg *cfg);
/* The routes' handler: ra_crl_serve with the worker's (arg) CRL state. */
void ra_crl_route(struct http_req *hr, void *arg);
/* Answer hr (GET/HEAD: the CRL, now or after a refresh; at crl.ca_cert_path
 * the issuing CA certificate, DER as application/pkix-cert, the target of
 * the caIssuers URIs profiles put in certificates; other methods 405);
 * exactly one http_reply. */
void ra_crl_serve(struct ra_crl *c, struct http_req *hr);
/* Regenerate in the background if the stored CRL is stale (after a
 * revocation). */
void ra_crl_kick(struct ra_crl *c);

#endif
