/*
 * core/metrics.h - the gateway's Prometheus metrics (text exposition
 * format 0.0.4), served by the operations listener at GET /metrics.
 *
 * One struct metrics per process, made by `serve` and reached by every
 * worker through struct worker (core/server.h). Recording is lock-free
 * where it is hot (relaxed atomics) and never blocks a worker loop for
 * long; rendering reads a consistent-enough view (each counter read once).
 * Label values come from the configuration (alias labels) or fixed tables
 * (body types, PKIFailureInfo names), never from request bytes, so the
 * number of series is bounded: alias labels are interned in a table of
 * METRICS_MAX_ALIASES (a mutex is taken only to add a new one; a reload
 * may bring new labels); past it, and for a NULL alias, the label is
 * "other". A body type or outcome not in the fixed tables is "other".
 *
 * Names follow Prometheus conventions: cmpgw_ prefix, base units
 * (seconds, bytes), _total for counters.
 *
 * Threads: every function may be called from any thread; NULL m is a
 * no-op (tests, CLI).
 */
#ifndef CMPGW_CORE_METRICS_H
#define CMPGW_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct metrics;
struct evbuffer;

#define METRICS_MAX_ALIASES 32
#define METRICS_MAX_WORKERS 256

/* New metrics object (process start time taken now), or NULL when out of
 * memory. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One CMP request answered (or dropped): alias label, request body type
 * name ("ir", "cr", "kur", "p10cr", "certConf", "rr", "genm", "pollReq",
 * "nested", "error", ...; "unknown" when not decoded), outcome ("ok" or a
 * PKIFailureInfo name such as "badPOP", "systemUnavail"; "not_cmp",
 * "dropped", "busy", "failed"), and the time from the request's arrival
 * to the answer (seconds < 0: unknown, the duration histogram is left
 * alone). */
void metrics_request(struct metrics *m, const char *alias, const char *body, const char *outcome,
		     double seconds);
/* The PKIFailureInfo name of bit (RFC 4210 5.2.3, RFC 9810: "badAlg" for
 * 0 .. "duplicateCertReq" for 26), as the outcome label and the access
 * log use it; NULL for any other bit. */
const char *metrics_fail_name(int bit);

/* One database round trip (a statement or pipeline) and whether it
 * failed. */
void metrics_db(struct metrics *m, double seconds, bool ok);
/* One upstream exchange in RA mode: alias, result ("ok", "timeout",
 * "connect", "http", "tls", "protection", ...) and its duration. Every
 * result other than "ok" also counts as a failure with that reason. */
void metrics_upstream(struct metrics *m, const char *alias, const char *result, double seconds);
/* A certificate issued (committed) / revoked on alias. */
void metrics_issued(struct metrics *m, const char *alias);
void metrics_revoked(struct metrics *m, const char *alias);
/* An HTTP request on a CMP listener refused before it became a CMP
 * request (404 no alias, 405 method, 415 content type, 413 too large,
 * 408 read deadline, 503 over a limit or draining); status outside those
 * is counted as "other". */
void metrics_http_refused(struct metrics *m, int status);
/* A configuration reload: result "ok" or "error". */
void metrics_reload(struct metrics *m, const char *result);

/* Database pool gauges one worker publishes about its own pool (from its
 * loop, about once a second): connections idle, busy (a statement in
 * flight) and down (connecting or waiting to reconnect). id in
 * [0, METRICS_MAX_WORKERS); others are ignored. Rendered as sums over the
 * workers that reported. */
struct metrics_pool_gauges {
	int idle, busy, down;
};
void metrics_pool_set(struct metrics *m, int id, const struct metrics_pool_gauges *g);

/* The HTTP server's gauges at render time (core/server.h server_stats):
 * open CMP connections, requests dispatched and not yet answered, and
 * connections awaiting a transaction's next request. */
struct metrics_server_gauges {
	int connections, in_flight, awaiting;
};

/* Absolute times (epoch seconds; 0: unknown, the gauge is not shown)
 * rendered as "seconds until": the issuing CA's and the CMP signer's
 * notAfter, and the nextUpdate of the newest CRL this process published
 * or served (the latest one set wins). */
enum metrics_deadline { METRICS_CA_NOT_AFTER, METRICS_CMP_NOT_AFTER, METRICS_CRL_NEXT_UPDATE };
void metrics_set_deadline(struct metrics *m, enum metrics_deadline which, long long epoch);

/* Append the text exposition (format 0.0.4) of every metric to out, with
 * now as the reference for the "seconds until" gauges, sg the server's
 * gauges (NULL: not shown); version and openssl label cmpgw_build_info
 * (NULL: "unknown"). 0, or -1 when out of memory (out then holds a
 * partial text: do not serve it). */
int metrics_render(struct metrics *m, struct evbuffer *out, time_t now,
		   const struct metrics_server_gauges *sg, const char *version,
		   const char *openssl);

#endif
