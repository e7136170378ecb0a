/*
 * store/conn.c - blocking connections (CLI and start-up) and the PGresult ->
 * store_result conversion shared with the async pool.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/db_int.h"

struct store_conn {
	PGconn *pg;
};

void store_res_fail(struct store_result *out, int rc, const char *msg)
{
	memset(out, 0, sizeof(*out));
	out->rc = rc;
	out->errmsg = msg ? msg : rc_str(rc);
}

static bool res_ok(PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_SINGLE_TUPLE;
}

static void res_error(PGconn *pg, PGresult *r, struct store_result *out)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (!msg && r && *PQresultErrorMessage(r))
		msg = PQresultErrorMessage(r);
	if (!msg && pg)
		msg = PQerrorMessage(pg);
	store_res_fail(out, RC_DB, msg && *msg ? msg : "database error");
	if (state)
		snprintf(out->sqlstate, sizeof(out->sqlstate), "%s", state);
	out->constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
}

void store_res_fill(PGconn *pg, PGresult *r, struct store_result *out, struct store_res_buf *buf)
{
	size_t cells;

	memset(buf, 0, sizeof(*buf));
	if (!r || !res_ok(r)) {
		res_error(pg, r, out);
		return;
	}
	store_res_fail(out, RC_OK, NULL);
	out->errmsg = "";
	out->affected = atol(PQcmdTuples(r));
	out->nrows = PQntuples(r);
	out->ncols = PQnfields(r);
	cells = (size_t)out->nrows * (size_t)out->ncols;
	buf->val = calloc(cells ? cells : 1, sizeof(*buf->val));
	buf->lens = calloc(cells ? cells : 1, sizeof(*buf->lens));
	buf->isnull = calloc(cells ? cells : 1, sizeof(*buf->isnull));
	if (!buf->val || !buf->lens || !buf->isnull) {
		store_res_buf_free(buf);
		store_res_fail(out, RC_NOMEM, "out of memory for result");
		return;
	}
	for (int i = 0; i < out->nrows; i++) {
		for (int j = 0; j < out->ncols; j++) {
			size_t k = (size_t)i * (size_t)out->ncols + (size_t)j;

			buf->val[k] = PQgetvalue(r, i, j); /* "" for NULL */
			buf->lens[k] = PQgetlength(r, i, j);
			buf->isnull[k] = PQgetisnull(r, i, j);
		}
	}
	out->val = buf->val;
	out->lens = buf->lens;
	out->isnull = buf->isnull;
}

void store_res_buf_free(struct store_res_buf *buf)
{
	free(buf->val);
	free(buf->lens);
	free(buf->isnull);
	memset(buf, 0, sizeof(*buf));
}

int64_t store_be64(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | u[i];
	return (int64_t)v;
}

void store_msg_line(char *dst, size_t len, const char *src)
{
	size_t j = 0;

	if (!len)
		return;
	for (; src && *src && j + 1 < len; src++) {
		char ch = (*src == '\n' || *src == '\t' || *src == '\r') ? ' ' : *src;

		if (ch == ' ' && (j == 0 || dst[j - 1] == ' '))
			continue;
		dst[j++] = ch;
	}
	while (j > 0 && dst[j - 1] == ' ')
		j--;
	dst[j] = '\0';
}

void store_notice_quiet(void *arg, const char *message)
{
	char line[256];

	(void)arg;
	if (!log_enabled(LOG_DEBUG))
		return;
	store_msg_line(line, sizeof(line), message);
	log_debug(NULL, "store: server notice: %s", line);
}

int store_db_connect(const char *conninfo, struct store_conn **out)
{
	return store_db_connect_msg(conninfo, out, NULL, 0);
}

/* c->pg just made: 0 when it is up, else RC_DB with libpq's message. */
static int connected(PGconn *pg, char *errbuf, size_t errlen)
{
	char msg[256];

	if (PQstatus(pg) == CONNECTION_OK) {
		PQsetNoticeProcessor(pg, store_notice_quiet, NULL);
		return RC_OK;
	}
	/* libpq's message names host/db, never the password */
	store_msg_line(msg, sizeof(msg), PQerrorMessage(pg));
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", msg);
	else
		log_error(NULL, "store: connect failed: %s", msg);
	return RC_DB;
}

int store_db_connect_msg(const char *conninfo, struct store_conn **out, char *errbuf, size_t errlen)
{
	struct store_conn *c = NULL;
	int rc = RC_OK;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return RC_NOMEM;
	c->pg = PQconnectdb(conninfo);
	if (!c->pg)
		rc = RC_NOMEM;
	else if ((rc = connected(c->pg, errbuf, errlen)) == RC_OK) {
		*out = c;
		c = NULL;
	}
	store_db_close(c);
	return rc;
}

int store_db_connect_bounded(const char *conninfo, int connect_timeout_s, int stmt_timeout_ms,
			     struct store_conn **out)
{
	PQconninfoOption *opts = NULL;
	const char **kw = NULL, **kv = NULL;
	char ct[16], stmt[32], *options = NULL;
	struct store_conn *c = NULL;
	size_t n = 0, i = 0;
	int rc = RC_NOMEM;

	*out = NULL;
	if (!(opts = PQconninfoParse(conninfo, NULL)))
		return RC_DB;
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	snprintf(ct, sizeof(ct), "%d", connect_timeout_s);
	snprintf(stmt, sizeof(stmt), "-c statement_timeout=%d", stmt_timeout_ms);
	if (!(kw = calloc(n + 3, sizeof(*kw))) || !(kv = calloc(n + 3, sizeof(*kv))) ||
	    !(c = calloc(1, sizeof(*c))))
		goto out;
	for (const PQconninfoOption *o = opts; o->keyword; o++) {
		if (strcmp(o->keyword, "connect_timeout") == 0)
			continue; /* ours below */
		if (strcmp(o->keyword, "options") == 0) {
			/* the conninfo's own options, then the timeout */
			size_t len = (o->val ? strlen(o->val) : 0) + sizeof(stmt) + 2;
			if (!(options = malloc(len)))
				goto out;
			snprintf(options, len, "%s%s%s", o->val ? o->val : "",
				 o->val && *o->val ? " " : "", stmt);
			kw[i] = o->keyword;
			kv[i++] = options;
		} else if (o->val) {
			kw[i] = o->keyword;
			kv[i++] = o->val;
		}
	}
	kw[i] = "connect_timeout";
	kv[i++] = ct;
	if (!options) {
		kw[i] = "options";
		kv[i++] = stmt;
	}
	if (!(c->pg = PQconnectdbParams(kw, kv, 0)))
		goto out;
	if ((rc = connected(c->pg, NULL, 0)) == RC_OK) {
		*out = c;
		c = NULL;
	}
out:
	store_db_close(c);
	free(options);
	free(kw);
	free(kv);
	PQconninfoFree(opts);
	return rc;
}

void store_db_close(struct store_conn *c)
{
	if (!c)
		return;
	if (c->pg)
		PQfinish(c->pg);
	free(c);
}

void *store_db_conn_raw(struct store_conn *c)
{
	return c ? c->pg : NULL;
}

int store_conn_pq(struct store_conn *c, const char *sql, int n, const char *const *values,
		  const int *lens, const int *formats, int binary, PGresult **out, char *sqlstate,
		  char *errbuf, size_t errlen)
{
	struct store_result sr;
	PGresult *r;

	*out = NULL;
	if (sqlstate)
		sqlstate[0] = '\0';
	if (n == 0 && !values && !binary)
		r = PQexec(c->pg, sql);
	else
		r = PQexecParams(c->pg, sql, n, NULL, values, lens, formats, binary);
	if (r && res_ok(r)) {
		*out = r;
		return RC_OK;
	}
	res_error(c->pg, r, &sr);
	if (sqlstate)
		memcpy(sqlstate, sr.sqlstate, 6);
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s%s%s", sr.sqlstate, sr.sqlstate[0] ? ": " : "",
			 sr.errmsg);
	PQclear(r);
	return RC_DB;
}

int store_conn_cmd(struct store_conn *c, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *r = NULL;
	int rc = store_conn_pq(c, sql, 0, NULL, NULL, NULL, 0, &r, NULL, errbuf, errlen);

	PQclear(r);
	return rc;
}

int store_db_exec(struct store_conn *c, const char *sql, int n, const char *const *values,
		  const int *lens, const int *formats, bool binary_result, store_cb cb, void *arg)
{
	struct store_result sr;
	struct store_res_buf buf;
	PGresult *r;
	int rc;

	if (!c || !sql || n < 0)
		return RC_INVAL;
	r = PQexecParams(c->pg, sql, n, NULL, values, lens, formats, binary_result ? 1 : 0);
	store_res_fill(c->pg, r, &sr, &buf);
	rc = sr.rc;
	if (rc != RC_OK)
		log_debug(NULL, "store: statement failed, sqlstate %s",
			  sr.sqlstate[0] ? sr.sqlstate : "-");
	if (cb)
		cb(arg, &sr);
	store_res_buf_free(&buf);
	PQclear(r);
	return rc;
}
