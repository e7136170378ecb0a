/*
 * cmd/api_audit.c - the audit trail in the admin API (cmd/api_int.h,
 * docs/ADMIN.md "Audit"): GET /audit, newest first, filtered by time
 * range, transactionID, device serial, event, principal, vendor and
 * alias, paged by a keyset cursor. Operator and auditor only: the trail
 * names every vendor and principal, so vendor and factory get 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cmd/api_int.h"
#include "store/api_audit.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX     100

static void h_audit(struct api_req *a);

const struct api_route api_routes_audit[] = {
	{ "audit", API_GET, API_ROLE_OPERATOR | API_ROLE_AUDITOR, h_audit },
	{ NULL, 0, 0, NULL },
};

static const char *const PARAMS[] = {
	"from",	  "to",	   "transaction_id", "device_serial", "event", "principal",
	"vendor", "alias", "limit",	     "cursor",	      NULL,
};

struct audit_q {
	int limit;
};

static json_t *row_json(const struct store_api_audit_row *r)
{
	json_t *j = json_object();

	if (!j)
		return NULL;
	json_object_set_new(j, "id", json_integer(r->id));
	json_object_set_new(j, "ts", json_string(r->ts));
	json_object_set_new(j, "event", json_string(r->event));
	json_object_set_new(j, "principal", api_json_str(r->principal));
	json_object_set_new(j, "transaction_id", api_json_str(r->tid));
	json_object_set_new(j, "vendor", api_json_str(r->vendor));
	json_object_set_new(j, "device_serial", api_json_str(r->device_serial));
	json_object_set_new(j, "alias", api_json_str(r->alias));
	json_object_set_new(j, "peer", api_json_str(r->peer));
	json_object_set_new(j, "detail", api_json_str(r->detail));
	return j;
}

static void on_audit(void *arg, int rc, const struct store_api_audit_row *rows, size_t n)
{
	struct api_req *a = arg;
	int limit = ((struct audit_q *)a->data)->limit;
	json_t *list;
	char next[2 * STORE_API_AUDIT_KEY_MAX + 8];

	free(a->data);
	a->data = NULL;
	if (!api_resume(a, rc))
		return;
	if (!(list = json_array())) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < limit; i++)
		json_array_append_new(list, row_json(&rows[i]));
	/* one row more than the page: continue below the last row shown */
	if ((int)n > limit)
		api_cursor_encode(rows[limit - 1].key, next, sizeof(next));
	api_reply_json(a, 200,
		       json_pack("{s:o, s:o}", "events", list, "next_cursor",
				 (int)n > limit ? json_string(next) : json_null()));
}

/* transaction_id as hex (the tid column is bytea): even length, at most
 * STORE_API_AUDIT_TID_MAX digits, ':' between bytes allowed; into out
 * in lower case. */
static bool tid_canon(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in; in++) {
		char c = *in;
		if (c == ':')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || o + 1 >= len)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return o > 0 && o % 2 == 0 && o <= STORE_API_AUDIT_TID_MAX;
}

static void h_audit(struct api_req *a)
{
	char after[STORE_API_AUDIT_KEY_MAX + 1], from[STORE_API_TIME_LEN + 1],
		to[STORE_API_TIME_LEN + 1], tid[2 * STORE_API_AUDIT_TID_MAX + 1],
		ctid[STORE_API_AUDIT_TID_MAX + 1], ds[STORE_API_AUDIT_TEXT_MAX + 1], ev[65],
		pr[STORE_API_AUDIT_TEXT_MAX + 1], ven[STORE_API_AUDIT_TEXT_MAX + 1],
		al[STORE_API_AUDIT_TEXT_MAX + 1];
	struct store_api_audit_filter f = { 0 };
	const char *tp;
	struct audit_q *q;
	bool has_after;
	int rc;

	if (!api_only_params(a, PARAMS) ||
	    !api_list_params(a, LIMIT_DEFAULT, LIMIT_MAX, &f.limit, after, sizeof(after),
			     &has_after) ||
	    !api_param(a, "from", from, sizeof(from), &f.from) ||
	    !api_param(a, "to", to, sizeof(to), &f.to) ||
	    !api_param(a, "transaction_id", tid, sizeof(tid), &tp) ||
	    !api_param(a, "device_serial", ds, sizeof(ds), &f.device_serial) ||
	    !api_param(a, "event", ev, sizeof(ev), &f.event) ||
	    !api_param(a, "principal", pr, sizeof(pr), &f.principal) ||
	    !api_param(a, "vendor", ven, sizeof(ven), &f.vendor) ||
	    !api_param(a, "alias", al, sizeof(al), &f.alias))
		return;
	if ((f.from && !store_api_time_ok(f.from)) || (f.to && !store_api_time_ok(f.to))) {
		api_problem(a, 400, "bad-request",
			    "%s must be an RFC 3339 time such as 2026-12-03T10:00:00Z",
			    f.from && !store_api_time_ok(f.from) ? "from" : "to");
		return;
	}
	if (tp && !tid_canon(tp, ctid, sizeof(ctid))) {
		api_problem(a, 400, "bad-request",
			    "transaction_id must be hexadecimal, an even number of 2..%d digits",
			    STORE_API_AUDIT_TID_MAX);
		return;
	}
	f.tid_hex = tp ? ctid : NULL;
	f.after = has_after ? after : NULL;
	f.limit += 1; /* one row more: tells whether a next page exists */
	if (!(q = calloc(1, sizeof(*q)))) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	q->limit = f.limit - 1;
	a->data = q;
	rc = api_pool(a) ? store_api_audit(api_pool(a), &f, on_audit, a) : RC_DB;
	if (rc != 0) {
		free(q);
		a->data = NULL;
		if (rc == RC_INVAL)
			api_problem(a, 400, "bad-request",
				    "cursor is not one this server handed out (next_cursor)");
		else
			api_unavailable(a);
	}
}
