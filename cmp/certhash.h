/*
 * cmp/certhash.h - certHash of CertStatus in certConf (RFC 4210/9810
 * 5.3.18, RFC 9481 2).
 *
 * Pure functions over their arguments: any thread may call them.
 */
#ifndef CMPGW_CMP_CERTHASH_H
#define CMPGW_CMP_CERTHASH_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"

/* Largest certHash we compute (SHA-512, SHAKE256 with d = 512) */
#define CMP_CERTHASH_MAX 64

/*
 * The digest certHash uses by default for cert: the hash of cert's
 * signature algorithm (also inside RSASSA-PSS parameters); SHA-512 for
 * Ed25519 and SHAKE256 for Ed448 (RFC 9481 2.1 / 3.3). NULL if the
 * signature algorithm has no such digest. Returns a static EVP_MD (do not
 * free). cert is non-const only for OpenSSL's caches.
 */
const EVP_MD *cmp_certhash_md(X509 *cert);

/*
 * Hash the DER of cert into out (at least CMP_CERTHASH_MAX bytes) and set
 * *outlen. hashAlg is CertStatus.hashAlg (CMP v3, RFC 9810 5.3.18): if not
 * NULL its digest is used (SHA-2, SHA-3, SHAKE128 with d = 256, SHAKE256
 * with d = 512); otherwise cmp_certhash_md(cert). Returns 0, RC_INVAL on
 * NULL arguments, RC_UNSUPPORTED for a hashAlg or signature algorithm
 * without an accepted digest, RC_CRYPTO.
 */
int cmp_certhash_compute(X509 *cert, const X509_ALGOR *hashAlg, unsigned char *out,
			 unsigned int *outlen) WUR;

#endif
