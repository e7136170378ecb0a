/*
 * ra/fwd_poll.h - the device's polling for a forwarded request (RFC 4210
 * 5.3.22, RFC 9483 4.4): its flow (ra/pipeline.h) and its state on the
 * request. Threads: the owning worker's loop.
 */
#ifndef CMPGW_RA_FWD_POLL_H
#define CMPGW_RA_FWD_POLL_H

#include "store/outcome.h"

struct ra_flow;

/* pollReq state (struct ra_req, ext.poll): the stored transaction. */
struct ra_poll_ext {
	enum store_outcome state; /* STORE_OUT_PENDING, _ISSUED, _CLOSED, ... */
	int fail_info;		  /* closed: PKIFailureInfo bits, -1 if none */
	char fail_text[256];	  /* closed: the statusString relayed */
};

/* pollReq on an RA-mode alias: look the transaction up, answer pollRep,
 * the certificate, or the failure it was closed with. */
extern const struct ra_flow ra_flow_pollreq;

#endif
