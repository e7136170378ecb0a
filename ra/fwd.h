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

/* Forward the vendor-authenticated ir/cr of req (serial and vendor set,
 * POP and key policy checked) whose single request is crm with key pub
 * (borrowed). Ends req (now, or once the upstream answered, or with a
 * "waiting" ip after upstream.wait_after_s). */
void ra_fwd_start(struct ra_req *req, const CMPGW_CERTREQMSG *crm, EVP_PKEY *pub);

/* RA mode: true (with *why) for a request this alias cannot forward yet
 * and must not serve from the local CA (kur, p10cr, rr, token ir);
 * false on a CA-mode alias. */
bool ra_fwd_refused(const struct ra_req *req, const char **why);

/* pollReq (RFC 4210 5.3.22, RFC 9483 4.4) of a forwarded transaction,
 * answered from PostgreSQL: pollRep while pending, then the ip or error. */
void ra_fwd_pollreq_handle(struct ra_req *req);

/* certConf of a forwarded transaction, after the local checks passed:
 * forward a certConf to the upstream and wait (bounded) for its pkiConf,
 * then call done(req) to record the decision locally; on failure end req
 * with an error instead. */
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
	int bit;		 /* our own failure bit, -1 if none */
	const char *why;	 /* static text for bit */
	unsigned char nonce[64]; /* upstream senderNonce */
	size_t nonce_len;
};
void ra_fwd_verdict_clear(struct ra_fwd_verdict *v);

/* New request to the upstream for the device message dev (reprotect,
 * RFC 9483 5.2.3.2): same transactionID, fresh senderNonce (copied to
 * nonce[16]), template subject set to subject (NULL: unchanged; then the
 * device's POP is kept, else raVerified), protected by the RA. *der is
 * OPENSSL_malloc'd. vendor_chain may be NULL. Returns 0 or an rc. */
int ra_fwd_msg_request(const struct cfg_upstream *u, const CMPGW_MSG *dev, const X509_NAME *subject,
		       STACK_OF(X509) *vendor_chain, unsigned char nonce[16], unsigned char **der,
		       size_t *len) WUR;

/* certConf for the upstream (RFC 4210 5.3.18): certHash over cert,
 * recipNonce = the upstream's last senderNonce. */
int ra_fwd_msg_certconf(const struct cfg_upstream *u, const CMPGW_MSG *dev, X509 *cert, bool accept,
			const unsigned char *up_nonce, size_t up_nonce_len, unsigned char nonce[16],
			unsigned char **der, size_t *len) WUR;

/* Verify an upstream answer der[0..len) to our message with transactionID
 * tid and senderNonce nonce: protection chaining to u->trusted (or PBMAC),
 * transactionID, recipNonce. want is the body type expected (ip/cp/kup or
 * pkiConf); an error body fills v->relay. For a certificate response the
 * certificate must carry pub and, when subject is set, that subject, and
 * chain to u->trusted. Fills v. */
void ra_fwd_msg_verify(const struct cfg_upstream *u, const unsigned char *der, size_t len,
		       const ASN1_OCTET_STRING *tid, const unsigned char nonce[16], int want,
		       EVP_PKEY *pub, const X509_NAME *subject, struct ra_fwd_verdict *v);

#endif
