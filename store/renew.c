#include "store/renew.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/call.h"

static void on_lookup(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_oldcert_cb cb = (store_oldcert_cb)c->fn;
	struct store_oldcert o;

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, NULL);
	} else if (r->nrows == 0) {
		cb(c->arg, 0, NULL);
	} else {
		memset(&o, 0, sizeof(o));
		o.id = strtoll(store_val(r, 0, 0), NULL, 10);
		o.status = store_outcome_parse(store_val(r, 0, 1));
		o.device_serial = store_val(r, 0, 2);
		o.vendor = store_val(r, 0, 3);
		if (r->ncols >= 6) { /* store_renew_admit */
			o.serial_blocked = store_val(r, 0, 4)[0] == 't';
			o.tid_in_use = store_val(r, 0, 5)[0] == 't';
		}
		cb(c->arg, 0, &o);
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
	return store_call_submit(pool, SQL_LOOKUP, 3, v, lens, fmts, false, on_lookup,
				 store_call_new((void (*)(void))cb, arg, "renewal lookup"));
}

static const char SQL_ADMIT[] = "SELECT * FROM cmpgw_renew_admit($1,$2,$3,$4)";

int store_renew_admit(struct store_pool *pool, const char *issuer, const char *serial_hex,
		      struct store_bytes der, struct store_bytes tid, store_oldcert_cb cb,
		      void *arg)
{
	const char *v[4] = { issuer, serial_hex, (const char *)der.p, (const char *)tid.p };
	int lens[4] = { 0, 0, (int)der.len, (int)tid.len }, fmts[4] = { 0, 0, 1, 1 };
	return store_call_submit(pool, SQL_ADMIT, 4, v, lens, fmts, false, on_lookup,
				 store_call_new((void (*)(void))cb, arg, "renewal admission"));
}

#define BIN   STORE_BIN
#define BIN32 STORE_BIN32
#define TXT   STORE_TXT

static const char SQL_COMMIT[] =
	"SELECT cmpgw_renew_commit($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
	"$17,$18,$19,$20,$21)";

int store_renew_commit(struct store_pool *pool, const struct store_renew_commit *c,
		       store_outcome_cb cb, void *arg)
{
	const char *v[21];
	int lens[21], fmts[21];
	char oid[24], crid[24], nb[24], na[24], dl[16];
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
	return store_call_submit(pool, SQL_COMMIT, 21, v, lens, fmts, false, store_call_on_status,
				 store_call_new((void (*)(void))cb, arg, "renewal commit"));
}
