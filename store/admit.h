/*
 * store/admit.h - read-only admission of an enrollment before the CA
 * signs (issue 10 finding 3; DESIGN.md "admit (read-only)"), async on a
 * worker's pool; same conventions as store/enroll.h.
 *
 * Each call runs one STABLE SQL function of migration 011 that gives the
 * verdict the matching commit function would give, without locking or
 * writing anything (no audit row either: on a refusal the caller writes
 * the one the commit would have written). The commit re-checks
 * atomically, so "ok" here is a forecast, not a reservation.
 * Threads: the pool's loop thread only.
 */
#ifndef CMPGW_STORE_ADMIT_H
#define CMPGW_STORE_ADMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/enroll.h"

struct store_ir_admit {
	struct store_bytes tid;
	const unsigned char *vendor_key_fp; /* 32 bytes; unused for a downstream RA */
	const char *serial;
	int64_t vendor_id; /* 0: none (a downstream RA entry without vendor) */
	bool allow_reenroll;
};

/* Admission of a vendor-certificate ir/cr (cmpgw_ir_admit): status "ok" or
 * the reason cmpgw_ir_commit would return (serial_unknown, serial_blocked,
 * clone, reenroll_denied, tid_in_use). */
int store_admit_ir(struct store_pool *pool, const struct store_ir_admit *a, store_outcome_cb cb,
		   void *arg) WUR;
/* The same for a downstream RA's request (cmpgw_ra_ir_admit, the checks of
 * cmpgw_ra_ir_commit: no clone check, no serial list without a vendor). */
int store_admit_ra_ir(struct store_pool *pool, const struct store_ir_admit *a, store_outcome_cb cb,
		      void *arg) WUR;

#endif
