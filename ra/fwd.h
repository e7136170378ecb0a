/*
 * ra/fwd.h - RA mode (aliases[].mode "ra"): requests forwarded to an
 * upstream CA over CMP (RFC 9483 5.2), and the device's polling.
 *
 * Threads: everything on the owning worker's loop.
 */
#ifndef CMPGW_RA_FWD_H
#define CMPGW_RA_FWD_H

#include <stdbool.h>
#include <stddef.h>

#include "ra/ra.h"

/* Forward an authenticated ir/cr (req->cr.vendor and req->cr.serial set) or kur
 * (req->ext.renew.old_id and req->cr.serial set) whose single request asks for
 * key pub (borrowed), POP and key policy checked; vendor names the
 * device's vendor for the profile subject. A step's return (ra/pipeline.h):
 * RA_STEP_REFUSED (verdict recorded) or RA_STEP_WAIT: the exchange then
 * records on req the certificate (req->cr.cert), req->cr.waiting (the upstream
 * is slower than upstream.wait_after_s; the exchange goes on without
 * req), the upstream's refusal (ra_req_relay) or a verdict, and calls
 * ra_resume(req) once. */
int ra_fwd_start(struct ra_req *req, EVP_PKEY *pub, const char *vendor);

/* The produce step of the RA-mode flows: ra_fwd_start for req->cr.pub and
 * the identity's vendor req->cr.id_vendor; ra_step_answer_certrep follows. */
int ra_fwd_step_forward(struct ra_req *req);
/* rr of an authorized holder or revoker: forward it; once the upstream
 * accepted, call done(req) to record it locally and answer; else record
 * the refusal (relayed: rp or error) or failure on req and ra_resume(req),
 * without calling done. */
void ra_fwd_rr(struct ra_req *req, void (*done)(struct ra_req *req));

/* certConf of a forwarded transaction, after the local checks passed:
 * forward a certConf to the upstream and wait (bounded) for its pkiConf,
 * then call done(req) to record the decision locally; on failure record
 * it on req and ra_resume(req) instead. */
void ra_fwd_certconf(struct ra_req *req, void (*done)(struct ra_req *req));

/* Worker shutdown: cancel upstream calls (before the pool is freed), then
 * free what is left (after). */
void ra_fwd_shutdown(struct ra_worker *rw);
void ra_fwd_fini(struct ra_worker *rw);

/* ---- internal to ra/fwd*.c: messages to and from the upstream ---- */

/* The upstream's verdict on one exchange. */
struct ra_fwd_verdict {
	X509 *cert;		 /* issued certificate (owned), or NULL */
	CMPGW_STATUSINFO *relay; /* upstream refusal to relay (owned), or NULL */
	bool relay_rp;		 /* relay came in an rp (rejection), not an error */
	bool implicit;		 /* the answer carries implicitConfirm */
	bool waiting;		 /* the upstream asks us to poll (status waiting, pollRep) */
	int poll_after_s;	 /* then: when, 1..60 */
	int bit;		 /* our own failure bit, -1 if none */
	const char *why;	 /* static text for bit */
	unsigned char nonce[64]; /* upstream senderNonce (of the inner answer if nested) */
	size_t nonce_len;
};
void ra_fwd_verdict_clear(struct ra_fwd_verdict *v);

/* New request to the upstream for the device message dev (reprotect,
 * RFC 9483 5.2.3.2): same transactionID, fresh senderNonce (copied to
 * nonce[16]), template subject set to subject (NULL: unchanged) and its
 * subjectAltName extension replaced by san (NULL: removed), so that only
 * the profile names a device; a template left unchanged keeps the device's
 * POP, else raVerified. Protected by the RA. *der is OPENSSL_malloc'd.
 * vendor_chain may be NULL. Returns 0 or an rc. */
int ra_fwd_msg_request(const struct cfg_upstream *u, const CMPGW_MSG *dev, const X509_NAME *subject,
		       const GENERAL_NAMES *san, STACK_OF(X509) *vendor_chain,
		       unsigned char nonce[16], unsigned char **der, size_t *len) WUR;

/* certConf for the upstream (RFC 4210 5.3.18): certHash over cert,
 * recipNonce = the upstream's last senderNonce. */
int ra_fwd_msg_certconf(const struct cfg_upstream *u, const CMPGW_MSG *dev, X509 *cert, bool accept,
			const unsigned char *up_nonce, size_t up_nonce_len, unsigned char nonce[16],
			unsigned char **der, size_t *len) WUR;

/* rr for the upstream (reprotect): the device's RevDetails, protected by
 * the RA. */
int ra_fwd_msg_rr(const struct cfg_upstream *u, const CMPGW_MSG *dev, unsigned char nonce[16],
		  unsigned char **der, size_t *len) WUR;

/* nested (RFC 9483 5.2.2.1): the device's message dev unchanged inside a
 * nested message of the same transaction, protected by the RA. */
int ra_fwd_msg_nested(const struct cfg_upstream *u, const CMPGW_MSG *dev, unsigned char nonce[16],
		      unsigned char **der, size_t *len) WUR;

/* pollReq for the upstream (RFC 4210 5.3.22) in the transaction of dev,
 * recipNonce = the upstream's last senderNonce. */
int ra_fwd_msg_pollreq(const struct cfg_upstream *u, const CMPGW_MSG *dev,
		       const unsigned char *up_nonce, size_t up_nonce_len, unsigned char nonce[16],
		       unsigned char **der, size_t *len) WUR;

/* What an upstream answer must match. */
struct ra_fwd_expect {
	const ASN1_OCTET_STRING *tid;
	const unsigned char *nonce; /* our senderNonce, 16 bytes */
	/* nested style: the device's senderNonce, echoed by the answer to
	 * the inner message; NULL in reprotect style */
	const unsigned char *inner_nonce;
	size_t inner_nonce_len;
	int want;		  /* ip/cp/kup, rp or pkiConf */
	bool poll_ok;		  /* status waiting and pollRep are acceptable answers */
	EVP_PKEY *pub;		  /* certificate answers: the key asked for */
	const X509_NAME *subject; /* and the subject; NULL: not checked */
};

/* Verify an upstream answer der[0..len): protection chaining to
 * u->trusted (or PBMAC), transactionID, recipNonce; a nested answer is
 * unwrapped (exactly one inner message, checked the same way). An error
 * body, or a rejection in an rp, fills v->relay. A certificate must carry
 * e->pub (and e->subject) and chain to u->trusted. Fills v. */
void ra_fwd_msg_verify(const struct cfg_upstream *u, const unsigned char *der, size_t len,
		       const struct ra_fwd_expect *e, struct ra_fwd_verdict *v);

#endif
