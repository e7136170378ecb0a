/*
 * cmp/pubkey.h - CMPGW_PUBKEY, the ASN.1 item of a certTemplate's
 * publicKey: a SubjectPublicKeyInfo that decodes into the same X509_PUBKEY
 * (same fields, same key) as OpenSSL's X509_PUBKEY item, only cheaper for
 * the common case.
 *
 * Why: OpenSSL 3.0 decodes every X509_PUBKEY through a provider decoder
 * context built per call, which costs more than an ECDSA verification
 * (BENCHMARKS.md). A named NIST curve key (P-256/P-384/P-521) with an
 * uncompressed point in DER is built here from the curve and the point
 * instead, and kept only when its re-encoding is byte for byte the
 * received SubjectPublicKeyInfo. Everything else (other key types and
 * curves, compressed points, explicit parameters, points not on the curve,
 * non-DER encodings) is decoded by the X509_PUBKEY item itself, from the
 * same bytes, so acceptance and failures are unchanged.
 *
 * The fast key is a libcrypto "legacy" EC key: it works with every EVP
 * call as the provider key would (unit-tested: same group name, encoded
 * point, SPKI DER, EVP_PKEY_eq, signatures verify).
 *
 * Encoding, freeing and printing are X509_PUBKEY's own. Any thread.
 */
#ifndef CMPGW_CMP_PUBKEY_H
#define CMPGW_CMP_PUBKEY_H

#include <openssl/asn1t.h>
#include <openssl/x509.h>

/* C type: X509_PUBKEY * */
DECLARE_ASN1_ITEM(CMPGW_PUBKEY)

#endif
