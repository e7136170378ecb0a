#include "core/server.h"

#include <errno.h>
#include <netdb.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/notify.h"

#define DRAIN_TICK_MS 100
#define ACK_WAIT_S    10 /* the main thread waits this long for a worker */

/* What every worker of one server_run shares. */
struct server_state {
	atomic_bool draining;
	int n; /* workers (ws[i] of one not started has zero counters) */
	struct worker *ws;
	/* posted by a worker once its loop runs, and each time it took a
	 * reloaded snapshot: the main thread's sd_notify follows those */
	sem_t ack;
};

static void ack(struct worker *w)
{
	sem_post(&w->state->ack);
}

/* Wait for n posts of st->ack, each within ACK_WAIT_S; false on timeout. */
static bool wait_acks(struct server_state *st, int n)
{
	for (int i = 0; i < n; i++) {
		struct timespec ts;
		int r;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ACK_WAIT_S;
		while ((r = sem_timedwait(&st->ack, &ts)) != 0 && errno == EINTR)
			;
		if (r != 0)
			return false;
	}
	return true;
}

/* Every request dispatched and not yet answered counts, async ones waiting
 * on the database included (http_server_inflight): the loop keeps running
 * for them until they are answered or cfg->drain_s is over. */
/* The worker leaves its loop: first stop accepting, so that no connection
 * (an ops scrape during the drain, say) is accepted in the last pass and
 * left unserved until the process exits; the kernel queues it for the
 * workers still running, or refuses it once all are gone. */
static void leave_loop(struct worker *w)
{
	http_server_stop_accepting(w->http);
	http_server_stop_accepting(w->ops_http);
	http_server_stop_accepting(w->admin_http);
	event_base_loopexit(w->base, NULL);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	if (http_server_inflight(w->http) <= 0 || ++w->drain_ticks >= w->drain_max_ticks)
		leave_loop(w);
}

/* Activated from the main thread (event_active is thread-safe with
 * evthread_use_pthreads). */
static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { 0, DRAIN_TICK_MS * 1000 };
	(void)fd;
	(void)what;
	http_server_set_draining(w->http, true);
	w->drain_max_ticks = w->cfg->drain_s * (1000 / DRAIN_TICK_MS);
	if (w->drain_max_ticks <= 0 || http_server_inflight(w->http) <= 0) {
		leave_loop(w);
		return;
	}
	w->drain_ev = event_new(w->base, -1, EV_PERSIST, on_drain_tick, w);
	if (!w->drain_ev || event_add(w->drain_ev, &tv) != 0)
		leave_loop(w);
}

/* SIGHUP, on the worker's thread: take the snapshot the main thread left
 * (a later reload may already have replaced it: the newest wins). */
static void on_cfg_swap(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct cfg *next = atomic_exchange(&w->next_cfg, NULL), *old = w->cfg;
	(void)fd;
	(void)what;
	if (!next) {
		ack(w);
		return;
	}
	w->cfg = next;
	http_server_set_limits(w->http, next);
	if (w->hooks->worker_reload)
		w->hooks->worker_reload(w, old);
	cfg_free(old);
	ack(w);
}

/* The first pass of the worker's loop: it accepts from now on. */
static void on_up(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	w->up = true;
	ack(w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	if (!w->up) { /* the loop ended before it ran: do not keep main waiting */
		w->up = true;
		ack(w);
	}
	/* before worker_fini: it cancels what still waits on the database */
	w->cut = http_server_inflight(w->http);
	if (w->hooks->worker_fini)
		w->hooks->worker_fini(w);
	return NULL;
}

static bool route_matches(const struct server_route *r, const struct cfg *cfg, const char *path)
{
	const char *want = r->path(cfg);

	if (!want || !path)
		return false;
	return r->prefix ? strncmp(path, want, strlen(want)) == 0 : strcmp(path, want) == 0;
}

/* The HTTP layer's routing: the application's routes (exact path or
 * prefix, methods), then its dispatcher. */
static void route(struct http_req *req, void *arg)
{
	struct worker *w = arg;
	const struct server_hooks *h = w->hooks;
	const char *path = http_req_path(req);

	for (size_t i = 0; i < h->n_routes; i++) {
		const struct server_route *r = &h->routes[i];
		if (!route_matches(r, w->cfg, path))
			continue;
		if (!(r->methods & SERVER_METHOD(http_req_method(req)))) {
			if (r->allow)
				http_req_set_allow(req, r->allow);
			http_reply(req, 405, NULL, NULL, 0);
			return;
		}
		r->handle(req, w);
		return;
	}
	h->dispatch(req, w);
}

/* The operations listener: its routes only (core/server.h); any other
 * path is 404 to GET and HEAD, 405 to anything else. Never CMP. */
static void route_ops(struct http_req *req, void *arg)
{
	struct worker *w = arg;
	const struct server_hooks *h = w->hooks;
	const char *path = http_req_path(req);
	enum http_method m = http_req_method(req);

	for (size_t i = 0; i < h->n_ops_routes; i++) {
		const struct server_route *r = &h->ops_routes[i];
		if (!route_matches(r, w->cfg, path))
			continue;
		if (!(r->methods & SERVER_METHOD(m))) {
			http_req_set_allow(req, r->allow ? r->allow : "GET, HEAD");
			http_reply(req, 405, NULL, NULL, 0);
			return;
		}
		r->handle(req, w);
		return;
	}
	if (m != HTTP_M_GET && m != HTTP_M_HEAD) {
		http_req_set_allow(req, "GET, HEAD");
		http_reply(req, 405, NULL, NULL, 0);
		return;
	}
	http_reply(req, 404, NULL, NULL, 0);
}

/* The admin listener: everything goes to hooks->admin_dispatch, which
 * routes /api/v1 itself; never CMP, never the ops paths. */
static void route_admin(struct http_req *req, void *arg)
{
	struct worker *w = arg;

	w->hooks->admin_dispatch(req, w);
}

static int worker_setup(struct worker *w)
{
	static const struct timeval now = { 0, 0 };

	w->base = event_base_new();
	if (!w->base)
		return RC_NOMEM;
	w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
	w->reload_ev = event_new(w->base, -1, 0, on_cfg_swap, w);
	if (!w->stop_ev || !w->reload_ev ||
	    event_base_once(w->base, -1, EV_TIMEOUT, on_up, w, &now) != 0)
		return RC_NOMEM;
	if (w->hooks->worker_init) {
		int rc = w->hooks->worker_init(w);
		if (rc != 0)
			return rc;
	}
	w->http = http_server_new(w->base, w->fds, w->nfds, w->cfg, route, w);
	if (!w->http)
		return RC_NOMEM;
	http_server_set_counters(w->http, &w->counters);
	http_server_set_metrics(w->http, w->metrics);
	if (w->ops_fd >= 0 &&
	    !(w->ops_http = http_server_new_ops(w->base, w->ops_fd, route_ops, w)))
		return RC_NOMEM;
	if (w->admin_fd >= 0 && w->hooks->admin_dispatch &&
	    !(w->admin_http = http_server_new_admin(w->base, w->admin_fd, w->cfg->admin_tls.ctx,
						    route_admin, w)))
		return RC_NOMEM;
	if (w->admin_http)
		http_server_set_stream_match(w->admin_http, w->hooks->admin_stream_match);
	return 0;
}

static void worker_teardown(struct worker *w)
{
	http_server_free(w->admin_http);
	http_server_free(w->ops_http);
	http_server_free(w->http);
	if (w->drain_ev)
		event_free(w->drain_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->reload_ev)
		event_free(w->reload_ev);
	if (w->base)
		event_base_free(w->base);
	cfg_free(atomic_exchange(&w->next_cfg, NULL));
	cfg_free(w->cfg);
}

static void stop_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
}

/* The stop signals and SIGHUP (reload): blocked everywhere, received by
 * the main thread only. */
static void all_set(sigset_t *set)
{
	stop_set(set);
	sigaddset(set, SIGHUP);
}

void server_signals_block(void)
{
	sigset_t set;

	all_set(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int server_signal_wait(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	sigset_t set;
	int sig;

	stop_set(&set);
	do
		sig = sigtimedwait(&set, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	return sig > 0 ? sig : 0;
}

static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	all_set(&set);
	if (sigwait(&set, &sig) != 0)
		return RC_ERR;
	return sig;
}

/* socket + SO_REUSEADDR (a restart must not wait for TIME_WAIT) + bind,
 * no listen() yet: until server_listen() a connection is refused, so a
 * load balancer or client goes elsewhere while the database is awaited. */
static int bind_one(const char *address, int port, char *errbuf, size_t errlen)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char portstr[16];
	int fd, one = 1, rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(address, portstr, &hints, &ai);
	if (rc != 0) {
		snprintf(errbuf, errlen, "cannot bind %s:%d: %s", address, port, gai_strerror(rc));
		return RC_INVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
			bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)) {
		int err = errno;
		close(fd);
		fd = -1;
		errno = err;
	}
	if (fd < 0)
		snprintf(errbuf, errlen, "cannot bind %s:%d: %s", address, port, strerror(errno));
	freeaddrinfo(ai);
	return fd >= 0 ? fd : RC_IO;
}

int *server_bind(const struct cfg *cfg, int *rc, char *errbuf, size_t errlen)
{
	size_t n = cfg->n_listen;
	int *fds = calloc(n + 2, sizeof(int));

	if (!fds) {
		*rc = RC_NOMEM;
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i <= n + 1; i++)
		fds[i] = -1;
	for (size_t i = 0; i <= n + 1; i++) {
		if ((i == n && !cfg->ops_port) || (i == n + 1 && !cfg->admin_port))
			continue;
		fds[i] = i < n	  ? bind_one(cfg->listen[i].address, cfg->listen[i].port, errbuf,
					     errlen)
			 : i == n ? bind_one(cfg->ops_address, cfg->ops_port, errbuf, errlen)
				  : bind_one(cfg->admin_address, cfg->admin_port, errbuf, errlen);
		if (fds[i] < 0) {
			*rc = fds[i];
			fds[i] = -1;
			server_unbind(fds, n);
			return NULL;
		}
	}
	*rc = RC_OK;
	return fds;
}

int server_listen(const struct cfg *cfg, const int *fds, char *errbuf, size_t errlen)
{
	size_t n = cfg->n_listen;

	for (size_t i = 0; i <= n + 1; i++) {
		if (i >= n && fds[i] < 0)
			continue;
		if (listen(fds[i], i < n ? 1024 : 64) != 0) {
			snprintf(errbuf, errlen, "cannot listen on %s:%d: %s",
				 i < n	  ? cfg->listen[i].address
				 : i == n ? cfg->ops_address
					  : cfg->admin_address,
				 i < n	  ? cfg->listen[i].port
				 : i == n ? cfg->ops_port
					  : cfg->admin_port,
				 strerror(errno));
			return RC_IO;
		}
	}
	return RC_OK;
}

void server_unbind(int *fds, size_t n)
{
	if (!fds)
		return;
	for (size_t i = 0; i <= n + 1; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

bool server_draining(const struct worker *w)
{
	return w->state && atomic_load(&w->state->draining);
}

void server_stats(const struct worker *w, struct server_stats *out)
{
	const struct server_state *st = w->state;

	memset(out, 0, sizeof(*out));
	if (!st)
		return;
	out->draining = atomic_load(&st->draining);
	out->workers = st->n < SERVER_STATS_MAX_WORKERS ? st->n : SERVER_STATS_MAX_WORKERS;
	for (int i = 0; i < out->workers; i++) {
		const struct http_counters *k = &st->ws[i].counters;
		int c = atomic_load_explicit(&k->connections, memory_order_relaxed);
		int f = atomic_load_explicit(&k->inflight, memory_order_relaxed);
		int a = atomic_load_explicit(&k->awaiting, memory_order_relaxed);
		out->per_worker[i].connections = c;
		out->per_worker[i].inflight = f;
		out->per_worker[i].awaiting = a;
		out->connections += c;
		out->inflight += f;
		out->awaiting += a;
	}
}

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* TLS on or off counts; a listener's TLS files and settings reload. */
static bool listen_differs(const struct cfg *a, const struct cfg *b)
{
	if (a->n_listen != b->n_listen)
		return true;
	for (size_t i = 0; i < a->n_listen; i++)
		if (a->listen[i].port != b->listen[i].port ||
		    str_differs(a->listen[i].address, b->listen[i].address) ||
		    !a->listen[i].tls.cert_file != !b->listen[i].tls.cert_file)
			return true;
	return false;
}

/* One warning per key that needs a restart and differs from the running
 * values (run: the start-up snapshot, whose sockets, threads and pools
 * are in use). */
static void warn_restart_keys(const struct cfg *run, const struct cfg *next)
{
	const struct {
		const char *key;
		bool changed;
	} keys[] = {
		{ "listen", listen_differs(run, next) },
		{ "ops",
		  run->ops_port != next->ops_port ||
			  (run->ops_port && str_differs(run->ops_address, next->ops_address)) },
		{ "admin", run->admin_port != next->admin_port ||
				   (run->admin_port &&
				    str_differs(run->admin_address, next->admin_address)) },
		{ "workers", run->workers != next->workers },
		{ "data_dir", str_differs(run->data_dir, next->data_dir) },
		{ "database.url", str_differs(run->db_url, next->db_url) },
		{ "database.embedded_user",
		  str_differs(run->db_embedded_user, next->db_embedded_user) },
		{ "database.pool", run->db_pool != next->db_pool },
		{ "database.queue_wait_ms", run->db_queue_wait_ms != next->db_queue_wait_ms },
		{ "database.statement_timeout_ms",
		  run->db_stmt_timeout_ms != next->db_stmt_timeout_ms },
		{ "database.startup_timeout_s",
		  run->db_startup_timeout_s != next->db_startup_timeout_s },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].changed)
			log_warn(NULL, "%s: changed; takes effect after a restart", keys[i].key);
}

/* SIGHUP, main thread: load *cur's file again; on success hand the new
 * snapshot to every started worker and make it *cur. True when handed. */
static bool reload(const struct cfg *run, struct cfg **cur, struct worker *ws, int started)
{
	struct cfg *next = NULL;
	char err[1024] = "";
	int rc = cfg_load((*cur)->path, &next, err, sizeof(err));

	if (rc != 0) {
		log_error(NULL, "configuration not reloaded from %s (keeping the running one): %s",
			  (*cur)->path, err[0] ? err : rc_str(rc));
		metrics_reload(ws[0].metrics, "error");
		return false;
	}
	log_setup(next->log_level, next->log_json, -1);
	warn_restart_keys(run, next);
	for (int i = 0; i < started; i++) {
		cfg_free(atomic_exchange(&ws[i].next_cfg, cfg_get1(next)));
		event_active(ws[i].reload_ev, EV_READ, 0);
	}
	cfg_free(*cur);
	*cur = next;
	log_info(NULL, "configuration reloaded from %s", next->path);
	return true;
}

int server_run(struct cfg *cfg, const struct server_hooks *hooks, const int *fds)
{
	int nw = cfg->workers > 0 ? cfg->workers : 1;
	struct worker *ws = calloc((size_t)nw, sizeof(*ws));
	int started = 0, rc = 0, inflight = 0, sig;
	struct cfg *cur = cfg_get1(cfg); /* the newest snapshot loaded */
	struct server_state st = { .ws = ws, .n = nw };
	int ops_fd = cfg->ops_port ? fds[cfg->n_listen] : -1;
	int admin_fd = cfg->admin_port ? fds[cfg->n_listen + 1] : -1;

	if (!ws || sem_init(&st.ack, 0, 0) != 0) {
		free(ws);
		cfg_free(cur);
		return RC_NOMEM;
	}
	atomic_init(&st.draining, false);
	if (evthread_use_pthreads() != 0) {
		rc = RC_ERR;
		goto out;
	}
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->cfg = cfg_get1(cfg);
		w->hooks = hooks;
		w->metrics = hooks->metrics;
		w->state = &st;
		w->fds = fds;
		w->nfds = cfg->n_listen;
		w->ops_fd = ops_fd;
		w->admin_fd = admin_fd;
		rc = worker_setup(w);
		if (rc != 0) {
			log_error(NULL, "worker %d: start-up failed: %s", i, rc_str(rc));
			goto stop;
		}
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			rc = RC_ERR;
			goto stop;
		}
		started++;
	}
	if (!wait_acks(&st, started))
		log_warn(NULL, "a worker did not start its loop within %d s", ACK_WAIT_S);
	for (size_t i = 0; i < cfg->n_listen; i++)
		log_info(NULL, "listening on %s:%d%s with %d workers", cfg->listen[i].address,
			 cfg->listen[i].port, cfg->listen[i].tls.ctx ? " (TLS)" : "", nw);
	if (ops_fd >= 0)
		log_info(NULL, "operations listener on %s:%d", cfg->ops_address, cfg->ops_port);
	if (admin_fd >= 0)
		log_info(NULL, "admin API listener on %s:%d (TLS)", cfg->admin_address,
			 cfg->admin_port);
	notify_ready();
	while ((sig = wait_for_signal()) == SIGHUP) {
		notify_reloading();
		if (reload(cfg, &cur, ws, started) && !wait_acks(&st, started))
			log_warn(NULL, "a worker did not take the new configuration within %d s",
				 ACK_WAIT_S);
		notify_ready();
	}
	notify_stopping();
	atomic_store(&st.draining, true);
	log_info(NULL,
		 "signal %d: draining (new requests get 503; up to %d s for requests "
		 "in flight), then stopping",
		 sig, cur->drain_s);
stop:
	for (int i = 0; i < started; i++)
		event_active(ws[i].stop_ev, EV_READ, 0);
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	for (int i = 0; i < started; i++)
		inflight += ws[i].cut;
	if (started && rc == 0) {
		if (inflight > 0)
			log_warn(NULL,
				 "drain time (%d s) over: %d request(s) still in flight are cut",
				 cur->drain_s, inflight);
		else
			log_info(NULL, "drained: every request in flight was answered");
	}
	for (int i = 0; i < nw; i++) {
		if (i >= started && ws[i].base && hooks->worker_fini && ws[i].app)
			hooks->worker_fini(&ws[i]);
		worker_teardown(&ws[i]);
	}
out:
	sem_destroy(&st.ack);
	free(ws);
	cfg_free(cur);
	return rc;
}
