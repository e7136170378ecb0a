/*
 * ra/worker.c - per-worker state of the enrollment engine: its database
 * pool, its vendor trust cache (reloaded when PostgreSQL announces a
 * registry change, and every 60 s as a safety net), and the
 * confirm-deadline sweep (run by worker 0 only), and what it tells the
 * operations listener: its gauges (core/metrics.h) and its readiness.
 */
#include "ra/ra.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "cmp/certcache.h"
#include "core/key.h"
#include "core/metrics.h"
#include "ra/audit.h"
#include "ra/crl.h"
#include "ra/fwd.h"
#include "store/db.h"
#include "store/enroll.h"
#include "store/listen.h"
#include "store/migrate.h"
#include "store/ops.h"

/* Housekeeping tick; the vendor registry is reloaded when PostgreSQL
 * announces a change (migration 014, store/listen.h) and, as a safety net
 * for a missed notification, every RELOAD_SAFETY_TICKS ticks (60 s). */
#define RELOAD_INTERVAL_S   5
#define RELOAD_SAFETY_TICKS 12
#define REGISTRY_CHANNEL    "cmpgw_registry"
/* The ops tick publishes the gauges and probes the database once a
 * second; a worker whose probe has not succeeded for READY_DB_STALE_MS is
 * not ready (the probe is bounded like every statement, but a stalled
 * server must show within a few seconds, not database.queue_wait_ms). */
#define OPS_INTERVAL_MS	  1000
#define READY_DB_STALE_MS 3000

static void registry_reload(struct ra_worker *rw);

static void trust_swap(struct ra_worker *rw, const struct store_vendor_row *rows, size_t n)
{
	struct ra_trust *t = NULL;
	int64_t last = -1;

	t = ra_trust_new();
	if (!t)
		return;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].id != last &&
		    (ra_trust_add_vendor(t, rows[i].id, rows[i].name, rows[i].rule,
					 rows[i].allow_reenroll) != 0 ||
		     (rows[i].lenient && ra_trust_set_strict(t, rows[i].id, false) != 0)))
			goto fail;
		last = rows[i].id;
		if (rows[i].kind && rows[i].der.len &&
		    ra_trust_add_cert(t, rows[i].id, rows[i].kind, rows[i].der.p,
				      rows[i].der.len) != 0)
			log_warn(NULL,
				 "vendor %s: a registered certificate does not decode; skipped",
				 rows[i].name);
	}
	ra_trust_free(rw->trust);
	rw->trust = t;
	return;
fail:
	ra_trust_free(t);
}

static void on_vendor_rows(void *arg, int rc, const struct store_vendor_row *rows, size_t n)
{
	struct ra_worker *rw = arg;

	rw->reload_busy = false;
	if (rc == RC_CANCELLED)
		return; /* the pool is closing */
	if (rc == 0)
		trust_swap(rw, rows, n);
	/* else keep the previous cache; the error was logged */
	if (rw->reload_again) { /* a change announced while this one ran */
		rw->reload_again = false;
		registry_reload(rw);
	}
}

/* At most one reload in flight; a request during it runs one more after. */
static void registry_reload(struct ra_worker *rw)
{
	if (rw->reload_busy) {
		rw->reload_again = true;
		return;
	}
	if (rw->ops->vendors(rw->db, on_vendor_rows, rw) == 0)
		rw->reload_busy = true;
	else
		log_debug(NULL,
			  "worker %d: vendor reload not queued; retried on the next "
			  "notification or safety reload",
			  rw->w->id);
}

static void on_registry_changed(void *arg)
{
	registry_reload(arg);
}

static void on_reload(evutil_socket_t fd, short what, void *arg)
{
	struct ra_worker *rw = arg;
	(void)fd;
	(void)what;
	ra_unauth_sweep(rw); /* here too: minutes end whether or not a reload runs */
	if (++rw->reload_ticks % RELOAD_SAFETY_TICKS == 0)
		registry_reload(rw);
}

static void on_swept(void *arg, int rc, long count)
{
	(void)arg;
	if (rc == 0 && count > 0)
		log_info(NULL, "confirm deadline passed: %ld unconfirmed certificate(s) revoked",
			 count);
}

static void on_fwd_swept(void *arg, int rc, long count)
{
	(void)arg;
	if (rc == 0 && count > 0)
		log_warn(NULL, "%ld forwarded request(s) pending past their deadline closed",
			 count);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct ra_worker *rw = arg;
	(void)fd;
	(void)what;
	if (rw->ops->sweep(rw->db, on_swept, NULL) != 0)
		log_warn(NULL, "confirm sweep not queued");
	if (rw->ops->fwd_sweep(rw->db, on_fwd_swept, NULL) != 0) /* RA mode (migration 006) */
		log_warn(NULL, "forward sweep not queued");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static long long not_after(X509 *x)
{
	const ASN1_TIME *t = x ? X509_get0_notAfter(x) : NULL;

	return t ? ra_asn1_epoch(t) : 0;
}

/* The certificates' lifetimes of the running snapshot (metrics gauges:
 * seconds until they expire). */
static void publish_deadlines(struct worker *w)
{
	metrics_set_deadline(w->metrics, METRICS_CA_NOT_AFTER, not_after(w->cfg->ca_cert));
	metrics_set_deadline(w->metrics, METRICS_CMP_NOT_AFTER, not_after(w->cfg->cmp_cert));
}

static void on_schema_version(void *arg, int rc, int version)
{
	struct ra_worker *rw = arg;

	rw->ready.probing = false;
	if (rc == RC_CANCELLED)
		return; /* the pool is closing */
	if (rc == 0) {
		rw->ready.db_ok_ms = mono_ms();
		rw->ready.schema_version = version;
	}
}

/* Once a second: this worker's gauges, and a readiness probe of its
 * database unless one is still out. */
static void on_ops(evutil_socket_t fd, short what, void *arg)
{
	struct ra_worker *rw = arg;
	struct metrics_pool_gauges g;

	(void)fd;
	(void)what;
	store_db_pool_state(rw->pool, &g.idle, &g.busy, &g.down);
	metrics_pool_set(rw->w->metrics, rw->w->id, &g);
	if (rw->pool && !rw->ready.probing &&
	    store_db_schema_version(rw->pool, on_schema_version, rw) == 0) {
		rw->ready.probing = true;
		rw->ready.probe_ms = mono_ms();
	}
}

/* A key that cannot make one signature (core/key.h key_probe: an HSM
 * gone). Probed at most every RA_READY_KEY_S s: a scraper polling /readyz
 * must not make the token sign in a loop. */
static const char *keys_unusable(struct ra_worker *rw)
{
	const struct cfg *cfg = rw->w->cfg;
	uint64_t now = mono_ms();

	if (rw->ready.key_ms && now - rw->ready.key_ms < RA_READY_KEY_S * 1000u)
		return rw->ready.key_bad;
	rw->ready.key_ms = now;
	rw->ready.key_bad = NULL;
	if (cfg->ca_key && key_probe(cfg->ca_key) != 0)
		rw->ready.key_bad = "CA key unusable";
	else if (cfg->cmp_key && cfg->cmp_key != cfg->ca_key && key_probe(cfg->cmp_key) != 0)
		rw->ready.key_bad = "CMP key unusable";
	return rw->ready.key_bad;
}

const char *ra_worker_unready(struct ra_worker *rw)
{
	struct ra_ready *r;
	uint64_t now = mono_ms();

	if (!rw)
		return "not initialised";
	r = &rw->ready;
	if (rw->pool && (store_db_pool_nup(rw->pool) == 0 || r->db_ok_ms == 0 ||
			 now - r->db_ok_ms > READY_DB_STALE_MS))
		return "database unreachable";
	if (rw->pool && r->schema_version != store_migrate_latest()) {
		/* a node serves only on the schema it was built for: older
		 * or newer SQL functions may not match its statements */
		snprintf(r->reason, sizeof(r->reason),
			 "database schema version %d, this binary applies %d", r->schema_version,
			 store_migrate_latest());
		return r->reason;
	}
	return keys_unusable(rw);
}

static int load_trust_now(struct ra_worker *rw, const char *conninfo)
{
	struct store_conn *c = NULL;
	int rc = store_db_connect(conninfo, &c);

	if (rc == 0)
		rc = store_enroll_vendors_sync(c, on_vendor_rows, rw);
	store_db_close(c);
	return rc == 0 && rw->trust ? 0 : (rc ? rc : RC_DB);
}

int ra_worker_init(struct worker *w)
{
	const char *conninfo = w->hooks->shared;
	struct ra_worker *rw = calloc(1, sizeof(*rw));
	struct timeval reload = { RELOAD_INTERVAL_S, 0 };
	struct timeval sweep = { w->cfg->sweep_interval_s, 0 };

	if (w->cfg->admin_only) { /* loaded without private keys: never serves */
		log_error(NULL, "worker %d: configuration loaded without its keys", w->id);
		free(rw);
		return RC_INVAL;
	}
	if (!rw)
		return RC_NOMEM;
	w->app = rw;
	rw->w = w;
	/* issue 11: every database wait bounded (docs/CONFIG.md database.*) */
	struct store_pool_limits lim = {
		.wait_ms = w->cfg->db_queue_wait_ms,
		.stmt_timeout_ms = w->cfg->db_stmt_timeout_ms,
	};

	rw->pool = store_db_pool_new(w->base, conninfo, w->cfg->db_pool, &lim);
	if (!rw->pool)
		return RC_DB;
	rw->ops = &store_ops_pg; /* every async store call of ra/ goes through it */
	rw->db = rw->pool;
	store_db_pool_set_metrics(rw->pool, w->metrics);
	if (load_trust_now(rw, conninfo) != 0) {
		log_error(NULL, "worker %d: loading the vendor registry failed", w->id);
		return RC_DB;
	}
	rw->reload_ev = event_new(w->base, -1, EV_PERSIST, on_reload, rw);
	if (!rw->reload_ev || event_add(rw->reload_ev, &reload) != 0)
		return RC_NOMEM;
	rw->registry_listen =
		store_listen_new(w->base, conninfo, REGISTRY_CHANNEL, on_registry_changed, rw);
	if (!rw->registry_listen)
		return RC_NOMEM;
	if (w->id == 0) {
		rw->sweep_ev = event_new(w->base, -1, EV_PERSIST, on_sweep, rw);
		if (!rw->sweep_ev || event_add(rw->sweep_ev, &sweep) != 0)
			return RC_NOMEM;
	}
	/* every worker serving the CRL keeps a current copy for outages */
	if (!(rw->crl = ra_crl_new(rw, w->id == 0 || w->cfg->crl_path)))
		return RC_NOMEM;
	if (!(rw->certs = cmp_certcache_new()))
		return RC_NOMEM;
	if (!(rw->unauth = ra_unauth_new()))
		return RC_NOMEM;
	struct timeval ops = { OPS_INTERVAL_MS / 1000, (OPS_INTERVAL_MS % 1000) * 1000 };
	rw->ops_ev = event_new(w->base, -1, EV_PERSIST, on_ops, rw);
	if (!rw->ops_ev || event_add(rw->ops_ev, &ops) != 0)
		return RC_NOMEM;
	publish_deadlines(w);
	on_ops(-1, 0, rw); /* ready within one round trip of start-up */
	return 0;
}

/* SIGHUP (core/server.h): w->cfg is the new snapshot. Of what was derived
 * from the configuration at start, the sweep period follows it (re-armed
 * only when it changed, or frequent reloads would keep postponing the
 * sweep); the pool's database.* limits need a restart. The CRL, the token
 * and the unauthenticated-work bounds read w->cfg or the request's own
 * snapshot at each use. */
void ra_worker_reload(struct worker *w, const struct cfg *old)
{
	struct ra_worker *rw = w->app;
	struct timeval sweep = { w->cfg->sweep_interval_s, 0 };

	if (rw && rw->sweep_ev && w->cfg->sweep_interval_s != old->sweep_interval_s &&
	    event_add(rw->sweep_ev, &sweep) != 0)
		log_warn(NULL, "worker %d: the new sweep_interval_s is not applied", w->id);
	publish_deadlines(w);
	if (rw)
		rw->ready.key_ms = 0; /* new keys: probe them when next asked */
	if (w->id == 0)		      /* once per reload (core/server.c reloads every worker) */
		metrics_reload(w->metrics, "ok");
}

void ra_worker_fini(struct worker *w)
{
	struct ra_worker *rw = w->app;

	if (!rw)
		return;
	if (rw->reload_ev)
		event_free(rw->reload_ev);
	if (rw->ops_ev)
		event_free(rw->ops_ev);
	store_listen_free(rw->registry_listen); /* before the pool: it queues reloads */
	if (rw->sweep_ev)
		event_free(rw->sweep_ev);
	ra_fwd_shutdown(rw); /* before the pool: cancels upstream calls */
	store_db_pool_free(rw->pool);
	ra_fwd_fini(rw);
	ra_crl_free(rw->crl); /* after the pool: its callbacks have run */
	ra_trust_free(rw->trust);
	cmp_certcache_free(rw->certs); /* after the pool: no request is left */
	ra_unauth_free(rw->unauth);
	free(rw);
	w->app = NULL;
}
