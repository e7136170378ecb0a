#include "store/call.h"

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

void store_call_on_status(void *arg, const struct store_result *r)
{
	struct store_call *c = arg;
	store_status_cb cb = (store_status_cb)c->fn;

	if (tid_taken(r)) {
		log_info(NULL, "%s: transactionID taken by a concurrent request", c->what);
		cb(c->arg, 0, "tid_in_use");
		free(c);
		return;
	}
	store_call_log(c, r);
	if (r->rc != 0)
		cb(c->arg, r->rc, NULL);
	else if (r->nrows != 1 || r->ncols < 1 || store_isnull(r, 0, 0))
		cb(c->arg, RC_DB, NULL);
	else
		cb(c->arg, 0, store_val(r, 0, 0));
	free(c);
}
