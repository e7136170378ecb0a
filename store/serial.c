/*
 * store/serial.c - serial list import (see serial.h): COPY into a
 * temporary table, then one INSERT ... ON CONFLICT, in one transaction.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/db_int.h"
#include "store/serial.h"

#define LINE_CAP   1024	 /* longer lines are rejected whatever they hold */
#define COPY_CHUNK 65536 /* bytes per PQputCopyData */

/*
 * Merge without ON CONFLICT: its speculative insertion doubles the cost
 * per row. Concurrent imports for one vendor serialize on an advisory
 * lock instead; sorted input keeps the primary-key inserts sequential.
 */
#define DISTINCT_SORTED "(SELECT DISTINCT serial AS s FROM cmpgw_serial_import ORDER BY 1) d"
#define NOT_PRESENT                                                                                \
	" WHERE NOT EXISTS (SELECT 1 FROM serials x WHERE x.vendor_id = $1::bigint AND x.serial "  \
	"= d.s)"

static const char lock_sql[] =
	"SELECT pg_advisory_xact_lock(1668116583, ($1::bigint % 2147483647)::int)";
static const char insert_allowed_sql[] =
	"INSERT INTO serials (vendor_id, serial) SELECT $1::bigint, s FROM " DISTINCT_SORTED
		NOT_PRESENT;
static const char insert_blocked_sql[] =
	"INSERT INTO serials (vendor_id, serial, state) SELECT $1::bigint, s, 'blocked' "
	"FROM " DISTINCT_SORTED NOT_PRESENT;
/* block even enrolled serials */
static const char update_blocked_sql[] =
	"UPDATE serials x SET state = 'blocked', updated_at = now() FROM " DISTINCT_SORTED
	" WHERE x.vendor_id = $1::bigint AND x.serial = d.s AND x.state <> 'blocked'";

struct import {
	PGconn *pg;
	FILE *in;
	long line;
	char buf[COPY_CHUNK];
	size_t used;
	char *err;
	size_t errlen;
};

#define IMP_ERR(im, ...)                                                                           \
	((im)->err && (im)->errlen ? (void)snprintf((im)->err, (im)->errlen, __VA_ARGS__) : (void)0)

static int copy_flush(struct import *im)
{
	if (im->used && PQputCopyData(im->pg, im->buf, (int)im->used) != 1) {
		IMP_ERR(im, "COPY: %s", PQerrorMessage(im->pg));
		return RC_DB;
	}
	im->used = 0;
	return RC_OK;
}

/* Append one row in COPY text format: only '\' needs escaping here. */
static int copy_row(struct import *im, const char *s, size_t len)
{
	int rc;

	if (im->used + 2 * len + 1 > sizeof(im->buf) && (rc = copy_flush(im)) != RC_OK)
		return rc;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\')
			im->buf[im->used++] = '\\';
		im->buf[im->used++] = s[i];
	}
	im->buf[im->used++] = '\n';
	return RC_OK;
}

/* Read one line (without '\n'). 1: got one, 0: EOF, <0: error. */
static int read_line(struct import *im, char *line, size_t *len)
{
	int ch;

	*len = 0;
	while ((ch = getc_unlocked(im->in)) != EOF && ch != '\n') {
		if (*len >= LINE_CAP) {
			IMP_ERR(im, "line %ld: longer than %d bytes", im->line + 1, LINE_CAP);
			return RC_INVAL;
		}
		line[(*len)++] = (char)ch;
	}
	if (ferror(im->in)) {
		IMP_ERR(im, "read error after line %ld", im->line);
		return RC_IO;
	}
	if (ch == EOF && *len == 0)
		return 0;
	im->line++;
	return 1;
}

/* Validate a line; out: serial s of n bytes (n == 0: skip the line). */
static int parse_line(struct import *im, char *line, size_t len, char **s, size_t *n)
{
	char *b = line, *e = line + len;

	if (im->line == 1 && len >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
		b += 3; /* UTF-8 byte order mark from spreadsheet exports */
	while (b < e && (*b == ' ' || *b == '\t' || *b == '\r' || *b == '\v' || *b == '\f'))
		b++;
	while (e > b &&
	       (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\v' || e[-1] == '\f'))
		e--;
	*s = b;
	*n = 0;
	if (b == e || *b == '#')
		return RC_OK;
	if (e - b > STORE_SERIAL_MAX) {
		IMP_ERR(im, "line %ld: serial longer than %d bytes", im->line, STORE_SERIAL_MAX);
		return RC_INVAL;
	}
	for (char *p = b; p < e; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			IMP_ERR(im, "line %ld: byte 0x%02x at column %ld is not printable ASCII",
				im->line, (unsigned char)*p, (long)(p - line) + 1);
			return RC_INVAL;
		}
	}
	*n = (size_t)(e - b);
	return RC_OK;
}

/* Stream the file into the COPY; on failure the COPY is aborted. */
static int copy_file(struct import *im, long *rows)
{
	char line[LINE_CAP + 1], *s;
	size_t len, n;
	int rc, got;
	PGresult *r;

	*rows = 0;
	while ((got = read_line(im, line, &len)) == 1) {
		if ((rc = parse_line(im, line, len, &s, &n)) != RC_OK)
			goto abort;
		if (n && (rc = copy_row(im, s, n)) != RC_OK)
			goto abort;
		*rows += n != 0;
	}
	if ((rc = got) < 0 || (rc = copy_flush(im)) != RC_OK)
		goto abort;
	if (PQputCopyEnd(im->pg, NULL) != 1) {
		IMP_ERR(im, "COPY end: %s", PQerrorMessage(im->pg));
		return RC_DB;
	}
	rc = RC_OK;
	while ((r = PQgetResult(im->pg))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == RC_OK) {
			IMP_ERR(im, "COPY: %s", PQresultErrorMessage(r));
			rc = RC_DB;
		}
		PQclear(r);
	}
	return rc;
abort:
	if (PQputCopyEnd(im->pg, "import rejected") == 1)
		while ((r = PQgetResult(im->pg)))
			PQclear(r);
	return rc;
}

/* Lock the vendor row against deletion for the import. */
static int vendor_lock(struct store_conn *c, const char *vid, struct import *im)
{
	const char *p[1] = { vid };
	PGresult *r = NULL;
	int rc = store_conn_pq(c, "SELECT 1 FROM vendors WHERE id = $1::bigint FOR KEY SHARE", 1, p,
			       NULL, NULL, 0, &r, NULL, im->err, im->errlen);

	if (rc == RC_OK && PQntuples(r) == 0) {
		IMP_ERR(im, "vendor %s does not exist", vid);
		rc = RC_NOTFOUND;
	}
	PQclear(r);
	return rc;
}

/* Run one statement with the vendor id; *n gets the rows affected. */
static int exec_vid(struct store_conn *c, const char *sql, const char *vid, long *n,
		    struct import *im)
{
	const char *p[1] = { vid };
	PGresult *r = NULL;
	int rc = store_conn_pq(c, sql, 1, p, NULL, NULL, 0, &r, NULL, im->err, im->errlen);

	if (rc == RC_OK && n)
		*n = atol(PQcmdTuples(r));
	PQclear(r);
	return rc;
}

static int merge(struct store_conn *c, const char *vid, bool blocked, long *ins, long *upd,
		 struct import *im)
{
	int rc;

	*upd = 0;
	if (blocked && (rc = exec_vid(c, update_blocked_sql, vid, upd, im)) != RC_OK)
		return rc;
	return exec_vid(c, blocked ? insert_blocked_sql : insert_allowed_sql, vid, ins, im);
}

int store_serial_import(struct store_conn *c, int64_t vendor_id, FILE *in, const char *state,
			long *inserted, long *updated, char *errbuf, size_t errlen)
{
	struct import *im = NULL;
	char vid[24];
	long rows = 0, ins = 0, upd = 0;
	bool blocked;
	PGresult *r = NULL;
	int rc;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!c || !in || !state || (strcmp(state, "allowed") && strcmp(state, "blocked")))
		return RC_INVAL;
	blocked = strcmp(state, "blocked") == 0;
	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	im = calloc(1, sizeof(*im));
	if (!im)
		return RC_NOMEM;
	im->pg = store_db_conn_raw(c);
	im->in = in;
	im->err = errbuf;
	im->errlen = errlen;
	if ((rc = store_conn_cmd(c, "BEGIN", errbuf, errlen)) != RC_OK)
		goto out;
	if ((rc = vendor_lock(c, vid, im)) != RC_OK ||
	    (rc = exec_vid(c, lock_sql, vid, NULL, im)) != RC_OK ||
	    (rc = store_conn_cmd(c, "SET LOCAL work_mem = '64MB'", errbuf, errlen)) != RC_OK ||
	    (rc = store_conn_cmd(
		     c,
		     "CREATE TEMP TABLE cmpgw_serial_import (serial text COLLATE \"C\") "
		     "ON COMMIT DROP",
		     errbuf, errlen)) != RC_OK)
		goto rollback;
	r = PQexec(im->pg, "COPY cmpgw_serial_import (serial) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		IMP_ERR(im, "COPY: %s", PQerrorMessage(im->pg));
		rc = RC_DB;
		goto rollback;
	}
	if ((rc = copy_file(im, &rows)) != RC_OK ||
	    (rc = store_conn_cmd(c, "ANALYZE cmpgw_serial_import", errbuf, errlen)) != RC_OK ||
	    (rc = merge(c, vid, blocked, &ins, &upd, im)) != RC_OK ||
	    (rc = store_conn_cmd(c, "COMMIT", errbuf, errlen)) != RC_OK)
		goto rollback;
	log_info(NULL, "store: vendor %s: imported %ld serials as %s: %ld new, %ld changed", vid,
		 rows, state, ins, upd);
	if (inserted)
		*inserted = ins;
	if (updated)
		*updated = upd;
	goto out;
rollback:
	PQclear(PQexec(im->pg, "ROLLBACK"));
out:
	PQclear(r);
	free(im);
	return rc;
}

/* ---- streaming import with a report (issue 14, cmd/serials.c) ---------- */

struct store_serial_import {
	struct store_conn *c;
	PGconn *pg;
	char vid[24];
	bool blocked, copying, open;
	bool lower, upper; /* letters of either case seen */
	long rows;
	char buf[COPY_CHUNK];
	size_t used;
	char *err;
	size_t errlen;
};

#define SI_ERR(im, ...)                                                                            \
	((im)->err && (im)->errlen ? (void)snprintf((im)->err, (im)->errlen, __VA_ARGS__) : (void)0)

static const char rows_sql[] = "CREATE TEMP TABLE cmpgw_serial_rows (line bigint, serial text "
			       "COLLATE \"C\") ON COMMIT DROP";
/*
 * The merge is one statement per mode: the distinct serials, sorted (the
 * primary-key inserts then go in index order), are materialised once and
 * feed the UPDATE and the INSERT as data-modifying CTEs (one snapshot:
 * the INSERT adds what did not exist, the UPDATE changes what did). The
 * SELECT returns distinct, inserted, changed and kept-blocked counts.
 */
#define SET_CTE                                                                                    \
	"WITH d AS MATERIALIZED (SELECT serial FROM cmpgw_serial_rows GROUP BY serial ORDER BY "   \
	"serial), "
#define SET_NEW                                                                                    \
	" FROM d WHERE NOT EXISTS (SELECT 1 FROM serials x WHERE x.vendor_id = $1::bigint AND "    \
	"x.serial = d.serial) RETURNING 1) "
static const char merge_allowed_sql[] = SET_CTE
	"ins AS (INSERT INTO serials (vendor_id, serial) SELECT $1::bigint, d.serial" SET_NEW
	"SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM ins), 0, (SELECT count(*) FROM "
	"serials x JOIN d ON x.serial = d.serial WHERE x.vendor_id = $1::bigint AND x.state = "
	"'blocked')";
/* block even enrolled serials */
static const char merge_blocked_sql[] = SET_CTE
	"upd AS (UPDATE serials x SET state = 'blocked', updated_at = now() FROM d WHERE "
	"x.vendor_id = $1::bigint AND x.serial = d.serial AND x.state <> 'blocked' RETURNING 1), "
	"ins AS (INSERT INTO serials (vendor_id, serial, state) SELECT $1::bigint, d.serial, "
	"'blocked'" SET_NEW "SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM ins), "
	"(SELECT count(*) FROM upd), 0";
/* Only when there are duplicates: the repeated lines and the first. */
static const char dup_sql[] =
	"SELECT r.line, f.line, r.serial FROM cmpgw_serial_rows r JOIN (SELECT serial, min(line) "
	"AS line FROM cmpgw_serial_rows GROUP BY serial HAVING count(*) > 1) f USING (serial) "
	"WHERE r.line <> f.line ORDER BY r.line LIMIT " STORE_SERIAL_SHOW_STR;
/* Only when the list has both lower- and upper-case letters. lower()
 * under COLLATE "C" folds ASCII letters only: serials are ASCII. */
static const char case_sql[] =
	"SELECT count(*) OVER (), min(line), max(line) FROM (SELECT serial, min(line) AS line FROM "
	"cmpgw_serial_rows GROUP BY serial) s GROUP BY lower(serial) HAVING count(*) > 1 ORDER BY "
	"2 LIMIT " STORE_SERIAL_SHOW_STR;

/* For this transaction only: the sort of the distinct serials and the
 * RETURNING tuplestores of 1M rows fit in memory (they spill to temp
 * files past that, so 10M rows still work); JIT compiles for longer than
 * these plans run. */
static const char import_settings_sql[] = "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off";

int store_serial_import_begin(struct store_conn *c, int64_t vendor_id, bool blocked,
			      struct store_serial_import **out, char *errbuf, size_t errlen)
{
	struct store_serial_import *im = NULL;
	struct import lk = { .err = errbuf, .errlen = errlen };
	PGresult *r = NULL;
	int rc = RC_NOMEM;

	*out = NULL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!(im = calloc(1, sizeof(*im))))
		goto out;
	im->c = c;
	im->pg = store_db_conn_raw(c);
	im->blocked = blocked;
	im->err = errbuf;
	im->errlen = errlen;
	snprintf(im->vid, sizeof(im->vid), "%" PRId64, vendor_id);
	if ((rc = store_conn_cmd(c, "BEGIN", errbuf, errlen)) != RC_OK)
		goto out;
	im->open = true;
	if ((rc = vendor_lock(c, im->vid, &lk)) != RC_OK ||
	    (rc = exec_vid(c, lock_sql, im->vid, NULL, &lk)) != RC_OK ||
	    (rc = store_conn_cmd(c, import_settings_sql, errbuf, errlen)) != RC_OK ||
	    (rc = store_conn_cmd(c, rows_sql, errbuf, errlen)) != RC_OK)
		goto out;
	r = PQexec(im->pg, "COPY cmpgw_serial_rows (line, serial) FROM STDIN");
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		SI_ERR(im, "COPY: %s", PQerrorMessage(im->pg));
		rc = RC_DB;
		goto out;
	}
	im->copying = true;
	*out = im;
	im = NULL;
	rc = RC_OK;
out:
	PQclear(r);
	store_serial_import_free(im);
	return rc;
}

static int si_flush(struct store_serial_import *im)
{
	if (im->used && PQputCopyData(im->pg, im->buf, (int)im->used) != 1) {
		SI_ERR(im, "COPY: %s", PQerrorMessage(im->pg));
		return RC_DB;
	}
	im->used = 0;
	return RC_OK;
}

int store_serial_import_add(struct store_serial_import *im, long line, const char *s, size_t n)
{
	int rc;

	if (!im->copying || n == 0 || n > STORE_SERIAL_LEN_MAX)
		return RC_INVAL;
	/* a row is at most 20 digits, a tab, 2n bytes and a newline */
	if (im->used + 2 * n + 24 > sizeof(im->buf) && (rc = si_flush(im)) != RC_OK)
		return rc;
	im->used += (size_t)snprintf(im->buf + im->used, 24, "%ld\t", line);
	/* COPY text format: '\' escapes; tab, newline and CR never reach here
	 * (a serial holds no whitespace) but are escaped all the same */
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		im->lower |= ch >= 'a' && ch <= 'z';
		im->upper |= ch >= 'A' && ch <= 'Z';
		if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
			im->buf[im->used++] = '\\';
			ch = ch == '\t' ? 't' : ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch;
		}
		im->buf[im->used++] = ch;
	}
	im->buf[im->used++] = '\n';
	im->rows++;
	return RC_OK;
}

static int si_copy_end(struct store_serial_import *im)
{
	PGresult *r;
	int rc = si_flush(im);

	im->copying = false;
	if (rc != RC_OK)
		return rc;
	if (PQputCopyEnd(im->pg, NULL) != 1) {
		SI_ERR(im, "COPY end: %s", PQerrorMessage(im->pg));
		return RC_DB;
	}
	while ((r = PQgetResult(im->pg))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == RC_OK) {
			SI_ERR(im, "COPY: %s", PQresultErrorMessage(r));
			rc = RC_DB;
		}
		PQclear(r);
	}
	return rc;
}

/* The first duplicates (line, first line, serial) and case pairs. */
static int si_examples(struct store_serial_import *im, struct store_serial_counts *k)
{
	PGresult *r = NULL;
	int rc;

	if (k->duplicates > 0) {
		if ((rc = store_conn_pq(im->c, dup_sql, 0, NULL, NULL, NULL, 0, &r, NULL, im->err,
					im->errlen)) != RC_OK)
			return rc;
		for (int i = 0; i < PQntuples(r) && i < STORE_SERIAL_SHOW; i++, k->ndup++) {
			k->dup[i].line = atol(PQgetvalue(r, i, 0));
			k->dup[i].first = atol(PQgetvalue(r, i, 1));
			snprintf(k->dup[i].serial, sizeof(k->dup[i].serial), "%s",
				 PQgetvalue(r, i, 2));
		}
		PQclear(r);
	}
	/* two serials that differ only in case need a letter of each case */
	if (!im->lower || !im->upper)
		return RC_OK;
	if ((rc = store_conn_pq(im->c, case_sql, 0, NULL, NULL, NULL, 0, &r, NULL, im->err,
				im->errlen)) != RC_OK)
		return rc;
	for (int i = 0; i < PQntuples(r) && i < STORE_SERIAL_SHOW; i++, k->ncase++) {
		k->case_groups = atol(PQgetvalue(r, i, 0));
		k->casepair[i].line = atol(PQgetvalue(r, i, 1));
		k->casepair[i].other = atol(PQgetvalue(r, i, 2));
	}
	PQclear(r);
	return RC_OK;
}

int store_serial_import_merge(struct store_serial_import *im, struct store_serial_counts *k)
{
	const char *p[1] = { im->vid };
	PGresult *r = NULL;
	int rc;

	memset(k, 0, sizeof(*k));
	if (!im->copying)
		return RC_INVAL;
	if ((rc = si_copy_end(im)) != RC_OK)
		return rc;
	k->rows = im->rows;
	if ((rc = store_conn_cmd(im->c, "ANALYZE cmpgw_serial_rows", im->err, im->errlen)) !=
		    RC_OK ||
	    (rc = store_conn_pq(im->c, im->blocked ? merge_blocked_sql : merge_allowed_sql, 1, p,
				NULL, NULL, 0, &r, NULL, im->err, im->errlen)) != RC_OK)
		return rc;
	k->distinct = atol(PQgetvalue(r, 0, 0));
	k->inserted = atol(PQgetvalue(r, 0, 1));
	k->changed = atol(PQgetvalue(r, 0, 2));
	k->kept_blocked = atol(PQgetvalue(r, 0, 3));
	PQclear(r);
	k->duplicates = k->rows - k->distinct;
	k->unchanged = k->distinct - k->inserted - k->changed;
	return si_examples(im, k);
}

int store_serial_import_commit(struct store_serial_import *im)
{
	int rc;

	if (im->copying || !im->open)
		return RC_INVAL;
	rc = store_conn_cmd(im->c, "COMMIT", im->err, im->errlen);
	im->open = false;
	return rc;
}

void store_serial_import_free(struct store_serial_import *im)
{
	PGresult *r;

	if (!im)
		return;
	if (im->copying && PQputCopyEnd(im->pg, "import refused") == 1)
		while ((r = PQgetResult(im->pg)))
			PQclear(r);
	if (im->open)
		PQclear(PQexec(im->pg, "ROLLBACK"));
	free(im);
}

/* ---- per-vendor syntax (migration 017) ---------------------------------- */

int store_serial_syntax_get(struct store_conn *c, int64_t vendor_id, int *max_len, char *charset,
			    size_t len, char *errbuf, size_t errlen)
{
	char vid[24];
	const char *p[1] = { vid };
	PGresult *r = NULL;
	int rc;

	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	rc = store_conn_pq(c,
			   "SELECT serial_max_len, coalesce(serial_charset, '') FROM vendors "
			   "WHERE id = $1::bigint",
			   1, p, NULL, NULL, 0, &r, NULL, errbuf, errlen);
	if (rc == RC_OK && PQntuples(r) != 1)
		rc = RC_NOTFOUND;
	if (rc == RC_OK && (size_t)PQgetlength(r, 0, 1) >= len)
		rc = RC_TOOBIG;
	if (rc == RC_OK) {
		*max_len = atoi(PQgetvalue(r, 0, 0));
		memcpy(charset, PQgetvalue(r, 0, 1), (size_t)PQgetlength(r, 0, 1) + 1);
	}
	PQclear(r);
	return rc;
}

int store_serial_syntax_set(struct store_conn *c, int64_t vendor_id, int max_len,
			    const char *charset, char *errbuf, size_t errlen)
{
	char vid[24], ml[16];
	const char *p[3] = { vid, max_len > 0 ? ml : NULL, charset };
	PGresult *r = NULL;
	int rc;

	snprintf(vid, sizeof(vid), "%" PRId64, vendor_id);
	snprintf(ml, sizeof(ml), "%d", max_len);
	rc = store_conn_pq(c,
			   "UPDATE vendors SET serial_max_len = coalesce($2::int, serial_max_len), "
			   "serial_charset = CASE WHEN $3::text IS NULL THEN serial_charset "
			   "ELSE nullif($3::text, '') END WHERE id = $1::bigint",
			   3, p, NULL, NULL, 0, &r, NULL, errbuf, errlen);
	if (rc == RC_OK && atol(PQcmdTuples(r)) != 1)
		rc = RC_NOTFOUND;
	PQclear(r);
	return rc;
}
