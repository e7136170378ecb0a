/*
 * ra/ra.h - the enrollment engine: per-worker state, the server hooks,
 * and the flows and handlers the pipeline (ra/pipeline.h) dispatches to.
 *
 * A request flows: HTTP checks (ra/handler.c) -> ra_submit: decode ->
 * header checks -> the flow for the body type (a table) -> its steps,
 * async ones resumed through ra_resume -> one answer (ra/answer.h).
 * Threads: everything on the owning worker's loop.
 */
#ifndef CMPGW_RA_RA_H
#define CMPGW_RA_RA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cmp/asn1.h"
#include "core/http.h"
#include "core/log.h"
#include "core/server.h"
#include "ra/answer.h"
#include "ra/pipeline.h"
#include "ra/req.h"
#include "ra/trust.h"

struct store_ops;
struct store_pool;
struct store_listen;
struct ra_fwd;
struct cmp_certcache;
struct ra_nested;
struct ra_unauth;

/* Readiness of one worker (GET /readyz, cmd/ops.c): its database and the
 * schema there, probed by the worker's ops tick about once a second, and
 * the keys, probed at most every RA_READY_KEY_S seconds when asked. */
struct ra_ready {
	bool probing;	     /* a schema-version statement in flight */
	uint64_t probe_ms;   /* when it was sent (monotonic ms) */
	uint64_t db_ok_ms;   /* when one last succeeded (0: never) */
	int schema_version;  /* what it found */
	uint64_t key_ms;     /* when the keys were last probed (0: never) */
	const char *key_bad; /* NULL, or which key could not sign then */
	char reason[96];     /* the last reason given */
};

struct ra_worker {
	struct worker *w;
	/* The store as ra/ sees it (store/ops.h): every async call goes
	 * rw->ops->fn(rw->db, ...). In service ops is &store_ops_pg and db
	 * the pool; a test may plug in a fake. */
	const struct store_ops *ops;
	void *db;
	struct store_pool *pool; /* owned: the PostgreSQL pool behind db (NULL with a fake) */
	struct ra_trust *trust;	 /* vendor cache, replaced on reload */
	struct event *reload_ev; /* housekeeping tick; safety vendor reload */
	struct store_listen *registry_listen; /* registry change notifications */
	struct event *sweep_ev;		      /* confirm-deadline sweep (worker 0) */
	struct ra_crl *crl;		      /* CRL publication (ra/crl.h) */
	struct ra_fwd *fwd;		      /* RA mode: upstream exchanges in flight (ra/fwd.c) */
	struct cmp_certcache *certs;	      /* decoded extraCerts by DER (cmp/certcache.h) */
	struct ra_unauth *unauth;	      /* bounds on unauthenticated work (ra/audit.h) */
	bool reload_busy;
	bool reload_again; /* notified during a reload: run one more */
	unsigned reload_ticks;
	struct event *ops_ev; /* 1 s: gauges to the metrics, the readiness probe */
	struct ra_ready ready;
};

/* server_hooks for core/server */
int ra_worker_init(struct worker *w) WUR;
void ra_worker_fini(struct worker *w);
void ra_worker_reload(struct worker *w, const struct cfg *old);
void ra_dispatch(struct http_req *req, void *arg);
/* Why rw's worker is not ready to serve CMP (GET /readyz): NULL when
 * ready, else a short reason ("database unreachable", "database schema
 * version 15, this binary applies 16", "CA key unusable", "CMP key
 * unusable"), borrowed from rw until the next call. May probe the keys
 * (one signature each, at most every RA_READY_KEY_S seconds). rw NULL
 * (no CMP engine on this worker): "not initialised". */
#define RA_READY_KEY_S 2
const char *ra_worker_unready(struct ra_worker *rw);

/* The ir/cr flows (ra/ir.c): CA mode, RA mode (ra/pipeline.h). */
extern const struct ra_flow ra_flow_ir_ca;
extern const struct ra_flow ra_flow_ir_ra;
/* rr (ra/rr.c): CA mode records, RA mode forwards first. */
extern const struct ra_flow ra_flow_rr_ca;
extern const struct ra_flow ra_flow_rr_ra;
/* genm (ra/genm.c): protection, a trusted sender, genp. */
extern const struct ra_flow ra_flow_genm;

/* certConf of a token transaction: verify its PBMAC with the token secret
 * (sealed as stored), and keep the secret for the answer. Returns a fail
 * bit with *why set, or -1. */
int ra_token_verify_mac(struct ra_req *req, const char *ref, const unsigned char *sealed,
			size_t sealed_len, const char **why);

/* Text forms (ra/names.c): RFC 2253 name into buf; time as epoch seconds. */
void ra_name_str(const X509_NAME *n, char *buf, size_t len);
long long ra_asn1_epoch(const ASN1_TIME *t);

/* Downstream RAs (ra/downstream.c, RFC 9483 5.2). A step of the ir/cr
 * flows: when the signer is an RA of the alias, switch req to the
 * downstream-RA flow (RA_STEP_JUMP); refuse an RA certificate the alias
 * does not authorize (RA_STEP_REFUSED); else RA_STEP_NEXT. */
int ra_downstream_route(struct ra_req *req);
/* Is the (verified) signer an authorized RA of the alias? Sets req->ra. */
bool ra_downstream_authorized(struct ra_req *req);
/* A step of the kur flows once the signer is an authorized RA: the
 * device certificate it renews is the first of its extraCerts (after its
 * own) that this CA issued (req->old_cert); refused when there is none. */
int ra_downstream_old_cert(struct ra_req *req);

#endif
