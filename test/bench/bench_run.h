/*
 * test/bench/bench_run.h - the two load drivers of cmpbench and what they
 * report. Both are bounded: they stop after duration_s or count
 * transactions, whichever comes first, and never run longer than
 * duration_s + timeout_s + 5 seconds. Traffic goes to 127.0.0.1 only.
 *
 * bench_run_event: one thread, one libevent loop, conc simulated devices
 *   on cmpgw's own codec (bench_msg.h), non-blocking. Closed loop (each
 *   device starts its next enrollment when the last one ends) unless
 *   rate > 0: then open loop, new enrollments start on the schedule of
 *   bench_pace.h whatever the answers do, at most conc in flight; a start
 *   that finds conc in flight is skipped and counted, and latency counts
 *   from the scheduled start time.
 * bench_run_ossl:  conc threads, each running OpenSSL's own client
 *   (OSSL_CMP_CTX, one context per transaction, never shared: DESIGN.md 1).
 *
 * Return 0 when the run happened (failures are counted in the result), or
 * a negative enum rc when it could not start.
 */
#ifndef CMPGW_TEST_BENCH_RUN_H
#define CMPGW_TEST_BENCH_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"
#include "test/bench/bench_fix.h"
#include "test/bench/bench_msg.h"

enum bench_flow {
	BENCH_FLOW_EXPLICIT, /* ir + certConf + pkiConf */
	BENCH_FLOW_IMPLICIT, /* ir with implicitConfirm */
	BENCH_FLOW_KUR,	     /* kur + certConf with the operator cert (an untimed
				implicit ir first gets one) */
};

struct bench_opts {
	int port;
	const char *path; /* HTTP path, e.g. /.well-known/cmp/p/3gpp */
	int conc;
	double duration_s;
	long count; /* <= 0: unbounded by count */
	double timeout_s;
	int flow;		/* enum bench_flow */
	bool keepalive;		/* keep one connection per device slot */
	bool progress;		/* live line on stderr */
	X509 *root;		/* operator root (trust anchor) */
	STACK_OF(X509) *chain;	/* vendor CA chain sent in extraCerts */
	EVP_PKEY *fixed_newkey; /* NULL: a fresh P-256 key per enrollment */
	struct bench_dev *devs;
	int ndev;
	double rate; /* 0: closed loop; > 0: open loop, starts per second */
};

struct bench_result {
	long ok, prep;
	long fail[BENCH_F_MAX];
	long msgs;
	double elapsed_s;
	double *lat_ms; /* one per successful transaction */
	size_t nlat, cap;
	/* open loop only */
	long scheduled;			/* starts due during the run (started + skipped) */
	long skipped;			/* starts not made: conc enrollments were in flight */
	long late;			/* starts made more than 1 ms after their time */
	double max_lag_ms;		/* largest delay of a start behind its time */
	double cpu_run_ms;		/* this process's CPU during the run itself */
	struct bench_trust_stats trust; /* own client: what its caches did */
};

int bench_run_event(const struct bench_opts *o, struct bench_result *r) WUR;
int bench_run_ossl(const struct bench_opts *o, struct bench_result *r) WUR;

/* Record a latency (ms); bounded at 50M samples. Not thread-safe. */
void bench_result_lat(struct bench_result *r, double ms);
/* Monotonic seconds. */
double bench_now(void);
/* One-line progress text for r at time t (s since start). */
void bench_progress(const struct bench_result *r, double t);

#endif
