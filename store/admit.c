/*
 * store/admit.c - read-only admission queries (migration 011).
 */
#include "store/admit.h"

#include <inttypes.h>
#include <stdio.h>

#include "store/call.h"

#define BIN   STORE_BIN
#define BIN32 STORE_BIN32
#define TXT   STORE_TXT

static const char SQL_IR_ADMIT[] = "SELECT cmpgw_ir_admit($1,$2,$3,$4,$5)";
static const char SQL_RA_IR_ADMIT[] = "SELECT cmpgw_ra_ir_admit($1,$2,$3,$4)";

int store_admit_ir(struct store_pool *pool, const struct store_ir_admit *a, store_outcome_cb cb,
		   void *arg)
{
	const char *v[5];
	int lens[5], fmts[5];
	char vid[24];

	snprintf(vid, sizeof(vid), "%" PRId64, a->vendor_id);
	BIN(0, a->tid);
	TXT(1, vid);
	TXT(2, a->serial);
	BIN32(3, a->vendor_key_fp);
	TXT(4, a->allow_reenroll ? "t" : "f");
	return store_call_submit(pool, SQL_IR_ADMIT, 5, v, lens, fmts, false, store_call_on_status,
				 store_call_new((void (*)(void))cb, arg, "enroll admission"));
}

int store_admit_ra_ir(struct store_pool *pool, const struct store_ir_admit *a, store_outcome_cb cb,
		      void *arg)
{
	const char *v[4];
	int lens[4], fmts[4];
	char vid[24];

	snprintf(vid, sizeof(vid), "%" PRId64, a->vendor_id);
	BIN(0, a->tid);
	TXT(1, a->vendor_id ? vid : NULL); /* 0: no vendor, no serial list */
	TXT(2, a->serial);
	TXT(3, a->allow_reenroll ? "t" : "f");
	return store_call_submit(pool, SQL_RA_IR_ADMIT, 4, v, lens, fmts, false,
				 store_call_on_status,
				 store_call_new((void (*)(void))cb, arg, "RA enroll admission"));
}
