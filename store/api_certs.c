/*
 * store/api_certs.c - certificates and tokens of the admin HTTPS API, and
 * the audited changes the CLI shares (store/api_certs.h).
 */
#include "store/api_certs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/admin.h"
#include "store/call.h"
#include "store/token.h"

#define UTC(col) STORE_SQL_UTC(col) /* store/call.h */

/*
 * One statement for every search: a NULL parameter drops its condition
 * (PostgreSQL plans each execution with its values, so the NULL branches
 * fold away). Keyset pagination on the primary key: a page starts after
 * the last id of the previous one, so rows inserted meanwhile (higher
 * ids) never shift a page, and nothing is skipped or repeated.
 * certificates_device_idx (vendor_id, device_serial) serves the
 * device-serial search; the unique (issuer, serial_hex) index the serial.
 */
static const char SQL_CERTS[] =
	"SELECT c.id, c.serial_hex, c.issuer, c.subject, c.device_serial, v.name, c.alias,"
	" c.status, " UTC("c.not_before") ", " UTC("c.not_after") ", " UTC("c.created_at") ", " UTC(
		"c.revoked_at") ", c.revocation_reason,"
				" CASE WHEN $14::bool THEN encode(c.der, 'hex') END"
				" FROM certificates c LEFT JOIN vendors v ON v.id = c.vendor_id"
				" WHERE ($1::text IS NULL OR v.name = $1)"
				" AND ($2::text IS NULL OR v.name = $2)"
				" AND ($3::text IS NULL OR c.device_serial = $3)"
				" AND ($4::text IS NULL OR c.status = $4)"
				" AND ($5::timestamptz IS NULL OR"
				"  (c.not_before <= $5::timestamptz AND c.not_after >= "
				"$5::timestamptz))"
				" AND ($6::timestamptz IS NULL OR c.not_after < $6::timestamptz)"
				" AND ($7::timestamptz IS NULL OR c.not_after > $7::timestamptz)"
				" AND ($8::timestamptz IS NULL OR c.created_at >= $8::timestamptz)"
				" AND ($9::timestamptz IS NULL OR c.created_at < $9::timestamptz)"
				" AND ($10::text IS NULL OR c.serial_hex = $10)"
				" AND ($11::text IS NULL OR c.issuer = $11)"
				" AND c.id > $12::bigint"
				" ORDER BY c.id LIMIT $13::int";

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* hex text (as encode(..., 'hex') writes it) into bytes, in place. */
static size_t unhex(char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i + 1 < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		s[k++] = (char)(hi * 16 + lo);
	}
	return k;
}

static void on_certs(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_api_certs_cb cb = (store_api_certs_cb)c->fn;
	struct store_api_cert *rows = NULL;

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
		struct store_api_cert *x = &rows[i];
		x->id = strtoll(store_val(r, i, 0), NULL, 10);
		x->serial_hex = store_val(r, i, 1);
		x->issuer = store_val(r, i, 2);
		x->subject = store_val(r, i, 3);
		x->device_serial = store_val_or_null(r, i, 4);
		x->vendor = store_val_or_null(r, i, 5);
		x->alias = store_val_or_null(r, i, 6);
		x->status = store_val(r, i, 7);
		x->not_before = store_val(r, i, 8);
		x->not_after = store_val(r, i, 9);
		x->issued_at = store_val(r, i, 10);
		x->revoked_at = store_val_or_null(r, i, 11);
		x->reason = store_isnull(r, i, 12) ? -1 : atoi(store_val(r, i, 12));
		if (!store_isnull(r, i, 13)) {
			/* the result is ours during the callback: decode in place */
			char *h = (char *)store_val(r, i, 13);
			x->der.p = (const unsigned char *)h;
			x->der.len = unhex(h, (size_t)store_len(r, i, 13));
		}
	}
	cb(c->arg, 0, rows, (size_t)r->nrows);
out:
	free(rows);
	free(c);
}

bool store_api_serial_canon(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (len)
		out[0] = '\0';
	if (strncmp(in, "0x", 2) == 0 || strncmp(in, "0X", 2) == 0)
		in += 2;
	if (!*in || len < 2)
		return false;
	/* the digits, upper case, without leading zeros */
	for (; *in; in++) {
		char c = *in;
		if (c == ':')
			continue;
		if (hexval(c) < 0)
			return false;
		if (c >= 'a')
			c = (char)(c - 'a' + 'A');
		if (o == 0 && c == '0')
			continue;
		if (o + 1 >= len || o >= STORE_API_CERT_SERIAL_MAX)
			return false;
		out[o++] = c;
	}
	if (o == 0) {
		memcpy(out, "0", 2);
		return true;
	}
	/* whole bytes, as BN_bn2hex writes them */
	if (o % 2) {
		if (o + 2 > len)
			return false;
		memmove(out + 1, out, o);
		out[0] = '0';
		o++;
	}
	out[o] = '\0';
	return true;
}

static bool too_long(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) > max;
}

int store_api_certs(struct store_pool *pool, const struct store_api_cert_filter *f,
		    store_api_certs_cb cb, void *arg)
{
	char after[24], lim[16];
	const char *v[14];

	if (!pool || !f || !cb || f->limit < 1 || f->limit > 1000 || f->after_id < 0 ||
	    too_long(f->scope, STORE_API_CERT_TEXT_MAX) ||
	    too_long(f->vendor, STORE_API_CERT_TEXT_MAX) ||
	    too_long(f->device_serial, STORE_API_CERT_TEXT_MAX) || too_long(f->status, 16) ||
	    too_long(f->serial_hex, STORE_API_CERT_SERIAL_MAX) ||
	    too_long(f->issuer, STORE_API_CERT_TEXT_MAX) ||
	    too_long(f->valid_at, STORE_API_TIME_MAX) ||
	    too_long(f->not_after_before, STORE_API_TIME_MAX) ||
	    too_long(f->not_after_after, STORE_API_TIME_MAX) ||
	    too_long(f->issued_after, STORE_API_TIME_MAX) ||
	    too_long(f->issued_before, STORE_API_TIME_MAX))
		return RC_INVAL;
	snprintf(after, sizeof(after), "%lld", f->after_id);
	snprintf(lim, sizeof(lim), "%d", f->limit);
	v[0] = f->scope;
	v[1] = f->vendor;
	v[2] = f->device_serial;
	v[3] = f->status;
	v[4] = f->valid_at;
	v[5] = f->not_after_before;
	v[6] = f->not_after_after;
	v[7] = f->issued_after;
	v[8] = f->issued_before;
	v[9] = f->serial_hex;
	v[10] = f->issuer;
	v[11] = after;
	v[12] = lim;
	v[13] = f->with_der ? "t" : "f";
	return store_call_submit(pool, SQL_CERTS, 14, v, NULL, NULL, false, on_certs,
				 store_call_new((void (*)(void))cb, arg, "api certificates"));
}

/* Keyset cursor "<created_at in microseconds since the epoch>:<ref>":
 * exact (no rounding through a float or a text format), and checked here
 * to be digits, so that a forged cursor cannot make the cast fail. */
static const char SQL_TOKENS[] =
	"SELECT ref, alias, identity,"
	" CASE WHEN state = 'revoked' THEN 'revoked' WHEN used_at IS NOT NULL THEN 'used'"
	" WHEN expires_at <= now() THEN 'expired' ELSE 'active' END, " UTC("created_at") ", " UTC(
		"expires_at") ", " UTC("used_at") ","
						  " ((extract(epoch FROM created_at) * "
						  "1000000)::bigint)::text || ':' || ref"
						  " FROM tokens"
						  " WHERE ($1::text IS NULL OR ref = $1)"
						  " AND ($2::bigint IS NULL OR (created_at, ref) >"
						  "  (timestamptz 'epoch' + $2::bigint * "
						  "interval '1 microsecond', $3::text))"
						  " ORDER BY created_at, ref LIMIT $4::int";

static void on_tokens(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_api_tokens_cb cb = (store_api_tokens_cb)c->fn;
	struct store_api_token *rows = NULL;

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
		rows[i].ref = store_val(r, i, 0);
		rows[i].alias = store_val(r, i, 1);
		rows[i].identity = store_val(r, i, 2);
		rows[i].state = store_val(r, i, 3);
		rows[i].created_at = store_val(r, i, 4);
		rows[i].expires_at = store_val(r, i, 5);
		rows[i].used_at = store_val_or_null(r, i, 6);
		rows[i].key = store_val(r, i, 7);
	}
	cb(c->arg, 0, rows, (size_t)r->nrows);
out:
	free(rows);
	free(c);
}

int store_api_tokens(struct store_pool *pool, const char *ref, const char *after, int limit,
		     store_api_tokens_cb cb, void *arg)
{
	char us[24] = "", aref[130] = "", lim[16];
	const char *v[4] = { ref, NULL, NULL, lim };

	if (!pool || !cb || limit < 1 || limit > 1000 || too_long(ref, 128))
		return RC_INVAL;
	if (after) {
		const char *colon = strchr(after, ':');
		size_t n = colon ? (size_t)(colon - after) : 0;
		if (!colon || n < 1 || n >= sizeof(us) || strspn(after, "0123456789") != n ||
		    strlen(colon + 1) >= sizeof(aref))
			return RC_INVAL;
		memcpy(us, after, n);
		us[n] = '\0';
		snprintf(aref, sizeof(aref), "%s", colon + 1);
		v[1] = us;
		v[2] = aref;
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	return store_call_submit(pool, SQL_TOKENS, 4, v, NULL, NULL, false, on_tokens,
				 store_call_new((void (*)(void))cb, arg, "api tokens"));
}

/* ---- audited changes ---- */

static void on_outcome(void *arg, int rc, enum store_outcome st)
{
	enum store_outcome *out = arg;

	*out = rc == 0 ? st : STORE_OUT_OTHER;
}

int store_api_cert_revoke_audited(struct store_conn *c, const char *principal,
				  const struct store_revoke *r, const char *detail,
				  enum store_outcome *status)
{
	int rc;

	*status = STORE_OUT_OTHER;
	if (!c || !principal || !r || store_admin_begin(c) != 0)
		return RC_DB;
	rc = store_revoke_cert_sync(c, r, on_outcome, status);
	if (rc == 0 && *status == STORE_OUT_OTHER)
		rc = RC_DB;
	/* only a change is an admin action; a refusal leaves cmpgw_revoke's
	 * own revoke_rejected row */
	if (rc == 0 && (*status == STORE_OUT_OK || *status == STORE_OUT_RELEASED))
		rc = store_audit_admin(c, principal, "admin_cert_revoke", NULL, NULL, NULL, detail);
	if (rc == 0 && store_admin_end(c, true) == 0)
		return 0;
	(void)!store_admin_end(c, false);
	*status = STORE_OUT_OTHER;
	return RC_DB;
}

int store_api_token_add_audited(struct store_conn *c, const char *principal, const char *ref,
				const char *alias, const char *identity,
				const unsigned char *sealed, size_t sealed_len, long ttl_s,
				const char *detail)
{
	int rc;

	if (!c || !principal || store_admin_begin(c) != 0)
		return RC_DB;
	rc = store_token_add(c, ref, alias, identity, sealed, sealed_len, ttl_s);
	if (rc == 0)
		rc = store_audit_admin(c, principal, "admin_token_create", NULL, identity, alias,
				       detail);
	if (rc == 0 && store_admin_end(c, true) == 0)
		return 0;
	(void)!store_admin_end(c, false);
	return rc == RC_EXISTS || rc == RC_INVAL ? rc : RC_DB;
}

int store_api_token_revoke_audited(struct store_conn *c, const char *principal, const char *ref,
				   const char **was)
{
	char detail[160];
	int rc;

	*was = "unknown";
	if (!c || !principal || !ref || strlen(ref) > 128 || store_admin_begin(c) != 0)
		return RC_DB;
	snprintf(detail, sizeof(detail), "token %s", ref);
	rc = store_token_revoke(c, ref, was);
	if (rc == 0 && strcmp(*was, "revoked") == 0)
		rc = store_audit_admin(c, principal, "admin_token_revoke", NULL, NULL, NULL,
				       detail);
	if (rc == 0 && store_admin_end(c, true) == 0)
		return 0;
	(void)!store_admin_end(c, false);
	*was = "unknown";
	return RC_DB;
}
