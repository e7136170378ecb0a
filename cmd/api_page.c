/*
 * cmd/api_page.c - the operator status page of the admin listener
 * (cmd/api_int.h, docs/ADMIN.md "Operator status page").
 *
 * GET /api/v1/status (operator, auditor) answers the figures as JSON:
 * certificates issued and refusals per hour by reason over the last 24
 * hours (device traffic of the audit table), vendors with their serial
 * counts by state, the not-after of the issuing CA, its chain, the
 * operator root and the CMP signer (the worker's configuration snapshot)
 * and the next update of each current CRL, and the latest audit events.
 *
 * GET /status, /status.js and /status.css are the page: static HTML, one
 * script and one style sheet embedded at build time (cmd/page/), holding
 * no data, so public (API_PUBLIC). The script fetches /api/v1/status with
 * the browser's TLS client certificate or an API key the user pastes
 * (kept in sessionStorage only). The page's Content-Security-Policy
 * allows no inline script or style and no other origin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "cmd/api_int.h"
#include "core/cfg.h"
#include "store/api.h"
#include "store/api_stats.h"

extern const unsigned char cmd_page_html[], cmd_page_js[], cmd_page_css[];
extern const size_t cmd_page_html_len, cmd_page_js_len, cmd_page_css_len;

#define HOURS	     24
#define EVENTS	     50
#define VENDORS_MAX  1000 /* vendors listed on the page (store_api_vendors' bound) */
#define REASONS_HOUR 10	  /* refusal reasons listed per hour (the most frequent) */

static void h_html(struct api_req *a);
static void h_js(struct api_req *a);
static void h_css(struct api_req *a);
static void h_status(struct api_req *a);

const struct api_route api_routes_page[] = {
	{ "/status", API_GET, API_PUBLIC, h_html },
	{ "/status.js", API_GET, API_PUBLIC, h_js },
	{ "/status.css", API_GET, API_PUBLIC, h_css },
	{ "status", API_GET, API_ROLE_OPERATOR | API_ROLE_AUDITOR, h_status },
	{ NULL, 0, 0, NULL },
};

/* script-src 'self' and no inline anything: whatever text the API hands
 * the page, it cannot run as script (the script also sets only
 * textContent). */
static const char CSP[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			  "connect-src 'self'; img-src 'self'; base-uri 'none'; "
			  "form-action 'none'; frame-ancestors 'none'";

static void h_html(struct api_req *a)
{
	http_req_set_header(a->req, "Content-Security-Policy", CSP);
	api_finish(a, 200, "text/html; charset=utf-8", cmd_page_html, cmd_page_html_len);
}

static void h_js(struct api_req *a)
{
	api_finish(a, 200, "text/javascript; charset=utf-8", cmd_page_js, cmd_page_js_len);
}

static void h_css(struct api_req *a)
{
	api_finish(a, 200, "text/css; charset=utf-8", cmd_page_css, cmd_page_css_len);
}

/* ---- GET /api/v1/status: four queries in a row, one document ---- */

static void utc(time_t t, const char *fmt, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, fmt, &tm);
}

/* {what, subject, not_after, days_left} of x, appended to list. */
static void expiry_cert(json_t *list, const char *what, X509 *x)
{
	const ASN1_TIME *na;
	struct tm tm;
	char subject[256], when[32] = "";
	int days = 0, secs = 0;

	if (!x) /* RA mode: no issuing CA of its own */
		return;
	na = X509_get0_notAfter(x);
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	if (ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!ASN1_TIME_diff(&days, &secs, NULL, na))
		days = 0;
	/* whole days left, rounded down, as the CRL's below */
	if (secs < 0 && days <= 0)
		days--;
	json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}", "what", what, "subject",
					      subject, "not_after", when, "days_left", days));
}

static json_t *expiry_of(const struct cfg *cfg)
{
	json_t *list = json_array();

	if (!list)
		return NULL;
	expiry_cert(list, "issuing CA", cfg->ca_cert);
	for (int i = 0; i < sk_X509_num(cfg->ca_chain); i++)
		expiry_cert(list, "CA chain", sk_X509_value(cfg->ca_chain, i));
	if (cfg->root_cert &&
	    (!cfg->ca_chain || sk_X509_num(cfg->ca_chain) == 0 ||
	     X509_cmp(cfg->root_cert,
		      sk_X509_value(cfg->ca_chain, sk_X509_num(cfg->ca_chain) - 1)) != 0))
		expiry_cert(list, "operator root", cfg->root_cert);
	expiry_cert(list, "CMP signer", cfg->cmp_cert);
	return list;
}

static void status_fail(struct api_req *a, int rc)
{
	json_decref(a->data);
	a->data = NULL;
	if (rc == RC_NOMEM)
		api_finish(a, 500, NULL, NULL, 0);
	else
		api_unavailable(a);
}

/* resume an async step: false when a was answered (gone or failed) */
static bool resume(struct api_req *a, int rc)
{
	if (http_req_cancelled(a->req)) {
		json_decref(a->data);
		a->data = NULL;
		api_finish(a, HTTP_DROPPED, NULL, NULL, 0);
		return false;
	}
	if (rc != 0) {
		status_fail(a, rc);
		return false;
	}
	return true;
}

static void on_events(void *arg, int rc, const struct store_stats_event *rows, size_t n)
{
	struct api_req *a = arg;
	json_t *doc = a->data, *list;

	if (!resume(a, rc))
		return;
	a->data = NULL;
	list = json_array();
	for (size_t i = 0; list && i < n; i++)
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "ts",
					rows[i].ts, "event", rows[i].event, "alias", rows[i].alias,
					"vendor", rows[i].vendor, "device_serial",
					rows[i].device_serial, "peer", rows[i].peer, "principal",
					rows[i].principal, "detail", rows[i].detail));
	if (!list || json_object_set_new(doc, "events", list) != 0) {
		json_decref(doc);
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	api_reply_json(a, 200, doc);
}

static void on_vendors(void *arg, int rc, const struct store_api_vendor *rows, size_t n)
{
	struct api_req *a = arg;
	json_t *list;

	if (!resume(a, rc))
		return;
	list = json_array();
	for (size_t i = 0; list && i < n; i++)
		json_array_append_new(
			list, json_pack("{s:s, s:s, s:{s:I, s:I, s:I}}", "name", rows[i].name,
					"strictness", rows[i].strict ? "strict" : "lenient",
					"serials", "allowed", (json_int_t)rows[i].allowed,
					"blocked", (json_int_t)rows[i].blocked, "enrolled",
					(json_int_t)rows[i].enrolled));
	if (!list || json_object_set_new(a->data, "vendors", list) != 0) {
		status_fail(a, RC_NOMEM);
		return;
	}
	rc = store_stats_events(api_pool(a), EVENTS, on_events, a);
	if (rc != 0)
		status_fail(a, rc);
}

static void on_crls(void *arg, int rc, const struct store_stats_crl *rows, size_t n)
{
	struct api_req *a = arg;
	json_t *list;

	if (!resume(a, rc))
		return;
	list = json_object_get(a->data, "expiry");
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s, s:I}", "what", "CRL", "subject",
						rows[i].issuer, "not_after", rows[i].next_update,
						"days_left", (json_int_t)rows[i].days_left));
	rc = store_api_vendors(api_pool(a), NULL, NULL, VENDORS_MAX, on_vendors, a);
	if (rc != 0)
		status_fail(a, rc);
}

static int by_count(const void *x, const void *y)
{
	json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "count"));
	json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "count"));
	return a < b ? 1 : a > b ? -1 : 0;
}

/* {reason: count} as [{reason, count}], most frequent first, at most max. */
static json_t *reasons_list(json_t *counts, size_t max)
{
	size_t n = json_object_size(counts), k = 0;
	json_t **items = calloc(n + 1, sizeof(*items)), *list = json_array(), *v;
	const char *key;

	if (!items || !list) {
		free(items);
		json_decref(list);
		return NULL;
	}
	json_object_foreach(counts, key, v)
	{
		items[k++] = json_pack("{s:s, s:I}", "reason", key, "count",
				       (json_int_t)json_integer_value(v));
	}
	qsort(items, k, sizeof(*items), by_count);
	for (size_t i = 0; i < k; i++)
		if (i < max && items[i])
			json_array_append_new(list, items[i]);
		else
			json_decref(items[i]);
	free(items);
	return list;
}

static void add_count(json_t *obj, const char *key, long long n)
{
	json_t *v = json_object_get(obj, key);
	json_object_set_new(obj, key, json_integer(json_integer_value(v) + (json_int_t)n));
}

/* rows into HOURS buckets, oldest first, and the totals of the day. */
static int hours_doc(json_t *doc, const struct store_stats_hour *rows, size_t n)
{
	time_t now = time(NULL), cur = now - now % 3600;
	json_t *hours = json_array(), *all = json_object();
	long long enr = 0, ref = 0;
	int rc = RC_NOMEM;

	for (int h = HOURS - 1; hours && all && h >= 0; h--) {
		char key[32];
		long long e = 0, r = 0;
		json_t *reasons = json_object();
		utc(cur - (time_t)h * 3600, "%Y-%m-%dT%H:00:00Z", key, sizeof(key));
		for (size_t i = 0; reasons && i < n; i++) {
			if (strcmp(rows[i].hour, key) != 0)
				continue;
			if (strcmp(rows[i].kind, "enrollment") == 0) {
				e += rows[i].count;
			} else {
				r += rows[i].count;
				add_count(reasons, rows[i].reason, rows[i].count);
				add_count(all, rows[i].reason, rows[i].count);
			}
		}
		enr += e;
		ref += r;
		json_array_append_new(hours,
				      json_pack("{s:s, s:I, s:I, s:o*}", "hour", key, "enrollments",
						(json_int_t)e, "refusals", (json_int_t)r, "reasons",
						reasons_list(reasons, REASONS_HOUR)));
		json_decref(reasons);
	}
	if (hours && all &&
	    json_object_set_new(doc, "totals",
				json_pack("{s:I, s:I, s:o*}", "enrollments", (json_int_t)enr,
					  "refusals", (json_int_t)ref, "reasons",
					  reasons_list(all, 100))) == 0 &&
	    json_object_set(doc, "hours", hours) == 0)
		rc = 0;
	json_decref(hours);
	json_decref(all);
	return rc;
}

static void on_hours(void *arg, int rc, const struct store_stats_hour *rows, size_t n)
{
	struct api_req *a = arg;

	if (!resume(a, rc))
		return;
	if (hours_doc(a->data, rows, n) != 0) {
		status_fail(a, RC_NOMEM);
		return;
	}
	rc = store_stats_crls(api_pool(a), on_crls, a);
	if (rc != 0)
		status_fail(a, rc);
}

static void h_status(struct api_req *a)
{
	char now[32];
	json_t *doc;
	int rc;

	utc(time(NULL), "%Y-%m-%dT%H:%M:%SZ", now, sizeof(now));
	doc = json_pack("{s:s, s:i, s:o*}", "generated_at", now, "hours_covered", HOURS, "expiry",
			expiry_of(a->w->cfg));
	if (!doc || !json_object_get(doc, "expiry")) {
		json_decref(doc);
		api_finish(a, 500, NULL, NULL, 0);
		return;
	}
	a->data = doc;
	rc = api_pool(a) ? store_stats_hours(api_pool(a), HOURS, on_hours, a) : RC_DB;
	if (rc != 0)
		status_fail(a, rc);
}
