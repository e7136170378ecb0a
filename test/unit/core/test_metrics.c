/*
 * test/unit/core/test_metrics.c - core/metrics: exact counts in the text
 * exposition, cumulative histogram buckets with _count equal to +Inf,
 * label escaping, the bounded alias table ("other" past it), fixed label
 * tables ("other" for unknown names), counts from concurrent threads, and
 * the "seconds until" gauges. Also the access-log line (core/log.h
 * log_access, whose JSON the metrics' consumers read side by side; core/
 * has no test slot for log.c): hostile strings escaped to ASCII JSON, nulls,
 * bounded fields.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "core/log.h"
#include "core/metrics.h"
#include "test/unit/tap.h"

/* The rendered text, NUL-terminated (caller frees). */
static char *render_sg(struct metrics *m, time_t now, const struct metrics_server_gauges *sg)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	if (!b || metrics_render(m, b, now, sg, "1.2.3", "3.0.0") != 0)
		return NULL;
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

static char *render(struct metrics *m, time_t now)
{
	return render_sg(m, now, NULL);
}

/* The value of the sample whose line starts with series + " ", or -1. */
static double sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atof(p + n + 1);
	return -1;
}

static void test_requests(void)
{
	struct metrics *m = metrics_new();
	char *t;

	for (int i = 0; i < 3; i++)
		metrics_request(m, "3gpp", "ir", "ok", 0.003);
	metrics_request(m, "3gpp", "ir", "badPOP", 0.02);
	metrics_request(m, "3gpp", "certConf", "ok", 100);
	metrics_request(m, "3gpp", "bogus-body", "bogus-outcome", -1);
	t = render(m, 0);
	ok(t && strstr(t, "# TYPE cmpgw_requests_total counter\n"), "TYPE line");
	ok(t && strstr(t, "# HELP cmpgw_requests_total "), "HELP line");
	is_int((int)sample(t, "cmpgw_requests_total{alias=\"3gpp\",body=\"ir\",outcome=\"ok\"}"), 3,
	       "3 ok ir");
	is_int((int)sample(t,
			   "cmpgw_requests_total{alias=\"3gpp\",body=\"ir\",outcome=\"badPOP\"}"),
	       1, "1 badPOP ir");
	is_int((int)sample(t,
			   "cmpgw_requests_total{alias=\"3gpp\",body=\"other\",outcome=\"other\"}"),
	       1, "unknown body and outcome counted as other");
	ok(sample(t, "cmpgw_requests_total{alias=\"3gpp\",body=\"cr\",outcome=\"ok\"}") < 0,
	   "no zero series");
	is_int((int)sample(t, "cmpgw_request_duration_seconds_bucket{alias=\"3gpp\",le=\"0.005\"}"),
	       3, "le 0.005: 3");
	is_int((int)sample(t, "cmpgw_request_duration_seconds_bucket{alias=\"3gpp\",le=\"0.025\"}"),
	       4, "le 0.025: cumulative 4");
	is_int((int)sample(t, "cmpgw_request_duration_seconds_bucket{alias=\"3gpp\",le=\"30\"}"), 4,
	       "le 30: 100 s is above");
	is_int((int)sample(t, "cmpgw_request_duration_seconds_bucket{alias=\"3gpp\",le=\"+Inf\"}"),
	       5, "+Inf: all observed (the unknown duration is not)");
	is_int((int)sample(t, "cmpgw_request_duration_seconds_count{alias=\"3gpp\"}"), 5,
	       "_count = +Inf");
	double sum = sample(t, "cmpgw_request_duration_seconds_sum{alias=\"3gpp\"}");
	ok(sum > 100.028 && sum < 100.030, "_sum in seconds (%f)", sum);
	ok(t && strstr(t, "cmpgw_build_info{version=\"1.2.3\",openssl=\"3.0.0\"} 1\n"),
	   "build info");
	free(t);
	metrics_free(m);
}

static void test_labels(void)
{
	struct metrics *m = metrics_new();
	char name[32], *t;

	metrics_issued(m, "a\"b\\c\nd");
	for (int i = 0; i < METRICS_MAX_ALIASES + 8; i++) {
		snprintf(name, sizeof(name), "alias%d", i);
		metrics_issued(m, name);
	}
	metrics_issued(m, NULL);
	t = render(m, 0);
	is_int((int)sample(t, "cmpgw_certificates_issued_total{alias=\"a\\\"b\\\\c\\nd\"}"), 1,
	       "label value escaped");
	is_int((int)sample(t, "cmpgw_certificates_issued_total{alias=\"alias30\"}"), 1,
	       "alias within the table");
	ok(sample(t, "cmpgw_certificates_issued_total{alias=\"alias31\"}") < 0,
	   "alias past the table has no series");
	is_int((int)sample(t, "cmpgw_certificates_issued_total{alias=\"other\"}"), 10,
	       "9 aliases past the table and NULL are other");
	free(t);
	metrics_free(m);
}

static void *hammer(void *arg)
{
	struct metrics *m = arg;
	char name[16];

	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "t%d", i % 4);
		metrics_request(m, name, "ir", "ok", 0.001);
		metrics_db(m, 0.0001, i % 2 == 0);
	}
	return NULL;
}

static void test_threads(void)
{
	struct metrics *m = metrics_new();
	pthread_t th[4];
	char *t;
	int sum = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, m);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	t = render(m, 0);
	for (int i = 0; i < 4; i++) {
		char s[96];
		snprintf(s, sizeof(s),
			 "cmpgw_requests_total{alias=\"t%d\",body=\"ir\",outcome=\"ok\"}", i);
		sum += (int)sample(t, s);
	}
	is_int(sum, 400000, "4 threads x 100000 requests counted exactly");
	is_int((int)sample(t, "cmpgw_db_roundtrip_seconds_count"), 400000, "db round trips");
	is_int((int)sample(t, "cmpgw_db_errors_total"), 200000, "db errors");
	free(t);
	metrics_free(m);
}

static void test_gauges(void)
{
	struct metrics *m = metrics_new();
	struct metrics_pool_gauges g = { 1, 1, 0 };
	struct metrics_server_gauges sg = { 5, 4, 1 };
	char *t;

	t = render(m, 1000);
	ok(t && !strstr(t, "cmpgw_issuing_ca_expiry_seconds"), "unknown deadline not shown");
	ok(t && !strstr(t, "cmpgw_requests_in_flight"), "no server gauges: not shown");
	ok(t && !strstr(t, "cmpgw_db_pool_connections"), "no worker reported: no pool gauges");
	free(t);
	metrics_set_deadline(m, METRICS_CA_NOT_AFTER, 1100);
	metrics_set_deadline(m, METRICS_CRL_NEXT_UPDATE, 900);
	metrics_pool_set(m, 0, &g);
	metrics_pool_set(m, 1, &g);
	metrics_pool_set(m, METRICS_MAX_WORKERS, &g); /* ignored */
	t = render_sg(m, 1000, &sg);
	is_int((int)sample(t, "cmpgw_issuing_ca_expiry_seconds"), 100, "CA expires in 100 s");
	is_int((int)sample(t, "cmpgw_crl_next_update_seconds"), -100, "CRL nextUpdate 100 s past");
	is_int((int)sample(t, "cmpgw_requests_in_flight"), 4, "in flight");
	is_int((int)sample(t, "cmpgw_connections"), 5, "connections");
	is_int((int)sample(t, "cmpgw_db_pool_connections{state=\"busy\"}"), 2,
	       "pool busy summed over workers");
	free(t);
	metrics_http_refused(m, 404);
	metrics_http_refused(m, 404);
	metrics_http_refused(m, 299);
	t = render(m, 1000);
	is_int((int)sample(t, "cmpgw_http_refused_total{status=\"404\"}"), 2, "404 refused twice");
	is_int((int)sample(t, "cmpgw_http_refused_total{status=\"other\"}"), 1, "299 is other");
	free(t);
	metrics_request(NULL, "x", "ir", "ok", 1); /* no-ops */
	metrics_db(NULL, 1, true);
	metrics_free(NULL);
	ok(metrics_render(NULL, NULL, 0, NULL, NULL, NULL) == -1, "NULL render refused");
	metrics_free(m);
}

/* One log_access line, read back through a pipe. */
static char *access_line(const struct log_access *a)
{
	static char buf[65536];
	int fds[2];
	ssize_t n;

	if (pipe(fds) != 0)
		return NULL;
	log_setup(LOG_ERROR, false, fds[1]);
	log_access(a);
	log_setup(LOG_ERROR, false, 2);
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_access_line(void)
{
	char big[1000];
	struct log_access a = {
		.peer = "10.0.0.1:4711",
		.alias = "3gpp",
		.body = "ir",
		.outcome = "ok",
		.fail_bit = -1,
		.status = "accepted",
		.latency_ms = 1.5,
		.tid = "a\"b\\c\n\x01\x7f\xff\xc3\xa9",
		.serial = NULL,
		.http = 200,
	};
	char *l = access_line(&a);

	ok(l && strstr(l, "\"event\":\"access\""), "event access (at level error too)");
	ok(l && strstr(l, "\"tid\":\"a\\\"b\\\\c\\u000a\\u0001\\u007f\\u00ff\\u00c3\\u00a9\""),
	   "quote, backslash, control and non-ASCII bytes escaped");
	ok(l && strstr(l, "\"serial\":null,\"http\":200}\n"), "null serial, http, one line");
	ok(l && strstr(l, "\"failInfo\":null") && strstr(l, "\"latency_ms\":1.500"),
	   "failInfo null, latency in ms");
	memset(big, '"', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	a.peer = a.alias = a.body = a.outcome = a.status = a.tid = a.serial = big;
	a.fail_bit = 9;
	a.http = 0;
	l = access_line(&a);
	ok(l && strstr(l, "\"failInfo\":9") && strstr(l, "\"http\":null}\n"),
	   "every field at its bound: the line still ends right");
	ok(l && strchr(l, '\n') == l + strlen(l) - 1, "exactly one line");
	ok(l && strlen(l) < 7 * (LOG_ACCESS_FIELD_MAX * 2 + 20) + 300, "fields cut at their bound");
}

int main(void)
{
	test_access_line();
	test_requests();
	test_labels();
	test_threads();
	test_gauges();
	return tap_done();
}
