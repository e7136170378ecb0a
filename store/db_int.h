/*
 * store/db_int.h - helpers shared by the store/ modules; never included
 * outside store/. PGresult stays behind this line.
 */
#ifndef CMPGW_STORE_DB_INT_H
#define CMPGW_STORE_DB_INT_H

#include <libpq-fe.h>

#include "store/db.h"

/* Arrays backing a store_result; owned by whoever filled them. */
struct store_res_buf {
	const char **val;
	int *lens;
	bool *isnull;
};

/*
 * Fill *out from r (may be NULL: then a failure taken from pg's error
 * message). Values point into r: out is valid while r lives. buf receives
 * the arrays; release with store_res_buf_free(). Never fails: on allocation
 * failure out->rc is RC_NOMEM and there are no rows.
 */
void store_res_fill(PGconn *pg, PGresult *r, struct store_result *out, struct store_res_buf *buf);
void store_res_buf_free(struct store_res_buf *buf);
/* Fill a row-less failure result (rc, message). */
void store_res_fail(struct store_result *out, int rc, const char *msg);

/*
 * Run one statement on a blocking connection and return the raw result.
 * sql with n == 0 and values == NULL runs through PQexec (several
 * statements allowed: trusted, compiled-in SQL only). Returns RC_OK with
 * *out owned by the caller (PQclear), or RC_DB with errbuf filled
 * ("SQLSTATE: message") and *out NULL. sqlstate (6 bytes, may be NULL)
 * receives the SQLSTATE on failure.
 */
int store_conn_pq(struct store_conn *c, const char *sql, int n, const char *const *values,
		  const int *lens, const int *formats, int binary, PGresult **out, char *sqlstate,
		  char *errbuf, size_t errlen) WUR;
/* Run a command, discard the result. Same errors as store_conn_pq. */
int store_conn_cmd(struct store_conn *c, const char *sql, char *errbuf, size_t errlen) WUR;

/* Notice processor that keeps server NOTICEs off stderr (debug log). */
void store_notice_quiet(void *arg, const char *message);
/* Copy a (multi-line) libpq message as one line for the log. */
void store_msg_line(char *dst, size_t len, const char *src);

/* Decode a binary-format int8 column (network byte order). */
int64_t store_be64(const char *p);

#endif
