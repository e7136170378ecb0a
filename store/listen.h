/*
 * store/listen.h - a dedicated LISTEN connection driven by a libevent loop
 * (issue 11: registry changes reach every worker promptly).
 *
 * A store_listen owns one libpq connection, non-blocking from connect to
 * close, that runs LISTEN <channel> and calls cb(arg) on the loop thread:
 *  - once each time the LISTEN is (re)established, including the first
 *    time: notifications sent while the connection was down are lost, so
 *    the owner should re-read whatever it caches;
 *  - once per batch of notifications read from the socket (a burst read
 *    at once gives one call; payloads are ignored).
 * A lost connection is re-established with back-off (100 ms doubling to
 * 1 s). An idle connection is pinged every 30 s; no answer within 10 s
 * counts as lost (half-open TCP). Connection failures are logged (warn,
 * repeats at most every 30 s; the rest at debug level).
 *
 * Threads: every function, and cb, on base's loop thread only. cb must not
 * call store_listen_free().
 */
#ifndef CMPGW_STORE_LISTEN_H
#define CMPGW_STORE_LISTEN_H

struct event_base;
struct store_listen;

typedef void (*store_listen_cb)(void *arg);

/*
 * Start listening on base. conninfo: libpq connection string (copied);
 * channel: a PostgreSQL identifier (copied, quoted on use). The connection
 * is started at once; cb is first called when LISTEN has succeeded.
 * Returns NULL on bad arguments, a conninfo libpq cannot parse, or out of
 * memory (an unreachable server is not an error: it is retried).
 */
struct store_listen *store_listen_new(struct event_base *base, const char *conninfo,
				      const char *channel, store_listen_cb cb, void *arg);
/* Close the connection and free; cb is not called again. NULL is a no-op. */
void store_listen_free(struct store_listen *l);

#endif
