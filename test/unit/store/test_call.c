/*
 * test/unit/store/test_call.c - store_call_on_status turns a result into a
 * status callback: one text value, an error, and (issue 10 finding 10) a
 * unique violation of the transactions primary key, which is the status
 * "tid_in_use" and not a database error; the status text maps to
 * enum store_outcome both ways (store/outcome.h). No server needed.
 */
#include <stdio.h>
#include <string.h>

#include "store/call.h"
#include "test/unit/tap.h"

struct got {
	int calls, rc;
	char status[32];
};

static void on_status(void *arg, int rc, enum store_outcome st)
{
	struct got *g = arg;

	g->calls++;
	g->rc = rc;
	snprintf(g->status, sizeof(g->status), "%s", rc == 0 ? store_outcome_name(st) : "(null)");
}

static struct got deliver(const struct store_result *r)
{
	struct got g = { 0, -1, "" };

	store_call_on_status(store_call_new((void (*)(void))on_status, &g, "test"), r);
	return g;
}

static struct store_result failure(const char *state, const char *constraint)
{
	struct store_result r;

	memset(&r, 0, sizeof(r));
	r.rc = RC_DB;
	snprintf(r.sqlstate, sizeof(r.sqlstate), "%s", state);
	r.errmsg = "duplicate key value violates unique constraint";
	r.constraint = constraint;
	return r;
}

int main(void)
{
	const char *val[1] = { "ok" };
	int lens[1] = { 2 };
	bool isnull[1] = { false };
	struct store_result r;
	struct got g;

	memset(&r, 0, sizeof(r));
	r.nrows = r.ncols = 1;
	r.val = val;
	r.lens = lens;
	r.isnull = isnull;
	g = deliver(&r);
	ok(g.calls == 1 && g.rc == 0 && strcmp(g.status, "ok") == 0, "one text value: its status");

	r = failure("23505", "transactions_pkey");
	g = deliver(&r);
	ok(g.calls == 1 && g.rc == 0 && strcmp(g.status, "tid_in_use") == 0,
	   "unique violation of transactions_pkey: status tid_in_use (got rc %d, %s)", g.rc,
	   g.status);

	r = failure("23505", "certificates_issuer_serial_hex_key");
	g = deliver(&r);
	ok(g.calls == 1 && g.rc == RC_DB && strcmp(g.status, "(null)") == 0,
	   "unique violation of another constraint: RC_DB");

	r = failure("23503", "transactions_pkey");
	g = deliver(&r);
	ok(g.calls == 1 && g.rc == RC_DB, "another SQLSTATE naming transactions_pkey: RC_DB");

	r = failure("57014", NULL);
	g = deliver(&r);
	ok(g.calls == 1 && g.rc == RC_DB, "statement timeout: RC_DB");

	memset(&r, 0, sizeof(r));
	r.rc = RC_CANCELLED;
	g = deliver(&r);
	ok(g.calls == 1 && g.rc == RC_CANCELLED, "cancelled: RC_CANCELLED");

	for (int i = 0; i < STORE_OUT_OTHER; i++)
		if ((int)store_outcome_parse(store_outcome_name((enum store_outcome)i)) != i)
			ok(false, "outcome %d (%s) maps back to itself", i,
			   store_outcome_name((enum store_outcome)i));
	ok(store_outcome_parse("serial_unknown") == STORE_OUT_SERIAL_UNKNOWN,
	   "serial_unknown: STORE_OUT_SERIAL_UNKNOWN");
	ok(store_outcome_parse_n("okay", 2) == STORE_OUT_OK, "two bytes of \"okay\": ok");
	ok(store_outcome_parse("ok ") == STORE_OUT_OTHER &&
		   store_outcome_parse(NULL) == STORE_OUT_OTHER,
	   "unknown text and NULL: STORE_OUT_OTHER");
	return tap_done();
}
