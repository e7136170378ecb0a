/*
 * test/bench/bench_pace.h - the schedule of an open-loop run (cmpbench run
 * --rate R): start i (0, 1, 2, ...) is due at exactly i / R seconds after
 * the run's start, for every i / R < window (and i < count when count > 0).
 * The schedule never depends on how fast answers come back, so a slow
 * server cannot slow the offered load down (no coordinated omission); the
 * driver measures each enrollment's latency from its scheduled time.
 *
 * Pure arithmetic over its arguments: no clock, no I/O; any thread.
 */
#ifndef CMPGW_TEST_BENCH_PACE_H
#define CMPGW_TEST_BENCH_PACE_H

/* At most this many starts are handled per timer callback when the client
 * has fallen behind; the rest stay due and are handled on the next loop
 * iteration, after pending I/O (bounded catch-up bursts, nothing dropped). */
#define BENCH_PACE_BURST 8

struct bench_pace {
	double rate;  /* starts per second, > 0 */
	long total;   /* starts in the whole schedule */
	long handled; /* starts already started or counted as skipped */
};

/* Schedule of rate starts/s over window_s seconds, at most count starts
 * when count > 0. rate and window_s must be > 0 (else total is 0). */
void bench_pace_init(struct bench_pace *p, double rate, double window_s, long count);

/* Scheduled time of start i, in seconds after the run's start. */
double bench_pace_time(const struct bench_pace *p, long i);

/* How many unhandled starts are due at elapsed seconds, at most burst.
 * The caller handles them in order (p->handled += 1 for each). */
long bench_pace_due(const struct bench_pace *p, double elapsed, int burst);

/* Seconds from elapsed until the next unhandled start is due: 0 if one is
 * due already, -1 when every start of the schedule has been handled. */
double bench_pace_wait(const struct bench_pace *p, double elapsed);

#endif
