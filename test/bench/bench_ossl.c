/*
 * test/bench/bench_ossl.c - the cross-check driver: OpenSSL's own CMP
 * client (OSSL_CMP_exec_IR_ses/KUR_ses), o->conc blocking threads, one
 * OSSL_CMP_CTX per transaction (never shared: DESIGN.md decision 1).
 * OpenSSL validates the answers itself (protection, trust, nonces, certConf).
 */
#include "test/bench/bench_run.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cmp.h>
#include <openssl/err.h>

#include "cmd/pki.h"

struct worker {
	const struct bench_opts *o;
	struct bench_result r;
	pthread_t th;
	int id;
	double start;
	volatile long *started; /* shared count, only read for progress */
};

/* A context for one transaction of device d, or NULL. */
static OSSL_CMP_CTX *ctx_for(const struct bench_opts *o, X509 *cert, EVP_PKEY *key,
			     EVP_PKEY *newkey, bool implicit)
{
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	X509_STORE *ts = X509_STORE_new();

	if (!ctx || !ts || !X509_STORE_add_cert(ts, o->root) ||
	    !OSSL_CMP_CTX_set0_trustedStore(ctx, ts))
		goto err;
	ts = NULL;
	if (!OSSL_CMP_CTX_set1_server(ctx, "127.0.0.1") ||
	    !OSSL_CMP_CTX_set_serverPort(ctx, o->port) ||
	    !OSSL_CMP_CTX_set1_serverPath(ctx, o->path) || !OSSL_CMP_CTX_set1_cert(ctx, cert) ||
	    !OSSL_CMP_CTX_set1_pkey(ctx, key) || !EVP_PKEY_up_ref(newkey))
		goto err;
	if (!OSSL_CMP_CTX_set0_newPkey(ctx, 1, newkey)) {
		EVP_PKEY_free(newkey);
		goto err;
	}
	if (o->chain && !OSSL_CMP_CTX_set1_untrusted(ctx, o->chain))
		goto err;
	OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_IMPLICIT_CONFIRM, implicit);
	OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_MSG_TIMEOUT, (int)o->timeout_s);
	OSSL_CMP_CTX_set_option(ctx, OSSL_CMP_OPT_TOTAL_TIMEOUT, (int)o->timeout_s);
	return ctx;
err:
	X509_STORE_free(ts);
	OSSL_CMP_CTX_free(ctx);
	return NULL;
}

/* One transaction; 0 or a bench_fail. On success *issued is set (caller frees). */
static int one(const struct bench_opts *o, X509 *cert, EVP_PKEY *key, EVP_PKEY *newkey, bool kur,
	       bool implicit, X509 **issued)
{
	OSSL_CMP_CTX *ctx = ctx_for(o, cert, key, newkey, implicit);
	X509 *x = NULL;
	int rc = BENCH_F_INTERNAL;

	if (!ctx)
		goto out;
	x = kur ? OSSL_CMP_exec_KUR_ses(ctx) : OSSL_CMP_exec_IR_ses(ctx);
	if (x && X509_up_ref(x)) {
		*issued = x;
		rc = BENCH_OK;
	} else {
		/* OpenSSL reports every rejection the same way here */
		rc = OSSL_CMP_CTX_get_status(ctx) == -1 ? BENCH_F_TRANSPORT : BENCH_F_STATUS;
	}
out:
	OSSL_CMP_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

static bool done(const struct worker *w)
{
	const struct bench_opts *o = w->o;
	return bench_now() - w->start >= o->duration_s || (o->count > 0 && *w->started >= o->count);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	const struct bench_opts *o = w->o;
	bool kurflow = o->flow == BENCH_FLOW_KUR;

	for (int dev = w->id; !done(w); dev = dev + o->conc < o->ndev ? dev + o->conc : w->id) {
		struct bench_dev *d = &o->devs[dev];
		EVP_PKEY *newkey = o->fixed_newkey ? o->fixed_newkey : cmd_pki_key_new();
		X509 *issued = NULL;
		int f;

		__atomic_add_fetch(w->started, 1, __ATOMIC_RELAXED);
		if (o->fixed_newkey)
			EVP_PKEY_up_ref(newkey);
		if (kurflow && !d->op) {
			f = one(o, d->cert, d->key, newkey, false, true, &d->op);
			if (f != BENCH_OK) {
				w->r.fail[f]++;
				EVP_PKEY_free(newkey);
				continue;
			}
			w->r.prep++;
			d->opkey = newkey;
			newkey = o->fixed_newkey ? o->fixed_newkey : cmd_pki_key_new();
			if (o->fixed_newkey)
				EVP_PKEY_up_ref(newkey);
		}
		double t0 = bench_now();
		f = newkey ? one(o, kurflow ? d->op : d->cert, kurflow ? d->opkey : d->key, newkey,
				 kurflow, o->flow == BENCH_FLOW_IMPLICIT, &issued)
			   : BENCH_F_INTERNAL;
		if (f == BENCH_OK) {
			w->r.ok++;
			bench_result_lat(&w->r, (bench_now() - t0) * 1e3);
		} else {
			w->r.fail[f]++;
		}
		if (f == BENCH_OK && kurflow) {
			X509_free(d->op);
			EVP_PKEY_free(d->opkey);
			d->op = issued;
			d->opkey = newkey;
			issued = NULL;
			newkey = NULL;
		}
		X509_free(issued);
		EVP_PKEY_free(newkey);
	}
	return NULL;
}

static void merge(struct bench_result *r, const struct bench_result *w)
{
	r->ok += w->ok;
	r->prep += w->prep;
	for (int i = 0; i < BENCH_F_MAX; i++)
		r->fail[i] += w->fail[i];
	for (size_t i = 0; i < w->nlat; i++)
		bench_result_lat(r, w->lat_ms[i]);
}

int bench_run_ossl(const struct bench_opts *o, struct bench_result *r)
{
	struct worker *w = calloc((size_t)o->conc, sizeof(*w));
	volatile long started = 0;
	double start = bench_now();
	int n = 0;

	if (!w || o->conc > o->ndev) {
		free(w);
		return w ? RC_INVAL : RC_NOMEM;
	}
	for (; n < o->conc; n++) {
		w[n] = (struct worker){ .o = o, .id = n, .start = start, .started = &started };
		if (pthread_create(&w[n].th, NULL, work, &w[n]) != 0)
			break;
	}
	/* the threads stop by themselves at the duration/count bound */
	for (int i = 0; i < n; i++) {
		pthread_join(w[i].th, NULL);
		merge(r, &w[i].r);
		free(w[i].r.lat_ms);
	}
	r->elapsed_s = bench_now() - start;
	free(w);
	return n == o->conc ? 0 : RC_ERR;
}
