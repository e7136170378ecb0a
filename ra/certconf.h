/*
 * ra/certconf.h - certificate confirmation and the client's error message
 * (RFC 4210 5.3.18, 5.3.21; RFC 9483 4.1.1, 4.6): their flows
 * (ra/pipeline.h) and their state on the request.
 * Threads: the owning worker's loop.
 */
#ifndef CMPGW_RA_CERTCONF_H
#define CMPGW_RA_CERTCONF_H

#include <stdbool.h>

#include "store/outcome.h"

struct ra_flow;

/* certConf / error state (struct ra_req, ext.certconf). */
struct ra_certconf_ext {
	bool two_step; /* not the one-statement path (or it answered "slow") */
	bool upstream; /* RA mode: the upstream CA must confirm first */
	bool recorded; /* the decision is stored; state is how */
	bool accept;   /* the client accepts the certificate */
	enum store_outcome state;
};

/* certConf: the one-statement path (cmpgw_certconf) or the two-step
 * lookup, the upstream's pkiConf in RA mode, record, pkiConf. */
extern const struct ra_flow ra_flow_certconf;
/* error from the client: close its transaction (revoking an unconfirmed
 * certificate), pkiConf. */
extern const struct ra_flow ra_flow_error;

#endif
