/*
 * store/token.c - token queries (see token.h and migration 005).
 */
#include "store/token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/call.h"
#include "store/db_int.h"

#define BIN STORE_BIN
#define TXT STORE_TXT

static const char SQL_GET[] =
	"SELECT t.alias, t.identity, t.secret_enc, cmpgw_token_refusal(t, $2),"
	" CASE WHEN EXISTS (SELECT 1 FROM transactions WHERE tid = $3) THEN 't' ELSE 'f' END"
	" FROM tokens t WHERE t.ref = $1";

static void on_get(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_token_cb cb = (store_token_cb)c->fn;
	struct store_token t;

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, NULL);
	} else if (r->nrows == 0) {
		cb(c->arg, 0, NULL);
	} else {
		/* binary result: text columns are raw bytes, NUL-terminated by libpq */
		t.alias = store_val(r, 0, 0);
		t.identity = store_val(r, 0, 1);
		t.secret_enc.p = (const unsigned char *)store_val(r, 0, 2);
		t.secret_enc.len = (size_t)store_len(r, 0, 2);
		t.refusal = store_isnull(r, 0, 3)
				    ? STORE_OUT_OK
				    : store_outcome_parse_n(store_val(r, 0, 3),
							    (size_t)store_len(r, 0, 3));
		t.tid_in_use = store_val(r, 0, 4)[0] == 't';
		cb(c->arg, 0, &t);
	}
	free(c);
}

int store_token_get(struct store_pool *pool, const char *ref, const char *alias,
		    struct store_bytes tid, store_token_cb cb, void *arg)
{
	const char *v[3];
	int lens[3], fmts[3];

	TXT(0, ref);
	TXT(1, alias);
	BIN(2, tid);
	return store_call_submit(pool, SQL_GET, 3, v, lens, fmts, true, on_get,
				 store_call_new((void (*)(void))cb, arg, "token lookup"));
}

static const char SQL_COMMIT[] =
	"SELECT cmpgw_token_ir_commit($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
	"$17,$18,$19)";

int store_token_ir_commit(struct store_pool *pool, const struct store_token_commit *t,
			  store_outcome_cb cb, void *arg)
{
	const char *v[19];
	int lens[19], fmts[19];
	char crid[24], nb[24], na[24], dl[16];
	struct store_bytes kfp = { t->key_fp, 32 };
	snprintf(crid, sizeof(crid), "%ld", t->cert_req_id);
	snprintf(nb, sizeof(nb), "%lld", t->not_before);
	snprintf(na, sizeof(na), "%lld", t->not_after);
	snprintf(dl, sizeof(dl), "%d", t->deadline_s);
	TXT(0, t->ref);
	BIN(1, t->tid);
	TXT(2, t->alias);
	TXT(3, t->body);
	BIN(4, t->server_nonce);
	BIN(5, t->client_nonce);
	TXT(6, crid);
	BIN(7, t->cert);
	TXT(8, t->issuer);
	TXT(9, t->serial_hex);
	TXT(10, t->subject);
	TXT(11, nb);
	TXT(12, na);
	BIN(13, kfp);
	BIN(14, t->cert_hash);
	TXT(15, t->implicit ? "t" : "f");
	TXT(16, dl);
	TXT(17, t->revoke_old ? "t" : "f");
	TXT(18, t->peer);
	return store_call_submit(pool, SQL_COMMIT, 19, v, lens, fmts, false, store_call_on_status,
				 store_call_new((void (*)(void))cb, arg, "token commit"));
}

int store_token_add(struct store_conn *c, const char *ref, const char *alias, const char *identity,
		    const unsigned char *sealed, size_t sealed_len, long ttl_s)
{
	char ttl[24], st[6] = "";
	const char *v[5] = { ref, alias, identity, (const char *)sealed, ttl };
	int lens[5] = { 0, 0, 0, (int)sealed_len, 0 }, fmts[5] = { 0, 0, 0, 1, 0 };
	PGresult *r = NULL;
	int rc;

	if (!c || !ref || !alias || !identity || !sealed || !sealed_len || ttl_s < 1)
		return RC_INVAL;
	snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
	rc = store_conn_pq(
		c,
		"WITH t AS (INSERT INTO tokens (ref, alias, identity, secret_enc, expires_at)"
		" VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::bigint))"
		" RETURNING ref, alias, identity, expires_at)"
		" INSERT INTO audit (event, alias, device_serial, vendor, detail)"
		" SELECT 'token_created', alias, identity, 'token',"
		" 'token ' || ref || ' expires ' || expires_at FROM t",
		5, v, lens, fmts, 0, &r, st, NULL, 0);
	PQclear(r);
	if (rc != RC_OK)
		return strcmp(st, "23505") == 0 ? RC_EXISTS : RC_DB;
	return 0;
}

int store_token_list(struct store_conn *c, store_token_row_cb cb, void *arg)
{
	PGresult *r = NULL;
	int rc = store_conn_pq(
		c,
		"SELECT ref, alias, identity,"
		" CASE WHEN state = 'revoked' THEN 'revoked' WHEN used_at IS NOT NULL THEN 'used'"
		" WHEN expires_at <= now() THEN 'expired' ELSE 'active' END,"
		" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" coalesce(to_char(used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
		"'-')"
		" FROM tokens ORDER BY created_at, ref",
		0, NULL, NULL, NULL, 0, &r, NULL, NULL, 0);

	if (rc != RC_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_token_row row = {
			PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
			PQgetvalue(r, i, 6),
		};
		cb(arg, &row);
	}
	PQclear(r);
	return 0;
}

int store_token_revoke(struct store_conn *c, const char *ref, const char **was)
{
	static const char *const states[] = { "revoked", "already revoked", "used", "unknown" };
	const char *v[1] = { ref };
	PGresult *r = NULL;
	int rc;

	*was = "unknown";
	rc = store_conn_pq(
		c,
		"WITH u AS (UPDATE tokens SET state = 'revoked'"
		"  WHERE ref = $1 AND state = 'active' AND used_at IS NULL RETURNING ref, alias, "
		"identity),"
		" a AS (INSERT INTO audit (event, alias, device_serial, vendor, detail)"
		"  SELECT 'token_revoked', alias, identity, 'token', 'token ' || ref FROM u "
		"RETURNING 1)"
		" SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'revoked'"
		"  ELSE coalesce((SELECT CASE state WHEN 'active' THEN 'used'"
		"   WHEN 'revoked' THEN 'already revoked' ELSE state END"
		"   FROM tokens WHERE ref = $1), 'unknown') END",
		1, v, NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc != RC_OK)
		return rc;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), states[i]) == 0)
			*was = states[i];
	PQclear(r);
	return 0;
}
