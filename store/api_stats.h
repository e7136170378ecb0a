/*
 * store/api_stats.h - the figures of the operator status page (issue 14;
 * GET /api/v1/status, docs/ADMIN.md "Operator status page"): enrollments
 * and refusals per hour by reason, the latest audit events, the current
 * CRL of each issuer. Read-only.
 *
 * Asynchronous, on a worker's pool (store/db.h): 0 means cb will be called
 * exactly once, later, on the loop thread; non-zero (RC_INVAL, RC_NOMEM,
 * RC_DB) means it will not. Rows and strings handed to cb are valid
 * during the call only. Threads: the owning worker's loop thread.
 */
#ifndef CMPGW_STORE_API_STATS_H
#define CMPGW_STORE_API_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"

struct store_conn;
struct store_pool;

#define STORE_STATS_HOURS_MAX  168 /* a week */
#define STORE_STATS_EVENTS_MAX 500
#define STORE_STATS_REASON_MAX 100 /* characters of a refusal's reason */

/* One (hour, kind, reason) of the audit: kind "enrollment" (event
 * issued: a certificate was issued) or "refusal" (events rejected,
 * clone_suspected, auth_failed, token_rejected); reason "" for an
 * enrollment, else "<event>: <detail, at most STORE_STATS_REASON_MAX
 * characters>". hour is "YYYY-MM-DDTHH:00:00Z" (UTC). */
struct store_stats_hour {
	const char *hour;
	const char *kind;
	const char *reason;
	long long count;
};
typedef void (*store_stats_hours_cb)(void *arg, int rc, const struct store_stats_hour *rows,
				     size_t n);
/* Device traffic (principal NULL) of the current hour and the hours-1
 * before it (1..STORE_STATS_HOURS_MAX), ordered by hour, kind, reason;
 * at most 5000 rows (the most frequent reasons of a flood stay distinct
 * only up to that). */
int store_stats_hours(struct store_pool *pool, int hours, store_stats_hours_cb cb, void *arg) WUR;

/* One audit row; NULL for a NULL column; ts "YYYY-MM-DDTHH:MM:SSZ" (UTC);
 * detail cut at 300 characters. */
struct store_stats_event {
	const char *ts, *event, *alias, *vendor, *device_serial, *peer, *principal, *detail;
};
typedef void (*store_stats_events_cb)(void *arg, int rc, const struct store_stats_event *rows,
				      size_t n);
/* The newest limit (1..STORE_STATS_EVENTS_MAX) audit rows, newest first. */
int store_stats_events(struct store_pool *pool, int limit, store_stats_events_cb cb, void *arg) WUR;

/* The current CRL of each issuer: next_update (UTC, as ts above) and the
 * whole days from now to it (negative: overdue). */
struct store_stats_crl {
	const char *issuer, *next_update;
	long long days_left;
};
typedef void (*store_stats_crls_cb)(void *arg, int rc, const struct store_stats_crl *rows,
				    size_t n);
int store_stats_crls(struct store_pool *pool, store_stats_crls_cb cb, void *arg) WUR;

/*
 * Blocking (a CLI or admin API job thread, never a worker loop): who
 * holds serial of vendor_id, for the dry run's clone report. key_fp: hex
 * SHA-256 of the bound vendor key's SubjectPublicKeyInfo ("" when none is
 * bound); cert_serial / cert_status: the newest certificate issued to the
 * serial ("" when none). 0, RC_NOTFOUND (the serial is not listed),
 * RC_INVAL or RC_DB.
 */
struct store_stats_binding {
	char key_fp[65];
	char cert_serial[68];
	char cert_status[16];
};
int store_stats_binding(struct store_conn *c, int64_t vendor_id, const char *serial,
			struct store_stats_binding *b) WUR;

#endif
