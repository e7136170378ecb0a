/*
 * store/api_certs.h - certificates and one-time tokens for the admin HTTPS
 * API (issue 14; docs/ADMIN.md), and the audited changes that the CLI
 * (`cmpgw cert revoke`, `cmpgw token create|revoke`) and the API share.
 *
 * Reads are asynchronous, on a worker's pool (store/db.h): 0 means cb
 * will be called exactly once, later, on the loop thread; non-zero means
 * it will not. Rows and strings handed to cb are valid during the call
 * only. Threads: the owning worker's loop thread.
 *
 * The *_audited changes are blocking, on a store_conn (the CLI, or an
 * admin API job thread, cmd/api_int.h api_job): the change and its audit
 * row naming principal (store/admin.h) commit in one transaction.
 */
#ifndef CMPGW_STORE_API_CERTS_H
#define CMPGW_STORE_API_CERTS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"
#include "store/enroll.h"
#include "store/outcome.h"
#include "store/revoke.h"

struct store_pool;
struct store_conn;

#define STORE_API_CERT_SERIAL_MAX 128 /* hex digits of a serial number */
#define STORE_API_CERT_TEXT_MAX	  512 /* issuer, vendor, device serial */
#define STORE_API_TIME_MAX	  40  /* a timestamp as the caller passes it */

/* A serial number as a person writes it ("0x01:ab", "1AB", "01ab") in
 * the form the certificates table stores (BN_bn2hex: upper case, whole
 * bytes, "0" for zero) into out. false (out unusable) if in is not hex
 * (an optional 0x, ':' between digits) or the result needs more than
 * len - 1 bytes or STORE_API_CERT_SERIAL_MAX digits. Any thread. */
bool store_api_serial_canon(const char *in, char *out, size_t len);

/* A certificate search. Every field may be NULL/0: no condition. Times
 * are timestamps PostgreSQL parses unambiguously (the caller validates
 * them first, e.g. "2026-12-03T10:00:00.000000Z"). */
struct store_api_cert_filter {
	const char *scope;	   /* vendor:X confinement: only X's certificates */
	const char *vendor;	   /* vendor name */
	const char *device_serial; /* the device serial the certificate names */
	const char *status;	   /* unconfirmed, active, revoked, superseded */
	const char *serial_hex;	   /* as stored: upper-case, BN_bn2hex */
	const char *issuer;	   /* issuer name as stored */
	const char *valid_at;	   /* not_before <= t <= not_after */
	const char *not_after_before, *not_after_after; /* not_after < t, > t */
	const char *issued_after, *issued_before;	/* created_at >= t, < t */
	long long after_id; /* keyset cursor: ids above it (0: from the first) */
	int limit;	    /* 1..1000 rows */
	bool with_der;
};

/* One certificate row. Times are RFC 3339 UTC ("...Z"); optional text
 * NULL when the column is; reason -1 when not revoked. */
struct store_api_cert {
	long long id;
	const char *serial_hex, *issuer, *subject, *device_serial, *vendor, *alias, *status;
	const char *not_before, *not_after, *issued_at, *revoked_at;
	int reason;
	struct store_bytes der; /* with_der only (else empty) */
};
/* rc 0, RC_DB or RC_CANCELLED; rows ordered by id (oldest first). */
typedef void (*store_api_certs_cb)(void *arg, int rc, const struct store_api_cert *rows, size_t n);
/* RC_INVAL on bad arguments (limit, a string over its bound). */
int store_api_certs(struct store_pool *pool, const struct store_api_cert_filter *f,
		    store_api_certs_cb cb, void *arg) WUR;

/* One token as listed (never a secret); state active, used, expired or
 * revoked; times RFC 3339 UTC, used_at NULL when unused. key: the keyset
 * cursor of this row (printable, for store_api_tokens' after). */
struct store_api_token {
	const char *ref, *alias, *identity, *state, *created_at, *expires_at, *used_at;
	const char *key;
};
typedef void (*store_api_tokens_cb)(void *arg, int rc, const struct store_api_token *rows,
				    size_t n);
/* Tokens oldest first, after the row whose key is after (NULL: from the
 * first), at most limit (1..1000); only ref when ref is non-NULL. */
int store_api_tokens(struct store_pool *pool, const char *ref, const char *after, int limit,
		     store_api_tokens_cb cb, void *arg) WUR;

/* ---- audited changes, CLI and API alike (blocking) ---- */

/* Revoke r (cmpgw_revoke, store/revoke.h) and, when it changed something
 * (ok, released), write the audit row "admin_cert_revoke" with principal
 * and detail, in one transaction. *status gets the outcome (ok, released,
 * unknown, revoked, not_holder, not_on_hold). 0 or RC_DB (rolled back). */
int store_api_cert_revoke_audited(struct store_conn *c, const char *principal,
				  const struct store_revoke *r, const char *detail,
				  enum store_outcome *status) WUR;

/* Store a sealed token (store_token_add) with the audit row
 * "admin_token_create" (principal, device_serial identity, alias, detail),
 * in one transaction. 0, RC_EXISTS (ref taken), RC_INVAL or RC_DB. */
int store_api_token_add_audited(struct store_conn *c, const char *principal, const char *ref,
				const char *alias, const char *identity,
				const unsigned char *sealed, size_t sealed_len, long ttl_s,
				const char *detail) WUR;

/* Revoke an unused token (store_token_revoke) with the audit row
 * "admin_token_revoke" when this call revoked it, in one transaction.
 * *was as store_token_revoke ("unknown" after RC_DB). 0 or RC_DB. */
int store_api_token_revoke_audited(struct store_conn *c, const char *principal, const char *ref,
				   const char **was) WUR;

#endif
