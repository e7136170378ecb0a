/*
 * store/enroll.h - the enrollment queries, asynchronous on a worker's pool.
 *
 * Each call queues exactly one statement (the state machine lives in the
 * SQL functions of migration 002) and calls back once on the pool's loop
 * thread with plain C values. Byte strings are passed in binary format.
 * Callbacks get rc RC_OK, RC_DB (server/connection error, details logged
 * here) or RC_CANCELLED (pool shutting down).
 */
#ifndef CMPGW_STORE_ENROLL_H
#define CMPGW_STORE_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "store/db.h"
#include "store/outcome.h"

struct store_bytes {
	const unsigned char *p;
	size_t len;
};

struct store_ir_commit {
	struct store_bytes tid, sender_cert, server_nonce, client_nonce, cert, cert_hash;
	const unsigned char *vendor_key_fp; /* 32 bytes */
	const unsigned char *sender_fp;	    /* 32 bytes */
	const unsigned char *key_fp;	    /* 32 bytes */
	const char *alias, *body, *vendor_name, *serial, *issuer, *serial_hex, *subject, *peer;
	int64_t vendor_id;
	long cert_req_id;
	long long not_before, not_after; /* epoch seconds */
	bool implicit, allow_reenroll;
	/* on confirmation, revoke the device's previous certificate (reason
	 * superseded) instead of only marking it superseded */
	bool revoke_old;
	int deadline_s;
};

/* st: STORE_OUT_OK or a reason (see migration 002). */

int store_enroll_ir_commit(struct store_pool *pool, const struct store_ir_commit *c,
			   store_outcome_cb cb, void *arg) WUR;
/* The same for a request of a downstream RA (migration 007): vendor_id 0
 * = no vendor (no serial list); vendor_key_fp is the RA's key. */
int store_enroll_ra_ir_commit(struct store_pool *pool, const struct store_ir_commit *c,
			      store_outcome_cb cb, void *arg) WUR;

/* One transaction as stored; pointers valid during the callback only. */
struct store_txn {
	const char *alias;
	enum store_outcome state; /* STORE_OUT_ISSUED, _CONFIRMED, ... */
	struct store_bytes sender_fp, sender_cert, server_nonce, cert_hash, cert;
	long cert_req_id;
	bool implicit;
	const char *token_ref;		     /* token transaction (005): its ref, else NULL */
	struct store_bytes token_secret_enc; /* and its sealed secret */
};
/* t == NULL: not found (rc 0). */
typedef void (*store_txn_cb)(void *arg, int rc, const struct store_txn *t);
int store_enroll_txn_get(struct store_pool *pool, struct store_bytes tid, store_txn_cb cb,
			 void *arg) WUR;

int store_enroll_confirm(struct store_pool *pool, struct store_bytes tid, bool accept,
			 const char *peer, const char *detail, store_outcome_cb cb, void *arg) WUR;

/*
 * A certConf checked and applied in one statement (cmpgw_certconf,
 * migration 008). The caller did the checks that need the message:
 * sender_fp is the SHA-256 of the signer certificate (NULL: could not be
 * computed), sig_ok whether the protection verifies with it, accept the
 * client's decision. recip_nonce / cert_hash: the message's values, p NULL
 * when absent (an empty but present value needs a non-NULL p). status, in
 * the order checked: "unknown", "slow" (take store_enroll_txn_get and
 * store_enroll_confirm instead; nothing changed), "not_sender",
 * "bad_signature", "bad_nonce", "bad_cert_req_id", "bad_cert_hash"
 * (refused, nothing changed), else as store_enroll_confirm.
 */
struct store_certconf {
	struct store_bytes tid, recip_nonce, cert_hash;
	const unsigned char *sender_fp; /* 32 bytes or NULL */
	const char *alias, *peer, *detail;
	long cert_req_id;
	bool sig_ok, accept;
};
int store_enroll_certconf(struct store_pool *pool, const struct store_certconf *c,
			  store_outcome_cb cb, void *arg) WUR;

/* n: the number of revoked certificates. */
int store_enroll_sweep(struct store_pool *pool, store_count_cb cb, void *arg) WUR;

/* Fire-and-forget audit row (failures are logged). tid may be empty. */
void store_enroll_audit(struct store_pool *pool, const char *event, const char *alias,
			struct store_bytes tid, const char *vendor, const char *serial,
			const char *peer, const char *detail);

/* Vendors with their certificates, one row per certificate (kind/der empty
 * for a vendor without any). */
struct store_vendor_row {
	int64_t id;
	const char *name, *rule, *kind;
	bool allow_reenroll;
	bool lenient; /* vendors.x509_strict false (migration 016); zero: strict */
	struct store_bytes der;
};
typedef void (*store_vendors_cb)(void *arg, int rc, const struct store_vendor_row *rows, size_t n);
int store_enroll_vendors(struct store_pool *pool, store_vendors_cb cb, void *arg) WUR;
/* Same, blocking, for start-up (never on a running worker loop). cb is
 * called exactly once when the statement ran (rc tells how it went). */
int store_enroll_vendors_sync(struct store_conn *conn, store_vendors_cb cb, void *arg) WUR;

#endif
