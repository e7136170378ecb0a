/*
 * test/bench/main.c - cmpbench, cmpgw's load generator.
 *
 *   cmpbench fixture --dir D --devices N --ca CRT --ca-key KEY [--prefix P]
 *       make (once; cached) N device vendor certificates + keys and
 *       D/serials.txt
 *   cmpbench run --dir D --root CRT --port P [--chain CRT]... [--path P]
 *       [--conc N] [--duration S] [--count N] [--timeout S] [--devices N]
 *       [--flow explicit|implicit|kur] [--client own|ossl] [--newkey KEY]
 *       [--keepalive] [--json FILE|-] [--label TEXT]
 *       drive load at 127.0.0.1:P; prints throughput, latency p50/p90/p99/max
 *       and failures by reason (JSON with --json)
 *
 * Exit: 0 run without failures, 1 run with failures, 2 usage, 3 set-up error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "test/bench/bench_fix.h"
#include "test/bench/bench_run.h"

struct args {
	const char *dir, *root, *ca, *ca_key, *prefix, *path, *flow, *client, *newkey, *json,
		*label;
	const char *chain[8];
	int nchain, devices, port, conc;
	long count;
	double duration, timeout;
	bool keepalive;
};

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!x)
		fprintf(stderr, "cmpbench: cannot read certificate %s\n", path);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!k)
		fprintf(stderr, "cmpbench: cannot read key %s\n", path);
	return k;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const struct bench_result *r, double p)
{
	if (r->nlat == 0)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(r->nlat - 1) + 0.5);
	return r->lat_ms[i < r->nlat ? i : r->nlat - 1];
}

static long failures(const struct bench_result *r)
{
	long n = 0;
	for (int i = 1; i < BENCH_F_MAX; i++)
		n += r->fail[i];
	return n;
}

/* CPU ms this process spent per successful transaction (the client's share). */
static double client_cpu_ms(const struct bench_result *r)
{
	struct rusage u;
	if (getrusage(RUSAGE_SELF, &u) != 0 || r->ok == 0)
		return 0;
	return ((double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
		(double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3) /
	       (double)r->ok;
}

static void report(const struct args *a, const struct bench_result *r)
{
	double rate = r->elapsed_s > 0 ? (double)r->ok / r->elapsed_s : 0;
	FILE *j = NULL;

	printf("%s%s%s flow=%s client=%s conc=%d: %ld ok, %ld failed in %.2f s = %.1f/s; "
	       "latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f; client CPU %.3f ms/transaction",
	       a->label ? "[" : "", a->label ? a->label : "", a->label ? "] " : "", a->flow,
	       a->client, a->conc, r->ok, failures(r), r->elapsed_s, rate, pct(r, 50), pct(r, 90),
	       pct(r, 99), pct(r, 100), client_cpu_ms(r));
	for (int i = 1; i < BENCH_F_MAX; i++)
		if (r->fail[i])
			printf("; %s %ld", bench_fail_name(i), r->fail[i]);
	printf("\n");
	if (!a->json)
		return;
	j = strcmp(a->json, "-") == 0 ? stdout : fopen(a->json, "w");
	if (!j) {
		fprintf(stderr, "cmpbench: cannot write %s\n", a->json);
		return;
	}
	fprintf(j,
		"{\"label\":\"%s\",\"flow\":\"%s\",\"client\":\"%s\",\"conc\":%d,"
		"\"ok\":%ld,\"failed\":%ld,\"prep\":%ld,\"elapsed_s\":%.3f,\"rate\":%.1f,"
		"\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
		"\"client_cpu_ms\":%.3f,\"failures\":{",
		a->label ? a->label : "", a->flow, a->client, a->conc, r->ok, failures(r), r->prep,
		r->elapsed_s, rate, pct(r, 50), pct(r, 90), pct(r, 99), pct(r, 100),
		client_cpu_ms(r));
	for (int i = 1, first = 1; i < BENCH_F_MAX; i++)
		if (r->fail[i]) {
			fprintf(j, "%s\"%s\":%ld", first ? "" : ",", bench_fail_name(i),
				r->fail[i]);
			first = 0;
		}
	fprintf(j, "}}\n");
	if (j != stdout)
		fclose(j);
}

static int flow_of(const char *s)
{
	return strcmp(s, "implicit") == 0   ? BENCH_FLOW_IMPLICIT
	       : strcmp(s, "kur") == 0	    ? BENCH_FLOW_KUR
	       : strcmp(s, "explicit") == 0 ? BENCH_FLOW_EXPLICIT
					    : -1;
}

static int do_run(const struct args *a)
{
	struct bench_opts o = { .port = a->port,
				.path = a->path,
				.conc = a->conc,
				.duration_s = a->duration,
				.count = a->count,
				.timeout_s = a->timeout,
				.flow = flow_of(a->flow),
				.keepalive = a->keepalive,
				.progress = isatty(2) };
	struct bench_result r = { 0 };
	int rc = 3;

	if (o.flow < 0 || a->port <= 0 || !a->root || a->conc <= 0)
		return 2;
	if (!(o.root = load_cert(a->root)) || !(o.chain = sk_X509_new_null()))
		goto out;
	for (int i = 0; i < a->nchain; i++) {
		X509 *x = load_cert(a->chain[i]);
		if (!x || !sk_X509_push(o.chain, x)) {
			X509_free(x);
			goto out;
		}
	}
	if (a->newkey && !(o.fixed_newkey = load_key(a->newkey)))
		goto out;
	if (bench_fix_load(a->dir, a->devices, &o.devs, &o.ndev) != 0)
		goto out;
	if (a->conc > o.ndev) {
		fprintf(stderr, "cmpbench: --conc %d exceeds the %d devices loaded\n", a->conc,
			o.ndev);
		goto out;
	}
	if ((strcmp(a->client, "ossl") == 0 ? bench_run_ossl(&o, &r) : bench_run_event(&o, &r)) !=
	    0)
		goto out;
	qsort(r.lat_ms, r.nlat, sizeof(double), cmp_double);
	report(a, &r);
	rc = failures(&r) || r.ok == 0 ? 1 : 0;
out:
	free(r.lat_ms);
	bench_fix_free(o.devs, o.ndev);
	EVP_PKEY_free(o.fixed_newkey);
	sk_X509_pop_free(o.chain, X509_free);
	X509_free(o.root);
	return rc;
}

static int do_fixture(const struct args *a)
{
	X509 *ca = a->ca ? load_cert(a->ca) : NULL;
	EVP_PKEY *key = a->ca_key ? load_key(a->ca_key) : NULL;
	int rc = 3;

	if (ca && key && a->devices > 0 && a->devices <= 10000000)
		rc = bench_fix_make(a->dir, a->devices, a->prefix, ca, key) == 0 ? 0 : 3;
	X509_free(ca);
	EVP_PKEY_free(key);
	return rc;
}

/* Parse "--opt value" pairs; 0 or 2 (usage). */
static int parse(int argc, char **argv, struct args *a)
{
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--keepalive") == 0) {
			a->keepalive = true;
			continue;
		}
		if (!v)
			return 2;
		i++;
		if (strcmp(o, "--dir") == 0)
			a->dir = v;
		else if (strcmp(o, "--root") == 0)
			a->root = v;
		else if (strcmp(o, "--chain") == 0 && a->nchain < 8)
			a->chain[a->nchain++] = v;
		else if (strcmp(o, "--ca") == 0)
			a->ca = v;
		else if (strcmp(o, "--ca-key") == 0)
			a->ca_key = v;
		else if (strcmp(o, "--prefix") == 0)
			a->prefix = v;
		else if (strcmp(o, "--path") == 0)
			a->path = v;
		else if (strcmp(o, "--flow") == 0)
			a->flow = v;
		else if (strcmp(o, "--client") == 0)
			a->client = v;
		else if (strcmp(o, "--newkey") == 0)
			a->newkey = v;
		else if (strcmp(o, "--json") == 0)
			a->json = v;
		else if (strcmp(o, "--label") == 0)
			a->label = v;
		else if (strcmp(o, "--devices") == 0)
			a->devices = atoi(v);
		else if (strcmp(o, "--port") == 0)
			a->port = atoi(v);
		else if (strcmp(o, "--conc") == 0)
			a->conc = atoi(v);
		else if (strcmp(o, "--count") == 0)
			a->count = atol(v);
		else if (strcmp(o, "--duration") == 0)
			a->duration = atof(v);
		else if (strcmp(o, "--timeout") == 0)
			a->timeout = atof(v);
		else
			return 2;
	}
	return a->dir && a->duration > 0 && a->duration <= 3600 && a->timeout > 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
	struct args a = { .prefix = "BENCH-",
			  .path = "/.well-known/cmp/p/3gpp",
			  .flow = "explicit",
			  .client = "own",
			  .conc = 1,
			  .duration = 10,
			  .timeout = 10 };

	if (argc >= 2 && parse(argc, argv, &a) == 0) {
		if (strcmp(argv[1], "fixture") == 0)
			return do_fixture(&a);
		if (strcmp(argv[1], "run") == 0) {
			int rc = do_run(&a);
			if (rc != 2)
				return rc;
		}
	}
	fprintf(stderr,
		"usage: cmpbench fixture --dir D --devices N --ca CRT --ca-key KEY [--prefix P]\n"
		"       cmpbench run --dir D --root CRT --port P [--chain CRT]... [--path P]\n"
		"                [--conc N] [--duration S] [--count N] [--timeout S] [--devices "
		"N]\n"
		"                [--flow explicit|implicit|kur] [--client own|ossl]\n"
		"                [--newkey KEY] [--keepalive] [--json FILE|-] [--label TEXT]\n");
	return 2;
}
