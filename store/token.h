/*
 * store/token.h - one-time enrollment tokens (migration 005).
 *
 * The secret arrives here already sealed (ra/token.h); store/ never sees
 * it in clear. Asynchronous calls run on a worker's pool (one statement
 * each, callback exactly once on the loop thread; rc RC_OK, RC_DB or
 * RC_CANCELLED); blocking calls take a store_conn (CLI only).
 */
#ifndef CMPGW_STORE_TOKEN_H
#define CMPGW_STORE_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/rc.h"
#include "store/enroll.h"

struct store_conn;

/* A token as stored; pointers valid during the callback only. refusal is
 * STORE_OUT_OK for a usable token, else STORE_OUT_REVOKED, _USED, _EXPIRED
 * or _ALIAS
 * (bound to another alias than the one asked about). tid_in_use: a
 * transaction with the transactionID asked about exists already (read
 * only: cmpgw_token_ir_commit checks again when it commits). */
struct store_token {
	const char *alias, *identity;
	enum store_outcome refusal;
	struct store_bytes secret_enc;
	bool tid_in_use;
};
/* t == NULL: no such reference (rc 0). */
typedef void (*store_token_cb)(void *arg, int rc, const struct store_token *t);
int store_token_get(struct store_pool *pool, const char *ref, const char *alias,
		    struct store_bytes tid, store_token_cb cb, void *arg) WUR;

/* Consume the token and commit the certificate issued for it in one
 * statement (cmpgw_token_ir_commit): status "ok" or unknown, revoked,
 * used, expired, alias, tid_in_use. */
struct store_token_commit {
	struct store_bytes tid, server_nonce, client_nonce, cert, cert_hash;
	const unsigned char *key_fp; /* 32 bytes */
	const char *ref, *alias, *body, *issuer, *serial_hex, *subject, *peer;
	long cert_req_id;
	long long not_before, not_after; /* epoch seconds */
	bool implicit;
	bool revoke_old; /* on confirmation revoke the identity's other active certificates */
	int deadline_s;
};
int store_token_ir_commit(struct store_pool *pool, const struct store_token_commit *c,
			  store_outcome_cb cb, void *arg) WUR;

/* Blocking, CLI. Insert a token valid for ttl_s seconds from now (audited
 * 'token_created'). RC_EXISTS if ref is taken, RC_INVAL, RC_DB. */
int store_token_add(struct store_conn *c, const char *ref, const char *alias, const char *identity,
		    const unsigned char *sealed, size_t sealed_len, long ttl_s) WUR;

/* One listed token (no secret); strings valid during the callback only. */
struct store_token_row {
	const char *ref, *alias, *identity, *state, *created, *expires, *used;
};
typedef void (*store_token_row_cb)(void *arg, const struct store_token_row *row);
/* Every token, oldest first; state is active, used, expired or revoked. */
int store_token_list(struct store_conn *c, store_token_row_cb cb, void *arg) WUR;

/* Revoke an unused token (audited 'token_revoked'). *was gets "revoked"
 * when this call revoked it, else what prevented it: "already revoked",
 * "used" or "unknown"; static strings. */
int store_token_revoke(struct store_conn *c, const char *ref, const char **was) WUR;

#endif
