/*
 * cmp/build.h - construction of response messages (RFC 4210/9810 5.1,
 * RFC 9483 4). Builders set fields only; protection is cmp/prot.h's job
 * and is applied last.
 *
 * Ownership follows OpenSSL: set0/push0 take ownership, set1/push1 up-ref
 * or copy. Pure functions over their arguments: any thread may call them.
 */
#ifndef CMPGW_CMP_BUILD_H
#define CMPGW_CMP_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "cmp/asn1.h"
#include "core/rc.h"

#define CMP_BUILD_NONCE_LEN 16

/*
 * New response to req with an empty body of body_type (enum cmp_body_type).
 * Header: pvno 3 if req has pvno 3, else 2 (RFC 9810 7); sender =
 * directoryName of sender_cert's subject (empty directoryName if
 * sender_cert is NULL); recipient = req's sender; messageTime = now;
 * transactionID copied; 16 fresh random senderNonce bytes; recipNonce =
 * req's senderNonce; senderKID = sender_cert's subjectKeyIdentifier if any.
 * req may be NULL: then a random transactionID, no recipNonce, and an empty
 * directoryName recipient. The body member is allocated empty: ASN1_NULL for
 * pkiconf, an empty CertRepMessage for ip/cp/kup/ccp, empty stacks for
 * genp/pollRep/..., an ErrorMsgContent with a default status for error, a
 * RevRepContent with an empty status stack for rp. Body types cmpgw never
 * sends (other/undefined) give NULL. Borrows req and sender_cert. Returns a
 * new message or NULL.
 */
CMPGW_MSG *cmp_build_response(const CMPGW_MSG *req, X509 *sender_cert, int body_type);

/*
 * New PKIStatusInfo: status (enum cmp_status), failInfo with fail_bit set
 * (enum cmp_fail_bit; -1 for none), statusString = [text] (NULL for none).
 * Returns NULL on failure or if fail_bit > CMP_FAIL_MAX.
 */
CMPGW_STATUSINFO *cmp_build_statusinfo(int status, int fail_bit, const char *text);

/*
 * Append a CertResponse {certReqId, si, cert} to the CertRepMessage body of
 * rsp (ip, cp, kup, ccp). si is set0 (owned by rsp on success, freed by the
 * caller on failure); cert is set1 (up-ref'd), NULL for a rejection.
 * Returns 0, RC_INVAL (rsp is no CertRepMessage, si NULL), RC_NOMEM.
 */
int cmp_build_certrep_add(CMPGW_MSG *rsp, long certReqId, CMPGW_STATUSINFO *si, X509 *cert) WUR;

/* Append cert (up-ref'd) to caPubs of rsp's CertRepMessage. 0, RC_INVAL, RC_NOMEM. */
int cmp_build_capubs_push1(CMPGW_MSG *rsp, X509 *cert) WUR;

/*
 * New error message (RFC 4210 5.3.21) answering req (NULL if req could not
 * be decoded): PKIStatusInfo rejection, failInfo fail_bit (-1: none),
 * statusString [text] (NULL: none). Header as in cmp_build_response.
 * Returns a new message or NULL.
 */
CMPGW_MSG *cmp_build_error(const CMPGW_MSG *req, X509 *sender_cert, int fail_bit, const char *text);

/*
 * Append every certificate of chain (up-ref'd, in order) to msg's
 * extraCerts; chain NULL or empty is a no-op. 0 or RC_NOMEM (msg unchanged
 * on failure).
 */
int cmp_build_extracerts_push1(CMPGW_MSG *msg, STACK_OF(X509) *chain) WUR;

/*
 * Add ITAV id-it-implicitConfirm (1.3.6.1.5.5.7.4.13) with a NULL value to
 * msg's header generalInfo (RFC 4210 5.1.1.1), unless already present.
 * 0 or RC_NOMEM.
 */
int cmp_build_implicit_confirm(CMPGW_MSG *msg) WUR;

/* True if req's header generalInfo holds id-it-implicitConfirm. */
bool cmp_build_has_implicit_confirm(const CMPGW_MSG *req);

/*
 * DER of msg into *der (OPENSSL_malloc'd; caller OPENSSL_free's) and *len.
 * 0, RC_INVAL or RC_NOMEM.
 */
int cmp_build_der(const CMPGW_MSG *msg, unsigned char **der, size_t *len) WUR;

#endif
