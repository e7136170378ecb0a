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
