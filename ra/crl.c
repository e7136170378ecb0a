/*
 * ra/crl.c - the issuing CA's CRL over HTTP GET: look up the stored CRL,
 * regenerate it when stale (sign inline, everything else async on the
 * worker's pool), serve it as application/pkix-crl. The last CRL served
 * is kept in memory and answers while the database is unavailable, until
 * its nextUpdate (issue 11).
 */
#include "ra/crl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/metrics.h"
#include "policy/crl.h"
#include "ra/ra.h"
#include "store/ops.h"
#include "store/revoke.h"

#define CRL_CONTENT_TYPE "application/pkix-crl"
#define CER_CONTENT_TYPE "application/pkix-cert" /* RFC 2585 4.1 */
#define MAX_WAITERS	 4096
#define MAX_CONFLICTS	 3
#define TIMER_MAX_S	 60
#define WARM_FIRST_MS	 200 /* worker 0's first look at the stored CRL */
#define WARM_STEP_MS	 300 /* later workers after it: they read its CRL */

/* Requests waiting for one refresh. */
struct waiters {
	struct http_req **v;
	size_t n, cap;
};

struct ra_crl {
	struct ra_worker *rw;
	struct event *timer, *warm;
	bool busy;		   /* a refresh is in flight */
	bool again;		   /* another refresh was asked for meanwhile */
	int conflicts;		   /* lost publication races in this refresh */
	bool closed;		   /* the pool is going away: no new queries */
	long long next;		   /* number being built */
	struct waiters cur, later; /* served by this refresh / by the next one */
	unsigned char *der;	   /* CRL being published */
	int der_len;
	char issuer[512];
	unsigned char *last; /* last CRL served (copy), for outages */
	size_t last_len;
	time_t last_next; /* its nextUpdate */
	bool last_logged; /* "serving from memory" said since */
};

static const struct cfg *cfg_of(const struct ra_crl *c)
{
	return c->rw->w->cfg;
}

static bool waiters_push(struct waiters *w, struct http_req *hr)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		struct http_req **v = cap <= MAX_WAITERS ? realloc(w->v, cap * sizeof(*v)) : NULL;
		if (!v)
			return false;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = hr;
	return true;
}

/* Answer hr with der (NULL: 503). */
static void reply_one(struct http_req *hr, const unsigned char *der, size_t len)
{
	/* libevent would send a HEAD reply's body: leave it out here */
	if (der && http_req_method(hr) == HTTP_M_HEAD)
		http_reply(hr, 200, CRL_CONTENT_TYPE, NULL, 0);
	else if (der)
		http_reply(hr, 200, CRL_CONTENT_TYPE, der, len);
	else
		http_reply(hr, 503, NULL, NULL, 0);
}

/* Answer every waiter of cur with der (NULL: 503). */
static void reply_all(struct ra_crl *c, const unsigned char *der, size_t len)
{
	for (size_t i = 0; i < c->cur.n; i++)
		reply_one(c->cur.v[i], der, len);
	c->cur.n = 0;
}

/* Keep a copy of a CRL just served, with its nextUpdate. */
static void remember(struct ra_crl *c, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl = NULL;
	const ASN1_TIME *next;
	unsigned char *copy = NULL;
	int days = 0, secs = 0;

	if (c->last && c->last_len == len && memcmp(c->last, der, len) == 0)
		return;
	if (len > LONG_MAX || !(crl = d2i_X509_CRL(NULL, &p, (long)len)) ||
	    !(next = X509_CRL_get0_nextUpdate(crl)) || !ASN1_TIME_diff(&days, &secs, NULL, next) ||
	    !(copy = OPENSSL_memdup(der, len))) {
		ERR_clear_error();
		goto out; /* keep the previous copy */
	}
	OPENSSL_free(c->last);
	c->last = copy;
	c->last_len = len;
	c->last_next = time(NULL) + (time_t)days * 86400 + secs;
	c->last_logged = false;
	/* cmpgw_crl_next_update_seconds: the newest CRL any worker holds */
	metrics_set_deadline(c->rw->w ? c->rw->w->metrics : NULL, METRICS_CRL_NEXT_UPDATE,
			     (long long)c->last_next);
out:
	X509_CRL_free(crl);
}

/* The remembered CRL while its nextUpdate is ahead (RFC 5280 5.1.2.5:
 * after it, a relying party must not take the CRL as current), else NULL. */
static const unsigned char *remembered(struct ra_crl *c, size_t *len)
{
	if (!c->last || time(NULL) >= c->last_next)
		return NULL;
	if (!c->last_logged) {
		log_warn(NULL,
			 "CRL: the stored CRL cannot be read or refreshed (database "
			 "unavailable?); serving the last one from memory until its "
			 "nextUpdate, %lld s from now",
			 (long long)(c->last_next - time(NULL)));
		c->last_logged = true;
	}
	*len = c->last_len;
	return c->last;
}

static void refresh(struct ra_crl *c);

/* End of one refresh: answer its waiters (a failed refresh with the
 * remembered CRL while it is current); start the next if asked. */
static void finish(struct ra_crl *c, const unsigned char *der, size_t len)
{
	struct waiters tmp;

	if (der)
		remember(c, der, len);
	else if (c->cur.n)
		der = remembered(c, &len);
	reply_all(c, der, len);
	OPENSSL_free(c->der);
	c->der = NULL;
	c->busy = false;
	if (c->again) {
		c->again = false;
		tmp = c->cur;
		c->cur = c->later;
		c->later = tmp;
		refresh(c);
	}
}

static void on_stored(void *arg, int rc, enum store_outcome status)
{
	struct ra_crl *c = arg;

	c->closed |= rc == RC_CANCELLED;
	if (rc == 0 && status == STORE_OUT_OK) {
		log_info(NULL, "CRL %lld published", c->next);
		finish(c, c->der, (size_t)c->der_len);
	} else if (rc == 0 && ++c->conflicts <= MAX_CONFLICTS) {
		/* another node published first: serve (or supersede) theirs */
		OPENSSL_free(c->der);
		c->der = NULL;
		refresh(c);
	} else {
		finish(c, NULL, 0);
	}
}

static void on_rows(void *arg, int rc, const char *fp, const struct store_crl_row *rows, size_t n)
{
	struct ra_crl *c = arg;
	const struct cfg *cfg = cfg_of(c);
	struct policy_crl_entry *e = NULL;
	X509_CRL *crl = NULL;
	time_t now = time(NULL);

	c->closed |= rc == RC_CANCELLED;
	if (rc != 0)
		goto fail;
	if (n && !(e = calloc(n, sizeof(*e))))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		e[i].serial_hex = rows[i].serial_hex;
		e[i].revoked_at = rows[i].revoked_at;
		e[i].reason = rows[i].reason;
	}
	if (policy_crl_build(cfg->ca_cert, cfg->ca_key, e, n, c->next, now, cfg->crl_validity_s,
			     &crl) != 0 ||
	    (c->der_len = i2d_X509_CRL(crl, &c->der)) <= 0) {
		log_openssl(NULL, LOG_ERROR, "building the CRL failed");
		goto fail;
	}
	struct store_crl_new nc = {
		.issuer = c->issuer,
		.fp = fp,
		.number = c->next,
		.this_update = (long long)now,
		.next_update = (long long)now + cfg->crl_validity_s,
		.der = { c->der, (size_t)c->der_len },
	};
	if (c->rw->ops->crl_store(c->rw->db, &nc, on_stored, c) != 0)
		goto fail;
	free(e);
	X509_CRL_free(crl);
	return;
fail:
	free(e);
	X509_CRL_free(crl);
	finish(c, NULL, 0);
}

static void on_current(void *arg, int rc, const struct store_crl_current *cur)
{
	struct ra_crl *c = arg;

	c->closed |= rc == RC_CANCELLED;
	if (rc != 0) {
		finish(c, NULL, 0);
		return;
	}
	if (!cur->stale && cur->der.len) {
		finish(c, cur->der.p, cur->der.len);
		return;
	}
	c->next = cur->number + 1;
	if (c->rw->ops->crl_rows(c->rw->db, c->issuer, on_rows, c) != 0)
		finish(c, NULL, 0);
}

static void refresh(struct ra_crl *c)
{
	const struct cfg *cfg = cfg_of(c);

	c->busy = true;
	if (c->closed) {
		finish(c, NULL, 0);
		return;
	}
	ra_name_str(X509_get_subject_name(cfg->ca_cert), c->issuer, sizeof(c->issuer));
	if (c->rw->ops->crl_current(c->rw->db, c->issuer, cfg->crl_refresh_before_s, on_current,
				    c) != 0)
		finish(c, NULL, 0);
}

static void start(struct ra_crl *c)
{
	if (c->busy) {
		c->again = true; /* the running one may predate what the caller saw */
		return;
	}
	c->conflicts = 0;
	refresh(c);
}

static bool is_ca_cert_path(const struct cfg *cfg, const char *path)
{
	return cfg->ca_cert_path && path && strcmp(cfg->ca_cert_path, path) == 0;
}

const char *ra_crl_path(const struct cfg *cfg)
{
	return cfg->crl_path;
}

const char *ra_crl_ca_cert_path(const struct cfg *cfg)
{
	return cfg->ca_cert_path;
}

/* The issuing CA certificate, DER (RFC 5280 4.2.2.1 caIssuers: a single
 * certificate over HTTP as application/pkix-cert). */
static void serve_ca_cert(const struct cfg *cfg, struct http_req *hr)
{
	unsigned char *der = NULL;
	int len = cfg->ca_cert ? i2d_X509(cfg->ca_cert, &der) : 0;

	if (!cfg->ca_cert)
		http_reply(hr, 404, NULL, NULL, 0);
	else if (len <= 0)
		http_reply(hr, 503, NULL, NULL, 0);
	else if (http_req_method(hr) == HTTP_M_HEAD) /* libevent would send a body */
		http_reply(hr, 200, CER_CONTENT_TYPE, NULL, 0);
	else
		http_reply(hr, 200, CER_CONTENT_TYPE, der, (size_t)len);
	OPENSSL_free(der);
}

void ra_crl_serve(struct ra_crl *c, struct http_req *hr)
{
	enum http_method m = http_req_method(hr);

	if (m != HTTP_M_GET && m != HTTP_M_HEAD) {
		http_req_set_allow(hr, "GET, HEAD");
		http_reply(hr, 405, NULL, NULL, 0);
		return;
	}
	if (c && is_ca_cert_path(cfg_of(c), http_req_path(hr))) {
		serve_ca_cert(cfg_of(c), hr);
		return;
	}
	if (c && c->rw->ops->nup(c->rw->db) == 0) {
		/* no connection up: answer now rather than after the queue wait */
		size_t len = 0;
		const unsigned char *der = remembered(c, &len);

		if (der) {
			reply_one(hr, der, len);
			return;
		}
	}
	if (!c || !waiters_push(c->busy ? &c->later : &c->cur, hr)) {
		reply_one(hr, NULL, 0);
		return;
	}
	start(c);
}

void ra_crl_route(struct http_req *hr, void *arg)
{
	struct worker *w = arg;
	struct ra_worker *rw = w->app;

	ra_crl_serve(rw ? rw->crl : NULL, hr);
}

void ra_crl_kick(struct ra_crl *c)
{
	if (c)
		start(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ra_crl_kick(arg);
}

struct ra_crl *ra_crl_new(struct ra_worker *rw, bool timer)
{
	struct ra_crl *c = calloc(1, sizeof(*c));
	int period = rw->w->cfg->crl_refresh_before_s / 2;
	struct timeval tv = { period < 1 ? 1 : period > TIMER_MAX_S ? TIMER_MAX_S : period, 0 };
	int warm_ms = WARM_FIRST_MS + WARM_STEP_MS * (rw->w->id % 32);
	struct timeval wtv = { warm_ms / 1000, (warm_ms % 1000) * 1000 };

	if (!c)
		return NULL;
	c->rw = rw;
	if (timer) {
		c->timer = event_new(rw->w->base, -1, EV_PERSIST, on_timer, c);
		c->warm = evtimer_new(rw->w->base, on_timer, c);
		if (!c->timer || event_add(c->timer, &tv) != 0 || !c->warm ||
		    evtimer_add(c->warm, &wtv) != 0) {
			ra_crl_free(c);
			return NULL;
		}
	}
	return c;
}

void ra_crl_free(struct ra_crl *c)
{
	if (!c)
		return;
	if (c->timer)
		event_free(c->timer);
	if (c->warm)
		event_free(c->warm);
	reply_all(c, NULL, 0);
	struct waiters tmp = c->cur;
	c->cur = c->later;
	c->later = tmp;
	reply_all(c, NULL, 0);
	free(c->cur.v);
	free(c->later.v);
	OPENSSL_free(c->der);
	OPENSSL_free(c->last);
	free(c);
}
