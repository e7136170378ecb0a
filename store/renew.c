#include "store/renew.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct call {
	union {
		store_status_cb status;
		store_oldcert_cb old;
	} cb;
	void *arg;
};

static int submit(struct store_pool *pool, const char *sql, int n, const char *const *v,
		  const int *lens, const int *fmts, bool binary, store_cb on, struct call *c)
{
	int rc;
	if (!c)
		return RC_NOMEM;
	rc = store_db_query(pool, sql, n, v, lens, fmts, binary, on, c);
	if (rc != 0)
		free(c);
	return rc;
}

static struct call *call_new(void)
{
	return calloc(1, sizeof(struct call));
}

static void on_lookup(void *arg, const struct store_result *r)
{
	struct call *c = arg;
	struct store_oldcert o;

	if (r->rc != 0) {
		if (r->rc != RC_CANCELLED)
			log_error(NULL, "renewal lookup: database error %s: %s", r->sqlstate,
				  r->errmsg ? r->errmsg : "?");
		c->cb.old(c->arg, r->rc, NULL);
	} else if (r->nrows == 0) {
		c->cb.old(c->arg, 0, NULL);
	} else {
		o.id = strtoll(store_val(r, 0, 0), NULL, 10);
		o.status = store_val(r, 0, 1);
		o.device_serial = store_val(r, 0, 2);
		o.vendor = store_val(r, 0, 3);
		c->cb.old(c->arg, 0, &o);
	}
	free(c);
}

static const char SQL_LOOKUP[] =
	"SELECT c.id, c.status, coalesce(c.device_serial, ''), coalesce(v.name, '')"
	" FROM certificates c LEFT JOIN vendors v ON v.id = c.vendor_id"
	" WHERE c.issuer = $1 AND c.serial_hex = $2 AND c.der = $3";

int store_renew_lookup(struct store_pool *pool, const char *issuer, const char *serial_hex,
		       struct store_bytes der, store_oldcert_cb cb, void *arg)
{
	const char *v[3] = { issuer, serial_hex, (const char *)der.p };
	int lens[3] = { 0, 0, (int)der.len }, fmts[3] = { 0, 0, 1 };
	struct call *c = call_new();

	if (c) {
		c->cb.old = cb;
		c->arg = arg;
	}
	return submit(pool, SQL_LOOKUP, 3, v, lens, fmts, false, on_lookup, c);
}

static void on_status(void *arg, const struct store_result *r)
{
	struct call *c = arg;
	if (r->rc != 0) {
		if (r->rc != RC_CANCELLED)
			log_error(NULL, "renewal commit: database error %s: %s", r->sqlstate,
				  r->errmsg ? r->errmsg : "?");
		c->cb.status(c->arg, r->rc, NULL);
	} else if (r->nrows != 1 || store_isnull(r, 0, 0)) {
		c->cb.status(c->arg, RC_DB, NULL);
	} else {
		c->cb.status(c->arg, 0, store_val(r, 0, 0));
	}
	free(c);
}

#define BIN(i, b) (v[i] = (const char *)(b).p, lens[i] = (int)(b).len, fmts[i] = 1)
#define BIN32(i, p) (v[i] = (const char *)(p), lens[i] = 32, fmts[i] = 1)
#define TXT(i, s) (v[i] = (s), lens[i] = 0, fmts[i] = 0)

static const char SQL_COMMIT[] =
	"SELECT cmpgw_renew_commit($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
	"$17,$18,$19,$20,$21)";

int store_renew_commit(struct store_pool *pool, const struct store_renew_commit *c,
		       store_status_cb cb, void *arg)
{
	const char *v[21];
	int lens[21], fmts[21];
	char oid[24], crid[24], nb[24], na[24], dl[16];
	struct call *call = call_new();

	if (call) {
		call->cb.status = cb;
		call->arg = arg;
	}
	snprintf(oid, sizeof(oid), "%" PRId64, c->old_id);
	snprintf(crid, sizeof(crid), "%ld", c->cert_req_id);
	snprintf(nb, sizeof(nb), "%lld", c->not_before);
	snprintf(na, sizeof(na), "%lld", c->not_after);
	snprintf(dl, sizeof(dl), "%d", c->deadline_s);
	BIN(0, c->tid);
	TXT(1, c->alias);
	TXT(2, c->body);
	TXT(3, oid);
	BIN32(4, c->sender_fp);
	BIN(5, c->sender_cert);
	BIN(6, c->server_nonce);
	BIN(7, c->client_nonce);
	TXT(8, crid);
	BIN(9, c->cert);
	TXT(10, c->issuer);
	TXT(11, c->serial_hex);
	TXT(12, c->subject);
	TXT(13, nb);
	TXT(14, na);
	BIN32(15, c->key_fp);
	BIN(16, c->cert_hash);
	TXT(17, c->implicit ? "t" : "f");
	TXT(18, dl);
	TXT(19, c->revoke_old ? "t" : "f");
	TXT(20, c->peer);
	return submit(pool, SQL_COMMIT, 21, v, lens, fmts, false, on_status, call);
}
