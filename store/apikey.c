/*
 * store/apikey.c - bearer API keys (see apikey.h, migration 018).
 *
 * Why a fast keyed hash and not a password KDF: the secret is 256 bits
 * from RAND_priv_bytes, not something a human chose, so there is no
 * dictionary to try; a slow KDF buys nothing against 2^256 guesses and
 * would cost every admin API request. The per-key random salt (the HMAC
 * key) makes equal secrets hash differently and a stolen table useless
 * for precomputation; the key id inside the MAC binds a hash to its row.
 */
#include "store/apikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "store/call.h"
#include "store/db_int.h"

#define PREFIX	   "cmpgw_"
#define PREFIX_LEN 6
#define SECRET_LEN 43 /* base64url of 32 bytes, unpadded */
#define SALT_LEN   16
#define HASH_LEN   32

static bool printable(const char *s, size_t max, bool space)
{
	size_t n = strnlen(s, max + 1);

	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < (space ? 0x20 : 0x21) || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool store_apikey_role_ok(const char *role)
{
	if (!role)
		return false;
	if (strcmp(role, "operator") == 0 || strcmp(role, "auditor") == 0)
		return true;
	if (strncmp(role, "vendor:", 7) == 0)
		return printable(role + 7, 128, false);
	if (strncmp(role, "factory:", 8) == 0)
		return printable(role + 8, 128, false);
	return false;
}

/* HMAC-SHA-256(salt, key id || secret). 0 or RC_CRYPTO. */
static int key_mac(const unsigned char *salt, const char *id, const char *secret,
		   unsigned char out[HASH_LEN])
{
	unsigned char msg[STORE_APIKEY_ID_LEN + SECRET_LEN];
	size_t n = 0;
	int rc;

	memcpy(msg, id, STORE_APIKEY_ID_LEN);
	memcpy(msg + STORE_APIKEY_ID_LEN, secret, SECRET_LEN);
	rc = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, salt, SALT_LEN, msg, sizeof(msg), out,
		       HASH_LEN, &n) &&
			     n == HASH_LEN
		     ? 0
		     : RC_CRYPTO;
	OPENSSL_cleanse(msg, sizeof(msg));
	return rc;
}

/* A fresh key id (hex), secret (base64url) and salt. 0 or RC_CRYPTO. */
static int key_new(char id[STORE_APIKEY_ID_LEN + 1], char secret[SECRET_LEN + 1],
		   unsigned char salt[SALT_LEN])
{
	unsigned char idb[STORE_APIKEY_ID_LEN / 2], sec[32], b64[45];
	int rc = RC_CRYPTO;

	if (RAND_bytes(idb, sizeof(idb)) != 1 || RAND_priv_bytes(sec, sizeof(sec)) != 1 ||
	    RAND_bytes(salt, SALT_LEN) != 1 || EVP_EncodeBlock(b64, sec, sizeof(sec)) != 44)
		goto out;
	for (size_t i = 0; i < sizeof(idb); i++)
		snprintf(id + 2 * i, 3, "%02x", idb[i]);
	for (size_t i = 0; i < SECRET_LEN; i++) /* RFC 4648 5: base64url, no padding */
		secret[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	secret[SECRET_LEN] = '\0';
	rc = 0;
out:
	OPENSSL_cleanse(sec, sizeof(sec));
	OPENSSL_cleanse(b64, sizeof(b64));
	return rc;
}

static const char SQL_CREATE[] =
	"WITH v AS (SELECT 1 WHERE $4 IN ('operator', 'auditor')"
	"  OR EXISTS (SELECT 1 FROM vendors WHERE name = substr($4, strpos($4, ':') + 1))),"
	" k AS (INSERT INTO api_keys (key_id, salt, hash, role, comment, created_by, expires_at)"
	"  SELECT $1, $2, $3, $4, $5, $6,"
	"   CASE WHEN $7::bigint > 0 THEN now() + make_interval(secs => $7::bigint) END FROM v"
	"  RETURNING key_id, role, expires_at),"
	" a AS (INSERT INTO audit (event, principal, vendor, detail)"
	"  SELECT 'admin_apikey_create', $6,"
	"   CASE WHEN strpos(role, ':') > 0 THEN substr(role, strpos(role, ':') + 1) END,"
	"   'api key ' || key_id || ' role ' || role"
	"   || coalesce(' expires ' || expires_at, '') FROM k RETURNING 1)"
	" SELECT count(*) FROM k";

static int create_once(struct store_conn *c, const char *role, const char *comment, long ttl_s,
		       const char *principal, char *id, char *secret)
{
	unsigned char salt[SALT_LEN], hash[HASH_LEN];
	char ttl[24], st[6] = "";
	const char *v[7] = { id, (const char *)salt, (const char *)hash, role, comment, principal,
			     ttl };
	int lens[7] = { 0, SALT_LEN, HASH_LEN, 0, 0, 0, 0 }, fmts[7] = { 0, 1, 1, 0, 0, 0, 0 };
	PGresult *r = NULL;
	int rc;

	snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
	if ((rc = key_new(id, secret, salt)) != 0 || (rc = key_mac(salt, id, secret, hash)) != 0)
		goto out;
	rc = store_conn_pq(c, SQL_CREATE, 7, v, lens, fmts, 0, &r, st, NULL, 0);
	if (rc != 0)
		rc = strcmp(st, "23505") == 0 ? RC_EXISTS : RC_DB;
	else if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), "1") != 0)
		rc = RC_NOTFOUND;
out:
	PQclear(r);
	OPENSSL_cleanse(hash, sizeof(hash));
	return rc;
}

int store_apikey_create(struct store_conn *c, const char *role, const char *comment, long ttl_s,
			const char *principal, char *key, size_t key_len, char *id, size_t id_len)
{
	char kid[STORE_APIKEY_ID_LEN + 1], secret[SECRET_LEN + 1];
	int rc = RC_EXISTS;

	if (!c || !store_apikey_role_ok(role) || !principal || !principal[0] || ttl_s < 0 ||
	    (comment && !printable(comment, STORE_APIKEY_COMMENT_MAX, true)) || !key ||
	    key_len < STORE_APIKEY_LEN + 1 || !id || id_len < STORE_APIKEY_ID_LEN + 1)
		return RC_INVAL;
	/* a 64-bit random key id collides with a stored one by bad luck only */
	for (int attempt = 0; attempt < 3 && rc == RC_EXISTS; attempt++)
		rc = create_once(c, role, comment, ttl_s, principal, kid, secret);
	if (rc == 0) {
		snprintf(key, key_len, PREFIX "%s_%s", kid, secret);
		snprintf(id, id_len, "%s", kid);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	return rc;
}

int store_apikey_list(struct store_conn *c, store_apikey_row_cb cb, void *arg)
{
#define TS(col)                                                                                    \
	"coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-')"
	PGresult *r = NULL;
	int rc = store_conn_pq(
		c,
		"SELECT key_id, role,"
		" CASE WHEN revoked_at IS NOT NULL THEN 'revoked'"
		"  WHEN expires_at <= now() THEN 'expired' ELSE 'active' END,"
		" " TS("created_at") ", created_by, " TS("expires_at") ", " TS(
			"revoked_at") ", " TS("last_used_at") ", coalesce(comment, '')"
							      " FROM api_keys ORDER BY created_at, "
							      "id",
		0, NULL, NULL, NULL, 0, &r, NULL, NULL, 0);
#undef TS

	if (rc != RC_OK)
		return rc;
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_apikey_row row = {
			PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
			PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
			PQgetvalue(r, i, 6), PQgetvalue(r, i, 7), PQgetvalue(r, i, 8),
		};
		cb(arg, &row);
	}
	PQclear(r);
	return 0;
}

static bool id_ok(const char *s)
{
	for (size_t i = 0; i < STORE_APIKEY_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[STORE_APIKEY_ID_LEN] == '\0' || s[STORE_APIKEY_ID_LEN] == '_';
}

int store_apikey_revoke(struct store_conn *c, const char *key_id, const char *principal,
			const char **was)
{
	const char *v[2] = { key_id, principal };
	PGresult *r = NULL;
	int rc;

	*was = "unknown";
	if (!c || !key_id || !principal || !principal[0])
		return RC_INVAL;
	if (strnlen(key_id, STORE_APIKEY_ID_LEN + 1) != STORE_APIKEY_ID_LEN || !id_ok(key_id))
		return 0; /* not a key id: nothing to look up */
	rc = store_conn_pq(
		c,
		"WITH u AS (UPDATE api_keys SET revoked_at = now(), revoked_by = $2"
		"  WHERE key_id = $1 AND revoked_at IS NULL RETURNING key_id, role),"
		" a AS (INSERT INTO audit (event, principal, vendor, detail)"
		"  SELECT 'admin_apikey_revoke', $2,"
		"   CASE WHEN strpos(role, ':') > 0 THEN substr(role, strpos(role, ':') + 1) END,"
		"   'api key ' || key_id || ' role ' || role FROM u RETURNING 1)"
		" SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN 'revoked'"
		"  WHEN EXISTS (SELECT 1 FROM api_keys WHERE key_id = $1) THEN 'already revoked'"
		"  ELSE 'unknown' END",
		2, v, NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc != RC_OK)
		return rc;
	if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "revoked") == 0)
		*was = "revoked";
	else if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "already revoked") == 0)
		*was = "already revoked";
	PQclear(r);
	return 0;
}

const char *store_apikey_verdict_name(enum store_apikey_verdict v)
{
	static const char *const names[] = { "valid", "malformed", "unknown",
					     "wrong", "revoked",   "expired" };
	return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

/* "cmpgw_<16 hex>_<43 base64url>" exactly. */
static bool key_syntax_ok(const char *k)
{
	if (strnlen(k, STORE_APIKEY_LEN + 1) != STORE_APIKEY_LEN ||
	    strncmp(k, PREFIX, PREFIX_LEN) != 0 || !id_ok(k + PREFIX_LEN) ||
	    k[PREFIX_LEN + STORE_APIKEY_ID_LEN] != '_')
		return false;
	for (const char *s = k + PREFIX_LEN + STORE_APIKEY_ID_LEN + 1; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Row of key id, binary result: salt, hash, role, revoked, expired. */
static const char SQL_GET[] =
	"SELECT salt, hash, role, revoked_at IS NOT NULL, coalesce(expires_at <= now(), false)"
	" FROM api_keys WHERE key_id = $1";

/* The verdict on secret for key id from its row (found: salt and hash
 * present with their lengths; revoked, expired: the row's flags). */
static int verdict_raw(bool found, const unsigned char *salt, const unsigned char *hash,
		       bool revoked, bool expired, const char *id, const char *secret,
		       enum store_apikey_verdict *v)
{
	static const unsigned char zero_salt[SALT_LEN];
	unsigned char mac[HASH_LEN];
	int rc;

	/* an unknown key id costs the same MAC as a known one */
	rc = key_mac(found ? salt : zero_salt, id, secret, mac);
	if (rc != 0)
		return rc;
	if (!found)
		*v = STORE_APIKEY_UNKNOWN;
	else if (CRYPTO_memcmp(mac, hash, HASH_LEN) != 0)
		*v = STORE_APIKEY_WRONG; /* says nothing about revocation to a guesser */
	else if (revoked)
		*v = STORE_APIKEY_REVOKED;
	else if (expired)
		*v = STORE_APIKEY_EXPIRED;
	else
		*v = STORE_APIKEY_VALID;
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

static int verdict_of(PGresult *r, const char *id, const char *secret, enum store_apikey_verdict *v)
{
	bool found = PQntuples(r) == 1 && PQgetlength(r, 0, 0) == SALT_LEN &&
		     PQgetlength(r, 0, 1) == HASH_LEN;

	return verdict_raw(found, found ? (const unsigned char *)PQgetvalue(r, 0, 0) : NULL,
			   found ? (const unsigned char *)PQgetvalue(r, 0, 1) : NULL,
			   found && PQgetvalue(r, 0, 3)[0], found && PQgetvalue(r, 0, 4)[0], id,
			   secret, v);
}

int store_apikey_verify(struct store_conn *c, const char *presented,
			enum store_apikey_verdict *verdict, char *role, size_t role_len, char *id,
			size_t id_len)
{
	char kid[STORE_APIKEY_ID_LEN + 1];
	const char *v[1] = { kid };
	PGresult *r = NULL;
	int rc;

	if (!c || !presented || !verdict || !role || role_len < STORE_APIKEY_ROLE_MAX + 1 || !id ||
	    id_len < STORE_APIKEY_ID_LEN + 1)
		return RC_INVAL;
	*verdict = STORE_APIKEY_MALFORMED;
	role[0] = id[0] = '\0';
	if (!key_syntax_ok(presented))
		return 0;
	memcpy(kid, presented + PREFIX_LEN, STORE_APIKEY_ID_LEN);
	kid[STORE_APIKEY_ID_LEN] = '\0';
	rc = store_conn_pq(c, SQL_GET, 1, v, NULL, NULL, 1, &r, NULL, NULL, 0);
	if (rc == 0)
		rc = verdict_of(r, kid, presented + PREFIX_LEN + STORE_APIKEY_ID_LEN + 1, verdict);
	if (rc == 0 && *verdict == STORE_APIKEY_VALID) {
		snprintf(role, role_len, "%.*s", PQgetlength(r, 0, 2), PQgetvalue(r, 0, 2));
		snprintf(id, id_len, "%s", kid);
	}
	PQclear(r);
	r = NULL;
	/* last_used_at for the operator's list; at most one write a minute */
	if (rc == 0 && *verdict == STORE_APIKEY_VALID)
		rc = store_conn_pq(c,
				   "UPDATE api_keys SET last_used_at = now() WHERE key_id = $1"
				   " AND (last_used_at IS NULL"
				   "  OR last_used_at < now() - interval '1 minute')",
				   1, v, NULL, NULL, 0, &r, NULL, NULL, 0);
	PQclear(r);
	return rc;
}

bool store_apikey_syntax_ok(const char *presented)
{
	return presented && key_syntax_ok(presented);
}

/* ---- asynchronous verification on a worker's pool ---- */

struct verify_call {
	store_apikey_cb cb;
	void *arg;
	struct store_pool *pool;
	char id[STORE_APIKEY_ID_LEN + 1];
	char secret[SECRET_LEN + 1];
};

static void verify_call_free(struct verify_call *vc)
{
	OPENSSL_clear_free(vc, sizeof(*vc));
}

static void on_touched(void *arg, const struct store_result *r)
{
	static const struct store_call touch = { NULL, NULL, "api key last_used_at" };
	(void)arg;
	store_call_log(&touch, r);
}

static const char SQL_TOUCH[] = "UPDATE api_keys SET last_used_at = now() WHERE key_id = $1"
				" AND (last_used_at IS NULL"
				"  OR last_used_at < now() - interval '1 minute')";

static void on_key_row(void *arg, const struct store_result *r)
{
	static const struct store_call get = { NULL, NULL, "api key lookup" };
	struct verify_call *vc = arg;
	enum store_apikey_verdict v = STORE_APIKEY_UNKNOWN;
	char role[STORE_APIKEY_ROLE_MAX + 1] = "";
	bool found;
	int rc;

	store_call_log(&get, r);
	if (r->rc != 0) {
		vc->cb(vc->arg, r->rc, v, NULL, NULL);
		verify_call_free(vc);
		return;
	}
	found = r->nrows == 1 && store_len(r, 0, 0) == SALT_LEN && store_len(r, 0, 1) == HASH_LEN;
	rc = verdict_raw(found, found ? (const unsigned char *)store_val(r, 0, 0) : NULL,
			 found ? (const unsigned char *)store_val(r, 0, 1) : NULL,
			 found && store_val(r, 0, 3)[0], found && store_val(r, 0, 4)[0], vc->id,
			 vc->secret, &v);
	if (rc == 0 && v == STORE_APIKEY_VALID) {
		const char *tv[1] = { vc->id };
		snprintf(role, sizeof(role), "%.*s", store_len(r, 0, 2), store_val(r, 0, 2));
		/* last_used_at for the operator's list; fire and forget */
		if (store_db_query(vc->pool, SQL_TOUCH, 1, tv, NULL, NULL, false, on_touched,
				   NULL) != 0)
			log_warn(NULL, "api key %s: last_used_at not updated", vc->id);
	}
	vc->cb(vc->arg, rc, v, rc == 0 && v == STORE_APIKEY_VALID ? role : NULL,
	       rc == 0 && v == STORE_APIKEY_VALID ? vc->id : NULL);
	verify_call_free(vc);
}

int store_apikey_verify_async(struct store_pool *pool, const char *presented, store_apikey_cb cb,
			      void *arg)
{
	struct verify_call *vc;
	const char *v[1];
	int rc;

	if (!pool || !cb || !store_apikey_syntax_ok(presented))
		return RC_INVAL;
	if (!(vc = OPENSSL_zalloc(sizeof(*vc))))
		return RC_NOMEM;
	vc->cb = cb;
	vc->arg = arg;
	vc->pool = pool;
	memcpy(vc->id, presented + PREFIX_LEN, STORE_APIKEY_ID_LEN);
	memcpy(vc->secret, presented + PREFIX_LEN + STORE_APIKEY_ID_LEN + 1, SECRET_LEN);
	v[0] = vc->id;
	rc = store_db_query(pool, SQL_GET, 1, v, NULL, NULL, true, on_key_row, vc);
	if (rc != 0)
		verify_call_free(vc);
	return rc;
}
