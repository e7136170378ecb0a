/*
 * test/unit/ra/test_fake_store.c - the in-memory store the ra/ tests and
 * fuzz_ra run on (fake_store.h): the store_ops contract (a callback never
 * before the call returns, exactly once; none after a failed call), fault
 * injection, call counts, and the verdicts of the SQL functions it mirrors
 * in their order (cmpgw_admit, cmpgw_certconf with SQL NULLs, tokens,
 * revocation, CRL conflict).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "ra/trust.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif

static struct fake_env env;
static const unsigned char tid_a[4] = { 0xa, 0xa, 0xa, 0xa };

struct got {
	int n, rc;
	enum store_outcome st;
};

static void on_status(void *arg, int rc, enum store_outcome st)
{
	struct got *g = arg;
	g->n++;
	g->rc = rc;
	g->st = st;
}

static void reset(void)
{
	if (fake_env_reset(&env, false) != 0) {
		printf("Bail out! reset\n");
		exit(1);
	}
}

/* admit_ir for serial with the vendor key of x; runs the loop */
static struct got admit(const char *serial, X509 *x, bool allow_reenroll)
{
	unsigned char fp[32];
	struct got g = { 0, -1, STORE_OUT_OTHER };
	if (ra_trust_spki_fp(x, fp) != 0)
		printf("# fp\n");
	struct store_ir_admit a = { .tid = { tid_a, sizeof(tid_a) },
				    .vendor_key_fp = fp,
				    .serial = serial,
				    .vendor_id = FAKE_VENDOR_ID,
				    .allow_reenroll = allow_reenroll };
	if (fake_store_ops.admit_ir(env.fs, &a, on_status, &g) != 0)
		g.rc = -2;
	event_base_dispatch(env.base);
	return g;
}

static void test_contract(void)
{
	struct got g = { 0, -1, STORE_OUT_OTHER };
	unsigned char fp[32] = { 0 };
	struct store_ir_admit a = { .tid = { tid_a, sizeof(tid_a) },
				    .vendor_key_fp = fp,
				    .serial = "FUZZ-0001",
				    .vendor_id = FAKE_VENDOR_ID,
				    .allow_reenroll = true };

	reset();
	is_int(fake_store_ops.admit_ir(env.fs, &a, on_status, &g), 0, "call: queued");
	is_int(g.n, 0, "callback: not before the call returns");
	is_int(fake_store_pending(env.fs), 1, "one callback pending");
	event_base_dispatch(env.base);
	is_int(g.n, 1, "callback: once, from the loop");
	ok(g.rc == 0 && g.st == STORE_OUT_OK, "admit FUZZ-0001: ok");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 1, "counted");

	g.n = 0;
	fake_store_fault(env.fs, FAKE_ADMIT_IR, FAKE_FAULT_CALL);
	is_int(fake_store_ops.admit_ir(env.fs, &a, on_status, &g), RC_DB,
	       "fault at the call: RC_DB");
	event_base_dispatch(env.base);
	is_int(g.n, 0, "fault at the call: no callback");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 2, "a failed call is counted too");

	fake_store_fault(env.fs, FAKE_ADMIT_IR, FAKE_FAULT_CALLBACK);
	is_int(fake_store_ops.admit_ir(env.fs, &a, on_status, &g), 0,
	       "fault in the callback: queued");
	event_base_dispatch(env.base);
	ok(g.n == 1 && g.rc == RC_DB, "fault in the callback: rc RC_DB, once");

	/* freed with a callback pending: it is dropped, never called */
	struct fake_store *fs = fake_store_new(env.base);
	g.n = 0;
	if (fake_store_ops.admit_ir(fs, &a, on_status, &g) != 0)
		printf("# not queued\n");
	fake_store_free(fs);
	event_base_dispatch(env.base);
	is_int(g.n, 0, "freed store: pending callback dropped");
}

/* cmpgw_admit's order: serial_unknown, serial_blocked, clone,
 * reenroll_denied, tid_in_use */
static void test_admit_order(void)
{
	reset();
	is_int(admit("FUZZ-0003", env.dev1, true).st, STORE_OUT_SERIAL_UNKNOWN, "not listed");
	is_int(admit("FUZZ-0002", env.dev1, true).st, STORE_OUT_SERIAL_BLOCKED, "blocked");
	if (fake_store_bind_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0002", env.dev2) != 0)
		printf("# bind\n");
	is_int(admit("FUZZ-0002", env.dev1, true).st, STORE_OUT_SERIAL_BLOCKED,
	       "blocked and bound to another key: blocked first");
	if (fake_store_bind_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", env.dev2) != 0 ||
	    fake_store_add_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", FAKE_SERIAL_ENROLLED) != 0)
		printf("# serial\n");
	is_int(admit("FUZZ-0001", env.dev1, false).st, STORE_OUT_CLONE,
	       "bound to another key and enrolled: clone first");
	is_int(admit("FUZZ-0001", env.dev2, false).st, STORE_OUT_REENROLL_DENIED,
	       "same key, enrolled, not allowed: reenroll_denied");
	is_int(admit("FUZZ-0001", env.dev2, true).st, STORE_OUT_OK, "same key, allowed: ok");
	struct fake_txn t = { .tid = { (unsigned char *)tid_a, sizeof(tid_a) },
			      .alias = "3gpp",
			      .state = STORE_OUT_CONFIRMED,
			      .fail_info = -1 };
	if (fake_store_add_txn(env.fs, &t) != 0)
		printf("# txn\n");
	is_int(admit("FUZZ-0001", env.dev2, false).st, STORE_OUT_REENROLL_DENIED,
	       "reenroll_denied before tid_in_use");
	is_int(admit("FUZZ-0001", env.dev2, true).st, STORE_OUT_TID_IN_USE, "tid_in_use");
	fake_store_force(env.fs, FAKE_ADMIT_IR, STORE_OUT_OK);
	is_int(admit("FUZZ-0003", env.dev1, true).st, STORE_OUT_OK, "forced: ok whatever the rows");
	is_int(fake_store_n_audit(env.fs), 0, "admission writes no audit row");
}

static struct got certconf(const struct store_certconf *c)
{
	struct got g = { 0, -1, STORE_OUT_OTHER };
	if (fake_store_ops.certconf(env.fs, c, on_status, &g) != 0)
		g.rc = -2;
	event_base_dispatch(env.base);
	return g;
}

/* cmpgw_certconf: a NULL column passes its check, as NULL <> x does */
static void test_certconf(void)
{
	static const unsigned char hash[32] = { 1 }, nonce[16] = { 2 }, sender[32] = { 3 };
	struct fake_txn t = { .tid = { (unsigned char *)tid_a, sizeof(tid_a) },
			      .alias = "3gpp",
			      .state = STORE_OUT_ISSUED,
			      .cert_hash = { (unsigned char *)hash, sizeof(hash) },
			      .cert_req_id = -1,
			      .fail_info = -1 };
	struct store_certconf c = { .tid = { tid_a, sizeof(tid_a) },
				    .recip_nonce = { nonce, sizeof(nonce) },
				    .cert_hash = { hash, sizeof(hash) },
				    .sender_fp = sender,
				    .alias = "3gpp",
				    .cert_req_id = 5,
				    .sig_ok = true,
				    .accept = true };

	reset();
	is_int(certconf(&c).st, STORE_OUT_UNKNOWN, "no transaction: unknown");
	if (fake_store_add_txn(env.fs, &t) != 0)
		printf("# txn\n");
	c.alias = "strict";
	is_int(certconf(&c).st, STORE_OUT_UNKNOWN, "other alias: unknown");
	c.alias = "3gpp";
	c.sender_fp = NULL;
	is_int(certconf(&c).st, STORE_OUT_NOT_SENDER, "no sender fingerprint: not_sender");
	c.sender_fp = sender;
	c.sig_ok = false;
	is_int(certconf(&c).st, STORE_OUT_BAD_SIGNATURE, "signature not ok: bad_signature");
	c.sig_ok = true;
	c.recip_nonce.p = NULL;
	is_int(certconf(&c).st, STORE_OUT_BAD_NONCE, "no recipNonce: bad_nonce");
	c.recip_nonce.p = nonce;
	c.cert_hash.p = NULL;
	is_int(certconf(&c).st, STORE_OUT_BAD_CERT_HASH, "no certHash: bad_cert_hash");
	c.cert_hash.p = hash;
	is_int(certconf(&c).st, STORE_OUT_CONFIRMED,
	       "stored sender, nonce, certReqId NULL: any pass; confirmed");
	is_int(certconf(&c).st, STORE_OUT_CONFIRMED, "again: the state (confirmed)");
	is_int(fake_store_audit_count(env.fs, "confirmed", NULL), 1, "one audit row");
}

static void on_token(void *arg, int rc, const struct store_token *t)
{
	struct got *g = arg;
	g->n++;
	g->rc = rc;
	g->st = t ? t->refusal : STORE_OUT_COUNT;
}

static enum store_outcome token(const char *ref, const char *alias)
{
	struct got g = { 0, -1, STORE_OUT_OTHER };
	if (fake_store_ops.token_get(env.fs, ref, alias, (struct store_bytes){ tid_a, 4 }, on_token,
				     &g) != 0)
		return STORE_OUT_OTHER;
	event_base_dispatch(env.base);
	return g.st;
}

static void test_tokens(void)
{
	reset();
	if (fake_store_add_token(env.fs, "used", "3gpp", "x", (const unsigned char *)"s", 1,
				 FAKE_TOKEN_USED, false) ||
	    fake_store_add_token(env.fs, "revoked", "3gpp", "x", (const unsigned char *)"s", 1,
				 FAKE_TOKEN_REVOKED, true) ||
	    fake_store_add_token(env.fs, "expired", "3gpp", "x", (const unsigned char *)"s", 1,
				 FAKE_TOKEN_ACTIVE, true))
		printf("# tokens\n");
	is_int(token(FAKE_TOKEN_REF, "3gpp"), STORE_OUT_OK, "active token: usable");
	is_int(token(FAKE_TOKEN_REF, "strict"), STORE_OUT_ALIAS, "other alias: alias");
	is_int(token("used", "3gpp"), STORE_OUT_USED, "used");
	is_int(token("revoked", "3gpp"), STORE_OUT_REVOKED, "revoked before expired");
	is_int(token("expired", "3gpp"), STORE_OUT_EXPIRED, "expired");
	is_int(token("nope", "3gpp"), STORE_OUT_COUNT, "unknown reference: no row");
}

static struct got revoke(const char *serial_hex, int reason)
{
	struct got g = { 0, -1, STORE_OUT_OTHER };
	const struct fake_cert *c = fake_store_cert_by_id(env.fs, env.op_dev_id);
	struct store_revoke r = { .issuer = c->issuer,
				  .serial_hex = serial_hex,
				  .alias = "3gpp",
				  .by = "test",
				  .reason = reason };
	if (fake_store_ops.revoke(env.fs, &r, on_status, &g) != 0)
		g.rc = -2;
	event_base_dispatch(env.base);
	return g;
}

static void test_revoke_crl(void)
{
	char hex[128];
	struct got g = { 0, -1, STORE_OUT_OTHER };

	reset();
	snprintf(hex, sizeof(hex), "%s", fake_store_cert_by_id(env.fs, env.op_dev_id)->serial_hex);
	is_int(revoke("00", 1).st, STORE_OUT_UNKNOWN, "revoke an unknown serial: unknown");
	is_int(revoke(hex, 8).st, STORE_OUT_NOT_ON_HOLD, "removeFromCRL, not on hold");
	is_int(revoke(hex, 6).st, STORE_OUT_OK, "certificateHold: ok");
	is_int(revoke(hex, 1).st, STORE_OUT_REVOKED, "again: revoked");
	is_int(revoke(hex, 8).st, STORE_OUT_RELEASED, "removeFromCRL on hold: released");
	ok(fake_store_cert_by_id(env.fs, env.op_dev_id)->status == STORE_OUT_ACTIVE,
	   "released: active again");
	is_int(fake_store_audit_count(env.fs, "revoke_rejected", NULL), 3, "audit revoke_rejected");

	struct store_crl_new n = { .issuer = "X", .fp = "0/0", .number = 2 };
	if (fake_store_ops.crl_store(env.fs, &n, on_status, &g) != 0)
		printf("# crl\n");
	event_base_dispatch(env.base);
	is_int(g.st, STORE_OUT_OK, "CRL 2 stored");
	n.number = 2;
	if (fake_store_ops.crl_store(env.fs, &n, on_status, &g) != 0)
		printf("# crl\n");
	event_base_dispatch(env.base);
	is_int(g.st, STORE_OUT_CONFLICT, "CRL 2 again: conflict (a node was first)");
	is_int(fake_store_n_crl(env.fs), 1, "one CRL");
}

struct vrows {
	int rc;
	size_t n, anchors, intermediates;
	bool reenroll;
};

static void on_vendors(void *arg, int rc, const struct store_vendor_row *rows, size_t n)
{
	struct vrows *v = arg;
	v->rc = rc;
	v->n = n;
	for (size_t i = 0; i < n; i++) {
		v->anchors += rows[i].kind && strcmp(rows[i].kind, "anchor") == 0;
		v->intermediates += rows[i].kind && strcmp(rows[i].kind, "intermediate") == 0;
		v->reenroll = rows[i].allow_reenroll;
	}
}

/* store_enroll_vendors: one row per vendor certificate (what
 * ra/worker.c builds its trust cache from) */
static void test_vendors(void)
{
	struct vrows v = { -1, 0, 0, 0, false };

	reset();
	if (fake_store_ops.vendors(env.fs, on_vendors, &v) != 0)
		printf("# vendors\n");
	event_base_dispatch(env.base);
	ok(v.rc == 0 && v.n == 2 && v.anchors == 1 && v.intermediates == 1 && v.reenroll,
	   "vendors: fuzzvendor, one anchor and one intermediate row, re-enrollment allowed");
	if (fake_store_add_vendor(env.fs, 2, "bare", NULL, false) != 0)
		printf("# vendor\n");
	memset(&v, 0, sizeof(v));
	if (fake_store_ops.vendors(env.fs, on_vendors, &v) != 0)
		printf("# vendors\n");
	event_base_dispatch(env.base);
	is_int(v.n, 3, "vendors: a vendor without certificates is one row");
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_contract();
	test_admit_order();
	test_certconf();
	test_tokens();
	test_revoke_crl();
	test_vendors();
	fake_env_close(&env);
	return tap_done();
}
