#include "store/call.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/enroll.h"

struct store_call *store_call_new(void (*fn)(void), void *arg, const char *what)
{
	struct store_call *c = malloc(sizeof(*c));
	if (c) {
		c->fn = fn;
		c->arg = arg;
		c->what = what;
	}
	return c;
}

int store_call_submit(struct store_pool *pool, const char *sql, int n, const char *const *v,
		      const int *lens, const int *fmts, bool binary, store_cb on,
		      struct store_call *c)
{
	int rc;

	if (!c)
		return RC_NOMEM;
	rc = store_db_query(pool, sql, n, v, lens, fmts, binary, on, c);
	if (rc != 0)
		free(c);
	return rc;
}

void store_call_log(const struct store_call *c, const struct store_result *r)
{
	if (r->rc != 0 && r->rc != RC_CANCELLED)
		log_error(NULL, "%s: database error %s: %s", c->what, r->sqlstate,
			  r->errmsg ? r->errmsg : "?");
}

/*
 * Issue 10 finding 10: two requests with one transactionID may both pass
 * a commit function's "transactionID in use" check before either commits;
 * the later INSERT then waits for the earlier and fails on the primary key
 * (its whole statement rolled back, so nothing of it is written). That is
 * the answer the check would have given, not a fault: every commit that
 * inserts into transactions (ir, downstream RA ir, renewal, token, RA-mode
 * forward) reports its status through store_call_on_status, so this one
 * mapping covers them all.
 */
static bool tid_taken(const struct store_result *r)
{
	return r->rc == RC_DB && strcmp(r->sqlstate, "23505") == 0 && r->constraint &&
	       strcmp(r->constraint, "transactions_pkey") == 0;
}

/* The one place a status text becomes an enum (store/outcome.h). */
static enum store_outcome outcome_of(const struct store_call *c, const char *text)
{
	enum store_outcome o = store_outcome_parse(text);

	if (o == STORE_OUT_OTHER)
		log_error(NULL, "%s: unexpected status %s", c->what, text);
	return o;
}

void store_call_on_status(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_outcome_cb cb = (store_outcome_cb)c->fn;

	if (tid_taken(r)) {
		log_info(NULL, "%s: transactionID taken by a concurrent request", c->what);
		cb(c->arg, 0, STORE_OUT_TID_IN_USE);
		free(c);
		return;
	}
	store_call_log(c, r);
	if (r->rc != 0)
		cb(c->arg, r->rc, STORE_OUT_OTHER);
	else if (r->nrows != 1 || r->ncols < 1 || store_isnull(r, 0, 0))
		cb(c->arg, RC_DB, STORE_OUT_OTHER);
	else
		cb(c->arg, 0, outcome_of(c, store_val(r, 0, 0)));
	free(c);
}

void store_call_on_count(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_count_cb cb = (store_count_cb)c->fn;

	store_call_log(c, r);
	if (r->rc != 0)
		cb(c->arg, r->rc, 0);
	else if (r->nrows != 1 || r->ncols < 1 || store_isnull(r, 0, 0))
		cb(c->arg, RC_DB, 0);
	else
		cb(c->arg, 0, strtol(store_val(r, 0, 0), NULL, 10));
	free(c);
}

long long store_ll(const struct store_result *r, int row, int col)
{
	char b[32];

	if (store_isnull(r, row, col))
		return 0;
	snprintf(b, sizeof(b), "%.*s", store_len(r, row, col), store_val(r, row, col));
	return strtoll(b, NULL, 10);
}
