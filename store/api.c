/*
 * store/api.c - read queries of the admin HTTPS API (store/api.h).
 */
#include "store/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/call.h"

/* Counts per vendor through its indexes (serials_pkey leads with
 * vendor_id; vendor_certs is small). Names compare in byte order so that
 * the cursor is stable whatever the database's collation. */
static const char SQL_VENDORS[] =
	"SELECT v.name, v.x509_strict, s.allowed, s.blocked, s.enrolled, c.anchors, "
	"c.intermediates FROM vendors v"
	" CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE state = 'allowed') AS allowed,"
	"  count(*) FILTER (WHERE state = 'blocked') AS blocked,"
	"  count(*) FILTER (WHERE state = 'enrolled') AS enrolled"
	"  FROM serials WHERE vendor_id = v.id) s"
	" CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE kind = 'anchor') AS anchors,"
	"  count(*) FILTER (WHERE kind = 'intermediate') AS intermediates"
	"  FROM vendor_certs WHERE vendor_id = v.id) c"
	" WHERE ($1::text IS NULL OR v.name = $1)"
	"  AND ($2::text IS NULL OR v.name COLLATE \"C\" > $2 COLLATE \"C\")"
	" ORDER BY v.name COLLATE \"C\" LIMIT $3::int";

static void on_vendors(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_api_vendors_cb cb = (store_api_vendors_cb)c->fn;
	struct store_api_vendor *rows = NULL;

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, NULL, 0);
		goto out;
	}
	if (!(rows = calloc((size_t)r->nrows + 1, sizeof(*rows)))) {
		cb(c->arg, RC_NOMEM, NULL, 0);
		goto out;
	}
	for (int i = 0; i < r->nrows; i++) {
		rows[i].name = store_val(r, i, 0);
		rows[i].strict = store_val(r, i, 1)[0] == 't';
		rows[i].allowed = store_ll(r, i, 2);
		rows[i].blocked = store_ll(r, i, 3);
		rows[i].enrolled = store_ll(r, i, 4);
		rows[i].anchors = store_ll(r, i, 5);
		rows[i].intermediates = store_ll(r, i, 6);
	}
	cb(c->arg, 0, rows, (size_t)r->nrows);
out:
	free(rows);
	free(c);
}

int store_api_vendors(struct store_pool *pool, const char *only, const char *after, int limit,
		      store_api_vendors_cb cb, void *arg)
{
	char lim[16];
	const char *v[3] = { only, after, lim };

	if (!pool || !cb || limit < 1 || limit > 1000 ||
	    (only && strnlen(only, STORE_API_NAME_MAX + 1) > STORE_API_NAME_MAX) ||
	    (after && strnlen(after, STORE_API_NAME_MAX + 1) > STORE_API_NAME_MAX))
		return RC_INVAL;
	snprintf(lim, sizeof(lim), "%d", limit);
	return store_call_submit(pool, SQL_VENDORS, 3, v, NULL, NULL, false, on_vendors,
				 store_call_new((void (*)(void))cb, arg, "api vendors"));
}

/* No row: no such vendor; s.state NULL: the serial is not listed. */
static const char SQL_SERIAL[] = "SELECT s.state, " STORE_SQL_UTC(
	"s.enrolled_at") ", c.serial_hex, c.issuer, c.status"
			 " FROM vendors v"
			 " LEFT JOIN serials s ON s.vendor_id = v.id AND s.serial = $2"
			 " LEFT JOIN LATERAL (SELECT serial_hex, issuer, status FROM certificates"
			 "  WHERE vendor_id = v.id AND device_serial = $2 ORDER BY created_at "
			 "DESC, id DESC"
			 "  LIMIT 1) c ON true"
			 " WHERE v.name = $1";

static void on_serial(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_api_serial_cb cb = (store_api_serial_cb)c->fn;
	struct store_api_serial s = { 0 };

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, NULL);
		free(c);
		return;
	}
	if (r->nrows == 1) {
		s.vendor_found = true;
		s.listed = !store_isnull(r, 0, 0);
		s.state = s.listed ? store_val(r, 0, 0) : NULL;
		s.enrolled_at = store_isnull(r, 0, 1) ? NULL : store_val(r, 0, 1);
		if (!store_isnull(r, 0, 2)) {
			s.cert_serial = store_val(r, 0, 2);
			s.cert_issuer = store_val(r, 0, 3);
			s.cert_status = store_val(r, 0, 4);
		}
	}
	cb(c->arg, 0, &s);
	free(c);
}

int store_api_serial(struct store_pool *pool, const char *vendor, const char *serial,
		     store_api_serial_cb cb, void *arg)
{
	const char *v[2] = { vendor, serial };

	if (!pool || !cb || !vendor || !serial ||
	    strnlen(vendor, STORE_API_NAME_MAX + 1) > STORE_API_NAME_MAX ||
	    strnlen(serial, 257) > 256)
		return RC_INVAL;
	return store_call_submit(pool, SQL_SERIAL, 2, v, NULL, NULL, false, on_serial,
				 store_call_new((void (*)(void))cb, arg, "api serial"));
}

/* cmpgw_serials_page (store/functions/) walks serials_pkey in order
 * whatever the statistics; one NULL row when the vendor has no serial on
 * the page, no row when there is no such vendor */
static const char SQL_SERIALS[] =
	"SELECT s.serial, s.state, s.enrolled_at, s.updated_at FROM vendors v LEFT JOIN LATERAL"
	" cmpgw_serials_page(v.id, $2, $3, $4, $5::int, true) s ON true "
	"WHERE v.name = $1";
/* the export's pages (store_api_serials_text): the serial alone */
static const char SQL_SERIALS_TEXT[] =
	"SELECT s.serial FROM vendors v LEFT JOIN LATERAL"
	" cmpgw_serials_page(v.id, $2, $3, $4, $5::int, false) s ON true WHERE v.name = $1";

static void on_serials(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_api_serials_cb cb = (store_api_serials_cb)c->fn;
	struct store_api_serial_row *rows = NULL;
	size_t n = 0;

	store_call_log(c, r);
	if (r->rc != 0) {
		cb(c->arg, r->rc, false, NULL, 0);
		goto out;
	}
	if (!(rows = calloc((size_t)r->nrows + 1, sizeof(*rows)))) {
		cb(c->arg, RC_NOMEM, false, NULL, 0);
		goto out;
	}
	for (int i = 0; i < r->nrows; i++) {
		if (store_isnull(r, i, 0))
			continue;
		rows[n].serial = store_val(r, i, 0);
		rows[n].state = store_val(r, i, 1);
		rows[n].enrolled_at = store_isnull(r, i, 2) ? NULL : store_val(r, i, 2);
		rows[n].updated_at = store_val(r, i, 3);
		n++;
	}
	cb(c->arg, 0, r->nrows > 0, rows, n);
out:
	free(rows);
	free(c);
}

int store_api_serials(struct store_pool *pool, const char *vendor, const char *state,
		      const char *prefix, const char *after, int limit, store_api_serials_cb cb,
		      void *arg)
{
	char lim[16];
	const char *v[5] = { vendor, state, prefix, after, lim };

	if (!pool || !cb || !vendor || limit < 1 || limit > STORE_API_SERIALS_MAX ||
	    strnlen(vendor, STORE_API_NAME_MAX + 1) > STORE_API_NAME_MAX ||
	    (state && strnlen(state, 16) > 15) || (prefix && strnlen(prefix, 257) > 256) ||
	    (after && strnlen(after, 257) > 256))
		return RC_INVAL;
	snprintf(lim, sizeof(lim), "%d", limit);
	return store_call_submit(pool, SQL_SERIALS, 5, v, NULL, NULL, false, on_serials,
				 store_call_new((void (*)(void))cb, arg, "api serials"));
}

/* what store_api_serials_text carries to its callback; c first, so that
 * store_call_submit's free(c) on failure frees the whole record */
struct text_call {
	struct store_call c;
	int page;
};

static void on_serials_text(void *arg, const struct store_result *r)
{
	struct text_call *tc = arg;
	store_api_serials_text_cb cb = (store_api_serials_text_cb)tc->c.fn;
	size_t len = 0, cap = 1;
	int n = 0;
	char *buf = NULL;

	store_call_log(&tc->c, r);
	if (r->rc != 0) {
		cb(tc->c.arg, r->rc, false, NULL, 0, false, NULL);
		goto out;
	}
	for (int i = 0; i < r->nrows && i < tc->page; i++)
		cap += store_isnull(r, i, 0) ? 0 : (size_t)store_len(r, i, 0) + 1;
	if (!(buf = malloc(cap))) {
		cb(tc->c.arg, RC_NOMEM, false, NULL, 0, false, NULL);
		goto out;
	}
	for (int i = 0; i < r->nrows && i < tc->page; i++) {
		size_t l;
		if (store_isnull(r, i, 0))
			continue;
		l = (size_t)store_len(r, i, 0);
		memcpy(buf + len, store_val(r, i, 0), l);
		buf[len + l] = '\n';
		len += l + 1;
		n++;
	}
	buf[len] = '\0';
	/* one row more than the page came back: there is a next one */
	cb(tc->c.arg, 0, r->nrows > 0, buf, len, r->nrows > tc->page,
	   r->nrows > tc->page ? store_val(r, tc->page - 1, 0) : NULL);
out:
	free(buf);
	free(tc);
}

int store_api_serials_text(struct store_pool *pool, const char *vendor, const char *state,
			   const char *prefix, const char *after, int page,
			   store_api_serials_text_cb cb, void *arg)
{
	char lim[16];
	const char *v[5] = { vendor, state, prefix, after, lim };
	struct text_call *tc;

	if (!pool || !cb || !vendor || page < 1 || page >= STORE_API_SERIALS_MAX ||
	    strnlen(vendor, STORE_API_NAME_MAX + 1) > STORE_API_NAME_MAX ||
	    (state && strnlen(state, 16) > 15) || (prefix && strnlen(prefix, 257) > 256) ||
	    (after && strnlen(after, 257) > 256))
		return RC_INVAL;
	if (!(tc = calloc(1, sizeof(*tc))))
		return RC_NOMEM;
	tc->c.fn = (void (*)(void))cb;
	tc->c.arg = arg;
	tc->c.what = "api serials export";
	tc->page = page;
	snprintf(lim, sizeof(lim), "%d", page + 1);
	return store_call_submit(pool, SQL_SERIALS_TEXT, 5, v, NULL, NULL, false, on_serials_text,
				 &tc->c);
}
