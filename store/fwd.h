/*
 * store/fwd.h - RA mode (migration 006): a request forwarded to an upstream
 * CA, from admission to the stored certificate or the recorded failure.
 *
 * Each call queues one statement on the worker's pool and calls back once
 * on its loop (rc RC_OK, RC_DB or RC_CANCELLED; see store/enroll.h).
 * Threads: the pool's loop thread only.
 */
#ifndef CMPGW_STORE_FWD_H
#define CMPGW_STORE_FWD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/enroll.h"

/* Admission without issuing (serial list, clone, replay) and the 'pending'
 * transaction row. status "ok" or a reason as for store_enroll_ir_commit. */
struct store_fwd_begin {
	struct store_bytes tid, sender_cert, server_nonce, client_nonce;
	const unsigned char *vendor_key_fp, *sender_fp; /* 32 bytes each */
	const char *alias, *body, *vendor_name, *serial, *peer;
	int64_t vendor_id;
	long cert_req_id;
	bool allow_reenroll;
	int timeout_s;
};
int store_fwd_begin(struct store_pool *pool, const struct store_fwd_begin *b, store_outcome_cb cb,
		    void *arg) WUR;

/* The upstream's certificate, verified: status "ok" or "gone" (the
 * transaction is no longer pending). */
struct store_fwd_done {
	struct store_bytes tid, cert, cert_hash, upstream_nonce;
	struct store_bytes server_nonce; /* p NULL: unchanged (nested style: the upstream's) */
	/* 32 bytes each; vendor_key_fp NULL for a renewal (binding unchanged) */
	const unsigned char *vendor_key_fp, *key_fp;
	const char *issuer, *serial_hex, *subject;
	long long not_before, not_after;
	int deadline_s;
	bool implicit; /* the upstream granted implicitConfirm: active at once */
};
/* Admission of a forwarded renewal (migration 009): 'ok', or old_unknown
 * (also: obtained through another alias), old_revoked, old_superseded,
 * old_unconfirmed, serial_blocked, tid_in_use. */
struct store_fwd_begin_renew {
	struct store_bytes tid, sender_cert, server_nonce, client_nonce;
	const unsigned char *sender_fp; /* 32 bytes */
	const char *alias, *body, *peer;
	int64_t old_id;
	long cert_req_id;
	int timeout_s;
};
int store_fwd_begin_renew(struct store_pool *pool, const struct store_fwd_begin_renew *b,
			  store_outcome_cb cb, void *arg) WUR;

int store_fwd_done(struct store_pool *pool, const struct store_fwd_done *d, store_outcome_cb cb,
		   void *arg) WUR;

/* Close a pending transaction with the failure relayed to the device
 * (fail_info: PKIFailureInfo bits as an integer, bit n = 1 << n). */
int store_fwd_fail(struct store_pool *pool, struct store_bytes tid, int fail_info, const char *text,
		   const char *detail, store_outcome_cb cb, void *arg) WUR;

/* Close pending transactions past their deadline (their worker died);
 * n is how many. */
int store_fwd_sweep(struct store_pool *pool, store_count_cb cb, void *arg) WUR;

/* A forwarded transaction as stored, for pollReq and the upstream certConf.
 * Pointers valid during the callback only; t == NULL: not found. */
struct store_fwd_txn {
	const char *alias, *body; /* body: the request's type name ("ir", "kur") */
	enum store_outcome state; /* STORE_OUT_PENDING, _ISSUED, _CLOSED, ... */
	struct store_bytes sender_fp, sender_cert, server_nonce, cert, cert_hash, upstream_nonce;
	long cert_req_id;
	int fail_info;	       /* -1 if none */
	const char *fail_text; /* NULL if none */
};
typedef void (*store_fwd_txn_cb)(void *arg, int rc, const struct store_fwd_txn *t);
int store_fwd_get(struct store_pool *pool, struct store_bytes tid, store_fwd_txn_cb cb,
		  void *arg) WUR;

#endif
