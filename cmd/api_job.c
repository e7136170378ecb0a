/*
 * cmd/api_job.c - blocking work of the admin API off the loop
 * (cmd/api_int.h api_job).
 *
 * Each job is one thread with its own database connection, so that the
 * API runs the CLI's blocking store functions unchanged. At most
 * API_JOBS_MAX run per worker; the thread ends by activating the job's
 * event on the worker's base (thread-safe: server.c enables libevent's
 * pthread locking), and done runs on the loop thread, which joins the
 * thread. A worker that stops (its loop has ended) sets every job's stop
 * flag, joins the threads, and runs their done itself; what done answers
 * is never sent, since the loop no longer runs and the server then
 * closes every connection.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cmd/api_int.h"
#include "core/cfg.h"
#include "core/log.h"
#include "store/db.h"

/* Every wait of a job is bounded, so that a worker that stops joins its
 * jobs in bounded time even when the database hangs: connecting gives up
 * after 10 s, a statement after 10 min (the merge of a 10,000,000-line
 * upload takes about a minute here; BENCHMARKS.md), and the upload's pipe
 * is polled for the stop flag (cmd/api_upload.c). */
#define API_JOB_CONNECT_S    10
#define API_JOB_STATEMENT_MS (10 * 60 * 1000)

struct api_job {
	struct api_job *next;
	struct api_jobs *owner;
	struct api_req *a;
	api_job_work work;
	api_job_done done;
	void *arg;
	int rc;
	pthread_t thread;
	struct event *ev;
	char principal[API_PRINCIPAL_MAX + 1];
	struct cfg *cfg;
};

/* per worker (w->admin_app) */
struct api_jobs {
	struct worker *w;
	struct api_job *head;
	int n;
	atomic_bool stop;
};

int cmd_api_worker_init(struct worker *w)
{
	struct api_jobs *j = calloc(1, sizeof(*j));

	if (!j)
		return RC_NOMEM;
	j->w = w;
	atomic_init(&j->stop, false);
	w->admin_app = j;
	return 0;
}

static void *job_main(void *arg)
{
	struct api_job *job = arg;
	const char *conninfo = job->owner->w->hooks->shared;
	struct store_conn *c = NULL;

	if (store_db_connect_bounded(conninfo, API_JOB_CONNECT_S, API_JOB_STATEMENT_MS, &c) != 0) {
		job->rc = RC_DB;
	} else {
		struct api_job_ctx ctx = { .conn = c,
					   .principal = job->principal,
					   .stop = &job->owner->stop,
					   .cfg = job->cfg };
		job->rc = job->work(&ctx, job->arg);
	}
	store_db_close(c);
	event_active(job->ev, EV_TIMEOUT, 1);
	return NULL;
}

/* On the loop thread: unlink, join, done. */
static void job_end(struct api_job *job)
{
	struct api_jobs *j = job->owner;

	for (struct api_job **pp = &j->head; *pp; pp = &(*pp)->next)
		if (*pp == job) {
			*pp = job->next;
			break;
		}
	j->n--;
	pthread_join(job->thread, NULL);
	event_free(job->ev);
	cfg_free(job->cfg);
	job->done(job->a, job->rc, job->arg);
	free(job);
}

static void on_job_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	job_end(arg);
}

/* The one answer to a job that cannot start (every caller's). */
static void refuse(struct api_req *a, const struct api_jobs *j)
{
	if (j && j->n >= API_JOBS_MAX)
		api_problem(
			a, 503, "unavailable",
			"%d admin jobs (uploads, changes, dry runs) run on this worker already; "
			"retry in a few seconds",
			API_JOBS_MAX);
	else
		api_problem(a, 503, "unavailable",
			    "the job cannot be started on this worker now; retry in a few seconds");
}

int api_job(struct api_req *a, api_job_work work, api_job_done done, void *arg)
{
	struct api_jobs *j = a->w->admin_app;
	struct api_job *job;

	if (!j || !work || !done || j->n >= API_JOBS_MAX || atomic_load(&j->stop) ||
	    !(job = calloc(1, sizeof(*job)))) {
		refuse(a, j);
		return RC_UNAVAIL;
	}
	job->owner = j;
	job->a = a;
	job->work = work;
	job->done = done;
	job->arg = arg;
	job->cfg = cfg_get1(a->w->cfg);
	snprintf(job->principal, sizeof(job->principal), "%s", a->principal);
	if (!(job->ev = event_new(a->w->base, -1, 0, on_job_done, job)) ||
	    pthread_create(&job->thread, NULL, job_main, job) != 0) {
		if (job->ev)
			event_free(job->ev);
		cfg_free(job->cfg);
		free(job);
		refuse(a, NULL);
		return RC_NOMEM;
	}
	job->next = j->head;
	j->head = job;
	j->n++;
	return 0;
}

void cmd_api_worker_fini(struct worker *w)
{
	struct api_jobs *j = w->admin_app;

	if (!j)
		return;
	atomic_store(&j->stop, true);
	while (j->head)
		job_end(j->head); /* joins: the thread activated its event, which
				     event_free removes */
	free(j);
	w->admin_app = NULL;
}
