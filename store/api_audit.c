/*
 * store/api_audit.c - the audit trail of the admin HTTPS API
 * (store/api_audit.h).
 */
#include "store/api_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/call.h"

/*
 * Newest first, keyset on (ts, id): the key of a row is its ts in
 * microseconds since the epoch (exact: no float or text rounding) and
 * its id, so a page continues strictly below the last row of the one
 * before, whatever was inserted meanwhile (new rows are newer, above).
 * A NULL parameter drops its condition. Indexes: audit_principal
 * (principal, ts) serves ?principal=; the others scan by ts (see
 * docs/ADMIN.md for the indexes a large audit table wants).
 */
static const char SQL_AUDIT[] =
	"SELECT a.id,"
	" to_char(a.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	" a.event, a.principal, a.alias, encode(a.tid, 'hex'), a.vendor, a.device_serial,"
	" a.peer, a.detail,"
	" ((extract(epoch FROM a.ts) * 1000000)::bigint)::text || ':' || a.id::text"
	" FROM audit a"
	" WHERE ($1::timestamptz IS NULL OR a.ts >= $1::timestamptz)"
	" AND ($2::timestamptz IS NULL OR a.ts < $2::timestamptz)"
	" AND ($3::text IS NULL OR a.tid = decode($3, 'hex'))"
	" AND ($4::text IS NULL OR a.device_serial = $4)"
	" AND ($5::text IS NULL OR a.event = $5)"
	" AND ($6::text IS NULL OR a.principal = $6)"
	" AND ($7::text IS NULL OR a.vendor = $7)"
	" AND ($8::text IS NULL OR a.alias = $8)"
	" AND ($9::bigint IS NULL OR (a.ts, a.id) <"
	"  (timestamptz 'epoch' + $9::bigint * interval '1 microsecond', $10::bigint))"
	" ORDER BY a.ts DESC, a.id DESC LIMIT $11::int";

/* n digits at s into *v; false if any is not a digit. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

bool store_api_time_ok(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh, om, n = 0;
	size_t len = strnlen(s, STORE_API_TIME_LEN + 1);
	const char *p;

	if (len < 20 || len > STORE_API_TIME_LEN || !digits(s, 4, &y) || s[4] != '-' ||
	    !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
	    sec > 59)
		return false;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	p = s + 19;
	if (*p == '.') {
		while (p[1 + n] >= '0' && p[1 + n] <= '9')
			n++;
		if (n < 1 || n > 9)
			return false;
		p += 1 + n;
	}
	if ((*p == 'Z' || *p == 'z') && !p[1])
		return true;
	return (*p == '+' || *p == '-') && digits(p + 1, 2, &oh) && p[3] == ':' &&
	       digits(p + 4, 2, &om) && !p[6] && oh <= 23 && om <= 59;
}

static void on_audit(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_api_audit_cb cb = (store_api_audit_cb)c->fn;
	struct store_api_audit_row *rows = NULL;

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
		struct store_api_audit_row *x = &rows[i];
		x->id = strtoll(store_val(r, i, 0), NULL, 10);
		x->ts = store_val(r, i, 1);
		x->event = store_val(r, i, 2);
		x->principal = store_val_or_null(r, i, 3);
		x->alias = store_val_or_null(r, i, 4);
		x->tid = store_val_or_null(r, i, 5);
		x->vendor = store_val_or_null(r, i, 6);
		x->device_serial = store_val_or_null(r, i, 7);
		x->peer = store_val_or_null(r, i, 8);
		x->detail = store_val_or_null(r, i, 9);
		x->key = store_val(r, i, 10);
	}
	cb(c->arg, 0, rows, (size_t)r->nrows);
out:
	free(rows);
	free(c);
}

static bool too_long(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) > max;
}

/* "<digits, optionally '-'>:<digits>" into its two numbers' texts. */
static bool split_key(const char *key, char *us, size_t uslen, char *id, size_t idlen)
{
	const char *colon = strchr(key, ':');
	const char *d = key[0] == '-' ? key + 1 : key;
	size_t n = colon ? (size_t)(colon - key) : 0;

	if (!colon || colon <= d || n >= uslen || strspn(d, "0123456789") != (size_t)(colon - d) ||
	    !colon[1] || strlen(colon + 1) >= idlen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	memcpy(us, key, n);
	us[n] = '\0';
	memcpy(id, colon + 1, strlen(colon + 1) + 1);
	return true;
}

int store_api_audit(struct store_pool *pool, const struct store_api_audit_filter *f,
		    store_api_audit_cb cb, void *arg)
{
	char us[24], id[24], lim[16];
	const char *v[11];

	if (!pool || !f || !cb || f->limit < 1 || f->limit > 1000 || too_long(f->from, 40) ||
	    too_long(f->to, 40) || too_long(f->tid_hex, STORE_API_AUDIT_TID_MAX) ||
	    too_long(f->device_serial, STORE_API_AUDIT_TEXT_MAX) || too_long(f->event, 64) ||
	    too_long(f->principal, STORE_API_AUDIT_TEXT_MAX) ||
	    too_long(f->vendor, STORE_API_AUDIT_TEXT_MAX) ||
	    too_long(f->alias, STORE_API_AUDIT_TEXT_MAX) ||
	    (f->tid_hex && (strlen(f->tid_hex) % 2 ||
			    strspn(f->tid_hex, "0123456789abcdef") != strlen(f->tid_hex))) ||
	    (f->after && !split_key(f->after, us, sizeof(us), id, sizeof(id))))
		return RC_INVAL;
	snprintf(lim, sizeof(lim), "%d", f->limit);
	v[0] = f->from;
	v[1] = f->to;
	v[2] = f->tid_hex;
	v[3] = f->device_serial;
	v[4] = f->event;
	v[5] = f->principal;
	v[6] = f->vendor;
	v[7] = f->alias;
	v[8] = f->after ? us : NULL;
	v[9] = f->after ? id : NULL;
	v[10] = lim;
	return store_call_submit(pool, SQL_AUDIT, 11, v, NULL, NULL, false, on_audit,
				 store_call_new((void (*)(void))cb, arg, "api audit"));
}
