/*
 * ra/issued.h - the facts about a freshly issued certificate that every
 * commit stores (DER, names, serial, key fingerprint, certHash, validity),
 * computed once in one place. Any thread.
 */
#ifndef CMPGW_RA_ISSUED_H
#define CMPGW_RA_ISSUED_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <stdbool.h>

#include "core/cfg.h"
#include "core/rc.h"

struct ra_issued {
	unsigned char *der; /* OPENSSL_malloc'd DER of the certificate */
	size_t len;
	char issuer[512], subject[512];	     /* RFC 2253 text */
	char *serial_hex;		     /* OPENSSL_malloc'd upper-case hex */
	unsigned char key_fp[32];	     /* SHA-256 of the SubjectPublicKeyInfo */
	unsigned char hash[EVP_MAX_MD_SIZE]; /* certHash (RFC 4210 5.3.18) */
	unsigned int hlen;
	long long not_before, not_after; /* epoch seconds */
};

struct ra_req;
struct policy_identity;

/*
 * The one place where the issuing CA key signs a certificate for a
 * request (CA mode, renewal, downstream RA, token): policy_profile_issue
 * for req's alias profile, the result in req->cr.cert. Call only after the
 * request was authenticated and admitted (DESIGN.md: admit before
 * signing). Every signature is logged at info level as "CA signature"
 * with the new serial, which is what tests count. 0, RC_INVAL (the
 * profile cannot build a valid name for this identity: why, whylen bytes
 * of the caller's, then holds the statusString for badCertTemplate, e.g.
 * naming the refused SAN), or RC_CRYPTO/RC_NOMEM.
 */
int ra_issue(struct ra_req *req, const struct policy_identity *id, const X509_NAME *requested,
	     EVP_PKEY *pub, char *why, size_t whylen) WUR;

/* The produce step of CA-mode flows: ra_issue for the identity
 * {req->cr.serial, req->cr.id_vendor}, the subject req->cr.asked and req->cr.pub;
 * refuses badCertTemplate (the profile's reason) or systemFailure. */
int ra_step_sign(struct ra_req *req);

/* Was x issued (signed) by this gateway's issuing CA (cfg->ca_cert)? An
 * operator certificate, which renewals are signed with. */
bool ra_issued_by_ca(const struct cfg *cfg, X509 *x);

/* Fill f from cert. 0, or RC_CRYPTO/RC_NOMEM (f is then cleared). */
int ra_issued_facts(X509 *cert, struct ra_issued *f) WUR;
/* Free what ra_issued_facts allocated; safe on a zeroed struct. */
void ra_issued_clear(struct ra_issued *f);

#endif
