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
 * number of series is bounded.
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

struct metrics;
struct evbuffer;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* One CMP request answered (or dropped): alias label, request body type
 * name ("ir", "cr", "kur", "p10cr", "certConf", "rr", "genm", "pollReq",
 * "nested", "error", ...; "unknown" when not decoded), outcome ("ok" or a
 * PKIFailureInfo name such as "badPOP", "systemUnavail"; "not_cmp",
 * "dropped"), and the time from the request's arrival to the answer. */
void metrics_request(struct metrics *m, const char *alias, const char *body, const char *outcome,
		     double seconds);
/* One database round trip (a statement or pipeline) and whether it
 * failed. */
void metrics_db(struct metrics *m, double seconds, bool ok);
/* One upstream exchange in RA mode: alias, result ("ok", "timeout",
 * "connect", "http", "tls", "protection", ...) and its duration. */
void metrics_upstream(struct metrics *m, const char *alias, const char *result, double seconds);
/* A certificate issued (committed) / revoked on alias. */
void metrics_issued(struct metrics *m, const char *alias);
void metrics_revoked(struct metrics *m, const char *alias);

#endif
