/*
 * store/listen.c - a dedicated LISTEN connection (see listen.h).
 *
 * States: DOWN (waiting for the back-off timer), CONNECTING (PQconnectPoll
 * driven by socket events, bounded by CONNECT_TIMEOUT_MS), SUBSCRIBING
 * (LISTEN sent, waiting for its result), UP (reading notifications; a ping
 * in flight when `pinging`). One timer serves the back-off, the connect
 * bound and the ping schedule, by state.
 */
#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "store/db_int.h"
#include "store/listen.h"

#define CONNECT_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS	   100
#define BACKOFF_MAX_MS	   1000
#define PING_EVERY_MS	   30000
#define PING_TIMEOUT_MS	   10000
#define WARN_EVERY_MS	   30000

enum lstate { L_DOWN, L_CONNECTING, L_SUBSCRIBING, L_UP };

struct store_listen {
	struct event_base *base;
	char *conninfo, *channel;
	store_listen_cb cb;
	void *arg;
	enum lstate st;
	PGconn *pg;
	int fd;
	struct event *ev_rd, *ev_wr, *timer;
	int backoff_ms;
	bool pinging;
	bool was_up;	    /* for the log: first subscription or a re-subscription */
	uint64_t warned_ms; /* last connect-failure warning */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ev_free(struct event **ev)
{
	if (*ev)
		event_free(*ev);
	*ev = NULL;
}

static void timer_ms(struct store_listen *l, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(l->timer, &tv);
}

static void lis_close(struct store_listen *l)
{
	ev_free(&l->ev_rd);
	ev_free(&l->ev_wr);
	l->fd = -1;
	evtimer_del(l->timer);
	if (l->pg)
		PQfinish(l->pg);
	l->pg = NULL;
	l->pinging = false;
	l->st = L_DOWN;
}

/* Close and try again after the back-off. */
static void lis_retry(struct store_listen *l)
{
	lis_close(l);
	timer_ms(l, l->backoff_ms);
	l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

static void lis_lost(struct store_listen *l, const char *why)
{
	char msg[256];

	store_msg_line(msg, sizeof(msg), why && *why ? why : "connection lost");
	log_warn(NULL, "store: listen %s: connection lost: %s", l->channel, msg);
	lis_retry(l);
}

/* One warning per failed attempt while it is new; repeats at debug level. */
static void lis_connect_failed(struct store_listen *l)
{
	char msg[256];
	uint64_t now = now_ms();

	store_msg_line(msg, sizeof(msg), l->pg ? PQerrorMessage(l->pg) : "out of memory");
	if (l->backoff_ms <= BACKOFF_MIN_MS || now - l->warned_ms >= WARN_EVERY_MS) {
		l->warned_ms = now;
		log_warn(NULL, "store: listen %s: connect failed: %s", l->channel, msg);
	} else {
		log_debug(NULL, "store: listen %s: connect failed: %s", l->channel, msg);
	}
	lis_retry(l);
}

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

/* Watch the socket; libpq may change it during connection set-up. False:
 * the connection was given up (retry scheduled). */
static bool lis_watch(struct store_listen *l, bool rd, bool wr)
{
	int fd = PQsocket(l->pg);

	if (fd != l->fd || !l->ev_rd) {
		ev_free(&l->ev_rd);
		ev_free(&l->ev_wr);
		l->ev_rd = event_new(l->base, fd, EV_READ | EV_PERSIST, on_read, l);
		l->ev_wr = event_new(l->base, fd, EV_WRITE | EV_PERSIST, on_write, l);
		l->fd = fd;
		if (!l->ev_rd || !l->ev_wr) {
			lis_lost(l, "out of memory for events");
			return false;
		}
	}
	if ((rd ? event_add(l->ev_rd, NULL) : event_del(l->ev_rd)) ||
	    (wr ? event_add(l->ev_wr, NULL) : event_del(l->ev_wr))) {
		lis_lost(l, "event_add failed");
		return false;
	}
	return true;
}

/* Send what libpq buffered; watch for writability while some is left. */
static bool lis_flush(struct store_listen *l)
{
	int r = PQflush(l->pg);

	if (r < 0) {
		lis_lost(l, PQerrorMessage(l->pg));
		return false;
	}
	return lis_watch(l, true, r == 1);
}

static bool lis_send(struct store_listen *l, const char *sql)
{
	if (!PQsendQuery(l->pg, sql)) {
		lis_lost(l, PQerrorMessage(l->pg));
		return false;
	}
	return lis_flush(l);
}

/* Connected: subscribe. */
static void lis_subscribe(struct store_listen *l)
{
	char *ident = NULL;
	char *sql = NULL;
	size_t len;

	if (PQsetnonblocking(l->pg, 1) != 0) {
		lis_lost(l, "cannot set non-blocking");
		return;
	}
	PQsetNoticeProcessor(l->pg, store_notice_quiet, NULL);
	ident = PQescapeIdentifier(l->pg, l->channel, strlen(l->channel));
	len = ident ? strlen(ident) + sizeof("LISTEN ") : 0;
	if (!ident || !(sql = malloc(len))) {
		PQfreemem(ident);
		lis_lost(l, "out of memory");
		return;
	}
	snprintf(sql, len, "LISTEN %s", ident);
	PQfreemem(ident);
	l->st = L_SUBSCRIBING;
	timer_ms(l, PING_TIMEOUT_MS); /* bound on the LISTEN's answer */
	(void)lis_send(l, sql);
	free(sql);
}

static void lis_poll(struct store_listen *l)
{
	switch (PQconnectPoll(l->pg)) {
	case PGRES_POLLING_READING:
		(void)lis_watch(l, true, false);
		break;
	case PGRES_POLLING_WRITING:
		(void)lis_watch(l, false, true);
		break;
	case PGRES_POLLING_OK:
		lis_subscribe(l);
		break;
	default:
		lis_connect_failed(l);
		break;
	}
}

/*
 * Collect the results of the statement in flight (LISTEN or a ping). True
 * when none is in flight any more and the connection is still good; false
 * when more input is needed or the connection was given up (l->pg NULL).
 */
static bool lis_results(struct store_listen *l)
{
	while (!PQisBusy(l->pg)) {
		PGresult *r = PQgetResult(l->pg);
		ExecStatusType st;

		if (!r)
			return true;
		st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			char msg[256];

			store_msg_line(msg, sizeof(msg), PQresultErrorMessage(r));
			PQclear(r);
			lis_lost(l, msg);
			return false;
		}
		PQclear(r);
	}
	return false;
}

static void lis_up(struct store_listen *l)
{
	l->st = L_UP;
	l->backoff_ms = BACKOFF_MIN_MS;
	if (l->was_up)
		log_info(NULL, "store: listen %s: re-established", l->channel);
	else
		log_debug(NULL, "store: listen %s: listening", l->channel);
	l->was_up = true;
	timer_ms(l, PING_EVERY_MS);
	l->cb(l->arg); /* changes made while not listening were not announced */
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct store_listen *l = arg;
	bool any = false;
	PGnotify *n;

	(void)fd;
	(void)what;
	if (l->st == L_CONNECTING) {
		lis_poll(l);
		return;
	}
	if (!PQconsumeInput(l->pg)) {
		lis_lost(l, PQerrorMessage(l->pg));
		return;
	}
	while ((n = PQnotifies(l->pg))) {
		any = true;
		PQfreemem(n);
	}
	if (l->st == L_SUBSCRIBING || l->pinging) {
		if (!lis_results(l)) {
			if (!l->pg)
				return; /* given up; notifications before it are moot */
		} else if (l->st == L_SUBSCRIBING) {
			while ((n = PQnotifies(l->pg)))
				PQfreemem(n);
			lis_up(l); /* calls cb: covers any notification read with it */
			return;
		} else {
			l->pinging = false;
			timer_ms(l, PING_EVERY_MS);
		}
	}
	if (PQstatus(l->pg) == CONNECTION_BAD) {
		lis_lost(l, PQerrorMessage(l->pg));
		return;
	}
	if (any && l->st == L_UP)
		l->cb(l->arg);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct store_listen *l = arg;

	(void)fd;
	(void)what;
	if (l->st == L_CONNECTING)
		lis_poll(l);
	else
		(void)lis_flush(l);
}

static void lis_start(struct store_listen *l)
{
	l->pg = PQconnectStart(l->conninfo);
	if (!l->pg || PQstatus(l->pg) == CONNECTION_BAD) {
		lis_connect_failed(l);
		return;
	}
	l->st = L_CONNECTING;
	timer_ms(l, CONNECT_TIMEOUT_MS);
	/* libpq: after PQconnectStart, behave as if polling said WRITING */
	(void)lis_watch(l, false, true);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct store_listen *l = arg;

	(void)fd;
	(void)what;
	switch (l->st) {
	case L_DOWN:
		lis_start(l);
		break;
	case L_CONNECTING:
		log_warn(NULL, "store: listen %s: connect timed out", l->channel);
		lis_retry(l);
		break;
	case L_SUBSCRIBING:
		lis_lost(l, "no answer to LISTEN");
		break;
	case L_UP:
		if (l->pinging) {
			lis_lost(l, "no answer to a ping");
		} else if (lis_send(l, "SELECT 1")) {
			l->pinging = true;
			timer_ms(l, PING_TIMEOUT_MS);
		}
		break;
	}
}

struct store_listen *store_listen_new(struct event_base *base, const char *conninfo,
				      const char *channel, store_listen_cb cb, void *arg)
{
	struct store_listen *l = NULL;
	PQconninfoOption *opts;
	char *err = NULL;

	if (!base || !conninfo || !channel || !*channel || !cb)
		return NULL;
	opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		log_error(NULL, "store: listen: bad conninfo: %s", err ? err : "out of memory");
		PQfreemem(err);
		return NULL;
	}
	PQconninfoFree(opts);
	if (!(l = calloc(1, sizeof(*l))))
		return NULL;
	l->base = base;
	l->cb = cb;
	l->arg = arg;
	l->fd = -1;
	l->backoff_ms = BACKOFF_MIN_MS;
	l->conninfo = strdup(conninfo);
	l->channel = strdup(channel);
	l->timer = evtimer_new(base, on_timer, l);
	if (!l->conninfo || !l->channel || !l->timer) {
		store_listen_free(l);
		return NULL;
	}
	lis_start(l);
	return l;
}

void store_listen_free(struct store_listen *l)
{
	if (!l)
		return;
	if (l->timer)
		lis_close(l);
	ev_free(&l->timer);
	free(l->conninfo);
	free(l->channel);
	free(l);
}
