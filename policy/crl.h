/*
 * policy/crl.h - building a signed X.509 v2 CRL (RFC 5280 5) for the
 * issuing CA, and the CRLReason names (RFC 5280 5.3.1).
 *
 * No I/O of their own (a token key's signature is a round trip to the
 * token), no shared state; any thread.
 */
#ifndef CMPGW_POLICY_CRL_H
#define CMPGW_POLICY_CRL_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"

/* RFC 5280 5.3.1 CRLReason values; 7 is unused. */
#define POLICY_CRL_REASON_UNSPECIFIED 0
#define POLICY_CRL_REASON_HOLD	      6
#define POLICY_CRL_REASON_REMOVE      8
#define POLICY_CRL_REASON_MAX	      10

/* One revoked certificate. */
struct policy_crl_entry {
	const char *serial_hex; /* as BN_bn2hex writes it (upper case, no 0x) */
	long long revoked_at;	/* epoch seconds */
	int reason;		/* CRLReason; 0 = no reasonCode extension */
};

/*
 * Build the CRL of issuer: version 2, issuer name, thisUpdate = now,
 * nextUpdate = now + validity_s, one entry per e[] (reasonCode extension
 * unless the reason is unspecified, RFC 5280 5.3.1), extensions
 * authorityKeyIdentifier (keyid of issuer) and cRLNumber = number; signed
 * with key (SHA-256/384/512 matched to the EC curve size, none for EdDSA).
 * *out gets the new CRL (caller frees). RC_INVAL for a bad serial or
 * reason, RC_CRYPTO if libcrypto fails, RC_UNAVAIL if key is in a token
 * that stopped answering (core/key.h key_unavailable; retry later).
 */
int policy_crl_build(X509 *issuer, EVP_PKEY *key, const struct policy_crl_entry *e, size_t n,
		     long long number, time_t now, int validity_s, X509_CRL **out) WUR;

/* "keyCompromise" -> 1; -1 if the name is not a CRLReason (names as in
 * RFC 5280, case-sensitive). */
int policy_crl_reason_parse(const char *name);
/* 1 -> "keyCompromise"; "?" for values that are no CRLReason. */
const char *policy_crl_reason_name(int reason);

#endif
