/*
 * cmd/ops.c - the operations listener's routes (cmd/ops.h): GET /metrics
 * (Prometheus text format 0.0.4), /healthz (the worker's loop runs) and
 * /readyz (this worker can serve CMP: its database reachable with the
 * schema this binary applies, the keys able to sign).
 */
#include "cmd/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <openssl/crypto.h>

#include "core/metrics.h"
#include "ra/ra.h"

#ifndef CMPGW_VERSION
#define CMPGW_VERSION "unknown"
#endif

#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"
#define JSON_CTYPE    "application/json"

static const char *healthz_path(const struct cfg *cfg)
{
	(void)cfg;
	return "/healthz";
}

static const char *readyz_path(const struct cfg *cfg)
{
	(void)cfg;
	return "/readyz";
}

static const char *metrics_path(const struct cfg *cfg)
{
	(void)cfg;
	return "/metrics";
}

static void reply_text(struct http_req *req, int status, const char *ctype, const char *body)
{
	http_reply(req, status, ctype, (const unsigned char *)body, strlen(body));
}

/* Alive: the worker's loop runs (it answers this). */
static void healthz(struct http_req *req, void *arg)
{
	(void)arg;
	reply_text(req, 200, JSON_CTYPE, "{\"status\":\"ok\"}\n");
}

/* Ready: 200, or 503 with the first reason found, one JSON line (the
 * reasons are fixed texts and numbers: nothing to escape). */
static void readyz(struct http_req *req, void *arg)
{
	struct worker *w = arg;
	/* draining: the load balancer must stop sending new clients here */
	const char *why = server_draining(w) ? "draining" : ra_worker_unready(w->app);
	char body[192];

	if (!why) {
		reply_text(req, 200, JSON_CTYPE, "{\"status\":\"ready\"}\n");
		return;
	}
	snprintf(body, sizeof(body), "{\"status\":\"not ready\",\"reason\":\"%s\"}\n", why);
	reply_text(req, 503, JSON_CTYPE, body);
}

static void metrics(struct http_req *req, void *arg)
{
	struct worker *w = arg;
	struct evbuffer *b = evbuffer_new();
	struct server_stats *st = malloc(sizeof(*st)); /* per-worker arrays: not on the stack */
	struct metrics_server_gauges sg = { 0 };
	const unsigned char *p = NULL;

	if (st) {
		server_stats(w, st);
		sg.connections = st->connections;
		sg.in_flight = st->inflight;
		sg.awaiting = st->awaiting;
	}
	if (!b || !st ||
	    metrics_render(w->metrics, b, time(NULL), &sg, CMPGW_VERSION,
			   OpenSSL_version(OPENSSL_VERSION_STRING)) != 0 ||
	    !(p = evbuffer_pullup(b, -1))) {
		http_reply(req, 503, NULL, NULL, 0);
	} else {
		http_reply(req, 200, METRICS_CTYPE, p, evbuffer_get_length(b));
	}
	if (b)
		evbuffer_free(b);
	free(st);
}

// clang-format off
static const struct server_route ops_routes[] = {
	{ healthz_path, false, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), "GET, HEAD",
	  healthz },
	{ readyz_path, false, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), "GET, HEAD",
	  readyz },
	{ metrics_path, false, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), "GET, HEAD",
	  metrics },
};
// clang-format on

int cmd_ops_setup(struct server_hooks *h)
{
	h->ops_routes = ops_routes;
	h->n_ops_routes = sizeof(ops_routes) / sizeof(ops_routes[0]);
	h->metrics = metrics_new();
	return h->metrics ? 0 : RC_NOMEM;
}

void cmd_ops_teardown(struct server_hooks *h)
{
	metrics_free(h->metrics);
	h->metrics = NULL;
}
