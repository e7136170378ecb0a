#include "store/enroll.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/call.h"

#define BIN   STORE_BIN
#define BIN32 STORE_BIN32
#define TXT   STORE_TXT

/* Queue sql with a new call record for cb/arg. */
static int submit(struct store_pool *pool, const char *sql, int n, const char *const *v,
		  const int *lens, const int *fmts, bool binary, store_cb on, void (*cb)(void),
		  void *arg, const char *what)
{
	return store_call_submit(pool, sql, n, v, lens, fmts, binary, on,
				 store_call_new(cb, arg, what));
}

static const char SQL_IR_COMMIT[] =
	"SELECT cmpgw_ir_commit($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
	"$17,$18,$19,$20,$21,$22,$23,$24,$25)";

static const char SQL_RA_IR_COMMIT[] =
	"SELECT cmpgw_ra_ir_commit($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,"
	"$17,$18,$19,$20,$21,$22,$23,$24,$25)";

static int ir_commit(struct store_pool *pool, const char *sql, const struct store_ir_commit *c,
		     store_outcome_cb cb, void *arg)
{
	const char *v[25];
	int lens[25], fmts[25];
	char vid[24], crid[24], nb[24], na[24], dl[16];

	snprintf(vid, sizeof(vid), "%" PRId64, c->vendor_id);
	snprintf(crid, sizeof(crid), "%ld", c->cert_req_id);
	snprintf(nb, sizeof(nb), "%lld", c->not_before);
	snprintf(na, sizeof(na), "%lld", c->not_after);
	snprintf(dl, sizeof(dl), "%d", c->deadline_s);
	BIN(0, c->tid);
	TXT(1, c->alias);
	TXT(2, c->body);
	TXT(3, c->vendor_id ? vid : NULL); /* 0: none (downstream RA, migration 007) */
	TXT(4, c->vendor_name);
	TXT(5, c->serial);
	BIN32(6, c->vendor_key_fp);
	BIN32(7, c->sender_fp);
	BIN(8, c->sender_cert);
	BIN(9, c->server_nonce);
	BIN(10, c->client_nonce);
	TXT(11, crid);
	BIN(12, c->cert);
	TXT(13, c->issuer);
	TXT(14, c->serial_hex);
	TXT(15, c->subject);
	TXT(16, nb);
	TXT(17, na);
	BIN32(18, c->key_fp);
	BIN(19, c->cert_hash);
	TXT(20, c->implicit ? "t" : "f");
	TXT(21, dl);
	TXT(22, c->allow_reenroll ? "t" : "f");
	TXT(23, c->revoke_old ? "t" : "f"); /* migration 012 */
	TXT(24, c->peer);
	return submit(pool, sql, 25, v, lens, fmts, false, store_call_on_status, (void (*)(void))cb,
		      arg, "enroll");
}

int store_enroll_ir_commit(struct store_pool *pool, const struct store_ir_commit *c,
			   store_outcome_cb cb, void *arg)
{
	return ir_commit(pool, SQL_IR_COMMIT, c, cb, arg);
}

int store_enroll_ra_ir_commit(struct store_pool *pool, const struct store_ir_commit *c,
			      store_outcome_cb cb, void *arg)
{
	return ir_commit(pool, SQL_RA_IR_COMMIT, c, cb, arg);
}

static const char SQL_TXN_GET[] =
	"SELECT t.alias, t.state, t.sender_fp, t.sender_cert, t.server_nonce, t.cert_hash,"
	" c.der, t.cert_req_id::text, t.implicit_confirm::text, t.token_ref, k.secret_enc"
	" FROM transactions t LEFT JOIN certificates c ON c.id = t.cert_id"
	" LEFT JOIN tokens k ON k.ref = t.token_ref WHERE t.tid = $1";

static struct store_bytes col_bytes(const struct store_result *r, int col)
{
	struct store_bytes b = { NULL, 0 };
	if (!store_isnull(r, 0, col)) {
		b.p = (const unsigned char *)store_val(r, 0, col);
		b.len = (size_t)store_len(r, 0, col);
	}
	return b;
}

static void on_txn(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_txn_cb cb = (store_txn_cb)c->fn;
	struct store_txn t;

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, NULL);
	} else if (r->nrows == 0) {
		cb(c->arg, 0, NULL);
	} else {
		memset(&t, 0, sizeof(t));
		t.alias = store_val(r, 0, 0);
		t.state = store_outcome_parse_n(store_val(r, 0, 1), (size_t)store_len(r, 0, 1));
		t.sender_fp = col_bytes(r, 2);
		t.sender_cert = col_bytes(r, 3);
		t.server_nonce = col_bytes(r, 4);
		t.cert_hash = col_bytes(r, 5);
		t.cert = col_bytes(r, 6);
		/* binary result: text casts above arrive as raw text bytes */
		char tmp[32];
		struct store_bytes crid = col_bytes(r, 7), imp = col_bytes(r, 8);
		snprintf(tmp, sizeof(tmp), "%.*s", (int)crid.len, (const char *)crid.p);
		t.cert_req_id = strtol(tmp, NULL, 10);
		t.implicit = imp.len > 0 && imp.p[0] == 't';
		t.token_ref = store_isnull(r, 0, 9) ? NULL : store_val(r, 0, 9);
		t.token_secret_enc = col_bytes(r, 10);
		cb(c->arg, 0, &t);
	}
	free(c);
}

int store_enroll_txn_get(struct store_pool *pool, struct store_bytes tid, store_txn_cb cb,
			 void *arg)
{
	const char *v[1];
	int lens[1], fmts[1];

	BIN(0, tid);
	return submit(pool, SQL_TXN_GET, 1, v, lens, fmts, true, on_txn, (void (*)(void))cb, arg,
		      "transaction lookup");
}

int store_enroll_confirm(struct store_pool *pool, struct store_bytes tid, bool accept,
			 const char *peer, const char *detail, store_outcome_cb cb, void *arg)
{
	const char *v[4];
	int lens[4], fmts[4];

	BIN(0, tid);
	TXT(1, accept ? "t" : "f");
	TXT(2, peer);
	TXT(3, detail);
	return submit(pool, "SELECT cmpgw_confirm($1,$2,$3,$4)", 4, v, lens, fmts, false,
		      store_call_on_status, (void (*)(void))cb, arg, "confirm");
}

static const char SQL_CERTCONF[] = "SELECT cmpgw_certconf($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)";

int store_enroll_certconf(struct store_pool *pool, const struct store_certconf *c,
			  store_outcome_cb cb, void *arg)
{
	const char *v[10];
	int lens[10], fmts[10];
	char crid[24];

	snprintf(crid, sizeof(crid), "%ld", c->cert_req_id);
	BIN(0, c->tid);
	TXT(1, c->alias);
	BIN32(2, c->sender_fp); /* NULL stays SQL NULL */
	TXT(3, c->sig_ok ? "t" : "f");
	BIN(4, c->recip_nonce);
	TXT(5, crid);
	BIN(6, c->cert_hash);
	TXT(7, c->accept ? "t" : "f");
	TXT(8, c->peer);
	TXT(9, c->detail);
	return submit(pool, SQL_CERTCONF, 10, v, lens, fmts, false, store_call_on_status,
		      (void (*)(void))cb, arg, "certConf");
}

int store_enroll_sweep(struct store_pool *pool, store_count_cb cb, void *arg)
{
	return submit(pool, "SELECT cmpgw_sweep()::text", 0, NULL, NULL, NULL, false,
		      store_call_on_count, (void (*)(void))cb, arg, "sweep");
}

static void on_audit(void *arg, const struct store_result *r)
{
	static const struct store_call audit = { NULL, NULL, "audit" };
	(void)arg;
	store_call_log(&audit, r);
}

void store_enroll_audit(struct store_pool *pool, const char *event, const char *alias,
			struct store_bytes tid, const char *vendor, const char *serial,
			const char *peer, const char *detail)
{
	const char *v[7];
	int lens[7], fmts[7];
	int rc;

	TXT(0, event);
	TXT(1, alias);
	BIN(2, tid);
	if (!tid.p || !tid.len)
		v[2] = NULL;
	TXT(3, vendor);
	TXT(4, serial);
	TXT(5, peer);
	TXT(6, detail);
	rc = store_db_query(
		pool,
		"INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)"
		" VALUES ($1,$2,$3,$4,$5,$6,$7)",
		7, v, lens, fmts, false, on_audit, NULL);
	if (rc != 0)
		log_error(NULL, "audit %s: not queued: %s", event, rc_str(rc));
}

static const char SQL_VENDORS[] =
	"SELECT v.id::text, v.name, v.serial_rule, v.allow_reenroll::text, c.kind, c.der,"
	" (NOT v.x509_strict)::text"
	" FROM vendors v LEFT JOIN vendor_certs c ON c.vendor_id = v.id ORDER BY v.id, c.id";

static void on_vendors(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_vendors_cb cb = (store_vendors_cb)c->fn;
	struct store_vendor_row *rows = NULL;

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, NULL, 0);
		goto out;
	}
	rows = calloc((size_t)r->nrows + 1, sizeof(*rows));
	if (!rows) {
		cb(c->arg, RC_NOMEM, NULL, 0);
		goto out;
	}
	for (int i = 0; i < r->nrows; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%.*s", store_len(r, i, 0), store_val(r, i, 0));
		rows[i].id = strtoll(id, NULL, 10);
		rows[i].name = store_val(r, i, 1);
		rows[i].rule = store_val(r, i, 2);
		rows[i].allow_reenroll = store_val(r, i, 3)[0] == 't';
		rows[i].kind = store_isnull(r, i, 4) ? NULL : store_val(r, i, 4);
		rows[i].der.p = (const unsigned char *)store_val(r, i, 5);
		rows[i].der.len = store_isnull(r, i, 5) ? 0 : (size_t)store_len(r, i, 5);
		rows[i].lenient = store_val(r, i, 6)[0] == 't';
	}
	cb(c->arg, 0, rows, (size_t)r->nrows);
out:
	free(rows);
	free(c);
}

int store_enroll_vendors(struct store_pool *pool, store_vendors_cb cb, void *arg)
{
	return submit(pool, SQL_VENDORS, 0, NULL, NULL, NULL, true, on_vendors, (void (*)(void))cb,
		      arg, "vendor load");
}

int store_enroll_vendors_sync(struct store_conn *conn, store_vendors_cb cb, void *arg)
{
	struct store_call *c = store_call_new((void (*)(void))cb, arg, "vendor load");
	int rc;

	if (!c)
		return RC_NOMEM;
	rc = store_db_exec(conn, SQL_VENDORS, 0, NULL, NULL, NULL, true, on_vendors, c);
	return rc;
}
