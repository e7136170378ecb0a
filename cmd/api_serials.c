/*
 * cmd/api_serials.c - vendors and their serial lists in the admin API
 * (cmd/api_int.h, docs/ADMIN.md): the vendor list and one vendor with
 * their counts, one serial's state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/api_int.h"
#include "store/api.h"

#define LIMIT_DEFAULT 50
#define LIMIT_MAX     100

static void h_vendors(struct api_req *a);
static void h_vendor(struct api_req *a);
static void h_serial(struct api_req *a);

const struct api_route api_routes_serials[] = {
	{ "vendors", API_GET, API_ROLES_READ, h_vendors },
	{ "vendors/{vendor}", API_GET, API_ROLES_READ, h_vendor },
	{ "vendors/{vendor}/serials/{serial}", API_GET, API_ROLES_READ, h_serial },
	{ NULL, 0, 0, NULL },
};

/* what a vendor list request asked (a->data) */
struct vendors_q {
	int limit;
	bool one;
};

static json_t *vendor_json(const struct store_api_vendor *v)
{
	return json_pack("{s:s, s:s, s:{s:I, s:I, s:I}, s:I, s:I}", "name", v->name, "strictness",
			 v->strict ? "strict" : "lenient", "serials", "allowed",
			 (json_int_t)v->allowed, "blocked", (json_int_t)v->blocked, "enrolled",
			 (json_int_t)v->enrolled, "anchors", (json_int_t)v->anchors,
			 "intermediates", (json_int_t)v->intermediates);
}

static void on_vendors(void *arg, int rc, const struct store_api_vendor *rows, size_t n)
{
	struct api_req *a = arg;
	struct vendors_q q = *(struct vendors_q *)a->data;
	json_t *list, *j;
	char next[2 * STORE_API_NAME_MAX + 8];

	free(a->data);
	a->data = NULL;
	if (api_gone(a))
		return;
	if (rc != 0) {
		api_unavailable(a);
		return;
	}
	if (q.one) {
		if (n != 1)
			api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		else
			api_reply_json(a, 200, vendor_json(&rows[0]));
		return;
	}
	if (!(list = json_array())) {
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	for (size_t i = 0; i < n && (int)i < q.limit; i++)
		json_array_append_new(list, vendor_json(&rows[i]));
	/* one row more than the page was asked for: there is a next page */
	if ((int)n > q.limit)
		api_cursor_encode(rows[q.limit - 1].name, next, sizeof(next));
	j = json_pack("{s:o, s:s?}", "vendors", list, "next_cursor",
		      (int)n > q.limit ? next : NULL);
	if (j && (int)n <= q.limit)
		json_object_set_new(j, "next_cursor", json_null());
	api_reply_json(a, 200, j);
}

static void vendors_query(struct api_req *a, const char *only, const char *after, int limit,
			  bool one)
{
	struct vendors_q *q = calloc(1, sizeof(*q));
	int rc;

	if (!q) {
		api_finish(a, 503, NULL, NULL, 0);
		return;
	}
	q->limit = limit;
	q->one = one;
	a->data = q;
	rc = api_pool(a) ? store_api_vendors(api_pool(a), only, after, one ? 1 : limit + 1,
					     on_vendors, a)
			 : RC_DB;
	if (rc != 0) {
		free(q);
		a->data = NULL;
		api_unavailable(a);
	}
}

static void h_vendors(struct api_req *a)
{
	char after[STORE_API_NAME_MAX + 1];
	bool has_after;
	int limit;

	if (!api_list_params(a, LIMIT_DEFAULT, LIMIT_MAX, &limit, after, sizeof(after), &has_after))
		return;
	vendors_query(a, api_scope(a), has_after ? after : NULL, limit, false);
}

static void h_vendor(struct api_req *a)
{
	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	vendors_query(a, a->vendor, NULL, 1, true);
}

static void on_serial(void *arg, int rc, const struct store_api_serial *s)
{
	struct api_req *a = arg;
	json_t *j;

	if (api_gone(a))
		return;
	if (rc != 0) {
		api_unavailable(a);
		return;
	}
	if (!s->vendor_found) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	if (!s->listed && !s->cert_serial) {
		api_problem(a, 404, "not-found", "serial \"%s\" is not in vendor %s's list",
			    a->param[1], a->vendor);
		return;
	}
	j = json_pack("{s:s, s:s, s:s?, s:s?}", "vendor", a->vendor, "serial", a->param[1], "state",
		      s->listed ? s->state : "unlisted", "enrolled_at", s->enrolled_at);
	if (j && !s->enrolled_at)
		json_object_set_new(j, "enrolled_at", json_null());
	if (j)
		json_object_set_new(j, "certificate",
				    s->cert_serial
					    ? json_pack("{s:s, s:s, s:s}", "serial", s->cert_serial,
							"issuer", s->cert_issuer, "status",
							s->cert_status)
					    : json_null());
	api_reply_json(a, 200, j);
}

static void h_serial(struct api_req *a)
{
	int rc;

	if (strlen(a->vendor) > STORE_API_NAME_MAX) {
		api_problem(a, 404, "not-found", "no vendor named \"%s\"", a->vendor);
		return;
	}
	rc = api_pool(a) ? store_api_serial(api_pool(a), a->vendor, a->param[1], on_serial, a)
			 : RC_DB;
	if (rc != 0)
		api_unavailable(a);
}
