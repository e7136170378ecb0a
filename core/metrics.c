/*
 * core/metrics.c - counters, gauges and histograms of the gateway and
 * their Prometheus text exposition, format 0.0.4 (core/metrics.h).
 *
 * Every sample is a relaxed atomic: a scrape may see one counter of a
 * request bumped and another not yet, which Prometheus tolerates (each
 * series is monotonic on its own). A histogram keeps per-bucket counts;
 * the cumulative `le` buckets and _count are summed at render time, so
 * _count always equals the +Inf bucket.
 */
#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

/* Body types a request may carry (RFC 4210 5.1.2), by cmp_asn1_body_name;
 * the last is the catch-all. */
static const char *const body_names[] = {
	"ir",	  "cr",	   "kur", "p10cr", "certConf", "rr",	  "genm",  "pollReq",
	"nested", "error", "krr", "ccr",   "pkiconf",  "unknown", "other",
};
#define N_BODY (sizeof(body_names) / sizeof(body_names[0]))

/* "ok", the PKIFailureInfo names by bit (RFC 4210 5.2.3, RFC 9810), then
 * the transport outcomes; the last is the catch-all. */
static const char *const outcome_names[] = {
	"ok",
	"badAlg",
	"badMessageCheck",
	"badRequest",
	"badTime",
	"badCertId",
	"badDataFormat",
	"wrongAuthority",
	"incorrectData",
	"missingTimeStamp",
	"badPOP",
	"certRevoked",
	"certConfirmed",
	"wrongIntegrity",
	"badRecipientNonce",
	"timeNotAvailable",
	"unacceptedPolicy",
	"unacceptedExtension",
	"addInfoNotAvailable",
	"badSenderNonce",
	"badCertTemplate",
	"signerNotTrusted",
	"transactionIdInUse",
	"unsupportedVersion",
	"notAuthorized",
	"systemUnavail",
	"systemFailure",
	"duplicateCertReq",
	"not_cmp",
	"dropped",
	"busy",
	"failed",
	"other",
};
#define N_OUTCOME (sizeof(outcome_names) / sizeof(outcome_names[0]))
#define N_FAIL	  27 /* PKIFailureInfo bits 0..26: outcome_names[1 + bit] */

const char *metrics_fail_name(int bit)
{
	return bit >= 0 && bit < N_FAIL ? outcome_names[1 + bit] : NULL;
}

static const char *const upstream_reasons[] = {
	"timeout", "connect", "http", "tls", "protection", "decode", "other",
};
#define N_REASON (sizeof(upstream_reasons) / sizeof(upstream_reasons[0]))

/* HTTP statuses of requests refused before CMP (metrics_http_refused). */
static const int http_statuses[] = { 400, 404, 405, 408, 413, 415, 503 };
#define N_HTTP (sizeof(http_statuses) / sizeof(http_statuses[0]))

/* Upper bounds (le) of the histograms' buckets, seconds. */
static const double req_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
static const double db_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				    0.1,    0.25,  0.5,	   1,	  2.5,	10 };
#define N_BOUNDS_MAX 13

struct hist {
	atomic_ullong b[N_BOUNDS_MAX + 1]; /* per bucket; [n] is above the last bound */
	atomic_ullong sum_ns;
};

#define ALIAS_LEN 64

struct alias_slot {
	char name[ALIAS_LEN]; /* written once, before n_alias publishes it */
	atomic_ullong req[N_BODY][N_OUTCOME];
	struct hist dur;
	struct hist up_dur;
	atomic_ullong up_fail[N_REASON];
	atomic_ullong issued, revoked;
};

struct worker_slot {
	atomic_bool set;
	atomic_int v[3]; /* struct metrics_pool_gauges, in order */
};

struct metrics {
	pthread_mutex_t mu; /* taken only to intern a new alias label */
	atomic_int n_alias;
	struct alias_slot alias[METRICS_MAX_ALIASES + 1]; /* the last is "other" */
	struct hist db;
	atomic_ullong db_err;
	atomic_ullong reload_ok, reload_err;
	atomic_ullong http_refused[N_HTTP + 1]; /* [N_HTTP]: other */
	atomic_llong deadline[3];
	struct worker_slot wk[METRICS_MAX_WORKERS];
	long long start;
};

#define RLX memory_order_relaxed

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return NULL;
	}
	snprintf(m->alias[METRICS_MAX_ALIASES].name, ALIAS_LEN, "other");
	m->start = (long long)time(NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static size_t find_name(const char *const *tab, size_t n, const char *s)
{
	for (size_t i = 0; s && i + 1 < n; i++)
		if (strcmp(tab[i], s) == 0)
			return i;
	return n - 1;
}

static struct alias_slot *find_alias(struct metrics *m, int n, const char *label)
{
	for (int i = 0; i < n; i++)
		if (strncmp(m->alias[i].name, label, ALIAS_LEN) == 0)
			return &m->alias[i];
	return NULL;
}

/* The slot of label: found without a lock (names never change once
 * published), added under the mutex, "other" when the table is full. */
static struct alias_slot *alias_slot(struct metrics *m, const char *label)
{
	struct alias_slot *s;
	int n;

	if (!label || !*label || strlen(label) >= ALIAS_LEN)
		return &m->alias[METRICS_MAX_ALIASES];
	n = atomic_load_explicit(&m->n_alias, memory_order_acquire);
	if ((s = find_alias(m, n, label)))
		return s;
	pthread_mutex_lock(&m->mu);
	n = atomic_load_explicit(&m->n_alias, RLX);
	if (!(s = find_alias(m, n, label))) {
		if (n < METRICS_MAX_ALIASES) {
			s = &m->alias[n];
			snprintf(s->name, ALIAS_LEN, "%s", label);
			atomic_store_explicit(&m->n_alias, n + 1, memory_order_release);
		} else {
			s = &m->alias[METRICS_MAX_ALIASES];
		}
	}
	pthread_mutex_unlock(&m->mu);
	return s;
}

static void hist_observe(struct hist *h, const double *bounds, size_t nb, double seconds)
{
	size_t i = 0;

	if (!(seconds >= 0)) /* also NaN */
		return;
	while (i < nb && seconds > bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->b[i], 1, RLX);
	if (seconds > 1e6)
		seconds = 1e6;
	atomic_fetch_add_explicit(&h->sum_ns, (unsigned long long)(seconds * 1e9), RLX);
}

void metrics_request(struct metrics *m, const char *alias, const char *body, const char *outcome,
		     double seconds)
{
	struct alias_slot *s;

	if (!m)
		return;
	s = alias_slot(m, alias);
	atomic_fetch_add_explicit(&s->req[find_name(body_names, N_BODY, body)]
					 [find_name(outcome_names, N_OUTCOME, outcome)],
				  1, RLX);
	hist_observe(&s->dur, req_bounds, sizeof(req_bounds) / sizeof(req_bounds[0]), seconds);
}

void metrics_db(struct metrics *m, double seconds, bool ok)
{
	if (!m)
		return;
	hist_observe(&m->db, db_bounds, sizeof(db_bounds) / sizeof(db_bounds[0]), seconds);
	if (!ok)
		atomic_fetch_add_explicit(&m->db_err, 1, RLX);
}

void metrics_upstream(struct metrics *m, const char *alias, const char *result, double seconds)
{
	struct alias_slot *s;

	if (!m)
		return;
	s = alias_slot(m, alias);
	hist_observe(&s->up_dur, req_bounds, sizeof(req_bounds) / sizeof(req_bounds[0]), seconds);
	if (!result || strcmp(result, "ok") != 0)
		atomic_fetch_add_explicit(
			&s->up_fail[find_name(upstream_reasons, N_REASON, result)], 1, RLX);
}

void metrics_issued(struct metrics *m, const char *alias)
{
	if (m)
		atomic_fetch_add_explicit(&alias_slot(m, alias)->issued, 1, RLX);
}

void metrics_revoked(struct metrics *m, const char *alias)
{
	if (m)
		atomic_fetch_add_explicit(&alias_slot(m, alias)->revoked, 1, RLX);
}

void metrics_http_refused(struct metrics *m, int status)
{
	size_t i = 0;

	if (!m)
		return;
	while (i < N_HTTP && http_statuses[i] != status)
		i++;
	atomic_fetch_add_explicit(&m->http_refused[i], 1, RLX);
}

void metrics_reload(struct metrics *m, const char *result)
{
	if (m)
		atomic_fetch_add_explicit(result && strcmp(result, "ok") == 0 ? &m->reload_ok
									      : &m->reload_err,
					  1, RLX);
}

void metrics_pool_set(struct metrics *m, int id, const struct metrics_pool_gauges *g)
{
	struct worker_slot *w;

	if (!m || !g || id < 0 || id >= METRICS_MAX_WORKERS)
		return;
	w = &m->wk[id];
	atomic_store_explicit(&w->v[0], g->idle, RLX);
	atomic_store_explicit(&w->v[1], g->busy, RLX);
	atomic_store_explicit(&w->v[2], g->down, RLX);
	atomic_store_explicit(&w->set, true, RLX);
}

void metrics_set_deadline(struct metrics *m, enum metrics_deadline which, long long epoch)
{
	if (m && (unsigned)which < 3)
		atomic_store_explicit(&m->deadline[which], epoch, RLX);
}

/* ---- rendering (text exposition format 0.0.4) ---- */

struct out {
	struct evbuffer *b;
	bool fail;
};

static void pf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->fail)
		return;
	va_start(ap, fmt);
	if (evbuffer_add_vprintf(o->b, fmt, ap) < 0)
		o->fail = true;
	va_end(ap);
}

/* A label value: backslash, double quote and line feed escaped (the
 * format's only escapes); bytes are otherwise copied (UTF-8). */
static void esc(char *dst, size_t cap, const char *s)
{
	size_t o = 0;

	for (; s && *s && o + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			dst[o++] = '\\';
			dst[o++] = *s;
		} else if (*s == '\n') {
			dst[o++] = '\\';
			dst[o++] = 'n';
		} else {
			dst[o++] = *s;
		}
	}
	dst[o] = '\0';
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	pf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static unsigned long long ld(atomic_ullong *a)
{
	return atomic_load_explicit(a, RLX);
}

/* The series of one histogram; labels: "" or `alias="x",` (escaped). */
static void hist_out(struct out *o, const char *name, const char *labels, struct hist *h,
		     const double *bounds, size_t nb)
{
	unsigned long long cum = 0, sum_ns = ld(&h->sum_ns);
	size_t ll = strlen(labels);
	/* "{alias="x"}" for _sum/_count: the labels without the trailing comma */
	const char *open = ll ? "{" : "", *close = ll ? "}" : "";

	for (size_t i = 0; i < nb; i++) {
		cum += ld(&h->b[i]);
		pf(o, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i], cum);
	}
	cum += ld(&h->b[nb]);
	pf(o, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, cum);
	pf(o, "%s_sum%s%.*s%s %.9f\n", name, open, (int)(ll ? ll - 1 : 0), labels, close,
	   (double)sum_ns / 1e9);
	pf(o, "%s_count%s%.*s%s %llu\n", name, open, (int)(ll ? ll - 1 : 0), labels, close, cum);
}

static unsigned long long hist_count(struct hist *h, size_t nb)
{
	unsigned long long n = 0;

	for (size_t i = 0; i <= nb; i++)
		n += ld(&h->b[i]);
	return n;
}

/* Interned aliases, then "other" when it was used. */
static int alias_count(struct metrics *m)
{
	return atomic_load_explicit(&m->n_alias, memory_order_acquire);
}

#define NREQ (sizeof(req_bounds) / sizeof(req_bounds[0]))
#define NDB  (sizeof(db_bounds) / sizeof(db_bounds[0]))

/* "other" is rendered only when something landed there. */
static bool other_used(struct metrics *m)
{
	struct alias_slot *s = &m->alias[METRICS_MAX_ALIASES];

	if (ld(&s->issued) || ld(&s->revoked) || hist_count(&s->dur, NREQ) ||
	    hist_count(&s->up_dur, NREQ))
		return true;
	for (size_t b = 0; b < N_BODY; b++)
		for (size_t k = 0; k < N_OUTCOME; k++)
			if (ld(&s->req[b][k]))
				return true;
	return false;
}

static void render_requests(struct out *o, struct metrics *m, int n, bool other)
{
	char a[2 * ALIAS_LEN + 16];

	head(o, "cmpgw_requests_total", "counter",
	     "CMP requests answered, by alias, request body type and outcome (ok, a "
	     "PKIFailureInfo name, or not_cmp/dropped/busy/failed).");
	for (int i = 0; i <= METRICS_MAX_ALIASES; i++) {
		struct alias_slot *s = &m->alias[i];

		if ((i >= n && i < METRICS_MAX_ALIASES) || (i == METRICS_MAX_ALIASES && !other))
			continue;
		esc(a, sizeof(a), s->name);
		for (size_t b = 0; b < N_BODY; b++)
			for (size_t k = 0; k < N_OUTCOME; k++) {
				unsigned long long v = ld(&s->req[b][k]);
				if (v)
					pf(o,
					   "cmpgw_requests_total{alias=\"%s\",body=\"%s\","
					   "outcome=\"%s\"} %llu\n",
					   a, body_names[b], outcome_names[k], v);
			}
	}
	head(o, "cmpgw_request_duration_seconds", "histogram",
	     "Time from a CMP request's arrival to its answer, by alias.");
	for (int i = 0; i <= METRICS_MAX_ALIASES; i++) {
		char l[2 * ALIAS_LEN + 32];

		if ((i >= n && i < METRICS_MAX_ALIASES) || (i == METRICS_MAX_ALIASES && !other))
			continue;
		esc(a, sizeof(a), m->alias[i].name);
		snprintf(l, sizeof(l), "alias=\"%s\",", a);
		hist_out(o, "cmpgw_request_duration_seconds", l, &m->alias[i].dur, req_bounds,
			 NREQ);
	}
}

static void render_per_alias(struct out *o, struct metrics *m, int n, bool other)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} counters[] = {
		{ "cmpgw_certificates_issued_total",
		  "Certificates issued (committed to the database, then answered), by alias.",
		  offsetof(struct alias_slot, issued) },
		{ "cmpgw_certificates_revoked_total",
		  "Certificates revoked by an rr (committed to the database), by alias.",
		  offsetof(struct alias_slot, revoked) },
	};
	char a[2 * ALIAS_LEN + 16];

	for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		head(o, counters[c].name, "counter", counters[c].help);
		for (int i = 0; i <= METRICS_MAX_ALIASES; i++) {
			if ((i >= n && i < METRICS_MAX_ALIASES) ||
			    (i == METRICS_MAX_ALIASES && !other))
				continue;
			esc(a, sizeof(a), m->alias[i].name);
			pf(o, "%s{alias=\"%s\"} %llu\n", counters[c].name, a,
			   ld((atomic_ullong *)((char *)&m->alias[i] + counters[c].off)));
		}
	}
}

static void render_upstream(struct out *o, struct metrics *m, int n, bool other)
{
	char a[2 * ALIAS_LEN + 16], l[2 * ALIAS_LEN + 32];

	head(o, "cmpgw_upstream_duration_seconds", "histogram",
	     "RA mode: duration of exchanges with the upstream CA, by alias.");
	for (int i = 0; i <= METRICS_MAX_ALIASES; i++) {
		struct alias_slot *s = &m->alias[i];

		if ((i >= n && i < METRICS_MAX_ALIASES) || (i == METRICS_MAX_ALIASES && !other) ||
		    hist_count(&s->up_dur, NREQ) == 0)
			continue;
		esc(a, sizeof(a), s->name);
		snprintf(l, sizeof(l), "alias=\"%s\",", a);
		hist_out(o, "cmpgw_upstream_duration_seconds", l, &s->up_dur, req_bounds, NREQ);
	}
	head(o, "cmpgw_upstream_failures_total", "counter",
	     "RA mode: failed exchanges with the upstream CA, by alias and reason.");
	for (int i = 0; i <= METRICS_MAX_ALIASES; i++) {
		struct alias_slot *s = &m->alias[i];

		if ((i >= n && i < METRICS_MAX_ALIASES) || (i == METRICS_MAX_ALIASES && !other))
			continue;
		esc(a, sizeof(a), s->name);
		for (size_t r = 0; r < N_REASON; r++) {
			unsigned long long v = ld(&s->up_fail[r]);
			if (v)
				pf(o,
				   "cmpgw_upstream_failures_total{alias=\"%s\",reason=\"%s\"} "
				   "%llu\n",
				   a, upstream_reasons[r], v);
		}
	}
}

static void render_gauges(struct out *o, struct metrics *m, const struct metrics_server_gauges *sg)
{
	long long v[3] = { 0 };
	bool any = false;

	if (sg) {
		head(o, "cmpgw_requests_in_flight", "gauge",
		     "CMP requests dispatched and not yet answered.");
		pf(o, "cmpgw_requests_in_flight %d\n", sg->in_flight);
		head(o, "cmpgw_connections", "gauge",
		     "Open client connections of the CMP listeners.");
		pf(o, "cmpgw_connections %d\n", sg->connections);
		head(o, "cmpgw_connections_awaiting", "gauge",
		     "Connections whose CMP transaction goes on (a certificate to confirm, or "
		     "polling): kept open while draining.");
		pf(o, "cmpgw_connections_awaiting %d\n", sg->awaiting);
	}
	for (int i = 0; i < METRICS_MAX_WORKERS; i++) {
		struct worker_slot *w = &m->wk[i];

		if (!atomic_load_explicit(&w->set, RLX))
			continue;
		any = true;
		for (int k = 0; k < 3; k++) {
			int x = atomic_load_explicit(&w->v[k], RLX);
			v[k] += x > 0 ? x : 0;
		}
	}
	if (!any)
		return;
	head(o, "cmpgw_db_pool_connections", "gauge",
	     "Database pool connections by state (idle, busy: a statement in flight, down: "
	     "connecting or waiting to reconnect), as the workers last reported (about once a "
	     "second).");
	pf(o, "cmpgw_db_pool_connections{state=\"idle\"} %lld\n", v[0]);
	pf(o, "cmpgw_db_pool_connections{state=\"busy\"} %lld\n", v[1]);
	pf(o, "cmpgw_db_pool_connections{state=\"down\"} %lld\n", v[2]);
}

static void render_deadlines(struct out *o, struct metrics *m, time_t now)
{
	static const struct {
		const char *name, *help;
	} d[] = {
		{ "cmpgw_issuing_ca_expiry_seconds",
		  "Seconds until the issuing CA certificate's notAfter (negative: expired)." },
		{ "cmpgw_cmp_signer_expiry_seconds",
		  "Seconds until the CMP signing certificate's notAfter (negative: expired)." },
		{ "cmpgw_crl_next_update_seconds",
		  "Seconds until the nextUpdate of the newest CRL this process published or "
		  "served (negative: past)." },
	};

	for (int i = 0; i < 3; i++) {
		long long t = atomic_load_explicit(&m->deadline[i], RLX);
		if (t == 0)
			continue;
		head(o, d[i].name, "gauge", d[i].help);
		pf(o, "%s %lld\n", d[i].name, t - (long long)now);
	}
}

int metrics_render(struct metrics *m, struct evbuffer *out, time_t now,
		   const struct metrics_server_gauges *sg, const char *version, const char *openssl)
{
	struct out o = { out, false };
	char v[128], s[256];
	int n;
	bool other;

	if (!m || !out)
		return -1;
	n = alias_count(m);
	other = other_used(m);
	esc(v, sizeof(v), version ? version : "unknown");
	esc(s, sizeof(s), openssl ? openssl : "unknown");
	head(&o, "cmpgw_build_info", "gauge", "Build information; the value is always 1.");
	pf(&o, "cmpgw_build_info{version=\"%s\",openssl=\"%s\"} 1\n", v, s);
	head(&o, "process_start_time_seconds", "gauge",
	     "Start time of the process since the Unix epoch, in seconds.");
	pf(&o, "process_start_time_seconds %lld\n", m->start);
	render_requests(&o, m, n, other);
	render_gauges(&o, m, sg);
	head(&o, "cmpgw_db_roundtrip_seconds", "histogram",
	     "Database round trips: from sending a statement to its result.");
	hist_out(&o, "cmpgw_db_roundtrip_seconds", "", &m->db, db_bounds, NDB);
	head(&o, "cmpgw_db_errors_total", "counter",
	     "Database statements that failed (server error, lost connection, timeout, no "
	     "connection).");
	pf(&o, "cmpgw_db_errors_total %llu\n", ld(&m->db_err));
	render_upstream(&o, m, n, other);
	render_per_alias(&o, m, n, other);
	render_deadlines(&o, m, now);
	head(&o, "cmpgw_http_refused_total", "counter",
	     "HTTP requests on the CMP listeners refused before CMP, by HTTP status.");
	for (size_t i = 0; i <= N_HTTP; i++) {
		unsigned long long v = ld(&m->http_refused[i]);
		if (!v)
			continue;
		if (i < N_HTTP)
			pf(&o, "cmpgw_http_refused_total{status=\"%d\"} %llu\n", http_statuses[i],
			   v);
		else
			pf(&o, "cmpgw_http_refused_total{status=\"other\"} %llu\n", v);
	}
	head(&o, "cmpgw_config_reloads_total", "counter",
	     "Configuration reloads (SIGHUP) by result.");
	pf(&o, "cmpgw_config_reloads_total{result=\"ok\"} %llu\n", ld(&m->reload_ok));
	pf(&o, "cmpgw_config_reloads_total{result=\"error\"} %llu\n", ld(&m->reload_err));
	return o.fail ? -1 : 0;
}
