/*
 * store/apikey.h - bearer API keys of the admin API (issue 14, migration
 * 018).
 *
 * A key is "cmpgw_<key id>_<secret>": the key id is 16 hex digits (public:
 * listed, audited as principal "apikey:<key id>"), the secret 32 bytes
 * from RAND_priv_bytes as 43 characters of unpadded base64url. The secret
 * leaves store_apikey_create once, in the caller's buffer; the table keeps
 * a per-key random salt and HMAC-SHA-256(salt, key id || secret) only.
 *
 * Roles: "operator", "auditor", "vendor:<name>", "factory:<name>" where
 * <name> is a registered vendor.
 *
 * Blocking calls on a store_conn: CLI or an admin API worker thread, one
 * at a time per connection.
 */
#ifndef CMPGW_STORE_APIKEY_H
#define CMPGW_STORE_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

struct store_conn;

#define STORE_APIKEY_ID_LEN	 16  /* hex digits */
#define STORE_APIKEY_LEN	 66  /* "cmpgw_" + id + "_" + 43 */
#define STORE_APIKEY_ROLE_MAX	 200 /* bytes of a role */
#define STORE_APIKEY_COMMENT_MAX 256

/* Role syntax (not whether the vendor exists): operator, auditor,
 * vendor:NAME, factory:NAME with NAME 1..128 printable characters without
 * space. Pure. */
bool store_apikey_role_ok(const char *role);

/*
 * Make and store a key. role as above; comment NULL or printable, at most
 * STORE_APIKEY_COMMENT_MAX bytes; ttl_s 0 = no expiry; principal (who
 * made it) goes to created_by and to the 'admin_apikey_create' audit row
 * written in the same statement. key (>= STORE_APIKEY_LEN + 1 bytes)
 * receives the bearer key, id (>= STORE_APIKEY_ID_LEN + 1) its key id;
 * the caller shows key once and cleanses it (OPENSSL_cleanse).
 * Returns 0, RC_INVAL (bad role syntax, comment, ttl, buffers),
 * RC_NOTFOUND (vendor:/factory: names no registered vendor), RC_CRYPTO
 * (no randomness), RC_DB.
 */
int store_apikey_create(struct store_conn *c, const char *role, const char *comment, long ttl_s,
			const char *principal, char *key, size_t key_len, char *id,
			size_t id_len) WUR;

/* One listed key: never the secret or its hash. Strings valid during the
 * callback; state is active, revoked or expired; absent times are "-". */
struct store_apikey_row {
	const char *key_id, *role, *state, *created, *created_by, *expires, *revoked, *last_used,
		*comment;
};
typedef void (*store_apikey_row_cb)(void *arg, const struct store_apikey_row *row);
/* Every key, oldest first. 0 or RC_DB. */
int store_apikey_list(struct store_conn *c, store_apikey_row_cb cb, void *arg) WUR;

/* Revoke key_id (audited 'admin_apikey_revoke' with principal, same
 * statement). *was: "revoked" when this call revoked it, "already
 * revoked", or "unknown"; static strings. 0, RC_INVAL or RC_DB. */
int store_apikey_revoke(struct store_conn *c, const char *key_id, const char *principal,
			const char **was) WUR;

/* Why store_apikey_verify refused a key. */
enum store_apikey_verdict {
	STORE_APIKEY_VALID = 0,
	STORE_APIKEY_MALFORMED, /* not "cmpgw_<16 hex>_<43 base64url>" */
	STORE_APIKEY_UNKNOWN,	/* no such key id */
	STORE_APIKEY_WRONG,	/* key id known, secret wrong */
	STORE_APIKEY_REVOKED,
	STORE_APIKEY_EXPIRED,
};
const char *store_apikey_verdict_name(enum store_apikey_verdict v);

/*
 * Check a presented bearer key (untrusted, NUL-terminated; only the first
 * STORE_APIKEY_LEN + 1 bytes are looked at). The hash is compared with
 * CRYPTO_memcmp, and a key id that is not stored costs the same HMAC.
 * *verdict says the outcome; on STORE_APIKEY_VALID role (role_len >=
 * STORE_APIKEY_ROLE_MAX + 1) receives the key's role, id (id_len >=
 * STORE_APIKEY_ID_LEN + 1) its key id, and last_used_at is updated (at
 * most once a minute per key). Returns 0 (see *verdict), RC_INVAL (NULL
 * or short buffers), RC_DB.
 */
int store_apikey_verify(struct store_conn *c, const char *presented,
			enum store_apikey_verdict *verdict, char *role, size_t role_len, char *id,
			size_t id_len) WUR;

/* Whether presented has the syntax of a key ("cmpgw_<16 hex>_<43
 * base64url>"): checked before any database work. Pure. */
bool store_apikey_syntax_ok(const char *presented);

/*
 * store_apikey_verify without blocking, on a worker's pool (store/db.h):
 * the same checks and verdicts; on STORE_APIKEY_VALID role and key_id are
 * the key's (else NULL), valid during the callback only, and last_used_at
 * is updated (fire and forget). rc is 0 (see verdict), RC_DB or
 * RC_CRYPTO. Returns 0 (cb called exactly once, later, on the loop
 * thread), RC_INVAL (a key without the syntax: no query is made), RC_NOMEM
 * or RC_DB (cb not called). The secret is held only in a buffer cleansed
 * when the call ends. Owning worker's loop thread.
 */
struct store_pool;
typedef void (*store_apikey_cb)(void *arg, int rc, enum store_apikey_verdict verdict,
				const char *role, const char *key_id);
int store_apikey_verify_async(struct store_pool *pool, const char *presented, store_apikey_cb cb,
			      void *arg) WUR;

#endif
