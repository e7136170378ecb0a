/*
 * store/renew.h - queries of certificate renewal (migration 004), async
 * on a worker's pool; same conventions as store/enroll.h.
 */
#ifndef CMPGW_STORE_RENEW_H
#define CMPGW_STORE_RENEW_H

#include <stdbool.h>
#include <stdint.h>

#include "store/enroll.h"

/* The certificate being renewed, as stored. */
struct store_oldcert {
	int64_t id;
	enum store_outcome status; /* STORE_OUT_UNCONFIRMED, _ACTIVE, _REVOKED, _SUPERSEDED */
	const char *device_serial; /* may be "" */
	const char *vendor;	   /* vendor name, "" if none */
	/* store_renew_admit only (false from store_renew_lookup): what
	 * cmpgw_renew_commit refuses after the status */
	bool serial_blocked; /* the device's serial is blocked */
	bool tid_in_use;     /* the request's transactionID is taken */
};
/* c == NULL: no such certificate (rc 0). */
typedef void (*store_oldcert_cb)(void *arg, int rc, const struct store_oldcert *c);

/* Find the certificate with this issuer (RFC 2253 text), serial (hex) and
 * exact DER. */
int store_renew_lookup(struct store_pool *pool, const char *issuer, const char *serial_hex,
		       struct store_bytes der, store_oldcert_cb cb, void *arg) WUR;
/* The same lookup as the read-only admission of a renewal before the CA
 * signs (cmpgw_renew_admit, migration 011; issue 10 finding 3): also
 * fills serial_blocked and tid_in_use for tid. */
int store_renew_admit(struct store_pool *pool, const char *issuer, const char *serial_hex,
		      struct store_bytes der, struct store_bytes tid, store_oldcert_cb cb,
		      void *arg) WUR;

struct store_renew_commit {
	struct store_bytes tid, sender_cert, server_nonce, client_nonce, cert, cert_hash;
	const unsigned char *sender_fp; /* 32 bytes */
	const unsigned char *key_fp;	/* 32 bytes */
	const char *alias, *body, *issuer, *serial_hex, *subject, *peer;
	int64_t old_id;
	long cert_req_id;
	long long not_before, not_after;
	bool implicit, revoke_old;
	int deadline_s;
};
int store_renew_commit(struct store_pool *pool, const struct store_renew_commit *c,
		       store_outcome_cb cb, void *arg) WUR;

#endif
