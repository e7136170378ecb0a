/*
 * store/serial.h - bulk import of device serial numbers per vendor.
 *
 * Blocking store_conn only (CLI), never on a worker loop.
 */
#ifndef CMPGW_STORE_SERIAL_H
#define CMPGW_STORE_SERIAL_H

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
int store_serial_import(struct store_conn *c, int64_t vendor_id, FILE *in, const char *state,
			long *inserted, long *updated, char *errbuf, size_t errlen) WUR;

#endif
