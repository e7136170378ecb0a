#include "core/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "core/log.h"

#define DRAIN_TICK_MS 100
#define DRAIN_MAX_TICKS 100 /* 10 s */

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	if (http_server_inflight(w->http) <= 0 || ++w->drain_ticks >= DRAIN_MAX_TICKS)
		event_base_loopexit(w->base, NULL);
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
	w->drain_ev = event_new(w->base, -1, EV_PERSIST, on_drain_tick, w);
	if (!w->drain_ev || event_add(w->drain_ev, &tv) != 0)
		event_base_loopexit(w->base, NULL);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	event_base_dispatch(w->base);
	if (w->hooks->worker_fini)
		w->hooks->worker_fini(w);
	return NULL;
}

static int worker_setup(struct worker *w)
{
	w->base = event_base_new();
	if (!w->base)
		return RC_NOMEM;
	w->stop_ev = event_new(w->base, -1, 0, on_stop, w);
	if (!w->stop_ev)
		return RC_NOMEM;
	if (w->hooks->worker_init) {
		int rc = w->hooks->worker_init(w);
		if (rc != 0)
			return rc;
	}
	w->http = http_server_new(w->base, w->fds, w->nfds, w->cfg->http_max_body,
				  w->cfg->http_timeout_s, w->hooks->dispatch, w);
	return w->http ? 0 : RC_NOMEM;
}

static void worker_teardown(struct worker *w)
{
	http_server_free(w->http);
	if (w->drain_ev)
		event_free(w->drain_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->base)
		event_base_free(w->base);
	cfg_free(w->cfg);
}

static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigwait(&set, &sig) != 0)
		return RC_ERR;
	return sig;
}

int server_run(struct cfg *cfg, const struct server_hooks *hooks)
{
	int nw = cfg->workers > 0 ? cfg->workers : 1;
	int *fds = calloc(cfg->n_listen, sizeof(int));
	struct worker *ws = calloc((size_t)nw, sizeof(*ws));
	int started = 0, rc = 0;
	sigset_t set;
	char err[256];

	if (!fds || !ws) {
		rc = RC_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < cfg->n_listen; i++)
		fds[i] = -1;
	/* Block stop signals in every thread; the main thread sigwait()s. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		rc = RC_ERR;
		goto out;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		fds[i] = http_listen(cfg->listen[i].address, cfg->listen[i].port, err, sizeof(err));
		if (fds[i] < 0) {
			log_error(NULL, "%s", err);
			rc = fds[i];
			goto out;
		}
	}
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->cfg = cfg_get1(cfg);
		w->hooks = hooks;
		w->fds = fds;
		w->nfds = cfg->n_listen;
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
	for (size_t i = 0; i < cfg->n_listen; i++)
		log_info(NULL, "listening on %s:%d with %d workers", cfg->listen[i].address,
			 cfg->listen[i].port, nw);
	int sig = wait_for_signal();
	log_info(NULL, "signal %d: draining and stopping", sig);
stop:
	for (int i = 0; i < started; i++)
		event_active(ws[i].stop_ev, EV_READ, 0);
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	for (int i = 0; i < nw; i++) {
		if (i >= started && ws[i].base && hooks->worker_fini && ws[i].app)
			hooks->worker_fini(&ws[i]);
		worker_teardown(&ws[i]);
	}
out:
	if (fds)
		for (size_t i = 0; i < cfg->n_listen; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	free(fds);
	free(ws);
	return rc;
}
