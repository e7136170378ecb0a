/*
 * test/bench/bench_msg.h - the load generator's device side of CMP, on
 * cmpgw's own codec: build ir/kur/certConf requests and validate every
 * answer as a strict device would (RFC 4210/9810 5.1, RFC 9483 3.5 and
 * 4.1): protection signature by a signer that chains to the operator root,
 * transactionID, recipNonce = our last senderNonce, body type, status,
 * certified public key = ours, issued certificate chains to the root.
 *
 * A struct bench_trust is one client's state between answers
 * (bench_trust.c): decoded extraCerts/caPubs by exact DER; validated signer
 * chains keyed by the exact DER of the answer's whole extraCerts field and
 * the signer's place in it, until the chain's earliest notAfter; the CA
 * certificates of those chains. The protection signature is verified on
 * every answer, and so is the issued certificate (signature under its CA,
 * validity, critical extensions, public key). A failed decision is never
 * cached. Requests are built in bench_msg.c, answers checked in
 * bench_trust.c.
 *
 * One struct bench_trust per thread (not locked). Functions return 0 or a
 * negative enum rc; bench_msg_check returns an enum bench_fail.
 */
#ifndef CMPGW_TEST_BENCH_MSG_H
#define CMPGW_TEST_BENCH_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"

#define BENCH_NONCE_LEN 16

/* Why an answer was refused; BENCH_OK is 0. Names: bench_fail_name(). */
enum bench_fail {
	BENCH_OK = 0,
	BENCH_F_TRANSPORT,  /* connect/HTTP error, timeout, non-200 */
	BENCH_F_DECODE,	    /* not a PKIMessage */
	BENCH_F_PROTECTION, /* missing or bad protection signature */
	BENCH_F_UNTRUSTED,  /* signer or issued cert does not chain to the root */
	BENCH_F_TID,	    /* transactionID differs */
	BENCH_F_NONCE,	    /* recipNonce differs from our senderNonce */
	BENCH_F_BODY,	    /* unexpected body type (an error message counts here) */
	BENCH_F_STATUS,	    /* rejection/waiting status */
	BENCH_F_PUBKEY,	    /* issued certificate's key is not ours */
	BENCH_F_INTERNAL,   /* local failure building a request */
	BENCH_F_MAX
};

const char *bench_fail_name(int f);

/* Trust of one client thread: the operator root plus validated certs. */
struct bench_trust;

/* New trust with root (up-ref'd) as the only anchor; NULL on failure. */
struct bench_trust *bench_trust_new(X509 *root);
void bench_trust_free(struct bench_trust *t);

/* What t's caches did so far (for tests and the report). */
struct bench_trust_stats {
	long signer_hits;	 /* signer chain found validated */
	long signer_validations; /* full path validations of a signer chain */
	long issued_fast;	 /* issued certificates checked against a known CA */
	long issued_full;	 /* issued certificates decoded and path-validated */
};
void bench_trust_stats(const struct bench_trust *t, struct bench_trust_stats *st);

/* A fresh P-256 key from t's keygen context (set up once); NULL on failure. */
EVP_PKEY *bench_msg_key_new(struct bench_trust *t);

#define BENCH_HASH_MAX 64

/* One transaction's client state. tid/nonce are set by the builders. */
struct bench_tx {
	unsigned char tid[BENCH_NONCE_LEN];
	unsigned char nonce[BENCH_NONCE_LEN];	  /* our last senderNonce */
	unsigned char srv_nonce[BENCH_NONCE_LEN]; /* server's last senderNonce */
	int srv_nonce_len;
	unsigned char *spki; /* DER of the SubjectPublicKeyInfo we asked for */
	size_t spki_len;
	/* after a good ip/kup: the issued certificate and its certHash */
	unsigned char *cert_der;
	size_t cert_len;
	unsigned char cert_hash[BENCH_HASH_MAX];
	unsigned int cert_hash_len;
	X509 *cert;	  /* decoded only when asked for (bench_tx_cert_get1) */
	char detail[160]; /* on BENCH_F_BODY/STATUS: body, status, failInfo, text */
};

/* Free what tx owns and zero it. */
void bench_tx_clear(struct bench_tx *tx);

/* The issued certificate of tx, decoded on first use (a new reference);
 * NULL if there is none or on failure. */
X509 *bench_tx_cert_get1(struct bench_tx *tx);

/*
 * A new ir (body CMP_BODY_IR) or kur (CMP_BODY_KUR, with oldCertID = cert)
 * for newkey, signed with key; extraCerts = cert + chain (borrowed). Fresh
 * random tid and senderNonce go into tx, and the DER of newkey's
 * SubjectPublicKeyInfo as sent. implicit adds implicitConfirm.
 * *der is OPENSSL_malloc'd. 0, RC_CRYPTO, RC_NOMEM.
 */
int bench_msg_certreq(int body_type, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
		      EVP_PKEY *newkey, bool implicit, struct bench_tx *tx, unsigned char **der,
		      size_t *len) WUR;

/*
 * certConf for the certificate issued in tx (certHash per RFC 9810 5.3.18,
 * computed when the ip/kup was checked; certReqId 0), recipNonce =
 * tx->srv_nonce, same tid, new senderNonce; signed with key, extraCerts =
 * cert. 0, RC_INVAL (no issued certificate), RC_CRYPTO, RC_NOMEM.
 */
int bench_msg_certconf(X509 *cert, EVP_PKEY *key, struct bench_tx *tx, unsigned char **der,
		       size_t *len) WUR;

/*
 * Validate the answer der[0..len) to the request described by tx.
 * want_body: CMP_BODY_IP / CMP_BODY_KUP (then newkey is the key we asked
 * to certify; on success tx->cert_der and cert_hash are set) or
 * CMP_BODY_PKICONF. Records the
 * server's senderNonce in tx. Returns BENCH_OK or the first failed check.
 */
int bench_msg_check(struct bench_trust *t, const unsigned char *der, size_t len,
		    struct bench_tx *tx, int want_body, EVP_PKEY *newkey);

#endif
