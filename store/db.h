/*
 * store/db.h - asynchronous PostgreSQL access driven by a libevent loop.
 *
 * A store_pool belongs to one worker's event_base and holds a few libpq
 * connections in non-blocking mode. store_db_query() queues one
 * parameterised statement; the callback runs later on the same loop with a
 * plain-C result (PGresult never leaves store/). Queries run in FIFO order
 * per connection; a dropped connection is re-established with back-off
 * (at most 1 s apart) and the queries sent or queued on it fail with RC_DB
 * (callback still called). Every wait is bounded (store_pool_limits).
 *
 * Threads: every function on the pool's own loop thread only.
 */
#ifndef CMPGW_STORE_DB_H
#define CMPGW_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

struct event_base;
struct metrics;
struct store_pool;

/* Result handed to callbacks; valid only during the callback. Values are in
 * the format requested (text: NUL-terminated; binary: raw bytes, length in
 * lens). NULL columns have isnull set and val "" (text) / length 0. */
struct store_result {
	int rc;			/* RC_OK or RC_DB (then sqlstate/errmsg set) */
	char sqlstate[6];	/* "23505" unique violation, ... ("" if none) */
	const char *errmsg;	/* server or libpq message; for logs only */
	const char *constraint; /* constraint a 23xxx error names, else NULL */
	int nrows, ncols;
	const char *const *val; /* [row * ncols + col] */
	const int *lens;
	const bool *isnull;
	long affected; /* rows affected (INSERT/UPDATE/DELETE), else 0 */
};

static inline const char *store_val(const struct store_result *r, int row, int col)
{
	return r->val[row * r->ncols + col];
}
static inline int store_len(const struct store_result *r, int row, int col)
{
	return r->lens[row * r->ncols + col];
}
static inline bool store_isnull(const struct store_result *r, int row, int col)
{
	return r->isnull[row * r->ncols + col];
}
/* The value, or NULL for SQL NULL (get0: valid during the callback). */
static inline const char *store_val_or_null(const struct store_result *r, int row, int col)
{
	return store_isnull(r, row, col) ? NULL : store_val(r, row, col);
}
/* An integer column (bigint, count(*)) as long long; 0 for NULL. */
long long store_ll(const struct store_result *r, int row, int col);

typedef void (*store_cb)(void *arg, const struct store_result *res);

/*
 * Bounds of a pool (issue 11: every request answered within a bound).
 * Fields <= 0 take the default.
 *  wait_ms: longest a query waits in a queue before it is sent, whether
 *    no connection is up or its connection is busy (default 10000); then
 *    it fails with RC_DB. While no connection has been up for wait_ms,
 *    store_db_query() fails fast with RC_DB.
 *  max_queued: most queries waiting while no connection is up (default
 *    10000); beyond it store_db_query() fails fast with RC_DB.
 *  stmt_timeout_ms: PostgreSQL statement_timeout of every connection (sent
 *    in the startup packet's options, no extra round trip), and a client
 *    deadline a little above it for each statement: a server or network
 *    that never answers drops the connection (reconnected at once) and
 *    fails the statement with RC_DB (default: none).
 */
struct store_pool_limits {
	int wait_ms;
	int max_queued;
	int stmt_timeout_ms;
};

/* Connect nconn connections (non-blocking) on base; lim may be NULL (all
 * defaults). NULL on failure. */
struct store_pool *store_db_pool_new(struct event_base *base, const char *conninfo, int nconn,
				     const struct store_pool_limits *lim);
/* Close connections; pending callbacks are called with RC_CANCELLED. */
void store_db_pool_free(struct store_pool *pool);
/* Change wait_ms and max_queued (see store_pool_limits). Values <= 0 keep
 * the current. */
void store_db_pool_set_limits(struct store_pool *pool, int wait_ms, int max_queued);
/* Number of connections currently up (for readiness checks). */
int store_db_pool_nup(const struct store_pool *pool);
/* Connections by state: up and idle, up with a statement in flight, and
 * down (connecting or waiting to reconnect). */
void store_db_pool_state(const struct store_pool *pool, int *idle, int *busy, int *down);
/* Record every statement's round trip (from sending it to its result; a
 * statement that never got sent: from queueing it) and failure in m
 * (core/metrics.h metrics_db; borrowed, must outlive the pool; NULL:
 * none). Statements cancelled by store_db_pool_free are not recorded. */
void store_db_pool_set_metrics(struct store_pool *pool, struct metrics *m);

/* Readiness (GET /readyz): the highest migration applied in the database
 * (schema_migrations), by one cheap statement through the pool, bounded
 * like every statement (store_pool_limits). cb gets rc RC_OK and the
 * version, or RC_DB (unreachable, timed out, no such table) / RC_CANCELLED
 * and version -1; called exactly once, from the loop, when this returns
 * RC_OK. */
typedef void (*store_version_cb)(void *arg, int rc, int version);
int store_db_schema_version(struct store_pool *pool, store_version_cb cb, void *arg) WUR;

/*
 * Queue one statement. params: n values; lens[i] is the byte length when
 * formats[i]==1 (binary), ignored for text; values[i]==NULL is SQL NULL.
 * lens/formats may be NULL (all text). binary_result selects the result
 * format for all columns. Statements are prepared once per connection and
 * cached by sql pointer+text. Returns RC_OK (cb will be called exactly
 * once) or an error (cb will not be called).
 */
int store_db_query(struct store_pool *pool, const char *sql, int n, const char *const *values,
		   const int *lens, const int *formats, bool binary_result, store_cb cb,
		   void *arg) WUR;

/* Blocking connection for CLI commands and start-up only (never on a
 * worker loop). */
struct store_conn;
int store_db_connect(const char *conninfo, struct store_conn **out) WUR;
/* The same, but a connection failure is not logged: libpq's message (one
 * line, no password) goes to errbuf instead (when errbuf is non-NULL). */
int store_db_connect_msg(const char *conninfo, struct store_conn **out, char *errbuf,
			 size_t errlen) WUR;
/* A blocking connection for a thread that must not wait unbounded (the
 * admin API's jobs): connecting gives up after connect_timeout_s, and
 * every statement after stmt_timeout_ms ("-c statement_timeout", added to
 * the conninfo's own options). A failure is logged. */
int store_db_connect_bounded(const char *conninfo, int connect_timeout_s, int stmt_timeout_ms,
			     struct store_conn **out) WUR;
void store_db_close(struct store_conn *c);
/* Run a statement synchronously; cb as above (may be NULL). */
int store_db_exec(struct store_conn *c, const char *sql, int n, const char *const *values,
		  const int *lens, const int *formats, bool binary_result, store_cb cb,
		  void *arg) WUR;
/* Raw libpq connection (PGconn *) for store/ internals only. */
void *store_db_conn_raw(struct store_conn *c);

#endif
