/*
 * cmp/prot.h - PKIMessage protection (RFC 4210/9810 5.1.3): signature and
 * PasswordBasedMac (5.1.3.1). Verification works on the bytes as received,
 * so it does not depend on our re-encoding of a decoded message.
 *
 * Pure functions over their arguments: any thread may call them.
 */
#ifndef CMPGW_CMP_PROT_H
#define CMPGW_CMP_PROT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cmp/asn1.h"
#include "core/rc.h"

/* Bounds applied to PBMParameter (RFC 4210 5.1.3.1, RFC 9481 6.1.1) */
#define CMP_PROT_PBM_MIN_ITERATIONS 100
#define CMP_PROT_PBM_MAX_SALT	    1024

/*
 * DER of ProtectedPart ::= SEQUENCE { header, body } taken from the raw
 * PKIMessage msg_der[0..len): the header and body TLVs exactly as received,
 * under a new SEQUENCE header. *out is OPENSSL_malloc'd (caller frees with
 * OPENSSL_free), *outlen its length. Returns 0, RC_DECODE if msg_der is not a
 * definite-length SEQUENCE starting with a SEQUENCE and a [n] TLV, RC_INVAL
 * on NULL arguments, RC_NOMEM.
 */
int cmp_prot_part_der(const unsigned char *msg_der, size_t len, unsigned char **out,
		      size_t *outlen) WUR;

/*
 * Verify the signature protection of msg (decoded from msg_der[0..len))
 * with signer's public key and header.protectionAlg (algorithms: see
 * cmp/sig.h). Does not validate signer itself. Returns 0 if valid;
 * RC_INVAL if msg has no protection/protectionAlg or signer has no key;
 * RC_DECODE if msg_der is malformed; RC_UNSUPPORTED for an algorithm we do
 * not accept (including PBMAC); RC_CRYPTO for a bad signature or an
 * algorithm whose key type does not match signer's key. Borrows everything.
 */
int cmp_prot_verify_sig(const unsigned char *msg_der, size_t len, const CMPGW_MSG *msg,
			X509 *signer) WUR;

/*
 * Sign msg with key: sets header.protectionAlg for the key (see
 * cmp_sig_algor_for_key), signs the DER of ProtectedPart and sets
 * msg->protection (old values freed). Call after the header and body are
 * final; extraCerts may change afterwards. Returns 0, RC_UNSUPPORTED for a
 * key type we do not sign with, RC_CRYPTO, RC_NOMEM, RC_UNAVAIL when key
 * is in a token that stopped answering (the caller answers systemUnavail,
 * unprotected: RFC 9483 3.6.4). On failure protection is unchanged,
 * protectionAlg may already be replaced.
 */
int cmp_prot_sign(CMPGW_MSG *msg, EVP_PKEY *key) WUR;

/*
 * cmp_prot_sign, then the DER of the whole message into *der (OPENSSL_malloc'd,
 * *len bytes): the same bytes as cmp_build_der, built from the ProtectedPart
 * just signed instead of encoding header and body a second time. extraCerts
 * must be final. Returns as cmp_prot_sign, RC_INVAL for NULL der/len.
 */
int cmp_prot_sign_der(CMPGW_MSG *msg, EVP_PKEY *key, unsigned char **der, size_t *len) WUR;

/* True if header.protectionAlg is id-PasswordBasedMac (1.2.840.113533.7.66.13). */
bool cmp_prot_is_pbmac(const CMPGW_MSG *msg);

/*
 * Verify PasswordBasedMac protection of msg (decoded from msg_der[0..len))
 * with the shared secret. Accepted: owf SHA-256/384/512, mac hmac-sha1
 * (OpenSSL's default), hmacWithSHA1/224/256/384/512. Returns 0 if valid;
 * RC_INVAL if protection is missing, parameters are malformed, the salt is
 * longer than CMP_PROT_PBM_MAX_SALT or iterationCount is outside
 * [CMP_PROT_PBM_MIN_ITERATIONS, max_iterations] (checked before any work);
 * RC_UNSUPPORTED if protectionAlg is not PBMAC or names another owf/mac;
 * RC_CRYPTO if the MAC does not match (compared in constant time);
 * RC_DECODE, RC_NOMEM. Borrows everything; derived keys are cleansed.
 */
int cmp_prot_verify_pbmac(const unsigned char *msg_der, size_t len, const CMPGW_MSG *msg,
			  const unsigned char *secret, size_t secretlen, long max_iterations) WUR;

/*
 * Check msg's PasswordBasedMac parameters as cmp_prot_verify_pbmac would,
 * without deriving any key: call it before anything costly. Returns 0
 * with *iter = iterationCount; RC_TOOBIG when iterationCount exceeds
 * max_iterations (*iter set); RC_UNSUPPORTED if protectionAlg is not PBMAC
 * or names another owf/mac; RC_INVAL if protection is missing, parameters
 * are malformed, the salt is too long or iterationCount is below
 * CMP_PROT_PBM_MIN_ITERATIONS. Borrows msg.
 */
int cmp_prot_pbmac_check(const CMPGW_MSG *msg, long max_iterations, long *iter) WUR;

/*
 * Protect msg with PasswordBasedMac: owf SHA-256, mac hmacWithSHA256, 16
 * random salt bytes, iterations (>= CMP_PROT_PBM_MIN_ITERATIONS, else
 * RC_INVAL). Sets header.protectionAlg and msg->protection like
 * cmp_prot_sign. Returns 0, RC_INVAL, RC_CRYPTO, RC_NOMEM.
 */
int cmp_prot_pbmac(CMPGW_MSG *msg, const unsigned char *secret, size_t secretlen,
		   int iterations) WUR;

#endif
