/*
 * store/fwd.c - the RA-mode queries (store/fwd.h, migration 006).
 */
#include "store/fwd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/call.h"

#define BIN   STORE_BIN
#define BIN32 STORE_BIN32
#define TXT   STORE_TXT

static int submit_status(struct store_pool *pool, const char *sql, int n, const char *const *v,
			 const int *lens, const int *fmts, store_outcome_cb cb, void *arg,
			 const char *what)
{
	return store_call_submit(pool, sql, n, v, lens, fmts, false, store_call_on_status,
				 store_call_new((void (*)(void))cb, arg, what));
}

int store_fwd_begin(struct store_pool *pool, const struct store_fwd_begin *b, store_outcome_cb cb,
		    void *arg)
{
	const char *v[15];
	int lens[15], fmts[15];
	char vid[24], crid[24], to[16];

	snprintf(vid, sizeof(vid), "%" PRId64, b->vendor_id);
	snprintf(crid, sizeof(crid), "%ld", b->cert_req_id);
	snprintf(to, sizeof(to), "%d", b->timeout_s);
	BIN(0, b->tid);
	TXT(1, b->alias);
	TXT(2, b->body);
	TXT(3, vid);
	TXT(4, b->vendor_name);
	TXT(5, b->serial);
	BIN32(6, b->vendor_key_fp);
	BIN32(7, b->sender_fp);
	BIN(8, b->sender_cert);
	BIN(9, b->server_nonce);
	BIN(10, b->client_nonce);
	TXT(11, crid);
	TXT(12, b->allow_reenroll ? "t" : "f");
	TXT(13, to);
	TXT(14, b->peer);
	return submit_status(pool,
			     "SELECT cmpgw_fwd_begin($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,"
			     "$14,$15)",
			     15, v, lens, fmts, cb, arg, "forward begin");
}

int store_fwd_begin_renew(struct store_pool *pool, const struct store_fwd_begin_renew *b,
			  store_outcome_cb cb, void *arg)
{
	const char *v[11];
	int lens[11], fmts[11];
	char oid[24], crid[24], to[16];

	snprintf(oid, sizeof(oid), "%" PRId64, b->old_id);
	snprintf(crid, sizeof(crid), "%ld", b->cert_req_id);
	snprintf(to, sizeof(to), "%d", b->timeout_s);
	BIN(0, b->tid);
	TXT(1, b->alias);
	TXT(2, b->body);
	TXT(3, oid);
	BIN32(4, b->sender_fp);
	BIN(5, b->sender_cert);
	BIN(6, b->server_nonce);
	BIN(7, b->client_nonce);
	TXT(8, crid);
	TXT(9, to);
	TXT(10, b->peer);
	return submit_status(pool,
			     "SELECT cmpgw_fwd_begin_renew($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)", 11,
			     v, lens, fmts, cb, arg, "forward begin (renewal)");
}

int store_fwd_done(struct store_pool *pool, const struct store_fwd_done *d, store_outcome_cb cb,
		   void *arg)
{
	const char *v[14];
	int lens[14], fmts[14];
	char nb[24], na[24], dl[16];

	snprintf(nb, sizeof(nb), "%lld", d->not_before);
	snprintf(na, sizeof(na), "%lld", d->not_after);
	snprintf(dl, sizeof(dl), "%d", d->deadline_s);
	BIN(0, d->tid);
	BIN32(1, d->vendor_key_fp);
	BIN(2, d->cert);
	TXT(3, d->issuer);
	TXT(4, d->serial_hex);
	TXT(5, d->subject);
	TXT(6, nb);
	TXT(7, na);
	BIN32(8, d->key_fp);
	BIN(9, d->cert_hash);
	BIN(10, d->upstream_nonce);
	TXT(11, dl);
	BIN(12, d->server_nonce);
	TXT(13, d->implicit ? "t" : "f");
	return submit_status(
		pool, "SELECT cmpgw_fwd_done($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)", 14,
		v, lens, fmts, cb, arg, "forward done");
}

int store_fwd_fail(struct store_pool *pool, struct store_bytes tid, int fail_info, const char *text,
		   const char *detail, store_outcome_cb cb, void *arg)
{
	const char *v[4];
	int lens[4], fmts[4];
	char fi[16];

	snprintf(fi, sizeof(fi), "%d", fail_info);
	BIN(0, tid);
	TXT(1, fi);
	TXT(2, text);
	TXT(3, detail);
	return submit_status(pool, "SELECT cmpgw_fwd_fail($1,$2,$3,$4)", 4, v, lens, fmts, cb, arg,
			     "forward fail");
}

static const char SQL_GET[] =
	"SELECT t.alias, t.state, t.sender_fp, t.server_nonce, c.der, t.cert_hash,"
	" t.upstream_nonce, t.cert_req_id::text, t.fwd_fail_info::text, t.fwd_fail_text,"
	" t.sender_cert, t.body_type"
	" FROM transactions t LEFT JOIN certificates c ON c.id = t.cert_id WHERE t.tid = $1";

static struct store_bytes col(const struct store_result *r, int i)
{
	struct store_bytes b = { NULL, 0 };
	if (!store_isnull(r, 0, i)) {
		b.p = (const unsigned char *)store_val(r, 0, i);
		b.len = (size_t)store_len(r, 0, i);
	}
	return b;
}

/* Binary results: text columns arrive as raw bytes, not NUL-terminated. */
static long col_long(const struct store_result *r, int i, long dflt)
{
	char tmp[32];
	struct store_bytes b = col(r, i);

	if (!b.p || b.len >= sizeof(tmp))
		return dflt;
	memcpy(tmp, b.p, b.len);
	tmp[b.len] = '\0';
	return strtol(tmp, NULL, 10);
}

static void on_get(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_fwd_txn_cb cb = (store_fwd_txn_cb)c->fn;
	char alias[80], text[256], body[16];
	struct store_fwd_txn t;

	store_call_log(c, r);
	if (r->rc != 0 || r->nrows == 0) {
		cb(c->arg, r->rc, NULL);
		free(c);
		return;
	}
	memset(&t, 0, sizeof(t));
	snprintf(alias, sizeof(alias), "%.*s", store_len(r, 0, 0), store_val(r, 0, 0));
	t.alias = alias;
	t.state = store_outcome_parse_n(store_val(r, 0, 1), (size_t)store_len(r, 0, 1));
	t.sender_fp = col(r, 2);
	t.server_nonce = col(r, 3);
	t.cert = col(r, 4);
	t.cert_hash = col(r, 5);
	t.upstream_nonce = col(r, 6);
	t.cert_req_id = col_long(r, 7, 0);
	t.fail_info = (int)col_long(r, 8, -1);
	if (!store_isnull(r, 0, 9)) {
		snprintf(text, sizeof(text), "%.*s", store_len(r, 0, 9), store_val(r, 0, 9));
		t.fail_text = text;
	}
	t.sender_cert = col(r, 10);
	snprintf(body, sizeof(body), "%.*s", store_len(r, 0, 11), store_val(r, 0, 11));
	t.body = body;
	cb(c->arg, 0, &t);
	free(c);
}

int store_fwd_get(struct store_pool *pool, struct store_bytes tid, store_fwd_txn_cb cb, void *arg)
{
	const char *v[1];
	int lens[1], fmts[1];

	BIN(0, tid);
	return store_call_submit(pool, SQL_GET, 1, v, lens, fmts, true, on_get,
				 store_call_new((void (*)(void))cb, arg, "forward lookup"));
}

int store_fwd_sweep(struct store_pool *pool, store_count_cb cb, void *arg)
{
	return store_call_submit(pool, "SELECT cmpgw_fwd_sweep()::text", 0, NULL, NULL, NULL, false,
				 store_call_on_count,
				 store_call_new((void (*)(void))cb, arg, "forward sweep"));
}
