/*
 * test/bench/bench_pace.c - open-loop schedule arithmetic (bench_pace.h).
 */
#include "test/bench/bench_pace.h"

#include <math.h>

double bench_pace_time(const struct bench_pace *p, long i)
{
	return (double)i / p->rate;
}

/* Number of starts i with time(i) <= t (or < t when strict), i.e. the first
 * index not yet due; exact at the boundaries despite floating point. */
static long count_upto(const struct bench_pace *p, double t, int strict)
{
	double f = floor(t * p->rate);
	long k;

	if (t < 0)
		return 0;
	if (f > 1e15)
		return p->total;
	k = (long)f + 1;
	while (k > 0 && (strict ? bench_pace_time(p, k - 1) >= t : bench_pace_time(p, k - 1) > t))
		k--;
	while (strict ? bench_pace_time(p, k) < t : bench_pace_time(p, k) <= t)
		k++;
	return k;
}

void bench_pace_init(struct bench_pace *p, double rate, double window_s, long count)
{
	p->rate = rate;
	p->handled = 0;
	p->total = 0;
	if (!(rate > 0) || !(window_s > 0) || !isfinite(rate) || !isfinite(window_s))
		return;
	p->total = count_upto(p, window_s, 1);
	if (count > 0 && count < p->total)
		p->total = count;
}

long bench_pace_due(const struct bench_pace *p, double elapsed, int burst)
{
	long k = count_upto(p, elapsed, 0), due;

	if (k > p->total)
		k = p->total;
	due = k - p->handled;
	if (due < 0)
		due = 0;
	return burst > 0 && due > burst ? burst : due;
}

double bench_pace_wait(const struct bench_pace *p, double elapsed)
{
	double next;

	if (p->handled >= p->total)
		return -1;
	next = bench_pace_time(p, p->handled);
	return next <= elapsed ? 0 : next - elapsed;
}
