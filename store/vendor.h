/*
 * store/vendor.h - vendors and their CA certificates (trust anchors and
 * intermediates), for the CLI and the gateway's in-memory trust cache.
 *
 * Blocking store_conn only: CLI and start-up/reload threads, never on a
 * worker loop.
 */
#ifndef CMPGW_STORE_VENDOR_H
#define CMPGW_STORE_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"

struct store_conn;

struct store_vcert {
	char kind[16]; /* "anchor" or "intermediate" */
	unsigned char *der;
	size_t derlen;
};

struct store_vendor {
	int64_t id;
	char *name;
	char *serial_rule; /* subject_serialnumber | subject_cn | cert_serial */
	bool allow_reenroll;
	bool x509_strict; /* migration 016; docs/VENDORS.md */
	struct store_vcert *certs;
	size_t n_certs;
};

/* Register a vendor. serial_rule NULL: "subject_serialnumber". *id (may be
 * NULL) gets the new id. RC_EXISTS if the name is taken, RC_INVAL for an
 * unknown serial_rule or empty name, RC_DB otherwise. */
int store_vendor_add(struct store_conn *c, const char *name, const char *serial_rule,
		     bool allow_reenroll, int64_t *id) WUR;

/* store_vendor_add with the vendor's X.509 strictness (docs/VENDORS.md). */
int store_vendor_add_strict(struct store_conn *c, const char *name, const char *serial_rule,
			    bool allow_reenroll, bool x509_strict, int64_t *id) WUR;

/* Set the X.509 strictness of vendor name; *was (may be NULL) gets the
 * previous value. RC_NOTFOUND if there is no such vendor. */
int store_vendor_set_strict(struct store_conn *c, const char *name, bool x509_strict,
			    bool *was) WUR;

/* Vendor id by name; RC_NOTFOUND if none. */
int store_vendor_find(struct store_conn *c, const char *name, int64_t *id) WUR;

/* Add a CA certificate: kind "anchor" or "intermediate", der as given,
 * fp32 = SHA-256 of der (computed by the caller), subject for display,
 * not_after as seconds since the epoch. RC_EXISTS if the fingerprint is
 * already registered (to any vendor), RC_NOTFOUND if the vendor is gone,
 * RC_INVAL for bad arguments. */
int store_vendor_cert_add(struct store_conn *c, int64_t vendor_id, const char *kind,
			  const unsigned char *der, size_t derlen, const unsigned char fp32[32],
			  const char *subject, int64_t not_after_epoch) WUR;

/* One certificate of store_vendor_certs_add: in (der, fp32 = SHA-256 of
 * der, subject for display, not_after as epoch seconds), out (outcome and,
 * for STORE_VCERT_OTHER_VENDOR the vendor holding it, for
 * STORE_VCERT_EXISTS the kind it is registered as). */
enum store_vcert_outcome { STORE_VCERT_ADDED, STORE_VCERT_EXISTS, STORE_VCERT_OTHER_VENDOR };
struct store_vcert_add {
	const unsigned char *der;
	size_t derlen;
	unsigned char fp[32];
	const char *subject;
	int64_t not_after;
	enum store_vcert_outcome outcome;
	char detail[128];
};

/*
 * Register n certificates of kind ("anchor" or "intermediate") for vendor
 * vendor_id in one statement (cmpgw_vendor_certs_add): all or none. 0 with
 * each item's outcome set (ADDED or EXISTS); RC_EXISTS when one or more are
 * registered for another vendor (their outcome OTHER_VENDOR, detail its
 * name; nothing was written); RC_NOTFOUND if the vendor is gone; RC_INVAL
 * for bad arguments (n 1..64, each der <= 64 KiB); RC_DB otherwise.
 */
int store_vendor_certs_add(struct store_conn *c, int64_t vendor_id, const char *kind,
			   struct store_vcert_add *items, size_t n) WUR;

/*
 * Read-only: what the enrollment's admission (cmpgw_admit) would say of
 * device serial of vendor_id presented with the vendor key key_fp32
 * (SHA-256 of its SubjectPublicKeyInfo): reason "ok" or its first refusal
 * (serial_unknown, serial_blocked, clone, reenroll_denied), state the
 * serial's list state ("" when not listed), *bound whether a vendor key
 * holds the serial. Writes nothing. 0 or RC_DB / RC_INVAL.
 */
int store_vendor_serial_admit(struct store_conn *c, int64_t vendor_id, const char *serial,
			      const unsigned char key_fp32[32], bool allow_reenroll,
			      char reason[32], char state[16], bool *bound) WUR;

/* All vendors (by id) with their certificates (by insertion), read in one
 * statement (consistent snapshot). On RC_OK *out (NULL when *n == 0) is
 * owned by the caller: store_vendor_free_all(*out, *n). */
int store_vendor_load_all(struct store_conn *c, struct store_vendor **out, size_t *n) WUR;
void store_vendor_free_all(struct store_vendor *v, size_t n);

/* ---- one serial's state (admin API block/unblock; docs/ADMIN.md) ---- */

/*
 * Block or unblock serial of vendor_id. Block: a listed serial becomes
 * blocked whatever its state (an enrolled one too: cmpgw_admit refuses
 * every further enrollment and renewal of a blocked serial; its
 * certificates stay valid until revoked); an unlisted one is added
 * blocked (*added set). Unblock: a blocked serial goes back to enrolled
 * when it has enrolled before (enrolled_at), else to allowed; an
 * unblocked one is left alone. state (16 bytes) gets the new state, prev
 * (16 bytes) the previous one ("" when it was not listed). 0, RC_NOTFOUND
 * (unblock of an unlisted serial), RC_INVAL or RC_DB.
 */
int store_vendor_serial_set_blocked(struct store_conn *c, int64_t vendor_id, const char *serial,
				    bool block, char state[16], char prev[16], bool *added) WUR;

/* ---- submitted CA certificates (migration 019; docs/VENDORS.md) ---- */

#define STORE_VSUB_REASON_MAX 1024
#define STORE_VSUB_WHO_MAX    512

/* One submission; der owned (store_vendor_sub_clear). */
struct store_vsub {
	int64_t id;
	char vendor[129];
	char kind[16];	/* anchor | intermediate */
	char state[16]; /* pending | approved | rejected | withdrawn */
	unsigned char *der;
	size_t derlen;
	char fp_hex[65];
	char subject[257];
	char not_after[40]; /* timestamps as RFC 3339 UTC text */
	char submitted_by[STORE_VSUB_WHO_MAX + 1];
	char submitted_at[40];
	char decided_by[STORE_VSUB_WHO_MAX + 1]; /* "" while pending */
	char decided_at[40];
	char reason[STORE_VSUB_REASON_MAX + 1];
};
void store_vendor_sub_clear(struct store_vsub *s);
void store_vendor_sub_free_all(struct store_vsub *s, size_t n);

/*
 * Record a pending submission of one certificate (der, fp32 = SHA-256 of
 * der, subject, not_after epoch) of kind for vendor_id by principal. *id
 * gets its id. RC_EXISTS when it cannot be a new submission: other (128
 * bytes) gets "vendor:<name>" when the certificate is registered for
 * another vendor, "registered:<kind>" when it is registered for this
 * vendor, "pending:<id>" when the same certificate awaits approval.
 * RC_INVAL, RC_DB otherwise.
 */
int store_vendor_sub_add(struct store_conn *c, int64_t vendor_id, const char *kind,
			 const unsigned char *der, size_t derlen, const unsigned char fp32[32],
			 const char *subject, int64_t not_after, const char *principal, int64_t *id,
			 char other[128]) WUR;

/* Submission id into *out (vendor NULL: any vendor; else only that
 * vendor's, for the confinement of vendor principals). RC_NOTFOUND. */
int store_vendor_sub_get(struct store_conn *c, int64_t id, const char *vendor,
			 struct store_vsub *out) WUR;

/* Submissions newest first: of vendor (NULL: all), in state (NULL: any),
 * with id below before (0: from the newest), at most limit (1..1001).
 * *out owned by the caller (store_vendor_sub_free_all). */
int store_vendor_sub_list(struct store_conn *c, const char *vendor, const char *state,
			  int64_t before, int limit, struct store_vsub **out, size_t *n) WUR;

/* Move pending submission id to state (approved, rejected, withdrawn) by
 * principal with reason (may be NULL). RC_EXISTS when it is no longer
 * pending (a concurrent decision), RC_NOTFOUND when there is none. */
int store_vendor_sub_decide(struct store_conn *c, int64_t id, const char *state,
			    const char *principal, const char *reason) WUR;

/* The registered certificates of vendor (store_vsub with id, kind,
 * fp_hex, subject, not_after, submitted_at = registered at; state
 * "registered"), oldest first. */
int store_vendor_certs_list(struct store_conn *c, const char *vendor, struct store_vsub **out,
			    size_t *n) WUR;

#endif
