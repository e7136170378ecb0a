/*
 * core/server.h - worker threads, one libevent event_base each.
 *
 * server_run() binds the listeners, starts cfg->workers threads, each with
 * its own event_base and http_server accepting on the shared sockets, and
 * blocks until SIGTERM/SIGINT. Then every worker stops accepting (new
 * requests get 503), waits up to drain_s for in-flight requests, and exits.
 *
 * The application plugs in through struct server_hooks; every hook runs on
 * the worker's own thread. No mutable globals: per-thread state lives in
 * struct worker (app points to the application's per-worker state).
 */
#ifndef CMPGW_CORE_SERVER_H
#define CMPGW_CORE_SERVER_H

#include <pthread.h>

#include "core/cfg.h"
#include "core/http.h"

struct worker {
	int id;
	pthread_t thread;
	struct event_base *base;
	struct http_server *http;
	struct cfg *cfg;   /* reference held by the worker */
	void *app;         /* application per-worker state */
	const struct server_hooks *hooks;
	const int *fds;
	size_t nfds;
	int rc;            /* start-up result */
	struct event *stop_ev;
	struct event *drain_ev;
	int drain_ticks;
};

struct server_hooks {
	/* Called on the worker thread before it accepts; sets w->app. */
	int (*worker_init)(struct worker *w);
	/* Called on the worker thread after the loop ended. */
	void (*worker_fini)(struct worker *w);
	/* Every HTTP request; arg is the worker. */
	void (*dispatch)(struct http_req *req, void *arg);
	/* Read-only data for the hooks (e.g. the database conninfo). */
	const void *shared;
};

/* Runs until a stop signal; returns 0 on clean shutdown, negative rc on
 * start-up failure (message logged). Main thread only. */
int server_run(struct cfg *cfg, const struct server_hooks *hooks) WUR;

#endif
