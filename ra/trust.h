/*
 * ra/trust.h - the vendor trust cache of one worker and the vendor
 * authentication of a request (TS 33.310 9.5.3: the vendor root validates
 * the device's vendor certificate).
 *
 * A ra_trust is built from the database rows of vendors and their anchors
 * and intermediates; it is immutable once built and owned by one worker.
 */
#ifndef CMPGW_RA_TRUST_H
#define CMPGW_RA_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "core/rc.h"

enum ra_serial_rule { RA_SERIAL_SUBJECT_SN = 0, RA_SERIAL_SUBJECT_CN = 1, RA_SERIAL_CERT = 2 };

struct ra_vendor {
	int64_t id;
	char *name;
	enum ra_serial_rule rule;
	bool allow_reenroll;
	X509_STORE *anchors;
	STACK_OF(X509) *intermediates;
	/* Intermediates that chained to an anchor, keyed by SHA-256 of their
	 * DER (bounded; dropped with the ra_trust on a registry reload). The
	 * one mutable part: only the owning worker touches it. */
	struct ra_trust_icache *icache;
};

/* Refcounted so that a request that holds vendor pointers across an async
 * step keeps its snapshot alive while the worker swaps in a reloaded one.
 * One worker's loop only: the count is a plain int. */
struct ra_trust {
	int refs;
	struct ra_vendor *v;
	size_t n;
};

/* Row-wise builder: add a vendor (returns its index) and its certificates. */
struct ra_trust *ra_trust_new(void);
/* Drop a reference (frees at zero); NULL ok. */
void ra_trust_free(struct ra_trust *t);
/* New reference to t (NULL ok, returns t). */
struct ra_trust *ra_trust_get1(struct ra_trust *t);
int ra_trust_add_vendor(struct ra_trust *t, int64_t id, const char *name, const char *rule,
			bool allow_reenroll) WUR;
/* kind "anchor" or "intermediate"; der is copied. RC_DECODE if bad DER. */
int ra_trust_add_cert(struct ra_trust *t, int64_t vendor_id, const char *kind,
		      const unsigned char *der, size_t len) WUR;

/* Outcome of vendor authentication; text is a static statusString. */
struct ra_auth {
	const struct ra_vendor *vendor; /* borrowed from the trust cache */
	int verr;			/* X509_V_ERR_* of the last attempt */
	const char *text;
};

/*
 * Validate signer (first of extraCerts) up to an anchor of one of the
 * vendors named in allowed (NULL/0: any vendor), using untrusted (the
 * message's extraCerts) and the vendor's registered intermediates, at the
 * current time with X509_V_FLAG_X509_STRICT. 0 and auth->vendor set, or
 * RC_PERM with auth->verr/text set.
 * Fast path: when the signer's issuer is among those certificates and its
 * fingerprint is in the vendor's icache (validated before, its chain still
 * within validity), only the signer is verified against it. The leaf
 * decision is never cached; a miss or a fast-path failure takes the full
 * path, so the answer is the same as without the cache.
 */
int ra_trust_authenticate(const struct ra_trust *t, char *const *allowed, size_t nallowed,
			  X509 *signer, STACK_OF(X509) *untrusted, struct ra_auth *auth) WUR;

/* Extract the device serial from a vendor certificate by rule into buf
 * (printable ASCII, 1..128 bytes). RC_NOTFOUND if absent, RC_INVAL if it
 * has unprintable bytes, RC_TOOBIG if longer. */
int ra_trust_device_serial(enum ra_serial_rule rule, X509 *cert, char *buf, size_t buflen) WUR;

/* SHA-256 of the DER of x's SubjectPublicKeyInfo / of x itself. */
int ra_trust_spki_fp(X509 *x, unsigned char out[32]) WUR;
int ra_trust_cert_fp(X509 *x, unsigned char out[32]) WUR;

#endif
