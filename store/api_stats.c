/*
 * store/api_stats.c - the figures of the operator status page
 * (store/api_stats.h).
 */
#include "store/api_stats.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/call.h"

/* The events of device traffic that end an enrollment: issued, or one of
 * the refusals (ra/step_*.c, store/functions/cmpgw_*_commit.sql). The
 * hour is cut in UTC whatever the session's TimeZone; rows are grouped
 * before they are formatted (measured: 500,000 rows in the window group in
 * about 0.5-0.9 s on the test machine, about 10% less than formatting each
 * row first). */
static const char SQL_HOURS[] =
	"SELECT to_char(h, 'YYYY-MM-DD\"T\"HH24\":00:00Z\"'),"
	" CASE WHEN k THEN 'enrollment' ELSE 'refusal' END, r, n FROM ("
	"SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AS h, event = 'issued' AS k,"
	" CASE WHEN event = 'issued' THEN '' ELSE event || coalesce(': ' || left(detail, $2::int),"
	" '') END AS r, count(*) AS n"
	" FROM audit WHERE principal IS NULL"
	"  AND ts >= (date_trunc('hour', now() AT TIME ZONE 'UTC')"
	"   - make_interval(hours => $1::int - 1)) AT TIME ZONE 'UTC'"
	"  AND event IN ('issued', 'rejected', 'clone_suspected', 'auth_failed', 'token_rejected')"
	" GROUP BY 1, 2, 3) x ORDER BY h, k DESC, r LIMIT 5000";

static void on_hours(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_stats_hours_cb cb = (store_stats_hours_cb)c->fn;
	struct store_stats_hour *rows = NULL;

	store_call_log(c, r);
	if (r->rc != 0)
		cb(c->arg, r->rc, NULL, 0);
	else if (!(rows = calloc((size_t)r->nrows + 1, sizeof(*rows))))
		cb(c->arg, RC_NOMEM, NULL, 0);
	else {
		for (int i = 0; i < r->nrows; i++) {
			rows[i].hour = store_val(r, i, 0);
			rows[i].kind = store_val(r, i, 1);
			rows[i].reason = store_val(r, i, 2);
			rows[i].count = store_ll(r, i, 3);
		}
		cb(c->arg, 0, rows, (size_t)r->nrows);
	}
	free(rows);
	free(c);
}

int store_stats_hours(struct store_pool *pool, int hours, store_stats_hours_cb cb, void *arg)
{
	char h[16], len[16];
	const char *v[2] = { h, len };

	if (!pool || !cb || hours < 1 || hours > STORE_STATS_HOURS_MAX)
		return RC_INVAL;
	snprintf(h, sizeof(h), "%d", hours);
	snprintf(len, sizeof(len), "%d", STORE_STATS_REASON_MAX);
	return store_call_submit(pool, SQL_HOURS, 2, v, NULL, NULL, false, on_hours,
				 store_call_new((void (*)(void))cb, arg, "stats hours"));
}

/* Newest first through the primary key (ids grow with ts). */
static const char SQL_EVENTS[] =
	"SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), event, alias,"
	" vendor, device_serial, peer, principal, left(detail, 300)"
	" FROM audit ORDER BY id DESC LIMIT $1::int";

static void on_events(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_stats_events_cb cb = (store_stats_events_cb)c->fn;
	struct store_stats_event *rows = NULL;

	store_call_log(c, r);
	if (r->rc != 0)
		cb(c->arg, r->rc, NULL, 0);
	else if (!(rows = calloc((size_t)r->nrows + 1, sizeof(*rows))))
		cb(c->arg, RC_NOMEM, NULL, 0);
	else {
		for (int i = 0; i < r->nrows; i++) {
			rows[i].ts = store_val(r, i, 0);
			rows[i].event = store_val(r, i, 1);
			rows[i].alias = store_val_or_null(r, i, 2);
			rows[i].vendor = store_val_or_null(r, i, 3);
			rows[i].device_serial = store_val_or_null(r, i, 4);
			rows[i].peer = store_val_or_null(r, i, 5);
			rows[i].principal = store_val_or_null(r, i, 6);
			rows[i].detail = store_val_or_null(r, i, 7);
		}
		cb(c->arg, 0, rows, (size_t)r->nrows);
	}
	free(rows);
	free(c);
}

int store_stats_events(struct store_pool *pool, int limit, store_stats_events_cb cb, void *arg)
{
	char l[16];
	const char *v[1] = { l };

	if (!pool || !cb || limit < 1 || limit > STORE_STATS_EVENTS_MAX)
		return RC_INVAL;
	snprintf(l, sizeof(l), "%d", limit);
	return store_call_submit(pool, SQL_EVENTS, 1, v, NULL, NULL, false, on_events,
				 store_call_new((void (*)(void))cb, arg, "stats events"));
}

/* The highest number per issuer is the current CRL (migration 003). */
static const char SQL_CRLS[] =
	"SELECT DISTINCT ON (issuer) issuer,"
	" to_char(next_update AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	" floor(extract(epoch FROM next_update - now()) / 86400)::bigint"
	" FROM crls ORDER BY issuer, number DESC LIMIT 100";

static void on_crls(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_stats_crls_cb cb = (store_stats_crls_cb)c->fn;
	struct store_stats_crl *rows = NULL;

	store_call_log(c, r);
	if (r->rc != 0)
		cb(c->arg, r->rc, NULL, 0);
	else if (!(rows = calloc((size_t)r->nrows + 1, sizeof(*rows))))
		cb(c->arg, RC_NOMEM, NULL, 0);
	else {
		for (int i = 0; i < r->nrows; i++) {
			rows[i].issuer = store_val(r, i, 0);
			rows[i].next_update = store_val(r, i, 1);
			rows[i].days_left = store_ll(r, i, 2);
		}
		cb(c->arg, 0, rows, (size_t)r->nrows);
	}
	free(rows);
	free(c);
}

int store_stats_crls(struct store_pool *pool, store_stats_crls_cb cb, void *arg)
{
	if (!pool || !cb)
		return RC_INVAL;
	return store_call_submit(pool, SQL_CRLS, 0, NULL, NULL, NULL, false, on_crls,
				 store_call_new((void (*)(void))cb, arg, "stats crls"));
}

/* The serial's row and its newest certificate (certificates_device_idx). */
static const char SQL_BINDING[] =
	"SELECT coalesce(encode(s.key_fp, 'hex'), ''), coalesce(c.serial_hex, ''),"
	" coalesce(c.status, '') FROM serials s"
	" LEFT JOIN LATERAL (SELECT serial_hex, status FROM certificates"
	"  WHERE vendor_id = s.vendor_id AND device_serial = s.serial"
	"  ORDER BY created_at DESC, id DESC LIMIT 1) c ON true"
	" WHERE s.vendor_id = $1::bigint AND s.serial = $2";

struct binding_out {
	struct store_stats_binding *b;
	bool found;
};

static void on_binding(void *arg, const struct store_result *r)
{
	struct binding_out *o = arg;

	if (r->rc != 0 || r->nrows != 1)
		return;
	o->found = true;
	snprintf(o->b->key_fp, sizeof(o->b->key_fp), "%.*s", store_len(r, 0, 0),
		 store_val(r, 0, 0));
	snprintf(o->b->cert_serial, sizeof(o->b->cert_serial), "%.*s", store_len(r, 0, 1),
		 store_val(r, 0, 1));
	snprintf(o->b->cert_status, sizeof(o->b->cert_status), "%.*s", store_len(r, 0, 2),
		 store_val(r, 0, 2));
}

int store_stats_binding(struct store_conn *c, int64_t vendor_id, const char *serial,
			struct store_stats_binding *b)
{
	char vid[24];
	const char *v[2] = { vid, serial };
	struct binding_out o = { b, false };
	int rc;

	if (!c || !serial || !b || strnlen(serial, 257) > 256)
		return RC_INVAL;
	memset(b, 0, sizeof(*b));
	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	rc = store_db_exec(c, SQL_BINDING, 2, v, NULL, NULL, false, on_binding, &o);
	if (rc != 0)
		return rc;
	return o.found ? 0 : RC_NOTFOUND;
}
