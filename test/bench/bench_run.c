/*
 * test/bench/bench_run.c - the non-blocking load driver: one libevent loop,
 * o->conc slots, each a simulated device running one transaction at a time
 * over libevent's HTTP client (RFC 6712 / RFC 9811 3: POST
 * application/pkixcmp).
 */
#include "test/bench/bench_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cmp/asn1.h"
#include "test/bench/bench_pace.h"

enum step { ST_PREP, ST_REQ, ST_CONF };

struct run;

struct slot {
	struct run *run;
	int id, dev;
	enum step step;
	struct evhttp_connection *conn;
	struct bench_tx tx;
	EVP_PKEY *newkey;
	double t0; /* latency origin: start, or scheduled start in open loop */
	bool busy;
	int next_free; /* open loop: free list link, -1 ends it */
};

struct run {
	const struct bench_opts *o;
	struct bench_result *r;
	struct event_base *base;
	struct bench_trust *trust;
	struct slot *slots;
	struct event *tick;
	double start;
	long started;
	int busy;
	bool stopping;
	/* open loop */
	struct bench_pace pace;
	struct event *pacer;
	int free_head; /* first idle slot, -1: all conc in flight */
};

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_result_lat(struct bench_result *r, double ms)
{
	if (r->nlat == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		double *n = cap <= 50000000 ? realloc(r->lat_ms, cap * sizeof(*n)) : NULL;
		if (!n)
			return;
		r->lat_ms = n;
		r->cap = cap;
	}
	r->lat_ms[r->nlat++] = ms;
}

void bench_progress(const struct bench_result *r, double t)
{
	long fails = 0;
	for (int i = 1; i < BENCH_F_MAX; i++)
		fails += r->fail[i];
	fprintf(stderr, "\r[%6.1fs] ok %ld  failed %ld  %.0f/s   ", t, r->ok, fails,
		t > 0 ? (double)r->ok / t : 0.0);
}

static void slot_next(evutil_socket_t fd, short what, void *arg);
static void slot_idle(struct slot *s);

static void slot_send(struct slot *s);

/* Is the run over for new transactions? */
static bool run_done(struct run *run)
{
	const struct bench_opts *o = run->o;
	return run->stopping || (o->count > 0 && run->started >= o->count) ||
	       bench_now() - run->start >= o->duration_s;
}

/* The device now holds the certificate just issued (and its key); it
 * decodes it to use it. false: it could not. */
static bool take_opcert(struct slot *s, struct bench_dev *d)
{
	X509 *op = bench_tx_cert_get1(&s->tx);

	if (!op)
		return false;
	X509_free(d->op);
	EVP_PKEY_free(d->opkey);
	d->op = op;
	if (s->newkey == s->run->o->fixed_newkey)
		EVP_PKEY_up_ref(s->newkey);
	d->opkey = s->newkey;
	s->newkey = NULL;
	return true;
}

/* End the current transaction of s; schedule the next from a fresh stack. */
static void slot_end(struct slot *s, int fail)
{
	struct run *run = s->run;
	struct bench_dev *d = &run->o->devs[s->dev];

	if (fail == BENCH_OK && run->o->flow == BENCH_FLOW_KUR && !take_opcert(s, d))
		fail = BENCH_F_INTERNAL; /* the device could not install its certificate */
	if (fail == BENCH_OK) {
		run->r->ok++;
		bench_result_lat(run->r, (bench_now() - s->t0) * 1e3);
	} else {
		if (run->r->fail[fail]++ < 5 && s->tx.detail[0])
			fprintf(stderr, "cmpbench: %s: %s\n", bench_fail_name(fail), s->tx.detail);
	}

	bench_tx_clear(&s->tx);
	if (s->newkey != run->o->fixed_newkey)
		EVP_PKEY_free(s->newkey);
	s->newkey = NULL;
	s->busy = false;
	run->busy--;
	if (run->o->rate > 0)
		slot_idle(s);
	else
		event_base_once(run->base, -1, EV_TIMEOUT, slot_next, s, &(struct timeval){ 0, 0 });
}

static void on_answer(struct evhttp_request *req, void *arg)
{
	struct slot *s = arg;
	struct run *run = s->run;
	struct evbuffer *in;
	int want, fail;

	run->r->msgs++;
	if (!req || evhttp_request_get_response_code(req) != 200) {
		slot_end(s, BENCH_F_TRANSPORT);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	want = s->step == ST_CONF				     ? CMP_BODY_PKICONF
	       : run->o->flow == BENCH_FLOW_KUR && s->step == ST_REQ ? CMP_BODY_KUP
								     : CMP_BODY_IP;
	fail = bench_msg_check(run->trust, evbuffer_pullup(in, -1), evbuffer_get_length(in), &s->tx,
			       want, s->newkey);
	if (fail == BENCH_OK && s->step == ST_PREP) {
		/* untimed: the device got its operator certificate; now the kur */
		if (!take_opcert(s, &run->o->devs[s->dev])) {
			slot_end(s, BENCH_F_INTERNAL);
			return;
		}
		bench_tx_clear(&s->tx);
		run->r->prep++;
		s->newkey =
			run->o->fixed_newkey ? run->o->fixed_newkey : bench_msg_key_new(run->trust);
		s->step = ST_REQ;
		s->t0 = bench_now();
		if (!s->newkey)
			slot_end(s, BENCH_F_INTERNAL);
		else
			slot_send(s);
		return;
	}
	if (fail != BENCH_OK || s->step == ST_CONF || run->o->flow == BENCH_FLOW_IMPLICIT) {
		slot_end(s, fail);
		return;
	}
	s->step = ST_CONF;
	slot_send(s);
}

/* Build and POST the message for s->step. */
static void slot_send(struct slot *s)
{
	const struct bench_opts *o = s->run->o;
	struct bench_dev *d = &o->devs[s->dev];
	unsigned char *der = NULL;
	size_t len = 0;
	struct evhttp_request *req = NULL;
	bool kur = o->flow == BENCH_FLOW_KUR && s->step != ST_PREP;
	X509 *cert = kur ? d->op : d->cert;
	EVP_PKEY *key = kur ? d->opkey : d->key;
	int rc;

	if (s->step == ST_CONF)
		rc = bench_msg_certconf(cert, key, &s->tx, &der, &len);
	else
		rc = bench_msg_certreq(kur ? CMP_BODY_KUR : CMP_BODY_IR, cert, key,
				       kur ? NULL : o->chain, s->newkey,
				       s->step == ST_PREP || o->flow == BENCH_FLOW_IMPLICIT, &s->tx,
				       &der, &len);
	if (rc != 0 || !(req = evhttp_request_new(on_answer, s))) {
		OPENSSL_free(der);
		slot_end(s, BENCH_F_INTERNAL);
		return;
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", "127.0.0.1");
	evhttp_add_header(h, "Content-Type", "application/pkixcmp");
	evbuffer_add(evhttp_request_get_output_buffer(req), der, len);
	OPENSSL_free(der);
	if (evhttp_make_request(s->conn, req, EVHTTP_REQ_POST, o->path) != 0)
		slot_end(s, BENCH_F_TRANSPORT); /* libevent freed req */
}

/* Start a transaction on the idle slot s; origin is its latency origin. */
static void slot_start(struct slot *s, double origin)
{
	struct run *run = s->run;
	const struct bench_opts *o = run->o;

	if (!s->conn) {
		s->conn = evhttp_connection_base_new(run->base, NULL, "127.0.0.1",
						     (unsigned short)o->port);
		if (!s->conn) {
			run->stopping = true;
			if (run->busy == 0)
				event_base_loopbreak(run->base);
			return;
		}
		evhttp_connection_set_timeout(s->conn, (int)o->timeout_s);
	}
	/* slot i drives devices i, i + conc, ... < ndev, then i again: the
	 * slots' device sets are disjoint, so no device runs two transactions
	 * at once (a second kur would find its certificate superseded) */
	s->dev = s->dev < 0 || s->dev + o->conc >= o->ndev ? s->id : s->dev + o->conc;
	s->busy = true;
	run->busy++;
	run->started++;
	s->newkey = o->fixed_newkey ? o->fixed_newkey : bench_msg_key_new(run->trust);
	s->step = o->flow == BENCH_FLOW_KUR && !o->devs[s->dev].op ? ST_PREP : ST_REQ;
	s->t0 = origin;
	if (!s->newkey) {
		slot_end(s, BENCH_F_INTERNAL);
		return;
	}
	slot_send(s);
}

/* Closed loop: start the next transaction of s, or finish the run. */
static void slot_next(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;
	struct run *run = s->run;

	(void)fd, (void)what;
	if (s->conn && !run->o->keepalive) {
		evhttp_connection_free(s->conn); /* a real device reconnects */
		s->conn = NULL;
	}
	if (run_done(run)) {
		if (run->busy == 0)
			event_base_loopbreak(run->base);
		return;
	}
	slot_start(s, bench_now());
}

/* Open loop: s has finished; park it on the free list. */
static void slot_idle(struct slot *s)
{
	struct run *run = s->run;

	if (s->conn && !run->o->keepalive) {
		evhttp_connection_free(s->conn); /* a real device reconnects */
		s->conn = NULL;
	}
	s->next_free = run->free_head;
	run->free_head = s->id;
	/* once the schedule is over, the last answer ends the run */
	if (run->busy == 0 && (run->stopping || run->pace.handled >= run->pace.total))
		event_base_loopbreak(run->base);
}

/* Open loop: handle the starts that are due, then wait for the next one. */
static void on_pace(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	double t = bench_now() - run->start, wait;
	long due = run->stopping ? 0 : bench_pace_due(&run->pace, t, BENCH_PACE_BURST);

	(void)fd, (void)what;
	for (long k = 0; k < due; k++) {
		double at = bench_pace_time(&run->pace, run->pace.handled++);
		double lag = bench_now() - run->start - at;
		struct slot *s;

		run->r->scheduled++;
		if (run->free_head < 0) {
			run->r->skipped++; /* conc in flight: never queued, never hidden */
			continue;
		}
		s = &run->slots[run->free_head];
		run->free_head = s->next_free;
		if (lag * 1e3 > run->r->max_lag_ms)
			run->r->max_lag_ms = lag * 1e3;
		if (lag > 1e-3)
			run->r->late++;
		slot_start(s, run->start + at);
		if (run->stopping)
			break;
	}
	wait = run->stopping ? -1 : bench_pace_wait(&run->pace, bench_now() - run->start);
	if (wait >= 0) {
		long us = (long)(wait * 1e6) + 1; /* never early: a timer due now costs a loop */
		struct timeval tv = { .tv_sec = us / 1000000, .tv_usec = us % 1000000 };
		event_add(run->pacer, &tv);
	} else if (run->busy == 0) {
		event_base_loopbreak(run->base);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	double t = bench_now() - run->start;

	(void)fd, (void)what;
	if (run->o->progress)
		bench_progress(run->r, t);
	if (t > run->o->duration_s + run->o->timeout_s + 5) {
		run->stopping = true; /* hard bound: in-flight transactions are dropped */
		event_base_loopbreak(run->base);
	}
}

int bench_run_event(const struct bench_opts *o, struct bench_result *r)
{
	struct run run = { .o = o, .r = r };
	int rc = RC_NOMEM;

	if (o->conc <= 0 || o->conc > o->ndev || o->rate < 0)
		return RC_INVAL;
	if (o->rate > 0) {
		/* timerfd-backed timers: starts land within microseconds of their time */
		struct event_config *cfg = event_config_new();
		if (cfg && event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) == 0)
			run.base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	} else {
		run.base = event_base_new();
	}
	run.trust = bench_trust_new(o->root);
	run.slots = calloc((size_t)o->conc, sizeof(*run.slots));
	if (!run.base || !run.trust || !run.slots)
		goto out;
	run.tick = event_new(run.base, -1, EV_PERSIST, on_tick, &run);
	if (!run.tick || event_add(run.tick, &(struct timeval){ 1, 0 }) != 0)
		goto out;
	run.free_head = -1;
	for (int i = o->conc - 1; i >= 0; i--) {
		run.slots[i] = (struct slot){
			.run = &run, .id = i, .dev = -1, .next_free = run.free_head
		};
		if (o->rate > 0)
			run.free_head = i;
	}
	if (o->rate > 0) {
		bench_pace_init(&run.pace, o->rate, o->duration_s, o->count);
		if (!(run.pacer = event_new(run.base, -1, 0, on_pace, &run)))
			goto out;
	}
	run.start = bench_now();
	if (o->rate > 0)
		event_active(run.pacer, EV_TIMEOUT, 0);
	else
		for (int i = 0; i < o->conc; i++)
			event_base_once(run.base, -1, EV_TIMEOUT, slot_next, &run.slots[i],
					&(struct timeval){ 0, 0 });
	event_base_dispatch(run.base);
	r->elapsed_s = bench_now() - run.start;
	if (o->progress)
		fprintf(stderr, "\n");
	r->fail[BENCH_F_TRANSPORT] += run.busy; /* cut off by the hard bound */
	bench_trust_stats(run.trust, &r->trust);
	rc = 0;
out:
	for (int i = 0; run.slots && i < o->conc; i++) {
		if (run.slots[i].conn)
			evhttp_connection_free(run.slots[i].conn);
		bench_tx_clear(&run.slots[i].tx);
		if (run.slots[i].newkey != o->fixed_newkey)
			EVP_PKEY_free(run.slots[i].newkey);
	}
	free(run.slots);
	if (run.pacer)
		event_free(run.pacer);
	if (run.tick)
		event_free(run.tick);
	bench_trust_free(run.trust);
	if (run.base)
		event_base_free(run.base);
	return rc;
}
