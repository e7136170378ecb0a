/*
 * store/vendor.c - vendors and vendor CA certificates (see vendor.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db_int.h"
#include "store/vendor.h"

static bool rule_ok(const char *r)
{
	return strcmp(r, "subject_serialnumber") == 0 || strcmp(r, "subject_cn") == 0 ||
	       strcmp(r, "cert_serial") == 0;
}

/* Map a failed statement's SQLSTATE to our codes. */
static int map_state(const char *st)
{
	if (strcmp(st, "23505") == 0)
		return RC_EXISTS;
	if (strcmp(st, "23503") == 0)
		return RC_NOTFOUND;
	if (strcmp(st, "23514") == 0 || strcmp(st, "22P02") == 0)
		return RC_INVAL;
	return RC_DB;
}

int store_vendor_add(struct store_conn *c, const char *name, const char *serial_rule,
		     bool allow_reenroll, int64_t *id)
{
	return store_vendor_add_strict(c, name, serial_rule, allow_reenroll, true, id);
}

int store_vendor_add_strict(struct store_conn *c, const char *name, const char *serial_rule,
			    bool allow_reenroll, bool x509_strict, int64_t *id)
{
	const char *p[4] = { name, serial_rule ? serial_rule : "subject_serialnumber",
			     allow_reenroll ? "true" : "false", x509_strict ? "true" : "false" };
	char st[6];
	PGresult *r = NULL;
	int rc;

	if (!c || !name || !*name || !rule_ok(p[1]))
		return RC_INVAL;
	rc = store_conn_pq(
		c,
		"INSERT INTO vendors (name, serial_rule, allow_reenroll, x509_strict) "
		"VALUES ($1, $2, $3::boolean, $4::boolean) ON CONFLICT (name) DO NOTHING "
		"RETURNING id",
		4, p, NULL, NULL, 0, &r, st, NULL, 0);
	if (rc != RC_OK)
		return map_state(st);
	if (PQntuples(r) == 0)
		rc = RC_EXISTS;
	else if (id)
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

int store_vendor_set_strict(struct store_conn *c, const char *name, bool x509_strict, bool *was)
{
	const char *p[2] = { name, x509_strict ? "true" : "false" };
	PGresult *r = NULL;
	int rc;

	if (!c || !name)
		return RC_INVAL;
	/* the old value from the row version the update replaced */
	rc = store_conn_pq(c,
			   "UPDATE vendors v SET x509_strict = $2::boolean FROM vendors o "
			   "WHERE v.id = o.id AND v.name = $1 RETURNING o.x509_strict::text",
			   2, p, NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc != RC_OK)
		return rc;
	if (PQntuples(r) == 0)
		rc = RC_NOTFOUND;
	else if (was)
		*was = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return rc;
}

int store_vendor_find(struct store_conn *c, const char *name, int64_t *id)
{
	const char *p[1] = { name };
	PGresult *r = NULL;
	int rc;

	if (!c || !name || !id)
		return RC_INVAL;
	rc = store_conn_pq(c, "SELECT id FROM vendors WHERE name = $1", 1, p, NULL, NULL, 0, &r,
			   NULL, NULL, 0);
	if (rc != RC_OK)
		return rc;
	if (PQntuples(r) == 0)
		rc = RC_NOTFOUND;
	else
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return rc;
}

int store_vendor_cert_add(struct store_conn *c, int64_t vendor_id, const char *kind,
			  const unsigned char *der, size_t derlen, const unsigned char fp32[32],
			  const char *subject, int64_t not_after_epoch)
{
	char vid[24], na[24], st[6];
	const char *p[6] = { vid, kind, (const char *)der, (const char *)fp32, subject, na };
	int lens[6] = { 0, 0, (int)derlen, 32, 0, 0 };
	int fmts[6] = { 0, 0, 1, 1, 0, 0 };
	PGresult *r = NULL;
	int rc;

	if (!c || !kind || !der || !derlen || derlen > 1 << 24 || !fp32 || !subject ||
	    (strcmp(kind, "anchor") != 0 && strcmp(kind, "intermediate") != 0))
		return RC_INVAL;
	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	snprintf(na, sizeof(na), "%" PRId64, not_after_epoch);
	rc = store_conn_pq(
		c,
		"INSERT INTO vendor_certs (vendor_id, kind, der, fingerprint, subject, "
		"not_after) VALUES ($1::bigint, $2, $3::bytea, $4::bytea, $5, "
		"to_timestamp($6::bigint)) ON CONFLICT (fingerprint) DO NOTHING RETURNING id",
		6, p, lens, fmts, 0, &r, st, NULL, 0);
	if (rc != RC_OK)
		return map_state(st);
	if (PQntuples(r) == 0)
		rc = RC_EXISTS;
	PQclear(r);
	return rc;
}

/* A growable string for the array literals of store_vendor_certs_add. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool bad;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->bad = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One quoted element of a PostgreSQL array literal: " and \ escaped. */
static void sb_elem(struct sbuf *b, const char *s)
{
	sb_put(b, b->len > 1 ? ",\"" : "\"", b->len > 1 ? 2 : 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_put(b, "\\", 1);
		sb_put(b, s, 1);
	}
	sb_put(b, "\"", 1);
}

/* bytea in hex input format (\x...) as an array element. */
static void sb_hex(struct sbuf *b, const unsigned char *d, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	sb_put(b, b->len > 1 ? ",\"\\\\x" : "\"\\\\x", b->len > 1 ? 5 : 4);
	for (size_t i = 0; i < n; i++) {
		char two[2] = { hx[d[i] >> 4], hx[d[i] & 15] };
		sb_put(b, two, 2);
	}
	sb_put(b, "\"", 1);
}

static int certs_call(struct store_conn *c, int64_t vendor_id, const char *kind, struct sbuf a[4],
		      PGresult **r)
{
	char vid[24];
	const char *p[6] = { vid, kind, a[0].p, a[1].p, a[2].p, a[3].p };

	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	return store_conn_pq(c,
			     "SELECT idx, outcome, detail FROM cmpgw_vendor_certs_add("
			     "$1::bigint, $2, $3::bytea[], $4::bytea[], $5::text[], $6::bigint[])",
			     6, p, NULL, NULL, 0, r, NULL, NULL, 0);
}

int store_vendor_certs_add(struct store_conn *c, int64_t vendor_id, const char *kind,
			   struct store_vcert_add *items, size_t n)
{
	struct sbuf a[4] = { 0 };
	PGresult *r = NULL;
	int rc = RC_NOMEM;
	char na[24];

	if (!c || !kind || !items || n == 0 || n > 64 ||
	    (strcmp(kind, "anchor") != 0 && strcmp(kind, "intermediate") != 0))
		return RC_INVAL;
	for (int k = 0; k < 4; k++)
		sb_put(&a[k], "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (!items[i].der || !items[i].derlen || items[i].derlen > 65536 ||
		    !items[i].subject) {
			rc = RC_INVAL;
			goto out;
		}
		snprintf(na, sizeof(na), "%" PRId64, items[i].not_after);
		sb_hex(&a[0], items[i].der, items[i].derlen);
		sb_hex(&a[1], items[i].fp, sizeof(items[i].fp));
		sb_elem(&a[2], items[i].subject);
		sb_elem(&a[3], na);
	}
	for (int k = 0; k < 4; k++)
		sb_put(&a[k], "}", 1);
	if (a[0].bad || a[1].bad || a[2].bad || a[3].bad)
		goto out;
	if ((rc = certs_call(c, vendor_id, kind, a, &r)) != RC_OK)
		goto out;
	rc = PQntuples(r) == 0 ? RC_NOTFOUND : RC_OK;
	for (int row = 0; row < PQntuples(r); row++) {
		long idx = strtol(PQgetvalue(r, row, 0), NULL, 10);
		const char *o = PQgetvalue(r, row, 1);
		struct store_vcert_add *it;
		if (idx < 1 || (size_t)idx > n) {
			rc = RC_DB;
			goto out;
		}
		it = &items[idx - 1];
		it->outcome = strcmp(o, "added") == 0	 ? STORE_VCERT_ADDED
			      : strcmp(o, "exists") == 0 ? STORE_VCERT_EXISTS
							 : STORE_VCERT_OTHER_VENDOR;
		snprintf(it->detail, sizeof(it->detail), "%s", PQgetvalue(r, row, 2));
		if (it->outcome == STORE_VCERT_OTHER_VENDOR)
			rc = RC_EXISTS;
	}
out:
	PQclear(r);
	for (int k = 0; k < 4; k++)
		free(a[k].p);
	return rc;
}

int store_vendor_serial_admit(struct store_conn *c, int64_t vendor_id, const char *serial,
			      const unsigned char key_fp32[32], bool allow_reenroll,
			      char reason[32], char state[16], bool *bound)
{
	char vid[24];
	const char *p[4] = { vid, serial, (const char *)key_fp32,
			     allow_reenroll ? "true" : "false" };
	int lens[4] = { 0, 0, 32, 0 }, fmts[4] = { 0, 0, 1, 0 };
	PGresult *r = NULL;
	int rc;

	if (!c || !serial || !key_fp32)
		return RC_INVAL;
	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	rc = store_conn_pq(
		c,
		"SELECT cmpgw_admit(NULL::bytea, NULL, s, true, $3::bytea, $4::boolean), "
		"coalesce(s.state, ''), (s.key_fp IS NOT NULL)::text "
		"FROM (SELECT 1) one LEFT JOIN serials s "
		"ON s.vendor_id = $1::bigint AND s.serial = $2",
		4, p, lens, fmts, 0, &r, NULL, NULL, 0);
	if (rc != RC_OK)
		return rc;
	if (PQntuples(r) != 1) {
		rc = RC_DB;
	} else {
		snprintf(reason, 32, "%s", PQgetvalue(r, 0, 0));
		snprintf(state, 16, "%s", PQgetvalue(r, 0, 1));
		*bound = PQgetvalue(r, 0, 2)[0] == 't';
	}
	PQclear(r);
	return rc;
}

static char *dup_col(PGresult *r, int row, int col)
{
	int len = PQgetlength(r, row, col);
	char *s = malloc((size_t)len + 1);

	if (s) {
		memcpy(s, PQgetvalue(r, row, col), (size_t)len);
		s[len] = '\0';
	}
	return s;
}

/* Rows [row, end) all belong to one vendor; fill v from them. */
static int fill_vendor(PGresult *r, int row, int end, struct store_vendor *v)
{
	size_t k = 0;

	v->id = store_be64(PQgetvalue(r, row, 0));
	v->name = dup_col(r, row, 1);
	v->serial_rule = dup_col(r, row, 2);
	v->allow_reenroll = PQgetvalue(r, row, 3)[0] != 0;
	v->x509_strict = PQgetvalue(r, row, 6)[0] != 0;
	if (!v->name || !v->serial_rule)
		return RC_NOMEM;
	for (int i = row; i < end; i++)
		k += !PQgetisnull(r, i, 4);
	if (!k)
		return RC_OK;
	v->certs = calloc(k, sizeof(*v->certs));
	if (!v->certs)
		return RC_NOMEM;
	for (int i = row; i < end; i++) {
		struct store_vcert *vc = &v->certs[v->n_certs];

		if (PQgetisnull(r, i, 4))
			continue;
		snprintf(vc->kind, sizeof(vc->kind), "%.*s", PQgetlength(r, i, 4),
			 PQgetvalue(r, i, 4));
		vc->derlen = (size_t)PQgetlength(r, i, 5);
		vc->der = malloc(vc->derlen ? vc->derlen : 1);
		if (!vc->der)
			return RC_NOMEM;
		memcpy(vc->der, PQgetvalue(r, i, 5), vc->derlen);
		v->n_certs++;
	}
	return RC_OK;
}

int store_vendor_load_all(struct store_conn *c, struct store_vendor **out, size_t *n)
{
	struct store_vendor *v = NULL;
	PGresult *r = NULL;
	size_t nv = 0, i = 0;
	int rc, rows;

	*out = NULL;
	*n = 0;
	if (!c)
		return RC_INVAL;
	rc = store_conn_pq(
		c,
		"SELECT v.id, v.name, v.serial_rule, v.allow_reenroll, c.kind, c.der, "
		"v.x509_strict FROM vendors v LEFT JOIN vendor_certs c ON c.vendor_id = v.id "
		"ORDER BY v.id, c.id",
		0, NULL, NULL, NULL, 1, &r, NULL, NULL, 0);
	if (rc != RC_OK)
		goto out;
	rows = PQntuples(r);
	for (int row = 0; row < rows; row++)
		nv += row == 0 || memcmp(PQgetvalue(r, row, 0), PQgetvalue(r, row - 1, 0), 8) != 0;
	if (nv && !(v = calloc(nv, sizeof(*v)))) {
		rc = RC_NOMEM;
		goto out;
	}
	for (int row = 0; row < rows; i++) {
		int end = row + 1;

		while (end < rows && memcmp(PQgetvalue(r, end, 0), PQgetvalue(r, row, 0), 8) == 0)
			end++;
		if ((rc = fill_vendor(r, row, end, &v[i])) != RC_OK)
			goto out;
		row = end;
	}
	*out = v;
	*n = nv;
	v = NULL;
out:
	store_vendor_free_all(v, nv);
	PQclear(r);
	return rc;
}

void store_vendor_free_all(struct store_vendor *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < v[i].n_certs; j++)
			free(v[i].certs[j].der);
		free(v[i].certs);
		free(v[i].name);
		free(v[i].serial_rule);
	}
	free(v);
}

/* ---- one serial's state ---- */

/* Block: upsert as blocked. Unblock: back to enrolled or allowed. Both
 * return the new and the previous state ('' when the serial was not
 * listed): o reads the statement's snapshot, the row as it was before u
 * (not FOR UPDATE: a row locked there and changed by u in the same
 * statement would vanish from o). */
static const char SQL_BLOCK[] =
	"WITH o AS (SELECT state FROM serials WHERE vendor_id = $1::bigint AND serial = $2"
	"), u AS (INSERT INTO serials (vendor_id, serial, state)"
	" VALUES ($1::bigint, $2, 'blocked') ON CONFLICT (vendor_id, serial) DO UPDATE"
	" SET state = 'blocked', updated_at = CASE WHEN serials.state = 'blocked'"
	" THEN serials.updated_at ELSE now() END RETURNING state)"
	" SELECT u.state, coalesce((SELECT state FROM o), '') FROM u";
static const char SQL_UNBLOCK[] =
	"WITH o AS (SELECT state FROM serials WHERE vendor_id = $1::bigint AND serial = $2"
	"), u AS (UPDATE serials SET state = CASE WHEN enrolled_at IS NULL"
	" THEN 'allowed' ELSE 'enrolled' END, updated_at = now()"
	" WHERE vendor_id = $1::bigint AND serial = $2 AND state = 'blocked' RETURNING state)"
	" SELECT coalesce((SELECT state FROM u), o.state), o.state FROM o";

int store_vendor_serial_set_blocked(struct store_conn *c, int64_t vendor_id, const char *serial,
				    bool block, char state[16], char prev[16], bool *added)
{
	char vid[24], st[6];
	const char *p[2] = { vid, serial };
	PGresult *r = NULL;
	int rc;

	if (!c || !serial || !*serial || strlen(serial) > 256)
		return RC_INVAL;
	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	rc = store_conn_pq(c, block ? SQL_BLOCK : SQL_UNBLOCK, 2, p, NULL, NULL, 0, &r, st, NULL,
			   0);
	if (rc != RC_OK)
		return map_state(st);
	if (PQntuples(r) != 1) {
		rc = RC_NOTFOUND;
	} else {
		snprintf(state, 16, "%s", PQgetvalue(r, 0, 0));
		snprintf(prev, 16, "%s", PQgetvalue(r, 0, 1));
		if (added)
			*added = !prev[0];
	}
	PQclear(r);
	return rc;
}

/* ---- submitted CA certificates ---- */

void store_vendor_sub_clear(struct store_vsub *s)
{
	if (s) {
		free(s->der);
		s->der = NULL;
		s->derlen = 0;
	}
}

void store_vendor_sub_free_all(struct store_vsub *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		store_vendor_sub_clear(&s[i]);
	free(s);
}

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* the columns fill_sub reads, in its order */
#define SUB_COLS                                                                                   \
	"s.id::text, v.name, s.kind, s.state, s.der, encode(s.fingerprint, 'hex'), "               \
	"s.subject, " TS("s.not_after") ", s.submitted_by, " TS(                                   \
		"s.submitted_at") ", "                                                             \
				  "coalesce(s.decided_by, ''), coalesce(" TS(                      \
					  "s.decided_at") ", ''), "                                \
							  "coalesce(s.reason, '')"

static void col(PGresult *r, int row, int k, char *dst, size_t len)
{
	snprintf(dst, len, "%.*s", PQgetlength(r, row, k), PQgetvalue(r, row, k));
}

/* Row row of a text-format SUB_COLS result into s. */
static int fill_sub(PGresult *r, int row, struct store_vsub *s)
{
	size_t n = 0;
	unsigned char *d;

	memset(s, 0, sizeof(*s));
	s->id = strtoll(PQgetvalue(r, row, 0), NULL, 10);
	col(r, row, 1, s->vendor, sizeof(s->vendor));
	col(r, row, 2, s->kind, sizeof(s->kind));
	col(r, row, 3, s->state, sizeof(s->state));
	if (!PQgetisnull(r, row, 4)) {
		if (!(d = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 4), &n)))
			return RC_NOMEM;
		s->der = malloc(n ? n : 1);
		if (s->der)
			memcpy(s->der, d, n);
		PQfreemem(d);
		if (!s->der)
			return RC_NOMEM;
		s->derlen = n;
	}
	col(r, row, 5, s->fp_hex, sizeof(s->fp_hex));
	col(r, row, 6, s->subject, sizeof(s->subject));
	col(r, row, 7, s->not_after, sizeof(s->not_after));
	col(r, row, 8, s->submitted_by, sizeof(s->submitted_by));
	col(r, row, 9, s->submitted_at, sizeof(s->submitted_at));
	col(r, row, 10, s->decided_by, sizeof(s->decided_by));
	col(r, row, 11, s->decided_at, sizeof(s->decided_at));
	col(r, row, 12, s->reason, sizeof(s->reason));
	return RC_OK;
}

static int fill_subs(PGresult *r, struct store_vsub **out, size_t *n)
{
	int rows = PQntuples(r);
	struct store_vsub *s = calloc((size_t)rows + 1, sizeof(*s));

	if (!s)
		return RC_NOMEM;
	for (int i = 0; i < rows; i++)
		if (fill_sub(r, i, &s[i]) != RC_OK) {
			store_vendor_sub_free_all(s, (size_t)rows);
			return RC_NOMEM;
		}
	*out = s;
	*n = (size_t)rows;
	return RC_OK;
}

int store_vendor_sub_add(struct store_conn *c, int64_t vendor_id, const char *kind,
			 const unsigned char *der, size_t derlen, const unsigned char fp32[32],
			 const char *subject, int64_t not_after, const char *principal, int64_t *id,
			 char other[128])
{
	char vid[24], na[24], st[6];
	const char *p[7] = { vid,     kind, (const char *)der, (const char *)fp32,
			     subject, na,   principal };
	int lens[7] = { 0, 0, (int)derlen, 32, 0, 0, 0 };
	int fmts[7] = { 0, 0, 1, 1, 0, 0, 0 };
	PGresult *r = NULL;
	int rc;

	if (!c || !kind || !der || !derlen || derlen > 65536 || !fp32 || !subject || !principal ||
	    !id || (strcmp(kind, "anchor") != 0 && strcmp(kind, "intermediate") != 0))
		return RC_INVAL;
	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	snprintf(na, sizeof(na), "%" PRId64, not_after);
	other[0] = '\0';
	/* registered already (for this vendor or another), else a pending
	 * duplicate, else the new row: one statement, first answer wins */
	rc = store_conn_pq(
		c,
		"WITH reg AS (SELECT CASE WHEN c.vendor_id = $1::bigint THEN 'registered:' ||"
		" c.kind ELSE 'vendor:' || v.name END AS why FROM vendor_certs c JOIN vendors v"
		" ON v.id = c.vendor_id WHERE c.fingerprint = $4::bytea LIMIT 1),"
		" pend AS (SELECT 'pending:' || id AS why FROM vendor_submissions WHERE vendor_id ="
		" $1::bigint AND fingerprint = $4::bytea AND state = 'pending'),"
		" ins AS (INSERT INTO vendor_submissions (vendor_id, kind, der, fingerprint,"
		" subject, not_after, submitted_by) SELECT $1::bigint, $2, $3::bytea, $4::bytea,"
		" left($5, 256), to_timestamp($6::bigint), $7 WHERE NOT EXISTS (SELECT 1 FROM reg)"
		" AND NOT EXISTS (SELECT 1 FROM pend) ON CONFLICT DO NOTHING RETURNING id)"
		" SELECT (SELECT id::text FROM ins), coalesce((SELECT why FROM reg),"
		" (SELECT why FROM pend), '')",
		7, p, lens, fmts, 0, &r, st, NULL, 0);
	if (rc != RC_OK)
		return map_state(st);
	if (PQntuples(r) != 1) {
		rc = RC_DB;
	} else if (PQgetisnull(r, 0, 0)) {
		snprintf(other, 128, "%s", PQgetvalue(r, 0, 1));
		if (!other[0]) /* a concurrent duplicate won the unique index */
			snprintf(other, 128, "pending:?");
		rc = RC_EXISTS;
	} else {
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	return rc;
}

int store_vendor_sub_get(struct store_conn *c, int64_t id, const char *vendor,
			 struct store_vsub *out)
{
	char sid[24];
	const char *p[2] = { sid, vendor };
	PGresult *r = NULL;
	int rc;

	if (!c || !out)
		return RC_INVAL;
	snprintf(sid, sizeof(sid), "%" PRId64, id);
	rc = store_conn_pq(c,
			   "SELECT " SUB_COLS " FROM vendor_submissions s JOIN vendors v ON v.id ="
			   " s.vendor_id WHERE s.id = $1::bigint AND ($2::text IS NULL OR v.name ="
			   " $2)",
			   2, p, NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc != RC_OK)
		return rc;
	rc = PQntuples(r) == 1 ? fill_sub(r, 0, out) : RC_NOTFOUND;
	PQclear(r);
	return rc;
}

int store_vendor_sub_list(struct store_conn *c, const char *vendor, const char *state,
			  int64_t before, int limit, struct store_vsub **out, size_t *n)
{
	char b[24], l[16];
	const char *p[4] = { vendor, state, b, l };
	PGresult *r = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || limit < 1 || limit > 1001)
		return RC_INVAL;
	snprintf(b, sizeof(b), "%" PRId64, before);
	snprintf(l, sizeof(l), "%d", limit);
	rc = store_conn_pq(c,
			   "SELECT " SUB_COLS " FROM vendor_submissions s JOIN vendors v ON v.id ="
			   " s.vendor_id WHERE ($1::text IS NULL OR v.name = $1) AND ($2::text IS"
			   " NULL OR s.state = $2) AND ($3::bigint = 0 OR s.id < $3::bigint)"
			   " ORDER BY s.id DESC LIMIT $4::int",
			   4, p, NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc == RC_OK)
		rc = fill_subs(r, out, n);
	PQclear(r);
	return rc;
}

int store_vendor_sub_decide(struct store_conn *c, int64_t id, const char *state,
			    const char *principal, const char *reason)
{
	char sid[24], st[6];
	const char *p[4] = { sid, state, principal, reason };
	PGresult *r = NULL;
	int rc;

	if (!c || !state || !principal ||
	    (strcmp(state, "approved") && strcmp(state, "rejected") &&
	     strcmp(state, "withdrawn")) ||
	    (reason && strlen(reason) > STORE_VSUB_REASON_MAX))
		return RC_INVAL;
	snprintf(sid, sizeof(sid), "%" PRId64, id);
	/* the old state through the row version the update replaced: a
	 * submission no longer pending is told apart from none */
	rc = store_conn_pq(c,
			   "WITH o AS (SELECT state FROM vendor_submissions WHERE id = $1::bigint),"
			   " u AS (UPDATE vendor_submissions SET state = $2, decided_by = $3,"
			   " decided_at = now(), reason = $4 WHERE id = $1::bigint AND state ="
			   " 'pending' RETURNING 1) SELECT (SELECT state FROM o), (SELECT count(*)"
			   " FROM u)",
			   4, p, NULL, NULL, 0, &r, st, NULL, 0);
	if (rc != RC_OK)
		return map_state(st);
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		rc = RC_NOTFOUND;
	else if (strcmp(PQgetvalue(r, 0, 1), "1") != 0)
		rc = RC_EXISTS;
	PQclear(r);
	return rc;
}

int store_vendor_certs_list(struct store_conn *c, const char *vendor, struct store_vsub **out,
			    size_t *n)
{
	const char *p[1] = { vendor };
	PGresult *r = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !vendor)
		return RC_INVAL;
	rc = store_conn_pq(
		c,
		"SELECT s.id::text, v.name, s.kind, 'registered', NULL::bytea,"
		" encode(s.fingerprint, 'hex'), s.subject, " TS("s.not_after") ", '', " TS(
			"s.created_at") ", '', '', '' FROM vendor_certs s JOIN vendors v"
					" ON v.id = s.vendor_id WHERE v.name = $1 ORDER BY s.id",
		1, p, NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc == RC_OK)
		rc = fill_subs(r, out, n);
	PQclear(r);
	return rc;
}
