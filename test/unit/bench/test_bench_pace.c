/*
 * test/unit/bench/test_bench_pace.c - the open-loop schedule of cmpbench
 * run --rate: evenly spaced start times, the exact number of starts in a
 * window, bounded catch-up, the wait until the next start. No clock.
 */
#include <stdbool.h>

#include "test/bench/bench_pace.h"
#include "test/unit/tap.h"

static bool near(double a, double b)
{
	return a - b < 1e-12 && b - a < 1e-12;
}

/* Handle n starts (as the driver does, starting or skipping each). */
static void handle(struct bench_pace *p, long n)
{
	p->handled += n;
}

int main(void)
{
	struct bench_pace p;

	bench_pace_init(&p, 100, 1.0, 0);
	is_int(p.total, 100, "100/s over 1 s: starts at 0, 0.01, ..., 0.99 (100 of them)");
	ok(near(bench_pace_time(&p, 0), 0) && near(bench_pace_time(&p, 1), 0.01) &&
		   near(bench_pace_time(&p, 99), 0.99),
	   "start i is due at i / rate");
	is_int(bench_pace_due(&p, 0, 8), 1, "at 0 s the first start is due");
	handle(&p, 1);
	is_int(bench_pace_due(&p, 0.0099, 8), 0, "nothing more before 10 ms");
	ok(near(bench_pace_wait(&p, 0.004), 0.006), "the next start is 6 ms away at 4 ms");
	is_int(bench_pace_due(&p, 0.01, 8), 1, "at exactly 10 ms the second is due");
	handle(&p, 1);
	is_int(bench_pace_due(&p, 0.1, 8), 8,
	       "9 due at 100 ms after a stall: a burst of 8 at most");
	is_int(bench_pace_due(&p, 0.1, 0), 9, "without a bound: all 9");
	handle(&p, 8);
	ok(near(bench_pace_wait(&p, 0.1), 0), "the ninth is still due: wait 0");
	is_int(bench_pace_due(&p, 0.1, 8), 1, "and it comes next");
	handle(&p, 1);
	is_int(bench_pace_due(&p, 5.0, 0), 89, "long after the window: only the rest (89)");
	handle(&p, 89);
	is_int(bench_pace_due(&p, 5.0, 0), 0, "schedule exhausted: nothing due");
	ok(bench_pace_wait(&p, 5.0) < 0, "schedule exhausted: wait -1");

	bench_pace_init(&p, 3, 1.0, 0);
	is_int(p.total, 3, "3/s over 1 s: 0, 1/3, 2/3");
	bench_pace_init(&p, 3, 1.01, 0);
	is_int(p.total, 4, "3/s over 1.01 s: 1 s is in the window too");
	bench_pace_init(&p, 0.5, 10, 0);
	is_int(p.total, 5, "0.5/s over 10 s: 0, 2, 4, 6, 8");
	bench_pace_init(&p, 1000, 10, 0);
	is_int(p.total, 10000, "1000/s over 10 s: 10,000 starts");
	bench_pace_init(&p, 1000, 10, 250);
	is_int(p.total, 250, "--count bounds the schedule");
	is_int(bench_pace_due(&p, 9.0, 0), 250, "and what is due");
	bench_pace_init(&p, 0.1, 1, 0);
	is_int(p.total, 1, "a rate below 1/window still starts once, at 0");
	bench_pace_init(&p, 0, 10, 0);
	is_int(p.total, 0, "rate 0: no schedule");
	ok(bench_pace_wait(&p, 0) < 0, "rate 0: nothing to wait for");
	bench_pace_init(&p, 100, -1, 0);
	is_int(p.total, 0, "negative window: no schedule");

	/* decimal rates whose period is not exact in binary */
	bench_pace_init(&p, 0.3 * 10, 1, 0);
	long sum = 0;
	for (int ms = 0; ms <= 1500; ms++) {
		long d = bench_pace_due(&p, ms / 1000.0, 0);
		sum += d;
		handle(&p, d);
	}
	is_int(sum, 3, "stepping 1 ms at a time hands out each start exactly once");
	bench_pace_init(&p, 700, 2, 0);
	sum = 0;
	for (int step = 0; step <= 2100; step++) {
		long d = bench_pace_due(&p, step / 1000.0, BENCH_PACE_BURST);
		sum += d;
		handle(&p, d);
	}
	is_int(sum, 1400, "700/s over 2 s in 1 ms steps with bursts of 8: 1400 starts");
	return tap_done();
}
