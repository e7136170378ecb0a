/*
 * test/bench/bench_args.c - cmpbench's command line (bench_args.h).
 */
#include "test/bench/bench_args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_args_defaults(struct bench_args *a)
{
	*a = (struct bench_args){ .prefix = "BENCH-",
				  .path = "/.well-known/cmp/p/3gpp",
				  .flow = "explicit",
				  .client = "own",
				  .conc = 1,
				  .duration = 10,
				  .timeout = 10 };
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return 2;
}

/* A whole-string finite number in [lo, hi] (lo excluded when open_lo). */
static bool num(const char *s, double lo, double hi, bool open_lo, double *out)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v > hi || v < lo || (open_lo && v == lo))
		return false;
	*out = v;
	return true;
}

/* A whole-string integer in [lo, hi]. */
static bool integer(const char *s, long lo, long hi, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static const char *const str_opts[] = { "--dir",    "--root", "--ca",	"--ca-key",
					"--prefix", "--path", "--flow", "--client",
					"--newkey", "--json", "--label" };

static const char **str_slot(struct bench_args *a, int i)
{
	const char **slots[] = { &a->dir,  &a->root,   &a->ca,	   &a->ca_key, &a->prefix, &a->path,
				 &a->flow, &a->client, &a->newkey, &a->json,   &a->label };
	return slots[i];
}

static int option(struct bench_args *a, const char *o, const char *v, char *err, size_t errlen)
{
	long l;
	double d;

	for (size_t i = 0; i < sizeof(str_opts) / sizeof(str_opts[0]); i++)
		if (strcmp(o, str_opts[i]) == 0) {
			*str_slot(a, (int)i) = v;
			return 0;
		}
	if (strcmp(o, "--chain") == 0) {
		if (a->nchain >= BENCH_ARGS_MAX_CHAIN)
			return fail(err, errlen, "--chain: at most %d certificates",
				    BENCH_ARGS_MAX_CHAIN);
		a->chain[a->nchain++] = v;
	} else if (strcmp(o, "--devices") == 0) {
		if (!integer(v, 1, 10000000, &l))
			return fail(err, errlen, "--devices: expected 1..10000000, got '%s'", v);
		a->devices = (int)l;
	} else if (strcmp(o, "--port") == 0) {
		if (!integer(v, 1, 65535, &l))
			return fail(err, errlen, "--port: expected 1..65535, got '%s'", v);
		a->port = (int)l;
	} else if (strcmp(o, "--conc") == 0) {
		if (!integer(v, 1, BENCH_ARGS_MAX_CONC, &l))
			return fail(err, errlen, "--conc: expected 1..%d, got '%s'",
				    BENCH_ARGS_MAX_CONC, v);
		a->conc = (int)l;
	} else if (strcmp(o, "--count") == 0) {
		if (!integer(v, 1, 1000000000L, &l))
			return fail(err, errlen, "--count: expected 1..1000000000, got '%s'", v);
		a->count = l;
	} else if (strcmp(o, "--duration") == 0) {
		if (!num(v, 0, 3600, true, &d))
			return fail(err, errlen,
				    "--duration: expected seconds in (0, 3600], got '%s'", v);
		a->duration = d;
	} else if (strcmp(o, "--timeout") == 0) {
		if (!num(v, 0, 600, true, &d))
			return fail(err, errlen,
				    "--timeout: expected seconds in (0, 600], got '%s'", v);
		a->timeout = d;
	} else if (strcmp(o, "--rate") == 0) {
		if (!num(v, 0, BENCH_ARGS_MAX_RATE, true, &d))
			return fail(err, errlen, "--rate: expected a number in (0, %.0f], got '%s'",
				    BENCH_ARGS_MAX_RATE, v);
		a->rate = d;
	} else {
		return fail(err, errlen, "unknown option '%s'", o);
	}
	return 0;
}

/* Checks that need all options. */
static int check_run(const struct bench_args *a, char *err, size_t errlen)
{
	if (!a->root)
		return fail(err, errlen, "run: --root is required");
	if (a->port == 0)
		return fail(err, errlen, "run: --port is required");
	if (strcmp(a->flow, "explicit") && strcmp(a->flow, "implicit") && strcmp(a->flow, "kur"))
		return fail(err, errlen, "--flow: expected explicit, implicit or kur, got '%s'",
			    a->flow);
	if (strcmp(a->client, "own") && strcmp(a->client, "ossl"))
		return fail(err, errlen, "--client: expected own or ossl, got '%s'", a->client);
	if (a->rate > 0 && strcmp(a->client, "own") != 0)
		return fail(err, errlen, "--rate: only with --client own");
	return 0;
}

int bench_args_parse(int argc, char **argv, struct bench_args *a, char *err, size_t errlen)
{
	if (errlen)
		err[0] = '\0';
	if (argc < 2)
		return 2;
	a->cmd = argv[1];
	if (strcmp(a->cmd, "fixture") != 0 && strcmp(a->cmd, "run") != 0)
		return fail(err, errlen, "unknown command '%s'", a->cmd);
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--keepalive") == 0) {
			a->keepalive = true;
			continue;
		}
		if (i + 1 >= argc)
			return fail(err, errlen, "%s: missing value", o);
		if (option(a, o, argv[++i], err, errlen) != 0)
			return 2;
	}
	if (!a->dir)
		return fail(err, errlen, "%s: --dir is required", a->cmd);
	return strcmp(a->cmd, "run") == 0 ? check_run(a, err, errlen) : 0;
}
