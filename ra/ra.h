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
#include <stdint.h>

#include "cmp/asn1.h"
#include "core/http.h"
#include "core/log.h"
#include "core/server.h"
#include "ra/trust.h"

struct store_ops;
struct store_pool;
struct store_listen;
struct ra_fwd;
struct cmp_certcache;
struct ra_nested;
struct ra_unauth;

struct ra_worker {
	struct worker *w;
	/* The store as ra/ sees it (store/ops.h): every async call goes
	 * rw->ops->fn(rw->db, ...). In service ops is &store_ops_pg and db
	 * the pool; a test may plug in a fake. */
	const struct store_ops *ops;
	void *db;
	struct store_pool *pool;    /* owned: the PostgreSQL pool behind db (NULL with a fake) */
	struct ra_trust *trust;     /* vendor cache, replaced on reload */
	struct event *reload_ev;    /* housekeeping tick; safety vendor reload */
	struct store_listen *registry_listen; /* registry change notifications */
	struct event *sweep_ev;     /* confirm-deadline sweep (worker 0) */
	struct ra_crl *crl;         /* CRL publication (ra/crl.h) */
	struct ra_fwd *fwd;         /* RA mode: upstream exchanges in flight (ra/fwd.c) */
	struct cmp_certcache *certs; /* decoded extraCerts by DER (cmp/certcache.h) */
	struct ra_unauth *unauth;    /* bounds on unauthenticated work (ra/audit.h) */
	bool reload_busy;
	bool reload_again; /* notified during a reload: run one more */
	unsigned reload_ticks;
};

struct ra_req {
	struct ra_worker *rw;
	struct http_req *http;
	/* The config snapshot the request started with, a reference held
	 * until req_free: alias and alias->profile point into it. */
	const struct cfg *cfg;
	const struct cfg_alias *alias;
	/* The vendor registry snapshot this request authenticates against,
	 * held until the request ends: req->vendor points into it, and the
	 * worker may swap in a reloaded registry during an async step. */
	struct ra_trust *trust;
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
	int rep_body;             /* ra_ir_send_rep's body type; 0: from the request */
	const X509_NAME *asked;   /* subject the device suggested (borrowed) */
	int64_t old_cert_id;      /* renewal: the certificate being renewed */
	/* certConf state */
	bool accept;
	/* shared-secret transactions (ra/token_ir.c): when set, answers are
	 * PBMAC-protected with it instead of signed; cleansed on free */
	unsigned char *mac_secret;
	size_t mac_secret_len;
	/* downstream RA (ra/downstream.c): the authorized RA entry of the
	 * signer, borrowed from cfg; NULL for a device's own request */
	const struct cfg_ra *ra;
	X509 *old_cert;           /* kur by an RA: the device's certificate (borrowed) */
	/* inner message of a nested request: the answer goes to parent (the
	 * "answer sink") instead of HTTP; der then points to der_owned */
	struct ra_req *parent;
	int child_idx;            /* its position in the parent's nested body */
	struct ra_nested *batch;  /* a nested request: its inner answers so far */
	unsigned char *der_owned;
};

/* server_hooks for core/server */
int ra_worker_init(struct worker *w) WUR;
void ra_worker_fini(struct worker *w);
void ra_worker_reload(struct worker *w, const struct cfg *old);
void ra_dispatch(struct http_req *req, void *arg);

/* Answer with an error message carrying fail_bit and text (statusString),
 * signed by the CMP key; frees req. */
void ra_req_fail(struct ra_req *req, int fail_bit, const char *text);
/* Protect, encode and send rsp (consumed); frees req. */
void ra_req_answer(struct ra_req *req, CMPGW_MSG *rsp);
/* Call at every resume point of an async step before signing, forwarding
 * or committing: true when the client (of req, or of the nested request
 * it belongs to) has disconnected; req is then dropped and freed and must
 * not be touched again. */
bool ra_req_gone(struct ra_req *req);

/* Handlers (ra/ir.c, ra/renew.c, ra/certconf.c, ra/genm.c) */
void ra_ir_handle(struct ra_req *req);    /* ir, cr */
void ra_kur_handle(struct ra_req *req);   /* kur */
void ra_p10cr_handle(struct ra_req *req); /* p10cr */
void ra_certconf_handle(struct ra_req *req);
void ra_error_handle(struct ra_req *req); /* error from the client */
void ra_genm_handle(struct ra_req *req);
void ra_rr_handle(struct ra_req *req);   /* rr (ra/rr.c) */

/* ir protected with PasswordBasedMac on an alias whose auth has "token"
 * (ra/token_ir.c); crm is the single CertReqMsg of the ir. */
void ra_token_ir_handle(struct ra_req *req, const CMPGW_CERTREQMSG *crm);
/* certConf of a token transaction: verify its PBMAC with the token secret
 * (sealed as stored), and keep the secret for the answer. Returns a fail
 * bit with *why set, or -1. */
int ra_token_verify_mac(struct ra_req *req, const char *ref, const unsigned char *sealed,
			size_t sealed_len, const char **why);

/* Shared steps of the enrollment handlers (ra/ir.c). Each returns a
 * PKIFailureInfo bit with *why set, or -1 when the step passed. */
int ra_ir_verify_protection(struct ra_req *req, const char **why);
int ra_ir_check_request(struct ra_req *req, const CMPGW_CERTREQMSG *crm, EVP_PKEY **pub,
			const char **why);
/* Send ip/cp/kup for req->cert (status from req->asked vs issued subject). */
void ra_ir_send_rep(struct ra_req *req);
void ra_name_str(const X509_NAME *n, char *buf, size_t len);
long long ra_asn1_epoch(const ASN1_TIME *t);

/* The steps after authentication and POP of a vendor-certificate ir/cr
 * (req->vendor) or a downstream RA's (req->ra; req->vendor may then be
 * NULL) for the identity req->serial (ra/ir.c): admit read-only, then the
 * CA signs for pub (consumed), then commit. A refused or replayed request
 * costs no CA signature (issue 10 finding 3). Answers req on every path. */
void ra_ir_admit_issue(struct ra_req *req, EVP_PKEY *pub);

/* Downstream RAs (ra/downstream.c, RFC 9483 5.2). ra_downstream_ir takes
 * over an ir/cr when the signer is an RA of the alias (or refuses it when
 * it is an RA certificate the alias does not authorize): true = handled. */
bool ra_downstream_ir(struct ra_req *req, const CMPGW_CERTREQMSG *crm);
void ra_nested_handle(struct ra_req *req); /* nested (RFC 9483 5.2.2.1) */
/* Is the (verified) signer an authorized RA of the alias? Sets req->ra. */
bool ra_downstream_authorized(struct ra_req *req);
/* kur of an authorized RA for the device certificate it puts in extraCerts
 * (after its own), named by oldCertID; continues in ra_renew_start. */
void ra_downstream_kur(struct ra_req *req, const CMPGW_CERTREQMSG *crm);
/* The protected DER answer of inner request idx of parent (NULL: building
 * it failed); once every inner request answered, answers parent with a
 * nested message of the answers in order. der is borrowed. */
void ra_nested_inner_done(struct ra_req *parent, int idx, const unsigned char *der, size_t len);
/* Process inner PKIMessage idx (der consumed) of parent as a request of
 * its own; its answer reaches ra_nested_inner_done(parent, idx, ...). */
void ra_req_dispatch_child(struct ra_req *parent, int idx, unsigned char *der, size_t len);

/* Renewal with an operator certificate this CA issued (ra/renew.c).
 * crm is NULL for p10cr (then pub is the CSR key, consumed). */
bool ra_renew_is_operator_cert(const struct cfg *cfg, X509 *signer);
void ra_renew_start(struct ra_req *req, const CMPGW_CERTREQMSG *crm, EVP_PKEY *pub);

#endif
