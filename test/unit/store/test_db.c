/*
 * test/unit/store/test_db.c - the async pool on a libevent loop against a
 * real server: many queries, binary values, errors with SQLSTATE, a killed
 * connection, cancellation, fail-fast without a server, and the bounds of
 * issue 11: statement_timeout, the client deadline on a server that never
 * answers, the queue wait behind a busy connection.
 */
#include <event2/event.h>
#include <signal.h>
#include <time.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test/unit/tap.h"
#include "test/unit/store/fixture.h"

#define NQ 500

#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		ok(strcmp(g_, w_) == 0, __VA_ARGS__);                                              \
		if (strcmp(g_, w_) != 0)                                                           \
			printf("#   got '%s', want '%s'\n", g_, w_);                               \
	} while (0)

struct ctx {
	struct event_base *base;
	int pending, good, bad;
	int codes[8];
	char states[8][6];
	int nres;
	int isnull;
	int binlen;
	unsigned char bin[16];
	char text[64]; /* first column of the last one-row text result */
};

static void done_one(struct ctx *x)
{
	if (--x->pending == 0)
		event_base_loopbreak(x->base);
}

static void on_double(void *arg, const struct store_result *r)
{
	struct ctx *x = arg;

	if (r->rc == RC_OK && r->nrows == 1 && r->ncols == 2 &&
	    atoi(store_val(r, 0, 1)) == 2 * atoi(store_val(r, 0, 0)))
		x->good++;
	else
		x->bad++;
	done_one(x);
}

static void on_record(void *arg, const struct store_result *r)
{
	struct ctx *x = arg;

	if (x->nres < 8) {
		x->codes[x->nres] = r->rc;
		memcpy(x->states[x->nres], r->sqlstate, 6);
		x->nres++;
	}
	if (r->rc == RC_OK && r->nrows == 1 && r->ncols >= 1)
		snprintf(x->text, sizeof(x->text), "%s", store_val(r, 0, 0));
	if (r->rc == RC_OK && r->nrows == 1 && r->ncols == 2) {
		x->isnull = store_isnull(r, 0, 1) && store_val(r, 0, 1)[0] == '\0';
		x->binlen = store_len(r, 0, 0);
		if (x->binlen <= 16)
			memcpy(x->bin, store_val(r, 0, 0), (size_t)x->binlen);
	}
	done_one(x);
}

static void run_loop(struct ctx *x)
{
	struct timeval tv = { 15, 0 };

	event_base_loopexit(x->base, &tv); /* guard: never hang the test */
	event_base_dispatch(x->base);
}

static void test_many(struct store_pool *p, struct ctx *x)
{
	char buf[NQ][16];
	int rc = RC_OK;

	x->pending = NQ;
	for (int i = 0; i < NQ && rc == RC_OK; i++) {
		const char *v[1] = { buf[i] };

		snprintf(buf[i], sizeof(buf[i]), "%d", i);
		rc = store_db_query(p, "SELECT $1::int, $1::int * 2", 1, v, NULL, NULL, false,
				    on_double, x);
	}
	is_int(rc, RC_OK, "pool: %d queries queued", NQ);
	memset(buf, 0, sizeof(buf)); /* parameters are copied */
	run_loop(x);
	is_int(x->good, NQ, "pool: all results correct");
	is_int(x->bad, 0, "pool: no failures");
}

static void test_values_errors(struct store_pool *p, struct ctx *x, struct store_conn *c)
{
	static const unsigned char raw[5] = { 1, 0, 2, 0, 3 };
	const char *v[1] = { (const char *)raw };
	int lens[1] = { 5 }, fmts[1] = { 1 }, rc;

	rc = store_db_exec(c, "CREATE TABLE t_uniq (x int PRIMARY KEY)", 0, NULL, NULL, NULL, false,
			   NULL, NULL);
	is_int(rc, RC_OK, "pool: test table");
	memset(x->codes, 0, sizeof(x->codes));
	x->nres = 0;
	x->pending = 4;
	rc = store_db_query(p, "SELECT $1::bytea, NULL::text", 1, v, lens, fmts, true, on_record,
			    x);
	rc |= store_db_query(p, "SELEC 1", 0, NULL, NULL, NULL, false, on_record, x);
	rc |= store_db_query(p, "INSERT INTO t_uniq VALUES (1)", 0, NULL, NULL, NULL, false,
			     on_record, x);
	rc |= store_db_query(p, "INSERT INTO t_uniq VALUES (1)", 0, NULL, NULL, NULL, false,
			     on_record, x);
	is_int(rc, RC_OK, "pool: queued value/error queries");
	run_loop(x);
	is_int(x->nres, 4, "pool: four callbacks");
	is_int(x->binlen, 5, "pool: binary result length");
	ok(memcmp(x->bin, raw, 5) == 0, "pool: binary bytes round-trip");
	ok(x->isnull, "pool: NULL column flagged, value \"\"");
	int syntax = -1, uniq = 0, okc = 0;

	for (int i = 0; i < 4; i++) {
		if (strcmp(x->states[i], "42601") == 0 && x->codes[i] == RC_DB)
			syntax = i;
		if (strcmp(x->states[i], "23505") == 0 && x->codes[i] == RC_DB)
			uniq++;
		okc += x->codes[i] == RC_OK;
	}
	ok(syntax >= 0, "pool: bad SQL gives RC_DB + 42601");
	is_int(uniq, 1, "pool: duplicate key gives 23505");
	is_int(okc, 2, "pool: the other two succeed");
}

struct kill_ctx {
	struct ctx *x;
	struct store_conn *c;
	struct store_pool *p;
};

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct kill_ctx *k = arg;

	(void)fd;
	(void)what;
	/* blocking here is fine: this is a test */
	if (store_db_exec(k->c,
			  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
			  "WHERE query LIKE 'SELECT pg_sleep(%' AND pid <> pg_backend_pid()",
			  0, NULL, NULL, NULL, false, NULL, NULL) != RC_OK)
		event_base_loopbreak(k->x->base);
}

static void test_broken(struct store_pool *p, struct ctx *x, struct store_conn *c)
{
	struct kill_ctx k = { x, c, p };
	struct timeval tv = { 0, 300000 };
	struct event *ev = evtimer_new(x->base, on_kill, &k);
	const char *v[1] = { "7" };
	int rc;

	x->nres = 0;
	x->pending = 1;
	rc = store_db_query(p, "SELECT pg_sleep(5)", 0, NULL, NULL, NULL, false, on_record, x);
	is_int(rc, RC_OK, "pool: long query queued");
	evtimer_add(ev, &tv);
	run_loop(x);
	event_free(ev);
	is_int(x->nres, 1, "pool: killed query called back once");
	is_int(x->codes[0], RC_DB, "pool: killed connection gives RC_DB");
	x->good = x->bad = 0;
	x->pending = 20;
	for (int i = 0; i < 20; i++)
		rc |= store_db_query(p, "SELECT $1::int, $1::int * 2", 1, v, NULL, NULL, false,
				     on_double, x);
	run_loop(x);
	is_int(x->good, 20, "pool: queries succeed after a connection loss");
	/* wait for the reconnect: every connection back up */
	for (int i = 0; i < 50 && store_db_pool_nup(p) < 4; i++) {
		struct timeval t = { 0, 100000 };

		event_base_loopexit(x->base, &t);
		event_base_dispatch(x->base);
	}
	is_int(store_db_pool_nup(p), 4, "pool: killed connection reconnected");
}

static void test_cancel_and_down(struct ctx *x)
{
	struct store_pool *p;
	int rc, rc2;

	p = store_db_pool_new(x->base, "host=/nonexistent-cmpgw dbname=x connect_timeout=1", 2,
			      NULL);
	ok(p != NULL, "pool: new without a server");
	if (!p)
		return;
	store_db_pool_set_limits(p, 400, 100);
	x->nres = 0;
	x->pending = 1;
	rc = store_db_query(p, "SELECT 1", 0, NULL, NULL, NULL, false, on_record, x);
	is_int(rc, RC_OK, "pool: query waits for a connection");
	run_loop(x);
	ok(x->nres == 1 && x->codes[0] == RC_DB, "pool: waited query fails with RC_DB");
	rc = store_db_query(p, "SELECT 1", 0, NULL, NULL, NULL, false, on_record, x);
	is_int(rc, RC_DB, "pool: fails fast once the wait bound passed");
	store_db_pool_free(p);

	p = store_db_pool_new(x->base, "host=/nonexistent-cmpgw dbname=x", 1, NULL);
	x->nres = 0;
	x->pending = 2;
	rc = store_db_query(p, "SELECT 1", 0, NULL, NULL, NULL, false, on_record, x);
	rc2 = store_db_query(p, "SELECT 2", 0, NULL, NULL, NULL, false, on_record, x);
	store_db_pool_free(p);
	ok(rc == RC_OK && rc2 == RC_OK && x->nres == 2 && x->codes[0] == RC_CANCELLED &&
		   x->codes[1] == RC_CANCELLED,
	   "pool: free cancels pending queries");
	ok(store_db_pool_new(x->base, "not a conninfo", 1, NULL) == NULL, "pool: bad conninfo");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Queue one text query and run the loop until its callback. */
static int one(struct store_pool *p, struct ctx *x, const char *sql)
{
	x->nres = 0;
	x->pending = 1;
	x->text[0] = '\0';
	x->codes[0] = -1;
	if (store_db_query(p, sql, 0, NULL, NULL, NULL, false, on_record, x) != RC_OK)
		return -1;
	run_loop(x);
	return x->nres == 1 ? x->codes[0] : -1;
}

static void test_bounds(struct ctx *x, const char *conninfo)
{
	struct store_pool_limits lim = { .wait_ms = 300, .stmt_timeout_ms = 800 };
	char ci[600];
	struct store_pool *p;
	double t0, took;
	int pid, rc;

	/* the options given in conninfo are kept, statement_timeout added */
	snprintf(ci, sizeof(ci), "%s options='-c work_mem=1234kB'", conninfo);
	p = store_db_pool_new(x->base, ci, 1, &lim);
	ok(p != NULL, "bounds: pool with limits");
	if (!p)
		return;
	is_int(one(p, x, "SELECT current_setting('statement_timeout')"), RC_OK,
	       "bounds: SHOW statement_timeout");
	is_str(x->text, "800ms", "bounds: statement_timeout set at connect");
	is_int(one(p, x, "SELECT current_setting('work_mem')"), RC_OK, "bounds: SHOW work_mem");
	is_str(x->text, "1234kB", "bounds: conninfo options kept");

	/* the server cancels a statement past statement_timeout */
	t0 = now_s();
	is_int(one(p, x, "SELECT pg_sleep(3)"), RC_DB, "bounds: long statement fails RC_DB");
	took = now_s() - t0;
	is_str(x->states[0], "57014", "bounds: cancelled by statement_timeout (57014)");
	ok(took < 2.4, "bounds: answered within the bound (%.2f s)", took);

	/* queue wait behind a busy connection: the second query fails at
	 * wait_ms while the first still runs and then succeeds */
	x->nres = 0;
	x->pending = 2;
	rc = store_db_query(p, "SELECT pg_sleep(0.6)", 0, NULL, NULL, NULL, false, on_record, x);
	rc |= store_db_query(p, "SELECT 2", 0, NULL, NULL, NULL, false, on_record, x);
	is_int(rc, RC_OK, "bounds: two queries queued on one connection");
	run_loop(x);
	ok(x->nres == 2 && x->codes[0] == RC_DB && x->codes[1] == RC_OK,
	   "bounds: the waiting one fails first (RC_DB), the running one succeeds");

	/* a server that never answers (backend stopped): the client deadline
	 * drops the connection; the pool reconnects and works again */
	rc = one(p, x, "SELECT pg_backend_pid()");
	pid = rc == RC_OK ? atoi(x->text) : 0;
	ok(pid > 0, "bounds: backend pid %d", pid);
	if (pid > 0 && kill(pid, SIGSTOP) == 0) {
		t0 = now_s();
		rc = one(p, x, "SELECT 1");
		took = now_s() - t0;
		kill(pid, SIGCONT);
		is_int(rc, RC_DB, "bounds: stalled server gives RC_DB");
		ok(took >= 0.7 && took < 2.4, "bounds: after the client deadline (%.2f s)", took);
	} else {
		ok(false, "bounds: SIGSTOP the backend");
	}
	t0 = now_s();
	do
		rc = one(p, x, "SELECT 3");
	while (rc != RC_OK && now_s() - t0 < 5);
	is_int(rc, RC_OK, "bounds: pool works again after the reconnect");
	store_db_pool_free(p);
}

static void on_show(void *arg, const struct store_result *r)
{
	char *out = arg;

	if (r->rc == 0 && r->nrows == 1)
		snprintf(out, 64, "%s", store_val(r, 0, 0));
}

/* store_db_connect_bounded: the timeout reaches the session, on top of
 * the conninfo's own options; an unreachable server fails in bounded time. */
static void test_connect_bounded(const char *conninfo)
{
	struct store_conn *c = NULL;
	char v[64] = "", ci[640];
	double t0;
	int rc;

	ok(store_db_connect_bounded(conninfo, 5, 1234, &c) == RC_OK && c, "bounded: connects");
	ok(c &&
		   store_db_exec(c, "SHOW statement_timeout", 0, NULL, NULL, NULL, false, on_show,
				 v) == 0 &&
		   strcmp(v, "1234ms") == 0,
	   "bounded: statement_timeout is the one asked for (%s)", v);
	store_db_close(c);
	c = NULL;
	snprintf(ci, sizeof(ci), "%s options='-c application_name=boundtest'", conninfo);
	v[0] = '\0';
	ok(store_db_connect_bounded(ci, 5, 4321, &c) == RC_OK && c &&
		   store_db_exec(c,
				 "SELECT current_setting('application_name') || ' ' || "
				 "current_setting('statement_timeout')",
				 0, NULL, NULL, NULL, false, on_show, v) == 0 &&
		   strcmp(v, "boundtest 4321ms") == 0,
	   "bounded: the conninfo's own options are kept (%s)", v);
	store_db_close(c);
	c = NULL;
	/* 192.0.2.1 (TEST-NET-1) never answers: connect_timeout ends it */
	t0 = now_s();
	rc = store_db_connect_bounded("host=192.0.2.1 port=5432 dbname=x", 2, 1000, &c);
	ok(rc == RC_DB && !c && now_s() - t0 < 5,
	   "bounded: an unreachable server fails within connect_timeout (%.1f s)", now_s() - t0);
	ok(store_db_connect_bounded("host='unterminated", 2, 1000, &c) == RC_DB && !c,
	   "bounded: a conninfo that does not parse is RC_DB");
}

int main(void)
{
	struct ctx x = { 0 };
	struct fixture f;
	struct store_pool *p;

	if (!fixture_start(&f, true))
		return 1;

	x.base = event_base_new();
	p = store_db_pool_new(x.base, f.conninfo, 4, NULL);
	ok(p != NULL, "pool: new");
	if (p && x.base) {
		test_many(p, &x);
		test_values_errors(p, &x, f.c);
		test_broken(p, &x, f.c);
		store_db_pool_free(p);
		test_bounds(&x, f.conninfo);
		test_connect_bounded(f.conninfo);
		test_cancel_and_down(&x);
	}
	if (x.base)
		event_base_free(x.base);
	fixture_stop(&f);
	return tap_done();
}
