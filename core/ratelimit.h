/*
 * core/ratelimit.h - event counters per key over fixed windows, in a table
 * of fixed size: whatever keys a client cycles through, memory stays at
 * RATELIMIT_SLOTS entries.
 *
 * A key's window starts with its first event and lasts window_s seconds;
 * the next event after that starts a new window. The table is
 * set-associative (RATELIMIT_WAYS entries per hash set, the hash keyed by
 * random bytes drawn at creation): a new key takes a free entry of its set,
 * or one whose window is over, or else evicts the entry of the set whose
 * window started first.
 *
 * Not locked: one table belongs to one thread (cmpgw: one per worker).
 * Times are seconds from any monotonic clock, passed by the caller.
 */
#ifndef CMPGW_CORE_RATELIMIT_H
#define CMPGW_CORE_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_SLOTS	  4096
#define RATELIMIT_WAYS	  8
#define RATELIMIT_KEY_MAX 80 /* longer keys are truncated */

struct ratelimit;

/* New empty table; NULL if out of memory or window_s < 1. */
struct ratelimit *ratelimit_new(int window_s);
void ratelimit_free(struct ratelimit *rl);

/* Events counted for key in its window running at now; 0 if none. */
unsigned ratelimit_count(const struct ratelimit *rl, const char *key, int64_t now);

/*
 * Count one event for key at now; returns the count in the running window,
 * this event included. When this event starts a new window for a key
 * whose previous window is over, *ended (if not NULL) gets that window's
 * count, else 0.
 */
unsigned ratelimit_hit(struct ratelimit *rl, const char *key, int64_t now, unsigned *ended);

/* Callback of ratelimit_expire: key and the count of its ended window. */
typedef void (*ratelimit_ended_cb)(void *arg, const char *key, unsigned count);

/* Drop every entry whose window is over at now, calling cb (if not NULL)
 * for each first. */
void ratelimit_expire(struct ratelimit *rl, int64_t now, ratelimit_ended_cb cb, void *arg);

/* Entries in use (for tests). */
unsigned ratelimit_size(const struct ratelimit *rl);

#endif
