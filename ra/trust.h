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
	/* X509_V_FLAG_X509_STRICT on this vendor's chains (default true; the
	 * lenient mode of docs/VENDORS.md drops only that flag). */
	bool x509_strict;
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

/* Set the X.509 strictness of vendor_id (ra_trust_add_vendor makes it
 * strict). RC_NOTFOUND if t has no such vendor. Builder only. */
int ra_trust_set_strict(struct ra_trust *t, int64_t vendor_id, bool strict) WUR;

/* Outcome of vendor authentication. text is the statusString: a static
 * string or buf of this struct (valid as long as the struct). */
struct ra_auth {
	const struct ra_vendor *vendor; /* borrowed from the trust cache */
	int verr;			/* X509_V_ERR_* of the last attempt (0: leaf check) */
	int depth;			/* of the certificate verr is about */
	bool not_accepted;		/* chains to vendor, which the alias does not accept */
	const char *text;
	char buf[192];
};

/*
 * Validate signer (first of extraCerts) up to an anchor of one of the
 * vendors named in allowed (NULL/0: any vendor), using untrusted (the
 * message's extraCerts) and the vendor's registered intermediates, at the
 * current time, with X509_V_FLAG_X509_STRICT unless the vendor is lenient.
 * 0 and auth->vendor set, or RC_PERM with auth->verr/depth/text set (text
 * names the certificate and the reason, ra_trust_verr_text). The leaf must
 * not be a CA and, if it has keyUsage, must allow digitalSignature.
 * Fast path: when the signer's issuer is among those certificates and its
 * fingerprint is in the vendor's icache (validated before, its chain still
 * within validity), only the signer is verified against it. The leaf
 * decision is never cached; a miss or a fast-path failure takes the full
 * path, so the answer is the same as without the cache.
 */
int ra_trust_authenticate(const struct ra_trust *t, char *const *allowed, size_t nallowed,
			  X509 *signer, STACK_OF(X509) *untrusted, struct ra_auth *auth) WUR;

/*
 * As ra_trust_authenticate, then, when no accepted vendor validates the
 * chain, whether a registered vendor that allowed does not name does: if
 * so RC_UNSUPPORTED with auth->vendor = that vendor and auth->not_accepted
 * set (the client proved a valid chain: naming its own vendor leaks
 * nothing; the caller words the refusal). Also refuses (RC_PERM) a chain
 * whose leaf is a CA or has a keyUsage without digitalSignature.
 */
int ra_trust_authenticate_alias(const struct ra_trust *t, char *const *allowed, size_t nallowed,
				X509 *signer, STACK_OF(X509) *untrusted, struct ra_auth *auth) WUR;

/*
 * The statusString for a chain validation failure verr about the
 * certificate at depth of a chain of chain_len certificates (top_trusted:
 * its last one is a registered anchor): "<which certificate>: <reason>",
 * e.g. "vendor CA certificate at depth 1: basicConstraints not marked
 * critical (strict X.509)". Written to buf (truncated to len); returns buf.
 */
const char *ra_trust_verr_text(int verr, int depth, int chain_len, bool top_trusted, char *buf,
			       size_t len);

/*
 * Registration check (cmpgw vendor intermediate add): does ca chain to
 * one of anchors through untrusted (NULL ok), with X509_STRICT when
 * strict, ignoring validity times when no_time? 0, or RC_PERM with the
 * reason in why (as ra_trust_verr_text, about "CA certificate"). Any
 * thread; nothing shared.
 */
int ra_trust_check_ca(X509_STORE *anchors, STACK_OF(X509) *untrusted, X509 *ca, bool strict,
		      bool no_time, char *why, size_t whylen) WUR;

/*
 * Registration check of ca as an issuer (cmpgw vendor anchor|intermediate
 * add): validates a throwaway certificate naming ca as its issuer, so that
 * every check OpenSSL applies to an issuing CA at enrollment (keyCertSign,
 * pathLenConstraint, and with strict the X.509 profile: critical
 * basicConstraints, keyUsage, key identifiers, ...) runs on ca and on the
 * certificates above it (anchors, untrusted as for ra_trust_check_ca; an
 * anchor is checked with a store holding it). 0, RC_PERM with the reason
 * in why (about ca itself: the bare reason; above it: which certificate),
 * RC_NOMEM. Any thread.
 */
int ra_trust_check_issuer(X509_STORE *anchors, STACK_OF(X509) *untrusted, X509 *ca, bool strict,
			  bool no_time, char *why, size_t whylen) WUR;

/* Extract the device serial from a vendor certificate by rule into buf
 * (printable ASCII, 1..128 bytes). RC_NOTFOUND if absent, RC_INVAL if it
 * has unprintable bytes, RC_TOOBIG if longer. */
int ra_trust_device_serial(enum ra_serial_rule rule, X509 *cert, char *buf, size_t buflen) WUR;

/* SHA-256 of the DER of x's SubjectPublicKeyInfo / of x itself. */
int ra_trust_spki_fp(X509 *x, unsigned char out[32]) WUR;
int ra_trust_cert_fp(X509 *x, unsigned char out[32]) WUR;

#endif
