/*
 * store/embedded.h - a private PostgreSQL server under cmpgw's data
 * directory (used when no database URL is configured).
 *
 * Layout: <data_dir>/pgdata (cluster), <data_dir>/pgsock (unix socket
 * only, no TCP), <data_dir>/postgresql.log. Binaries: $CMPGW_PG_BINDIR,
 * else the highest /usr/lib/postgresql/<N>/bin holding initdb.
 *
 * PostgreSQL refuses to run as root: when geteuid() == 0 every step that
 * touches the cluster (initdb, pg_ctl) runs as os_user (NULL: "postgres")
 * via fork + setgid/initgroups/setuid + execve (no shell); pgdata and
 * pgsock are created by root and handed to os_user. data_dir itself may
 * stay root-owned but every parent must be traversable by os_user.
 * Otherwise everything runs as the current user and os_user is ignored.
 *
 * Blocking (seconds): call at start-up or from the CLI, never on a worker
 * loop. Not thread-safe against concurrent calls on the same data_dir.
 * Error text goes to errbuf (may be NULL).
 */
#ifndef CMPGW_STORE_EMBEDDED_H
#define CMPGW_STORE_EMBEDDED_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

/*
 * initdb on first use, start the server (or reuse one already running on
 * that pgdata), create database "cmpgw" if missing, and write a libpq
 * conninfo ("host=<sockdir> dbname=cmpgw user=cmpgw") to conninfo.
 * Returns RC_OK, RC_INVAL (path unusable: characters, socket path over
 * 107 bytes), RC_NOTFOUND (no binaries, no os_user), RC_PERM (ownership
 * or access), RC_TIMEOUT, RC_IO/RC_ERR (a step failed; errbuf holds its
 * output tail), RC_DB (database creation failed).
 */
int store_embedded_start(const char *data_dir, const char *os_user, char *conninfo,
			 size_t conninfo_len, char *errbuf, size_t errlen) WUR;

/* pg_ctl stop -m fast (bounded: 60 s), whoever uses the server. RC_OK if
 * nothing was running. */
int store_embedded_stop(const char *data_dir, const char *os_user) WUR;

/*
 * Use of the cluster by a cmpgw process (issue 11: a process stops only a
 * PostgreSQL it started, and never one another process still uses).
 * Every process using the embedded server holds a shared flock() on
 * <data_dir>/cmpgw-owner.lock for as long as it uses it; stopping takes
 * the lock exclusively, so nobody stops a server in use, and a process
 * starting meanwhile waits until the stop is over, then starts it again.
 * The lock goes with the process (also on kill -9); the postmaster never
 * inherits it.
 */
struct store_embedded;

/* Take the shared lock (waiting up to 120 s for a stop in progress), then
 * start or reuse the server as store_embedded_start() does. NULL on
 * failure (errbuf says why, *rc the code). */
struct store_embedded *store_embedded_open(const char *data_dir, const char *os_user,
					   char *conninfo, size_t conninfo_len, int *rc,
					   char *errbuf, size_t errlen);
/* True if store_embedded_open started the server (false: it was running). */
bool store_embedded_started(const struct store_embedded *em);
/* Release the cluster. stop: stop the server too, unless another process
 * still uses it (then it is left running and that is logged at info).
 * Returns RC_OK or the stop's error (logged). NULL ok. */
int store_embedded_close(struct store_embedded *em, bool stop);

/* For `cmpgw db stop`: stop the server unless a cmpgw process uses it;
 * then RC_PERM, errbuf naming the process id(s) ("pid 1234"), unless
 * force (then it is stopped anyway, logged at warn). RC_OK if nothing was
 * running. */
int store_embedded_stop_unused(const char *data_dir, const char *os_user, bool force, char *errbuf,
			       size_t errlen) WUR;

#endif
