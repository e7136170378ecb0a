/*
 * store/db.c - the asynchronous connection pool (see db.h).
 *
 * Each connection runs one statement at a time: a statement seen for the
 * first time on a connection is prepared (PQsendPrepare) and then executed
 * (PQsendQueryPrepared); later uses execute the cached name. Callbacks are
 * only ever called from the loop (never from inside store_db_query), and a
 * callback may submit queries or free the pool: `depth` counts callbacks
 * on the stack and the pool is destroyed when the outermost one returns.
 * Functions that can run callbacks return false once the pool is gone;
 * their callers then return without touching anything.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/metrics.h"
#include "store/db_pool.h"

#define POOL_MAX_CONN	   64
#define STMT_MAX	   256 /* beyond: unnamed statements, no cache growth */
#define CONNECT_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS	   100
/* issue 11: back within 1 s of the database returning */
#define BACKOFF_MAX_MS	   1000
#define WAIT_MS_DEFAULT	   10000
#define MAX_QUEUED_DEFAULT 10000
#define TICK_MAX_MS	   250
/* while the database stays down, one warning per connection this often */
#define WARN_EVERY_MS 30000

enum cstate { C_DOWN, C_CONNECTING, C_UP };
enum phase { PH_PREP, PH_EXEC };

struct pconn {
	struct store_pool *pool;
	int idx;
	enum cstate st;
	PGconn *pg;
	int fd;
	struct event *ev_rd, *ev_wr, *timer, *kick;
	struct event *deadline; /* client bound on the statement in flight */
	struct query *head, *tail, *cur;
	size_t qlen;
	enum phase phase;
	PGresult *res;
	char prep_name[16];
	int backoff_ms;
	uint64_t warned_ms; /* last connect-failure warning */
	struct stmt_cache stmts;
	unsigned next_id;
};

struct store_pool {
	struct event_base *base;
	char **kw, **kv; /* PQconnectStartParams keywords/values, NULL-ended */
	int n, nup;
	struct pconn *c;
	struct event *tick;
	int wait_ms, max_queued;
	int stmt_ms;	 /* statement_timeout; 0: none */
	int deadline_ms; /* client bound per statement; 0: none */
	size_t queued;
	uint64_t down_since;
	int depth;
	bool dying;
	struct metrics *metrics; /* borrowed; NULL: none */
};

static bool conn_fail(struct pconn *c, const char *why);
static bool conn_send_next(struct pconn *c);
static void conn_start(struct pconn *c);
static void pool_destroy(struct store_pool *p);
static struct pconn *pool_pick(struct store_pool *p);

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A statement's round trip for the metrics: from sending it (or, never
 * sent, from queueing it) to its result. A pool closing is not a failure
 * of the database. */
static void record(struct store_pool *p, const struct query *q, int rc)
{
	uint64_t from = q->sent_us ? q->sent_us : q->enq_ms * 1000u, now = now_us();

	if (!p->metrics || rc == RC_CANCELLED)
		return;
	metrics_db(p->metrics, now > from ? (double)(now - from) / 1e6 : 0, rc == RC_OK);
}

static void queue_push(struct pconn *c, struct query *q)
{
	q->next = NULL;
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	c->qlen++;
	c->pool->queued++;
}

static struct query *queue_pop(struct pconn *c)
{
	struct query *q = c->head;

	if (!q)
		return NULL;
	c->head = q->next;
	if (!c->head)
		c->tail = NULL;
	c->qlen--;
	c->pool->queued--;
	return q;
}

/* Run q's callback and free q. False: the pool was freed meanwhile. */
static bool deliver(struct store_pool *p, struct query *q, const struct store_result *r)
{
	record(p, q, r->rc);
	p->depth++;
	q->cb(q->arg, r);
	p->depth--;
	free(q);
	if (!p->dying)
		return true;
	if (p->depth == 0)
		pool_destroy(p);
	return false;
}

static bool deliver_fail(struct store_pool *p, struct query *q, int rc, const char *msg)
{
	struct store_result r;

	store_res_fail(&r, rc, msg);
	return deliver(p, q, &r);
}

/* Deliver a query's final PGresult (owned; NULL means "no result"). */
static bool deliver_pg(struct pconn *c, struct query *q, PGresult *res)
{
	struct store_result r;
	struct store_res_buf buf;
	bool alive;

	store_res_fill(c->pg, res, &r, &buf);
	if (r.rc != RC_OK)
		log_debug(NULL, "store: statement failed on conn %d, sqlstate %s", c->idx,
			  r.sqlstate[0] ? r.sqlstate : "-");
	alive = deliver(c->pool, q, &r);
	store_res_buf_free(&buf);
	PQclear(res);
	return alive;
}

/* libevent's event_free() does not accept NULL. */
static void ev_free(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
}

static void conn_close(struct pconn *c)
{
	struct store_pool *p = c->pool;

	ev_free(&c->ev_rd);
	ev_free(&c->ev_wr);
	c->fd = -1;
	evtimer_del(c->timer);
	evtimer_del(c->deadline);
	if (c->pg)
		PQfinish(c->pg);
	c->pg = NULL;
	PQclear(c->res);
	c->res = NULL;
	stmt_cache_clear(&c->stmts);
	if (c->st == C_UP && --p->nup == 0)
		p->down_since = now_ms();
	c->st = C_DOWN;
}

static void conn_schedule(struct pconn *c)
{
	struct timeval tv = { c->backoff_ms / 1000, (c->backoff_ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* Watch the socket; libpq may change it during connection set-up. */
static bool conn_watch(struct pconn *c, bool rd, bool wr);

static bool conn_flush(struct pconn *c)
{
	int r = PQflush(c->pg);

	if (r < 0)
		return conn_fail(c, PQerrorMessage(c->pg));
	if (r == 1)
		event_add(c->ev_wr, NULL);
	else
		event_del(c->ev_wr);
	return true;
}

static int send_exec(struct pconn *c, struct query *q, const char *name)
{
	if (name)
		return PQsendQueryPrepared(c->pg, name, q->n, q->values, q->lens, q->formats,
					   q->binary);
	return PQsendQueryParams(c->pg, q->sql, q->n, NULL, q->values, q->lens, q->formats,
				 q->binary);
}

static bool conn_send_next(struct pconn *c)
{
	struct stmt *s;
	int ok;

	if (c->st != C_UP || c->cur || !c->head)
		return true;
	c->cur = queue_pop(c);
	c->cur->sent_us = now_us();
	if (c->pool->deadline_ms > 0) {
		struct timeval tv = { c->pool->deadline_ms / 1000,
				      (c->pool->deadline_ms % 1000) * 1000 };

		evtimer_add(c->deadline, &tv);
	}
	s = stmt_cache_find(&c->stmts, c->cur->sql);
	if (s || c->stmts.n >= STMT_MAX) {
		c->phase = PH_EXEC;
		ok = send_exec(c, c->cur, s ? s->name : NULL);
	} else {
		c->phase = PH_PREP;
		snprintf(c->prep_name, sizeof(c->prep_name), "cmpgw_%u", ++c->next_id);
		ok = PQsendPrepare(c->pg, c->prep_name, c->cur->sql, c->cur->n, NULL);
	}
	if (!ok)
		return conn_fail(c, PQerrorMessage(c->pg));
	return conn_flush(c);
}

static bool res_good(PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Collect results; each completed statement is delivered in order. */
static bool conn_drain(struct pconn *c)
{
	while (c->st == C_UP && c->cur && !PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		struct query *q;

		if (r) { /* keep the first error, else the last result */
			if (!c->res || res_good(c->res)) {
				PQclear(c->res);
				c->res = r;
			} else {
				PQclear(r);
			}
			continue;
		}
		if (c->phase == PH_PREP && c->res && res_good(c->res)) {
			PQclear(c->res);
			c->res = NULL;
			stmt_cache_add(&c->stmts, c->cur->sql, c->prep_name);
			c->phase = PH_EXEC;
			if (!send_exec(c, c->cur, c->prep_name))
				return conn_fail(c, PQerrorMessage(c->pg));
			if (!conn_flush(c))
				return false;
			continue;
		}
		q = c->cur;
		r = c->res;
		c->cur = NULL;
		c->res = NULL;
		evtimer_del(c->deadline);
		if (!deliver_pg(c, q, r) || !conn_send_next(c))
			return false;
	}
	if (c->st == C_UP && PQstatus(c->pg) == CONNECTION_BAD)
		return conn_fail(c, PQerrorMessage(c->pg));
	return true;
}

/* Take over queries waiting on connections that are not up. */
static void conn_adopt(struct pconn *c)
{
	struct store_pool *p = c->pool;

	for (int i = 0; i < p->n; i++) {
		struct pconn *o = &p->c[i];
		struct query *q;

		if (o == c || o->st == C_UP)
			continue;
		while ((q = queue_pop(o)))
			queue_push(c, q);
	}
}

static void conn_up(struct pconn *c)
{
	struct store_pool *p = c->pool;

	if (PQsetnonblocking(c->pg, 1) != 0) {
		log_warn(NULL, "store: conn %d: cannot set non-blocking", c->idx);
		conn_close(c);
		conn_schedule(c);
		return;
	}
	evtimer_del(c->timer);
	PQsetNoticeProcessor(c->pg, store_notice_quiet, NULL);
	c->st = C_UP;
	c->backoff_ms = BACKOFF_MIN_MS;
	p->nup++;
	log_debug(NULL, "store: conn %d up", c->idx);
	if (!conn_watch(c, true, false))
		return;
	conn_adopt(c);
	(void)conn_send_next(c);
}

/* One line per failed attempt; repeats of a down server at debug level. */
static void conn_log_failed(struct pconn *c)
{
	char msg[256];
	uint64_t now = now_ms();

	store_msg_line(msg, sizeof(msg), c->pg ? PQerrorMessage(c->pg) : "out of memory");
	if (c->backoff_ms <= BACKOFF_MIN_MS || now - c->warned_ms >= WARN_EVERY_MS) {
		c->warned_ms = now;
		log_warn(NULL, "store: conn %d: connect failed: %s", c->idx, msg);
	} else {
		log_debug(NULL, "store: conn %d: connect failed: %s", c->idx, msg);
	}
}

static void conn_poll(struct pconn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		(void)conn_watch(c, true, false);
		break;
	case PGRES_POLLING_WRITING:
		(void)conn_watch(c, false, true);
		break;
	case PGRES_POLLING_OK:
		conn_up(c);
		break;
	default:
		conn_log_failed(c);
		conn_close(c);
		conn_schedule(c);
		break;
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;

	(void)fd;
	(void)what;
	if (c->st == C_CONNECTING) {
		conn_poll(c);
		return;
	}
	if (!PQconsumeInput(c->pg)) {
		(void)conn_fail(c, PQerrorMessage(c->pg));
		return;
	}
	(void)conn_drain(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;

	(void)fd;
	(void)what;
	if (c->st == C_CONNECTING)
		conn_poll(c);
	else
		(void)conn_flush(c);
}

static bool conn_watch(struct pconn *c, bool rd, bool wr)
{
	struct event_base *base = c->pool->base;
	int fd = PQsocket(c->pg);

	if (fd != c->fd || !c->ev_rd) {
		ev_free(&c->ev_rd);
		ev_free(&c->ev_wr);
		c->ev_rd = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
		c->ev_wr = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
		c->fd = fd;
		if (!c->ev_rd || !c->ev_wr)
			return conn_fail(c, "out of memory for events");
	}
	if (rd ? event_add(c->ev_rd, NULL) : event_del(c->ev_rd))
		return conn_fail(c, "event_add failed");
	if (wr ? event_add(c->ev_wr, NULL) : event_del(c->ev_wr))
		return conn_fail(c, "event_add failed");
	return true;
}

/*
 * The connection broke: reconnect later, fail what was sent or queued
 * (only the queries present now: callbacks may queue new ones).
 */
static bool conn_fail(struct pconn *c, const char *why)
{
	char msg[256];
	struct query *q = c->cur;
	size_t k = c->qlen;

	store_msg_line(msg, sizeof(msg), why && *why ? why : "connection lost");
	log_warn(NULL, "store: conn %d lost: %s", c->idx, msg);
	c->cur = NULL;
	conn_close(c);
	conn_schedule(c);
	if (q && !deliver_fail(c->pool, q, RC_DB, "database connection lost"))
		return false;
	while (k-- > 0 && c->head)
		if (!deliver_fail(c->pool, queue_pop(c), RC_DB, "database connection lost"))
			return false;
	return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;

	(void)fd;
	(void)what;
	if (c->st == C_CONNECTING) {
		log_warn(NULL, "store: conn %d: connect timed out", c->idx);
		conn_close(c);
		conn_schedule(c);
	} else if (c->st == C_DOWN) {
		conn_start(c);
	}
}

/* Give c's waiting queries to the least loaded connection that is up. */
static void conn_hand_off(struct pconn *c)
{
	struct pconn *to = pool_pick(c->pool);
	struct query *q;

	if (to == c || to->st != C_UP)
		return; /* c keeps them: adopted when a connection comes up */
	while ((q = queue_pop(c)))
		queue_push(to, q);
	if (!to->cur)
		event_active(to->kick, 0, 0);
}

/*
 * The statement in flight got no answer within the client bound, a little
 * above the server's statement_timeout: the server or the network is
 * stalled. libpq 15 has no non-blocking cancel (PQcancel blocks), so drop
 * the connection and reconnect at once; the statement fails with RC_DB.
 */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct pconn *c = arg;
	struct query *q = c->cur;

	(void)fd;
	(void)what;
	if (c->st != C_UP || !q)
		return;
	log_warn(NULL, "store: conn %d: no answer within %d ms; reconnecting", c->idx,
		 c->pool->deadline_ms);
	c->cur = NULL;
	conn_close(c);
	c->backoff_ms = BACKOFF_MIN_MS;
	conn_schedule(c);
	conn_hand_off(c);
	(void)deliver_fail(c->pool, q, RC_DB, "database statement timed out");
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)conn_send_next(arg);
}

static void conn_start(struct pconn *c)
{
	struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, 0 };

	c->pg = PQconnectStartParams((const char *const *)c->pool->kw,
				     (const char *const *)c->pool->kv, 0);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_log_failed(c);
		conn_close(c);
		conn_schedule(c);
		return;
	}
	c->st = C_CONNECTING;
	evtimer_add(c->timer, &tv);
	/* libpq: after PQconnectStart, behave as if polling said WRITING */
	(void)conn_watch(c, false, true);
}

/*
 * Fail queries that waited too long in a queue: no connection came up, or
 * their connection stayed busy (statements ahead of them slow or stalled).
 * A queue is FIFO, so its head is its oldest.
 */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct store_pool *p = arg;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	for (int i = 0; i < p->n; i++) {
		struct pconn *c = &p->c[i];
		const char *why = c->st == C_UP ? "database busy" : "no database connection";

		while (c->head && now - c->head->enq_ms >= (uint64_t)p->wait_ms)
			if (!deliver_fail(p, queue_pop(c), RC_DB, why))
				return;
	}
}

/* Check queues often enough that a wait ends within a quarter of wait_ms
 * (at most TICK_MAX_MS late). */
static int pool_tick_arm(struct store_pool *p)
{
	int ms = p->wait_ms / 4;
	struct timeval tv;

	ms = ms < 10 ? 10 : ms > TICK_MAX_MS ? TICK_MAX_MS : ms;
	tv.tv_sec = 0;
	tv.tv_usec = ms * 1000;
	return event_add(p->tick, &tv);
}

/* Bound on one statement as the client sees it: the server's timeout plus
 * a margin for the network and a PREPARE ahead of it. */
static int deadline_of(int stmt_ms)
{
	int margin = stmt_ms / 4;

	if (stmt_ms <= 0)
		return 0;
	margin = margin < 250 ? 250 : margin > 2000 ? 2000 : margin;
	return stmt_ms + margin;
}

static void params_free(struct store_pool *p)
{
	for (size_t i = 0; p->kw && p->kw[i]; i++) {
		free(p->kw[i]);
		free(p->kv[i]);
	}
	free(p->kw);
	free(p->kv);
	p->kw = p->kv = NULL;
}

/*
 * Keywords/values for PQconnectStartParams: those given in conninfo, with
 * "-c statement_timeout=N" appended to its options so every session has
 * the timeout from its first statement at no extra round trip.
 */
static int params_build(struct store_pool *p, const PQconninfoOption *opts)
{
	size_t n = 1, i = 0;

	for (const PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	p->kw = calloc(n + 1, sizeof(*p->kw));
	p->kv = calloc(n + 1, sizeof(*p->kv));
	if (!p->kw || !p->kv)
		return RC_NOMEM;
	for (const PQconninfoOption *o = opts; o->keyword; o++) {
		bool is_opt = strcmp(o->keyword, "options") == 0;
		char *val = NULL;

		if (is_opt && p->stmt_ms > 0) {
			const char *old = o->val ? o->val : "";
			size_t len = strlen(old) + 48;

			if ((val = malloc(len)))
				snprintf(val, len, "%s%s-c statement_timeout=%d", old,
					 *old ? " " : "", p->stmt_ms);
		} else if (o->val) {
			val = strdup(o->val);
		} else {
			continue;
		}
		if (!val)
			return RC_NOMEM;
		if (!(p->kw[i] = strdup(o->keyword))) {
			free(val);
			return RC_NOMEM;
		}
		p->kv[i++] = val;
	}
	return RC_OK;
}

struct store_pool *store_db_pool_new(struct event_base *base, const char *conninfo, int nconn,
				     const struct store_pool_limits *lim)
{
	struct store_pool *p = NULL;
	PQconninfoOption *opts;
	char *err = NULL;

	if (!base || !conninfo || nconn < 1 || nconn > POOL_MAX_CONN)
		return NULL;
	opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		log_error(NULL, "store: bad conninfo: %s", err ? err : "out of memory");
		PQfreemem(err);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto err;
	p->stmt_ms = lim && lim->stmt_timeout_ms > 0 ? lim->stmt_timeout_ms : 0;
	p->deadline_ms = deadline_of(p->stmt_ms);
	if (!(p->c = calloc((size_t)nconn, sizeof(*p->c))) || params_build(p, opts) != RC_OK)
		goto err;
	PQconninfoFree(opts);
	opts = NULL;
	p->base = base;
	p->n = nconn;
	p->wait_ms = lim && lim->wait_ms > 0 ? lim->wait_ms : WAIT_MS_DEFAULT;
	p->max_queued = lim && lim->max_queued > 0 ? lim->max_queued : MAX_QUEUED_DEFAULT;
	p->down_since = now_ms();
	for (int i = 0; i < nconn; i++) {
		struct pconn *c = &p->c[i];

		c->pool = p;
		c->idx = i;
		c->fd = -1;
		c->backoff_ms = BACKOFF_MIN_MS;
		c->timer = evtimer_new(base, on_timer, c);
		c->kick = event_new(base, -1, 0, on_kick, c);
		c->deadline = evtimer_new(base, on_deadline, c);
		if (!c->timer || !c->kick || !c->deadline)
			goto err;
	}
	p->tick = event_new(base, -1, EV_PERSIST, on_tick, p);
	if (!p->tick || pool_tick_arm(p))
		goto err;
	for (int i = 0; i < nconn; i++)
		conn_start(&p->c[i]);
	return p;
err:
	PQconninfoFree(opts);
	if (p)
		pool_destroy(p);
	return NULL;
}

static void pool_destroy(struct store_pool *p)
{
	for (int i = 0; p->c && i < p->n; i++) {
		struct pconn *c = &p->c[i];

		if (c->timer && c->deadline)
			conn_close(c);
		ev_free(&c->timer);
		ev_free(&c->kick);
		ev_free(&c->deadline);
	}
	ev_free(&p->tick);
	free(p->c);
	params_free(p);
	free(p);
}

void store_db_pool_free(struct store_pool *p)
{
	if (!p || p->dying)
		return;
	p->dying = true;
	p->depth++;
	for (int i = 0; i < p->n; i++) {
		struct pconn *c = &p->c[i];
		struct query *q = c->cur;

		c->cur = NULL;
		if (q)
			(void)deliver_fail(p, q, RC_CANCELLED, "pool closed");
		while ((q = queue_pop(c)))
			(void)deliver_fail(p, q, RC_CANCELLED, "pool closed");
	}
	if (--p->depth == 0)
		pool_destroy(p);
}

void store_db_pool_set_limits(struct store_pool *p, int wait_ms, int max_queued)
{
	if (wait_ms > 0 && wait_ms != p->wait_ms) {
		p->wait_ms = wait_ms;
		if (pool_tick_arm(p))
			log_warn(NULL, "store: cannot re-arm the queue timer");
	}
	if (max_queued > 0)
		p->max_queued = max_queued;
}

int store_db_pool_nup(const struct store_pool *p)
{
	return p ? p->nup : 0;
}

void store_db_pool_state(const struct store_pool *p, int *idle, int *busy, int *down)
{
	*idle = *busy = *down = 0;
	for (int i = 0; p && i < p->n; i++) {
		const struct pconn *c = &p->c[i];

		if (c->st != C_UP)
			(*down)++;
		else if (c->cur)
			(*busy)++;
		else
			(*idle)++;
	}
}

void store_db_pool_set_metrics(struct store_pool *p, struct metrics *m)
{
	if (p)
		p->metrics = m;
}

/* The up connection with the shortest queue; else the shortest queue. */
static struct pconn *pool_pick(struct store_pool *p)
{
	struct pconn *best = NULL;
	size_t best_load = 0;

	for (int i = 0; i < p->n; i++) {
		struct pconn *c = &p->c[i];
		size_t load = c->qlen + (c->cur ? 1 : 0);

		if (!best || (c->st == C_UP && best->st != C_UP) ||
		    ((c->st == C_UP) == (best->st == C_UP) && load < best_load)) {
			best = c;
			best_load = load;
		}
	}
	return best;
}

int store_db_query(struct store_pool *pool, const char *sql, int n, const char *const *values,
		   const int *lens, const int *formats, bool binary_result, store_cb cb, void *arg)
{
	struct pconn *c;
	struct query *q;

	if (!pool || !sql || !cb || n < 0 || n > 65535 || (n > 0 && !values))
		return RC_INVAL;
	for (int i = 0; formats && i < n; i++)
		if (formats[i] && values[i] && (!lens || lens[i] < 0))
			return RC_INVAL;
	if (pool->dying)
		return RC_CANCELLED;
	c = pool_pick(pool);
	if (c->st != C_UP && (pool->queued >= (size_t)pool->max_queued ||
			      now_ms() - pool->down_since >= (uint64_t)pool->wait_ms)) {
		metrics_db(pool->metrics, 0, false); /* a statement that failed: no connection */
		return RC_DB;			     /* fail fast: no database for a while */
	}
	q = query_new(sql, n, values, lens, formats, binary_result);
	if (!q)
		return RC_NOMEM;
	q->cb = cb;
	q->arg = arg;
	q->enq_ms = now_ms();
	queue_push(c, q);
	if (c->st == C_UP && !c->cur)
		event_active(c->kick, 0, 0);
	return RC_OK;
}
