/*
 * ra/downstream.h - downstream RAs (RFC 9483 5.2): the nested flow
 * (ra/pipeline.h) and its state on the request. The RA's ir flow and the
 * kur step are reached from ra/ir.c and ra/renew.c (ra/ra.h).
 * Threads: the owning worker's loop.
 */
#ifndef CMPGW_RA_DOWNSTREAM_H
#define CMPGW_RA_DOWNSTREAM_H

struct ra_flow;
struct ra_nested;

/* nested state (struct ra_req, ext.nested). */
struct ra_nested_ext {
	struct ra_nested *batch; /* the inner answers so far (owned until answered) */
};

/* nested (RFC 9483 5.2.2.1): authorize the RA, then every inner message
 * through ra_submit; one nested answer with the inner answers in order. */
extern const struct ra_flow ra_flow_nested;

#endif
