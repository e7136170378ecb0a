/*
 * store/serial.h - bulk import of device serial numbers per vendor.
 *
 * Blocking store_conn only (CLI), never on a worker loop.
 */
#ifndef CMPGW_STORE_SERIAL_H
#define CMPGW_STORE_SERIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/rc.h"

struct store_conn;

#define STORE_SERIAL_MAX 128 /* bytes per serial */

/*
 * Import serials from in, one per line: surrounding whitespace trimmed;
 * empty lines and lines starting with '#' skipped; a serial is 1..128
 * bytes of printable ASCII (0x20-0x7e). state "allowed": new serials are
 * added, existing ones untouched (a blocked serial stays blocked).
 * state "blocked": new serials are added blocked and existing ones become
 * blocked, enrolled ones included.
 *
 * Streams through COPY into a temporary table and merges in one
 * transaction: all or nothing, memory bounded, idempotent (a second
 * import of the same file reports 0/0). *inserted / *updated (may be
 * NULL) get the counts of new rows / rows whose state changed.
 *
 * Imports for one vendor serialize (advisory lock); another writer
 * inserting the same serial concurrently makes the import fail (RC_DB,
 * retry). Returns RC_OK; RC_INVAL for a bad line (errbuf names the line number;
 * nothing is written) or bad state; RC_NOTFOUND if vendor_id does not
 * exist; RC_IO on a read error; RC_DB otherwise.
 */
/* The older, one-call import (test/unit/store/test_serial.c): surrounding
 * whitespace trimmed, up to 128 bytes of printable ASCII, no report. The CLI
 * uses the streaming import below. */
int store_serial_import(struct store_conn *c, int64_t vendor_id, FILE *in, const char *state,
			long *inserted, long *updated, char *errbuf, size_t errlen) WUR;

/* ---- streaming import with a report (issue 14; docs/SERIALS.md) ------- */

#define STORE_SERIAL_LEN_MAX  256 /* bytes per serial (policy/serial.h's maximum) */
#define STORE_SERIAL_SHOW     10  /* duplicate and case examples reported */
#define STORE_SERIAL_SHOW_STR "10"

struct store_serial_import;

/* What a merge did. Serials are compared exactly (bytes, case-sensitive). */
struct store_serial_counts {
	long rows;	   /* serials added (lines sent) */
	long distinct;	   /* distinct serials among them */
	long duplicates;   /* rows - distinct */
	long inserted;	   /* new serials */
	long changed;	   /* existing serials whose state changed (blocked import) */
	long unchanged;	   /* distinct - inserted - changed */
	long kept_blocked; /* allowed import: listed serials that are blocked and stay so */
	long case_groups;  /* sets of distinct serials equal but for ASCII case */
	int ndup, ncase;   /* examples filled below */
	struct {
		long line, first; /* a repeated line and the line it repeats */
		char serial[STORE_SERIAL_LEN_MAX + 1];
	} dup[STORE_SERIAL_SHOW];
	struct {
		long line, other; /* first and last line of one case group */
	} casepair[STORE_SERIAL_SHOW];
};

/*
 * Start an import for vendor_id on the blocking connection c: BEGIN, lock
 * the vendor row (FOR KEY SHARE) and the vendor's import lock (imports of
 * one vendor serialize), and open a COPY into a temporary table. blocked:
 * new serials are added blocked and listed ones become blocked (enrolled
 * ones included); else new serials are added allowed and listed ones are
 * left as they are (an allowed import never unblocks).
 * *out gets the import (free with store_serial_import_free). Until it is
 * freed, c carries the open transaction and must not be used but through
 * the calls below (and store_audit_admin after the merge).
 * Returns 0, RC_NOTFOUND (no such vendor), RC_NOMEM or RC_DB (errbuf).
 */
int store_serial_import_begin(struct store_conn *c, int64_t vendor_id, bool blocked,
			      struct store_serial_import **out, char *errbuf, size_t errlen) WUR;

/* Add one serial (n bytes, 1..STORE_SERIAL_LEN_MAX, already checked by the
 * caller) read from line number line. Returns 0, RC_INVAL, or RC_DB. */
int store_serial_import_add(struct store_serial_import *im, long line, const char *s, size_t n) WUR;

/*
 * End the COPY and merge into serials, in the import's transaction (not
 * committed yet): *k gets the counts and examples. Returns 0 or RC_DB
 * (errbuf given to begin); then only store_serial_import_free remains.
 */
int store_serial_import_merge(struct store_serial_import *im, struct store_serial_counts *k) WUR;

/* Commit a merged import. Returns 0 or RC_DB (nothing imported). */
int store_serial_import_commit(struct store_serial_import *im) WUR;

/* Roll back unless committed, and free. Accepts NULL. A process killed
 * before the commit leaves the previous state (the server rolls back). */
void store_serial_import_free(struct store_serial_import *im);

/* ---- per-vendor serial syntax (migration 017) ---------------------------- */

/*
 * The vendor's maximum serial length and character set spec (policy/serial.h
 * syntax; "" = the default set) into charset (len bytes). Returns 0,
 * RC_NOTFOUND, RC_TOOBIG (charset too small) or RC_DB.
 */
int store_serial_syntax_get(struct store_conn *c, int64_t vendor_id, int *max_len, char *charset,
			    size_t len, char *errbuf, size_t errlen) WUR;

/*
 * Set them: max_len > 0 sets it (the database allows 1..256); charset
 * non-NULL sets it ("" = back to the default). The caller validates with
 * policy/serial.h first. Returns 0, RC_NOTFOUND or RC_DB.
 */
int store_serial_syntax_set(struct store_conn *c, int64_t vendor_id, int max_len,
			    const char *charset, char *errbuf, size_t errlen) WUR;

#endif
