/*
 * store/api_audit.h - the audit trail for the admin HTTPS API (issue 14;
 * docs/ADMIN.md): rows newest first, filtered, paged by a keyset cursor.
 *
 * Asynchronous, on a worker's pool (store/db.h): 0 means cb will be called
 * exactly once, later, on the loop thread; non-zero means it will not.
 * Rows and strings handed to cb are valid during the call only.
 * Threads: the owning worker's loop thread.
 */
#ifndef CMPGW_STORE_API_AUDIT_H
#define CMPGW_STORE_API_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

struct store_pool;

#define STORE_API_AUDIT_TID_MAX	 128 /* hex digits of a transactionID */
#define STORE_API_AUDIT_TEXT_MAX 512 /* principal, serial, vendor, alias */
#define STORE_API_AUDIT_KEY_MAX	 48  /* a row's cursor key */

/* An RFC 3339 date-time (section 5.6), strictly: YYYY-MM-DDTHH:MM:SS,
 * an optional fraction of 1..9 digits, then Z or +HH:MM/-HH:MM; 'T' and
 * 'Z' in either case; the date must exist (leap years), seconds 00..59
 * (no leap second), at most STORE_API_TIME_LEN bytes. What passes is a
 * timestamp PostgreSQL parses the same whatever its DateStyle. */
#define STORE_API_TIME_LEN 35
bool store_api_time_ok(const char *s);

/* A query. Every field may be NULL: no condition. from/to: timestamps
 * PostgreSQL parses unambiguously (the caller validates them). tid_hex:
 * even-length lower-case hex. after: the key of the last row of the
 * previous page (store_api_audit_row.key). */
struct store_api_audit_filter {
	const char *from, *to; /* ts >= from, ts < to */
	const char *tid_hex;
	const char *device_serial, *event, *principal, *vendor, *alias;
	const char *after;
	int limit; /* 1..1000 */
};

/* One audit row; optional text NULL when the column is; ts RFC 3339 UTC
 * with microseconds; tid lower-case hex. */
struct store_api_audit_row {
	long long id;
	const char *ts, *event, *principal, *alias, *tid, *vendor, *device_serial, *peer, *detail;
	const char *key; /* keyset cursor of this row (printable) */
};
/* rc 0, RC_DB or RC_CANCELLED; rows newest first (ts, then id). */
typedef void (*store_api_audit_cb)(void *arg, int rc, const struct store_api_audit_row *rows,
				   size_t n);
/* RC_INVAL on bad arguments (limit, a string over its bound, a key
 * store_api_audit_row.key never had). */
int store_api_audit(struct store_pool *pool, const struct store_api_audit_filter *f,
		    store_api_audit_cb cb, void *arg) WUR;

#endif
