/*
 * test/bench/bench_args.h - cmpbench's command line (see main.c for the
 * usage text). Values are checked here, with one message per mistake, so
 * that a bad run is refused before anything starts.
 *
 * Pure over its arguments (argv is borrowed, not copied); any thread.
 */
#ifndef CMPGW_TEST_BENCH_ARGS_H
#define CMPGW_TEST_BENCH_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define BENCH_ARGS_MAX_CHAIN 8
#define BENCH_ARGS_MAX_RATE  1000000.0
#define BENCH_ARGS_MAX_CONC  100000

struct bench_args {
	const char *cmd; /* "fixture" or "run" */
	const char *dir, *root, *ca, *ca_key, *prefix, *path, *flow, *client, *newkey, *json,
		*label;
	const char *chain[BENCH_ARGS_MAX_CHAIN];
	int nchain, devices, port, conc;
	long count;
	double duration, timeout;
	double rate; /* 0: closed loop; > 0: open loop, starts per second */
	bool keepalive;
};

/* The defaults: explicit flow, own client, conc 1, 10 s, timeout 10 s. */
void bench_args_defaults(struct bench_args *a);

/*
 * Parse argv[1..argc): the command ("fixture" or "run"), then options. On
 * success returns 0. On a usage error returns 2 and writes one line (no
 * newline) to err[0..errlen): the reason, e.g. "--rate: expected a number
 * in (0, 1000000], got 'x'", or "" when only the usage text applies.
 */
int bench_args_parse(int argc, char **argv, struct bench_args *a, char *err, size_t errlen);

#endif
