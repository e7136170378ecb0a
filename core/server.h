/*
 * core/server.h - worker threads, one libevent event_base each.
 *
 * Start-up order (cmd/serve.c): server_signals_block() first, then
 * server_bind() (so a taken port fails before the database is touched),
 * then the database, then server_listen() and server_run() with the bound
 * sockets. server_run
 * starts cfg->workers threads, each with its own event_base and
 * http_server accepting on the shared sockets, and blocks until SIGTERM or
 * SIGINT, reloading the configuration on SIGHUP (below). Then every
 * worker drains: new requests get 503 (Connection:
 * close), requests in flight (dispatched and not yet answered, including
 * those waiting on the database) may finish for up to cfg->drain_s
 * seconds, then the loop stops; the requests still in flight then are
 * counted in the log and cut.
 *
 * SIGHUP: the main thread re-reads the file the gateway started with
 * (cfg->path) with cfg_load. A file that does not load is logged with
 * cfg_load's path-precise message and the running snapshot stays. A new
 * snapshot applies the log level and format at once and goes to every
 * worker on its own thread: the worker swaps w->cfg, applies the http.*
 * limits, calls hooks->worker_reload and drops its old reference.
 * Requests in flight keep the snapshot they started with (they hold a
 * reference). listen (address, port, TLS on or off), ops, workers,
 * data_dir and database.* need a restart: a change is logged as a warning
 * on every reload while it differs from the running values, the sockets
 * and the pool stay, and those keys of a reloaded snapshot are not read.
 * A TLS listener's files and settings (listen[].tls.*) do reload: new
 * connections use the new snapshot's context (certificate rotation), open
 * ones keep theirs; so do the upstreams' (aliases[].upstream.tls).
 *
 * The operations listener (cfg->ops_port, issue 13): bound by server_bind
 * next to the CMP listeners (a taken port fails start-up the same way),
 * served by every worker with hooks->ops_routes only (plain HTTP, small
 * bodies, its own connection cap: core/http.h HTTP_OPS_*). It is not
 * drained: it answers while the CMP listeners drain, until the worker's
 * loop ends; a handler learns of the drain from server_draining().
 *
 * The service manager (core/notify.h): READY=1 once every worker's loop
 * runs (and so accepts); on SIGHUP, RELOADING=1, then READY=1 once the
 * reload was refused or every worker took the new snapshot; STOPPING=1
 * when a stop signal begins the drain.
 *
 * The application plugs in through struct server_hooks; every hook runs on
 * the worker's own thread. No mutable globals: per-thread state lives in
 * struct worker (app points to the application's per-worker state).
 */
#ifndef CMPGW_CORE_SERVER_H
#define CMPGW_CORE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/cfg.h"
#include "core/http.h"

struct metrics;
struct server_state;

struct worker {
	int id;
	pthread_t thread;
	struct event_base *base;
	struct http_server *http;
	struct http_server *ops_http;	/* the operations listener, or NULL */
	int ops_fd;			/* its listening socket (borrowed), or -1 */
	struct http_server *admin_http; /* the admin API listener, or NULL */
	int admin_fd;			/* its listening socket (borrowed), or -1 */
	struct http_counters counters;	/* http's counts, for server_stats */
	struct server_state *state;	/* the run's, shared by every worker */
	bool up;			/* the loop runs (told to the main thread) */
	struct cfg *cfg;		/* reference held by the worker */
	void *app;			/* application per-worker state */
	void *admin_app;		/* the admin API's per-worker state (cmd/api.c), or NULL */
	struct metrics *metrics;	/* the process's (hooks->metrics; may be NULL) */
	const struct server_hooks *hooks;
	const int *fds;
	size_t nfds;
	int rc; /* start-up result */
	struct event *stop_ev;
	struct event *drain_ev;
	int drain_ticks;
	int drain_max_ticks;
	int cut; /* requests still in flight when the loop ended */
	/* SIGHUP: the main thread leaves a new snapshot (a reference) here
	 * and activates reload_ev; the worker takes it on its thread. */
	_Atomic(struct cfg *) next_cfg;
	struct event *reload_ev;
};

/*
 * A route of the HTTP layer (issue 12): requests whose path matches go to
 * handle instead of dispatch, before dispatch sees them. The path comes
 * from the running snapshot (path(cfg); NULL: the route is off), matched
 * exactly or, with prefix, as a leading part. A matching request whose
 * method is not in methods (bit 1 << enum http_method) is answered 405
 * with an Allow header of allow, and handle is not called. handle must
 * answer exactly once (core/http.h); arg is the worker.
 */
struct server_route {
	const char *(*path)(const struct cfg *cfg);
	bool prefix;
	unsigned methods;
	const char *allow; /* the Allow header of a 405, e.g. "GET, HEAD" */
	void (*handle)(struct http_req *req, void *arg);
};

#define SERVER_METHOD(m) (1u << (m))

struct server_hooks {
	/* Called on the worker thread before it accepts; sets w->app. */
	int (*worker_init)(struct worker *w);
	/* Called on the worker thread after the loop ended. */
	void (*worker_fini)(struct worker *w);
	/* Called on the worker thread after a reload swapped w->cfg; old is
	 * the snapshot it replaced (still referenced during the call), so
	 * the hook can re-derive what changed. NULL: nothing to do. */
	void (*worker_reload)(struct worker *w, const struct cfg *old);
	/* Routes tried in order before dispatch (may be NULL / 0). */
	const struct server_route *routes;
	size_t n_routes;
	/* Every HTTP request no route took; arg is the worker. */
	void (*dispatch)(struct http_req *req, void *arg);
	/* The operations listener (cfg->ops_port): only these routes; any
	 * other path gets 404 (GET, HEAD) or 405 there, and CMP is never
	 * served on it. */
	const struct server_route *ops_routes;
	size_t n_ops_routes;
	/* The admin API listener (cfg->admin_port, HTTPS only): every
	 * request goes here (NULL: the listener is not served); it routes
	 * itself and answers exactly once. arg is the worker. */
	void (*admin_dispatch)(struct http_req *req, void *arg);
	/* Which admin requests get their body streamed (core/http.h
	 * http_server_set_stream_match); NULL: none. */
	http_stream_match_cb admin_stream_match;
	/* Process-wide metrics, given to every worker (w->metrics); NULL ok. */
	struct metrics *metrics;
	/* Read-only data for the hooks (e.g. the database conninfo). */
	const void *shared;
};

/* Block SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
 * thread created after it) and ignore SIGPIPE; server_run() and
 * server_signal_wait() then receive them (a SIGHUP before server_run
 * stays pending and reloads once it runs). Main thread, before any thread
 * is started. */
void server_signals_block(void);

/* Wait up to ms for SIGTERM/SIGINT (blocked by server_signals_block);
 * returns the signal number, or 0 when none arrived. Main thread. */
int server_signal_wait(long ms);

/* Bind (not yet listen: connections are refused until server_listen) on
 * every cfg->listen entry, in order, then on the operations listener
 * (cfg->ops_address:ops_port, when ops_port is set) and the admin API
 * listener (admin_address:admin_port, when set). Returns a new array of
 * cfg->n_listen + 2 fds: fds[i] is listen[i], fds[cfg->n_listen] the
 * operations listener or -1, fds[cfg->n_listen + 1] the admin listener or
 * -1 (free with server_unbind), or NULL; errbuf
 * then names the address:port and the reason ("cannot bind
 * 127.0.0.1:8080: Address already in use"). *rc gets RC_IO (socket/bind
 * failed), RC_INVAL (address unusable) or RC_NOMEM. Main thread. */
int *server_bind(const struct cfg *cfg, int *rc, char *errbuf, size_t errlen);
/* listen() on the bound sockets (the operations listener's too): from now
 * on connections queue for the workers. RC_IO with errbuf naming
 * address:port on failure (another process listens there: two sockets
 * with SO_REUSEADDR may both bind while neither listens). Main thread. */
int server_listen(const struct cfg *cfg, const int *fds, char *errbuf, size_t errlen) WUR;
/* Close the sockets of server_bind's array (n = cfg->n_listen: the n
 * listeners and the operations and admin entries after them) and free
 * it; NULL ok. */
void server_unbind(int *fds, size_t n);

/* Whether the gateway is draining (a stop signal arrived): for the
 * operations listener's handlers (/readyz). Any thread. */
bool server_draining(const struct worker *w);

/* What server_stats reports: the CMP listeners' open connections,
 * requests in flight (dispatched, not yet answered) and connections
 * awaiting a transaction's next request (http_req_set_continues), in
 * total and per worker (index = worker id; the operations listener's own
 * connections are not counted). */
#define SERVER_STATS_MAX_WORKERS 256
struct server_stats {
	bool draining;
	int workers; /* entries of per_worker */
	int connections, inflight, awaiting;
	struct {
		int connections, inflight, awaiting;
	} per_worker[SERVER_STATS_MAX_WORKERS];
};
/* Fill *out from counters every worker stores as they change (relaxed
 * atomics: each value is current, the set is not one instant). w is any
 * worker of the run (the one calling, e.g. a /metrics handler). Any
 * thread, while server_run runs. */
void server_stats(const struct worker *w, struct server_stats *out);

/* Runs until a stop signal, reloading on SIGHUP, then drains (see above);
 * cfg is the start-up snapshot (borrowed; its listen, workers and
 * database values stay in force for the whole run); fds are the
 * listening sockets from server_bind + server_listen (borrowed). Returns 0 on clean
 * shutdown, negative rc on start-up failure (message logged). Main thread
 * only, after server_signals_block(). */
int server_run(struct cfg *cfg, const struct server_hooks *hooks, const int *fds) WUR;

#endif
