/*
 * ra/check.h - the factory dry run of a vendor certificate chain (issue
 * 14, `cmpgw vendor check`): every check an enrollment on an alias runs on
 * the vendor certificate, in order, each with pass/fail and the precise
 * reason, using the enrollment's own functions (ra/trust.h). It decides
 * nothing. ra_check_chain/_issuance/_request touch no database;
 * ra_check_run is the whole dry run on a blocking connection (registry,
 * serial list, clone binding), the one the CLI (`cmpgw vendor check`) and
 * the admin API (POST /api/v1/vendors/{vendor}/check) both call, so that
 * both report the same steps for the same inputs.
 *
 * Any thread; a struct ra_check belongs to its caller.
 */
#ifndef CMPGW_RA_CHECK_H
#define CMPGW_RA_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "core/cfg.h"
#include "ra/trust.h"

struct store_conn;

#define RA_CHECK_STEPS_MAX 24

struct ra_check_step {
	char check[32]; /* "chain", "certificate", "strictness", "alias", "serial", ... */
	bool pass;
	char detail[320];
};

struct ra_check {
	struct ra_check_step s[RA_CHECK_STEPS_MAX];
	size_t n;
	const struct ra_vendor
		*vendor;	   /* the vendor the chain validates to (any alias); borrowed */
	bool accepted;		   /* the whole chain would authenticate on the alias */
	char serial[130];	   /* the device serial by the vendor's rule; "" if none */
	unsigned char spki_fp[32]; /* of the device certificate (clone binding) */
	struct ra_trust *trust;	   /* the registry ra_check_run loaded (vendor
				      points into it); ra_check_release frees it */
};

/* Append a step (silently dropped past RA_CHECK_STEPS_MAX). */
void ra_check_add(struct ra_check *c, const char *check, bool pass, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* True when every step passed. */
bool ra_check_passed(const struct ra_check *c);

/*
 * The vendor certificate leaf with extraCerts extra (may be NULL) against
 * registry t as alias would see it at time now: the chain (the verdict of
 * ra_trust_authenticate_alias, exactly as step_vendor), each certificate of
 * the path with its role and days of validity left (when no registered
 * vendor's anchors are reached: each certificate as sent, up to where the
 * path breaks off), what the other X.509 mode would say (strictness
 * findings), whether the alias accepts the vendor, and the device serial.
 * Fills c (zeroed first). 0, or RC_NOMEM.
 */
int ra_check_chain(const struct ra_trust *t, const struct cfg_alias *alias, X509 *leaf,
		   STACK_OF(X509) *extra, struct ra_check *c) WUR;

/* Without a request: the subject, subjectAltNames and validity the
 * profile of alias would give the device of c (no subject asked). */
void ra_check_issuance(struct ra_check *c, const struct cfg_alias *alias);

/*
 * The signed request der[0..len) (an ir or cr as the device would send it)
 * as alias would take it, after ra_check_chain(c) for leaf: exactly one
 * CertReqMsg with certReqId 0 (RFC 9483 4.1.1), signature protection by
 * its first extraCerts certificate, which must be leaf (RFC 9483 3.2), the
 * POP of the template key (RFC 4211 4), the profile's key policy, and the
 * subject, subjectAltNames and validity the profile would give the device.
 * Appends steps to c. 0, or RC_NOMEM.
 */
int ra_check_request(struct ra_check *c, const struct cfg_alias *alias, X509 *leaf,
		     const unsigned char *der, size_t len) WUR;

/* What one dry run checks (ra_check_run). */
struct ra_check_input {
	const struct cfg_alias *alias;
	STACK_OF(X509) *certs;	  /* the device certificate first, then its chain */
	const unsigned char *req; /* a signed ir/cr as the device sends it, or NULL */
	size_t reqlen;
	const char *vendor; /* NULL: any; else the chain must belong to it */
};

/*
 * The whole dry run, blocking on c (CLI or admin API job thread): the
 * registry as a worker loads it (strictness included), ra_check_chain,
 * the serial list and clone binding as the enrollment's read-only
 * admission answers them, then ra_check_request (req given) or
 * ra_check_issuance. Fills r; ra_check_release(r) afterwards in every
 * case. Returns 0 (the report is in r), RC_NOTFOUND (in->vendor is not a
 * registered vendor; nothing checked), RC_PERM (the chain belongs to a
 * registered vendor other than in->vendor: r->vendor names it, and the
 * report stops before that vendor's serial list), RC_DB or RC_NOMEM.
 * Writes nothing.
 */
int ra_check_run(struct store_conn *c, const struct ra_check_input *in, struct ra_check *r) WUR;

/* Frees what ra_check_run loaded (r->vendor becomes NULL). NULL: no-op. */
void ra_check_release(struct ra_check *r);

/*
 * The one audit row of a dry run ("vendor_check"), naming principal
 * (store/admin.h), the vendor, serial and alias of r, and a detail that
 * starts "dry run of <what>: PASS|FAIL" and names the first failing step.
 * 0, RC_INVAL or RC_DB.
 */
int ra_check_audit(struct store_conn *c, const char *principal, const struct ra_check *r,
		   const char *alias, const char *what) WUR;

/* The report as JSON: {"alias", "vendor" (or null), "serial" (or null),
 * "pass", "steps": [{"check", "pass", "detail"}]} (docs/openapi/check.json
 * CheckReport); the CLI's --json and the admin API answer this. New
 * reference, or NULL (out of memory). */
json_t *ra_check_json(const struct ra_check *r, const char *alias);

#endif
