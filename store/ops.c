/*
 * store/ops.c - store_ops_pg: the store interface (store/ops.h) over the
 * asynchronous PostgreSQL pool. Each entry only casts db back to the pool.
 */
#include "store/ops.h"

#include "store/db.h"

static int nup(void *db)
{
	return store_db_pool_nup(db);
}

static int admit_ir(void *db, const struct store_ir_admit *a, store_outcome_cb cb, void *arg)
{
	return store_admit_ir(db, a, cb, arg);
}

static int admit_ra_ir(void *db, const struct store_ir_admit *a, store_outcome_cb cb, void *arg)
{
	return store_admit_ra_ir(db, a, cb, arg);
}

static int ir_commit(void *db, const struct store_ir_commit *c, store_outcome_cb cb, void *arg)
{
	return store_enroll_ir_commit(db, c, cb, arg);
}

static int ra_ir_commit(void *db, const struct store_ir_commit *c, store_outcome_cb cb, void *arg)
{
	return store_enroll_ra_ir_commit(db, c, cb, arg);
}

static int txn_get(void *db, struct store_bytes tid, store_txn_cb cb, void *arg)
{
	return store_enroll_txn_get(db, tid, cb, arg);
}

static int confirm(void *db, struct store_bytes tid, bool accept, const char *peer,
		   const char *detail, store_outcome_cb cb, void *arg)
{
	return store_enroll_confirm(db, tid, accept, peer, detail, cb, arg);
}

static int certconf(void *db, const struct store_certconf *c, store_outcome_cb cb, void *arg)
{
	return store_enroll_certconf(db, c, cb, arg);
}

static int sweep(void *db, store_count_cb cb, void *arg)
{
	return store_enroll_sweep(db, cb, arg);
}

static void audit(void *db, const char *event, const char *alias, struct store_bytes tid,
		  const char *vendor, const char *serial, const char *peer, const char *detail)
{
	store_enroll_audit(db, event, alias, tid, vendor, serial, peer, detail);
}

static int vendors(void *db, store_vendors_cb cb, void *arg)
{
	return store_enroll_vendors(db, cb, arg);
}

static int renew_lookup(void *db, const char *issuer, const char *serial_hex,
			struct store_bytes der, store_oldcert_cb cb, void *arg)
{
	return store_renew_lookup(db, issuer, serial_hex, der, cb, arg);
}

static int renew_admit(void *db, const char *issuer, const char *serial_hex, struct store_bytes der,
		       struct store_bytes tid, store_oldcert_cb cb, void *arg)
{
	return store_renew_admit(db, issuer, serial_hex, der, tid, cb, arg);
}

static int renew_commit(void *db, const struct store_renew_commit *c, store_outcome_cb cb,
			void *arg)
{
	return store_renew_commit(db, c, cb, arg);
}

static int revoke(void *db, const struct store_revoke *r, store_outcome_cb cb, void *arg)
{
	return store_revoke_cert(db, r, cb, arg);
}

static int crl_current(void *db, const char *issuer, int refresh_s, store_crl_current_cb cb,
		       void *arg)
{
	return store_revoke_crl_current(db, issuer, refresh_s, cb, arg);
}

static int crl_rows(void *db, const char *issuer, store_crl_rows_cb cb, void *arg)
{
	return store_revoke_crl_rows(db, issuer, cb, arg);
}

static int crl_store(void *db, const struct store_crl_new *n, store_outcome_cb cb, void *arg)
{
	return store_revoke_crl_store(db, n, cb, arg);
}

static int token_get(void *db, const char *ref, const char *alias, struct store_bytes tid,
		     store_token_cb cb, void *arg)
{
	return store_token_get(db, ref, alias, tid, cb, arg);
}

static int token_ir_commit(void *db, const struct store_token_commit *c, store_outcome_cb cb,
			   void *arg)
{
	return store_token_ir_commit(db, c, cb, arg);
}

static int fwd_begin(void *db, const struct store_fwd_begin *b, store_outcome_cb cb, void *arg)
{
	return store_fwd_begin(db, b, cb, arg);
}

static int fwd_begin_renew(void *db, const struct store_fwd_begin_renew *b, store_outcome_cb cb,
			   void *arg)
{
	return store_fwd_begin_renew(db, b, cb, arg);
}

static int fwd_done(void *db, const struct store_fwd_done *d, store_outcome_cb cb, void *arg)
{
	return store_fwd_done(db, d, cb, arg);
}

static int fwd_fail(void *db, struct store_bytes tid, int fail_info, const char *text,
		    const char *detail, store_outcome_cb cb, void *arg)
{
	return store_fwd_fail(db, tid, fail_info, text, detail, cb, arg);
}

static int fwd_get(void *db, struct store_bytes tid, store_fwd_txn_cb cb, void *arg)
{
	return store_fwd_get(db, tid, cb, arg);
}

static int fwd_sweep(void *db, store_count_cb cb, void *arg)
{
	return store_fwd_sweep(db, cb, arg);
}

const struct store_ops store_ops_pg = {
	.nup = nup,
	.admit_ir = admit_ir,
	.admit_ra_ir = admit_ra_ir,
	.ir_commit = ir_commit,
	.ra_ir_commit = ra_ir_commit,
	.txn_get = txn_get,
	.confirm = confirm,
	.certconf = certconf,
	.sweep = sweep,
	.audit = audit,
	.vendors = vendors,
	.renew_lookup = renew_lookup,
	.renew_admit = renew_admit,
	.renew_commit = renew_commit,
	.revoke = revoke,
	.crl_current = crl_current,
	.crl_rows = crl_rows,
	.crl_store = crl_store,
	.token_get = token_get,
	.token_ir_commit = token_ir_commit,
	.fwd_begin = fwd_begin,
	.fwd_begin_renew = fwd_begin_renew,
	.fwd_done = fwd_done,
	.fwd_fail = fwd_fail,
	.fwd_get = fwd_get,
	.fwd_sweep = fwd_sweep,
};
