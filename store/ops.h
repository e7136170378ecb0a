/*
 * store/ops.h - the store interface of the request engine: every
 * asynchronous store call ra/ makes, as a table of function pointers over
 * an opaque database handle.
 *
 * ra/ calls the store only through a `const struct store_ops *` and a
 * `void *db` (struct ra_worker: ops, db), so that a test can plug in an
 * in-memory fake instead of PostgreSQL. store_ops_pg is the real one: db
 * is a struct store_pool * (store/db.h) and each entry is the function of
 * the same name in store/{admit,enroll,renew,revoke,token,fwd}.h, with the
 * contract written there (callback exactly once on the loop thread when 0
 * is returned, never when non-zero; pointers handed to callbacks valid
 * during the callback only; status as enum store_outcome).
 *
 * A fake must keep the same contract: in particular a callback must not
 * run before the call returns (ra/ relies on it, like on libpq's queue).
 * Threads: the owning worker's loop thread only.
 */
#ifndef CMPGW_STORE_OPS_H
#define CMPGW_STORE_OPS_H

#include <stdbool.h>

#include "store/admit.h"
#include "store/enroll.h"
#include "store/fwd.h"
#include "store/outcome.h"
#include "store/renew.h"
#include "store/revoke.h"
#include "store/token.h"

struct store_ops {
	/* connections up now (readiness; CRL served from memory when 0) */
	int (*nup)(void *db);
	/* read-only admission (store/admit.h) */
	int (*admit_ir)(void *db, const struct store_ir_admit *a, store_outcome_cb cb, void *arg);
	int (*admit_ra_ir)(void *db, const struct store_ir_admit *a, store_outcome_cb cb,
			   void *arg);
	/* enrollment (store/enroll.h) */
	int (*ir_commit)(void *db, const struct store_ir_commit *c, store_outcome_cb cb, void *arg);
	int (*ra_ir_commit)(void *db, const struct store_ir_commit *c, store_outcome_cb cb,
			    void *arg);
	int (*txn_get)(void *db, struct store_bytes tid, store_txn_cb cb, void *arg);
	int (*confirm)(void *db, struct store_bytes tid, bool accept, const char *peer,
		       const char *detail, store_outcome_cb cb, void *arg);
	int (*certconf)(void *db, const struct store_certconf *c, store_outcome_cb cb, void *arg);
	int (*sweep)(void *db, store_count_cb cb, void *arg);
	/* fire-and-forget: failures are logged, nothing is returned */
	void (*audit)(void *db, const char *event, const char *alias, struct store_bytes tid,
		      const char *vendor, const char *serial, const char *peer, const char *detail);
	int (*vendors)(void *db, store_vendors_cb cb, void *arg);
	/* renewal (store/renew.h) */
	int (*renew_lookup)(void *db, const char *issuer, const char *serial_hex,
			    struct store_bytes der, store_oldcert_cb cb, void *arg);
	int (*renew_admit)(void *db, const char *issuer, const char *serial_hex,
			   struct store_bytes der, struct store_bytes tid, store_oldcert_cb cb,
			   void *arg);
	int (*renew_commit)(void *db, const struct store_renew_commit *c, store_outcome_cb cb,
			    void *arg);
	/* revocation and CRL (store/revoke.h) */
	int (*revoke)(void *db, const struct store_revoke *r, store_outcome_cb cb, void *arg);
	int (*crl_current)(void *db, const char *issuer, int refresh_s, store_crl_current_cb cb,
			   void *arg);
	int (*crl_rows)(void *db, const char *issuer, store_crl_rows_cb cb, void *arg);
	int (*crl_store)(void *db, const struct store_crl_new *n, store_outcome_cb cb, void *arg);
	/* one-time tokens (store/token.h) */
	int (*token_get)(void *db, const char *ref, const char *alias, struct store_bytes tid,
			 store_token_cb cb, void *arg);
	int (*token_ir_commit)(void *db, const struct store_token_commit *c, store_outcome_cb cb,
			       void *arg);
	/* RA mode (store/fwd.h) */
	int (*fwd_begin)(void *db, const struct store_fwd_begin *b, store_outcome_cb cb, void *arg);
	int (*fwd_begin_renew)(void *db, const struct store_fwd_begin_renew *b, store_outcome_cb cb,
			       void *arg);
	int (*fwd_done)(void *db, const struct store_fwd_done *d, store_outcome_cb cb, void *arg);
	int (*fwd_fail)(void *db, struct store_bytes tid, int fail_info, const char *text,
			const char *detail, store_outcome_cb cb, void *arg);
	int (*fwd_get)(void *db, struct store_bytes tid, store_fwd_txn_cb cb, void *arg);
	int (*fwd_sweep)(void *db, store_count_cb cb, void *arg);
};

/* The PostgreSQL implementation; db is a struct store_pool *. */
extern const struct store_ops store_ops_pg;

#endif
