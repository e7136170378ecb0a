/*
 * store/call.h - internal to store/: carry a caller's typed callback
 * through store_db_query(), log failures in one way, and fill parameter
 * arrays. Every async query wrapper in store/ uses these.
 */
#ifndef CMPGW_STORE_CALL_H
#define CMPGW_STORE_CALL_H

#include <stdbool.h>

#include "store/db.h"
#include "store/outcome.h"

struct store_call {
	void (*fn)(void); /* the caller's callback; each on_* casts it back */
	void *arg;
	const char *what; /* names the query in error logs */
};

/* New call record (caller frees on the callback path); NULL on OOM. */
struct store_call *store_call_new(void (*fn)(void), void *arg, const char *what);

/* Queue the statement with c as the callback argument. c is consumed:
 * freed here on failure (also RC_NOMEM when c is NULL), else by on. */
int store_call_submit(struct store_pool *pool, const char *sql, int n, const char *const *v,
		      const int *lens, const int *fmts, bool binary, store_cb on,
		      struct store_call *c) WUR;

/* Log a failed result, except cancellations (parameters never logged). */
void store_call_log(const struct store_call *c, const struct store_result *r);

/* store_cb for statements that return one status text: calls the
 * store_outcome_cb in c with it mapped to enum store_outcome (or rc), then
 * frees c. A unique violation
 * of the transactions primary key (a concurrent request with the same
 * transactionID committed first) is reported as status "tid_in_use". */
void store_call_on_status(void *arg, const struct store_result *r);

/* Parameter i of arrays v/lens/fmts: binary bytes, 32 raw bytes, text. */
/* store_cb for statements that return one count (as text or integer):
 * calls the store_count_cb in c, then frees c. */
void store_call_on_count(void *arg, const struct store_result *r);

#define STORE_BIN(i, b) (v[i] = (const char *)(b).p, lens[i] = (int)(b).len, fmts[i] = 1)
/* store_cb for statements that return one count (as text or integer):
 * calls the store_count_cb in c, then frees c. */
void store_call_on_count(void *arg, const struct store_result *r);

#define STORE_BIN32(i, p) (v[i] = (const char *)(p), lens[i] = 32, fmts[i] = 1)
#define STORE_TXT(i, s)	  (v[i] = (s), lens[i] = 0, fmts[i] = 0)

/* SQL text of a timestamptz column as the admin API shows every time:
 * RFC 3339 in UTC to the second, "2026-12-03T10:00:00Z". */
#define STORE_SQL_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#endif
