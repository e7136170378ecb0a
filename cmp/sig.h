/*
 * cmp/sig.h - signatures over raw bytes with an AlgorithmIdentifier, shared
 * by message protection (cmp/prot.c) and proof-of-possession (cmp/pop.c).
 *
 * Accepted algorithms (RFC 9481 2 and 3): ecdsa-with-SHA256/384/512,
 * sha256/384/512WithRSAEncryption, RSASSA-PSS with SHA-256/384/512 and MGF1
 * over SHA-256/384/512, Ed25519, Ed448. Anything else is RC_UNSUPPORTED.
 *
 * Pure functions over their arguments: any thread may call them.
 */
#ifndef CMPGW_CMP_SIG_H
#define CMPGW_CMP_SIG_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"

/*
 * Verify sig (a BIT STRING with no unused bits) over tbs with pkey, using
 * the algorithm alg. Returns 0 if valid; RC_UNSUPPORTED if alg is not one of
 * the accepted algorithms or has parameters we do not accept; RC_CRYPTO if
 * the signature is invalid, has unused bits, or alg's key type does not
 * match pkey's (e.g. ecdsa-with-SHA256 with an RSA key). Borrows everything.
 * The OpenSSL error queue may hold details on RC_CRYPTO.
 */
int cmp_sig_verify(const X509_ALGOR *alg, const ASN1_BIT_STRING *sig, const unsigned char *tbs,
		   size_t tbslen, EVP_PKEY *pkey) WUR;

/*
 * Set alg (existing, caller-owned) to the signature algorithm cmpgw uses for
 * key: EC P-256/P-384/P-521 -> ecdsa-with-SHA256/384/512 (other curves by
 * size), RSA -> sha256WithRSAEncryption (NULL parameters), Ed25519/Ed448 ->
 * pure (absent parameters). Returns 0, RC_UNSUPPORTED for other key types,
 * RC_NOMEM.
 */
int cmp_sig_algor_for_key(EVP_PKEY *key, X509_ALGOR *alg) WUR;

/*
 * Sign tbs with key using the algorithm alg (as set by cmp_sig_algor_for_key)
 * and store the signature in sig (existing, caller-owned; replaced content,
 * zero unused bits). Returns 0, RC_UNSUPPORTED, RC_CRYPTO, RC_NOMEM, or
 * RC_UNAVAIL when key is in a token that stopped answering (core/key.h
 * key_unavailable: the caller answers systemUnavail).
 */
int cmp_sig_sign(EVP_PKEY *key, const X509_ALGOR *alg, const unsigned char *tbs, size_t tbslen,
		 ASN1_BIT_STRING *sig) WUR;

/* Mark a BIT STRING as having exactly zero unused bits (no trimming on encode). */
void cmp_sig_bitstring_no_unused(ASN1_BIT_STRING *bs);

#endif
