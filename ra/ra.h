/*
 * ra/ra.h - the enrollment engine: per-worker state and the request
 * context every handler works on.
 *
 * A request flows: HTTP checks -> decode -> header checks -> handler for
 * the body type (a table) -> async store step(s) -> one response. Every
 * handler ends by calling ra_req_fail() or ra_req_answer() exactly once.
 * Threads: everything on the owning worker's loop.
 */
#ifndef CMPGW_RA_RA_H
#define CMPGW_RA_RA_H

#include <stdbool.h>
#include <stddef.h>

#include "cmp/asn1.h"
#include "core/http.h"
#include "core/log.h"
#include "core/server.h"
#include "ra/trust.h"

struct store_pool;

struct ra_worker {
	struct worker *w;
	struct store_pool *db;
	struct ra_trust *trust;     /* vendor cache, replaced on reload */
	struct event *reload_ev;    /* periodic vendor reload */
	struct event *sweep_ev;     /* confirm-deadline sweep (worker 0) */
	bool reload_busy;
};

struct ra_req {
	struct ra_worker *rw;
	struct http_req *http;
	const struct cfg *cfg;
	const struct cfg_alias *alias;
	const unsigned char *der; /* borrowed from http */
	size_t len;
	CMPGW_MSG *msg;
	X509 *signer;             /* borrowed from msg->extraCerts */
	char tid_hex[129];
	struct log_ctx log;
	/* ir state kept across the async commit */
	X509 *cert;
	const struct ra_vendor *vendor;
	char serial[130];
	long cert_req_id;
	bool implicit;
	unsigned char server_nonce[16];
	/* certConf state */
	bool accept;
};

/* server_hooks for core/server */
int ra_worker_init(struct worker *w) WUR;
void ra_worker_fini(struct worker *w);
void ra_dispatch(struct http_req *req, void *arg);

/* Answer with an error message carrying fail_bit and text (statusString),
 * signed by the CMP key; frees req. */
void ra_req_fail(struct ra_req *req, int fail_bit, const char *text);
/* Protect, encode and send rsp (consumed); frees req. */
void ra_req_answer(struct ra_req *req, CMPGW_MSG *rsp);

/* Handlers (ra/ir.c, ra/certconf.c) */
void ra_ir_handle(struct ra_req *req);
void ra_certconf_handle(struct ra_req *req);

#endif
