/*
 * store/revoke.c - revocation and CRL statements (migration 003), each
 * usable on a worker's async pool or on a blocking CLI connection.
 */
#include "store/revoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Carries the caller's callback through the result adapters. */
struct call {
	union {
		store_outcome_cb outcome;
		store_crl_current_cb current;
		store_crl_rows_cb rows;
	} cb;
	void *arg;
	bool owned; /* malloc'd (async) */
};

/* A statement with its parameters, filled by the prepare_* helpers. */
struct stmt {
	const char *sql;
	int n;
	const char *v[8];
	int lens[8], fmts[8];
	bool binary;
	char buf[3][32];
};

#define TXT(s, i, x)	((s)->v[i] = (x), (s)->lens[i] = 0, (s)->fmts[i] = 0)
#define BIN(s, i, p, l) ((s)->v[i] = (const char *)(p), (s)->lens[i] = (int)(l), (s)->fmts[i] = 1)

static void log_db_error(const struct store_result *r, const char *what)
{
	if (r->rc != RC_CANCELLED)
		log_error(NULL, "%s: database error %s: %s", what, r->sqlstate,
			  r->errmsg ? r->errmsg : "?");
}

static void call_done(struct call *c)
{
	if (c->owned)
		free(c);
}

/* Run st asynchronously on pool or synchronously on conn (one is NULL). */
static int run(struct store_pool *pool, struct store_conn *conn, const struct stmt *st, store_cb on,
	       void *cb, void *arg)
{
	struct call local = { .arg = arg }, *c = &local;
	int rc;

	if (pool) {
		if (!(c = malloc(sizeof(*c))))
			return RC_NOMEM;
		c->arg = arg;
		c->owned = true;
	}
	c->cb.outcome = (store_outcome_cb)cb;
	if (pool) {
		rc = store_db_query(pool, st->sql, st->n, st->v, st->lens, st->fmts, st->binary, on,
				    c);
		if (rc != 0)
			free(c);
		return rc;
	}
	rc = store_db_exec(conn, st->sql, st->n, st->v, st->lens, st->fmts, st->binary, on, c);
	return rc == RC_INVAL ? rc : 0; /* other failures went to cb */
}

/* Callers get the status as enum store_outcome (store/outcome.h). */
static void on_outcome(void *arg, const struct store_result *r)
{
	struct call *c = arg;
	enum store_outcome o;

	if (r->rc != 0) {
		log_db_error(r, "revocation");
		c->cb.outcome(c->arg, r->rc, STORE_OUT_OTHER);
	} else if (r->nrows != 1 || r->ncols < 1 || store_isnull(r, 0, 0)) {
		c->cb.outcome(c->arg, RC_DB, STORE_OUT_OTHER);
	} else {
		o = store_outcome_parse(store_val(r, 0, 0));
		if (o == STORE_OUT_OTHER)
			log_error(NULL, "revocation: unexpected status %s", store_val(r, 0, 0));
		c->cb.outcome(c->arg, 0, o);
	}
	call_done(c);
}

/* ---- revoke ---- */

static void prepare_revoke(struct stmt *st, const struct store_revoke *r)
{
	memset(st, 0, sizeof(*st));
	st->sql = "SELECT cmpgw_revoke($1,$2,$3,$4,$5,$6,$7,$8)";
	st->n = 8;
	snprintf(st->buf[0], sizeof(st->buf[0]), "%d", r->reason);
	TXT(st, 0, r->issuer);
	TXT(st, 1, r->serial_hex);
	TXT(st, 2, st->buf[0]);
	BIN(st, 3, r->holder_fp, r->holder_fp ? 32 : 0);
	TXT(st, 4, r->alias);
	BIN(st, 5, r->tid.len ? r->tid.p : NULL, r->tid.len);
	TXT(st, 6, r->peer);
	TXT(st, 7, r->by);
}

int store_revoke_cert(struct store_pool *pool, const struct store_revoke *r, store_outcome_cb cb,
		      void *arg)
{
	struct stmt st;
	prepare_revoke(&st, r);
	return run(pool, NULL, &st, on_outcome, (void *)cb, arg);
}

int store_revoke_cert_sync(struct store_conn *c, const struct store_revoke *r, store_outcome_cb cb,
			   void *arg)
{
	struct stmt st;
	prepare_revoke(&st, r);
	return run(NULL, c, &st, on_outcome, (void *)cb, arg);
}

/* ---- current CRL ---- */

static void on_current(void *arg, const struct store_result *r)
{
	struct call *c = arg;
	struct store_crl_current cur = { 0 };

	if (r->rc != 0) {
		log_db_error(r, "CRL lookup");
		c->cb.current(c->arg, r->rc, NULL);
	} else if (r->nrows != 1 || r->ncols != 3) {
		c->cb.current(c->arg, RC_DB, NULL);
	} else {
		cur.number = store_ll(r, 0, 0);
		if (!store_isnull(r, 0, 1)) {
			cur.der.p = (const unsigned char *)store_val(r, 0, 1);
			cur.der.len = (size_t)store_len(r, 0, 1);
		}
		cur.stale = store_len(r, 0, 2) > 0 && store_val(r, 0, 2)[0] == 't';
		c->cb.current(c->arg, 0, &cur);
	}
	call_done(c);
}

static void prepare_current(struct stmt *st, const char *issuer, int refresh_s)
{
	memset(st, 0, sizeof(*st));
	st->sql = "SELECT number::text, der, stale::text FROM cmpgw_crl_current($1,$2)";
	st->n = 2;
	st->binary = true;
	snprintf(st->buf[0], sizeof(st->buf[0]), "%d", refresh_s);
	TXT(st, 0, issuer);
	TXT(st, 1, st->buf[0]);
}

int store_revoke_crl_current(struct store_pool *pool, const char *issuer, int refresh_s,
			     store_crl_current_cb cb, void *arg)
{
	struct stmt st;
	prepare_current(&st, issuer, refresh_s);
	return run(pool, NULL, &st, on_current, (void *)cb, arg);
}

int store_revoke_crl_current_sync(struct store_conn *c, const char *issuer, int refresh_s,
				  store_crl_current_cb cb, void *arg)
{
	struct stmt st;
	prepare_current(&st, issuer, refresh_s);
	return run(NULL, c, &st, on_current, (void *)cb, arg);
}

/* ---- revoked rows ---- */

/* One snapshot for the rows and their fingerprint (cmpgw_crl_fp is
 * STABLE); the outer join yields one row with NULLs when nothing is
 * revoked. The fingerprint is computed once, in a subquery that OFFSET 0
 * keeps the planner from pulling up: in the select list it ran once per
 * revoked row, each a count over all of them (quadratic; 0.5 s for 2,000
 * revoked). revoked_at is set exactly when status is
 * 'revoked' (a CHECK of migration 010), and certificates_revoked_idx is
 * partial on it. */
static const char SQL_ROWS[] =
	"SELECT one.fp, c.serial_hex, extract(epoch FROM c.revoked_at)::bigint::text,"
	" coalesce(c.revocation_reason, 0)::text"
	" FROM (SELECT cmpgw_crl_fp($1) AS fp OFFSET 0) one LEFT JOIN certificates c"
	" ON c.issuer = $1 AND c.revoked_at IS NOT NULL"
	" ORDER BY c.id";

static void on_rows(void *arg, const struct store_result *r)
{
	struct call *c = arg;
	struct store_crl_row *rows = NULL;
	size_t n = 0;

	if (r->rc != 0) {
		log_db_error(r, "CRL rows");
		c->cb.rows(c->arg, r->rc, NULL, NULL, 0);
		goto out;
	}
	if (r->nrows < 1 || r->ncols != 4 || !(rows = calloc((size_t)r->nrows, sizeof(*rows)))) {
		c->cb.rows(c->arg, r->nrows < 1 ? RC_DB : RC_NOMEM, NULL, NULL, 0);
		goto out;
	}
	for (int i = 0; i < r->nrows; i++) {
		if (store_isnull(r, i, 1))
			continue;
		rows[n].serial_hex = store_val(r, i, 1);
		rows[n].revoked_at = strtoll(store_val(r, i, 2), NULL, 10);
		rows[n].reason = atoi(store_val(r, i, 3));
		n++;
	}
	c->cb.rows(c->arg, 0, store_val(r, 0, 0), rows, n);
out:
	free(rows);
	call_done(c);
}

static void prepare_rows(struct stmt *st, const char *issuer)
{
	memset(st, 0, sizeof(*st));
	st->sql = SQL_ROWS;
	st->n = 1;
	TXT(st, 0, issuer);
}

int store_revoke_crl_rows(struct store_pool *pool, const char *issuer, store_crl_rows_cb cb,
			  void *arg)
{
	struct stmt st;
	prepare_rows(&st, issuer);
	return run(pool, NULL, &st, on_rows, (void *)cb, arg);
}

int store_revoke_crl_rows_sync(struct store_conn *c, const char *issuer, store_crl_rows_cb cb,
			       void *arg)
{
	struct stmt st;
	prepare_rows(&st, issuer);
	return run(NULL, c, &st, on_rows, (void *)cb, arg);
}

/* ---- publish ---- */

static void prepare_store(struct stmt *st, const struct store_crl_new *n)
{
	memset(st, 0, sizeof(*st));
	st->sql = "SELECT cmpgw_crl_store($1,$2,$3,$4,$5,$6)";
	st->n = 6;
	snprintf(st->buf[0], sizeof(st->buf[0]), "%lld", n->number);
	snprintf(st->buf[1], sizeof(st->buf[1]), "%lld", n->this_update);
	snprintf(st->buf[2], sizeof(st->buf[2]), "%lld", n->next_update);
	TXT(st, 0, n->issuer);
	TXT(st, 1, st->buf[0]);
	BIN(st, 2, n->der.p, n->der.len);
	TXT(st, 3, st->buf[1]);
	TXT(st, 4, st->buf[2]);
	TXT(st, 5, n->fp);
}

int store_revoke_crl_store(struct store_pool *pool, const struct store_crl_new *n,
			   store_outcome_cb cb, void *arg)
{
	struct stmt st;
	prepare_store(&st, n);
	return run(pool, NULL, &st, on_outcome, (void *)cb, arg);
}

int store_revoke_crl_store_sync(struct store_conn *c, const struct store_crl_new *n,
				store_outcome_cb cb, void *arg)
{
	struct stmt st;
	prepare_store(&st, n);
	return run(NULL, c, &st, on_outcome, (void *)cb, arg);
}
