/*
 * store/revoke.h - revocation and CRL queries (migration 003).
 *
 * Asynchronous variants queue exactly one statement on a worker's pool and
 * call back once on the pool's loop thread (rc RC_OK, RC_DB, or
 * RC_CANCELLED); the _sync variants run the same statement on a blocking
 * connection (CLI only, never on a worker loop) and call back before they
 * return when they return RC_OK. Pointers handed to callbacks are valid
 * during the callback only.
 */
#ifndef CMPGW_STORE_REVOKE_H
#define CMPGW_STORE_REVOKE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"
#include "store/db.h"
#include "store/enroll.h"

/* One revocation request. holder_fp: SHA-256 (32 bytes) of the requesting
 * certificate when its holder asks, else NULL. tid may be empty. */
struct store_revoke {
	const char *issuer, *serial_hex, *alias, *peer, *by;
	const unsigned char *holder_fp;
	struct store_bytes tid;
	int reason; /* RFC 5280 CRLReason */
};

/* status: ok, released, unknown, revoked, not_holder, not_on_hold. */
int store_revoke_cert(struct store_pool *pool, const struct store_revoke *r, store_outcome_cb cb,
		      void *arg) WUR;
int store_revoke_cert_sync(struct store_conn *c, const struct store_revoke *r, store_outcome_cb cb,
			   void *arg) WUR;

/* The current CRL: number 0 and der empty when none exists yet; stale
 * when it must be regenerated (see cmpgw_crl_current). */
struct store_crl_current {
	long long number;
	struct store_bytes der;
	bool stale;
};
typedef void (*store_crl_current_cb)(void *arg, int rc, const struct store_crl_current *cur);
int store_revoke_crl_current(struct store_pool *pool, const char *issuer, int refresh_s,
			     store_crl_current_cb cb, void *arg) WUR;
int store_revoke_crl_current_sync(struct store_conn *c, const char *issuer, int refresh_s,
				  store_crl_current_cb cb, void *arg) WUR;

/* The revoked certificates of issuer, and the fingerprint of that set (to
 * pass back to store_revoke_crl_store). */
struct store_crl_row {
	const char *serial_hex;
	long long revoked_at; /* epoch seconds */
	int reason;
};
typedef void (*store_crl_rows_cb)(void *arg, int rc, const char *fp,
				  const struct store_crl_row *rows, size_t n);
int store_revoke_crl_rows(struct store_pool *pool, const char *issuer, store_crl_rows_cb cb,
			  void *arg) WUR;
int store_revoke_crl_rows_sync(struct store_conn *c, const char *issuer, store_crl_rows_cb cb,
			       void *arg) WUR;

/* Publish CRL number; status "ok" or "conflict" (a node was first). */
struct store_crl_new {
	const char *issuer, *fp;
	long long number, this_update, next_update;
	struct store_bytes der;
};
int store_revoke_crl_store(struct store_pool *pool, const struct store_crl_new *n,
			   store_outcome_cb cb, void *arg) WUR;
int store_revoke_crl_store_sync(struct store_conn *c, const struct store_crl_new *n,
				store_outcome_cb cb, void *arg) WUR;

#endif
