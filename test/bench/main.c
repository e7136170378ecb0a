/*
 * test/bench/main.c - cmpbench, cmpgw's load generator.
 *
 *   cmpbench fixture --dir D --devices N --ca CRT --ca-key KEY [--prefix P]
 *       make (once; cached) N device vendor certificates + keys and
 *       D/serials.txt
 *   cmpbench run --dir D --root CRT --port P [--chain CRT]... [--path P]
 *       [--conc N] [--duration S] [--count N] [--timeout S] [--devices N]
 *       [--flow explicit|implicit|kur] [--client own|ossl] [--newkey KEY]
 *       [--keepalive] [--json FILE|-] [--label TEXT] [--rate R]
 *       drive load at 127.0.0.1:P; prints throughput, latency p50/p90/p99/max
 *       and failures by reason (JSON with --json). --rate R: open loop, R
 *       new enrollments per second on a fixed schedule, --conc caps those
 *       in flight (skipped starts are counted), latency from the scheduled
 *       start (bench_pace.h)
 *
 * Exit: 0 run without failures, 1 run with failures, 2 usage, 3 set-up error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "test/bench/bench_args.h"
#include "test/bench/bench_fix.h"
#include "test/bench/bench_run.h"

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

/* CPU ms (user + system) this process has spent so far. */
static double cpu_ms(void)
{
	struct rusage u;
	if (getrusage(RUSAGE_SELF, &u) != 0)
		return 0;
	return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
	       (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

/* CPU ms this process spent per successful transaction (the client's
 * share), loading the fixture included. */
static double client_cpu_ms(const struct bench_result *r)
{
	return r->ok ? cpu_ms() / (double)r->ok : 0;
}

/* The same for the run alone (fixture loading and set-up excluded). */
static double client_run_cpu_ms(const struct bench_result *r)
{
	return r->ok ? r->cpu_run_ms / (double)r->ok : 0;
}

static void report(const struct bench_args *a, const struct bench_result *r)
{
	double rate = r->elapsed_s > 0 ? (double)r->ok / r->elapsed_s : 0;
	FILE *j = NULL;

	printf("%s%s%s flow=%s client=%s conc=%d: %ld ok, %ld failed in %.2f s = %.1f/s; "
	       "latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f; client CPU %.3f ms/transaction",
	       a->label ? "[" : "", a->label ? a->label : "", a->label ? "] " : "", a->flow,
	       a->client, a->conc, r->ok, failures(r), r->elapsed_s, rate, pct(r, 50), pct(r, 90),
	       pct(r, 99), pct(r, 100), client_cpu_ms(r));
	printf(" (run alone %.3f)", client_run_cpu_ms(r));
	if (strcmp(a->client, "own") == 0)
		printf("; signer chains validated %ld, found validated %ld; issued certificates "
		       "checked against a known CA %ld, path-validated %ld",
		       r->trust.signer_validations, r->trust.signer_hits, r->trust.issued_fast,
		       r->trust.issued_full);
	if (a->rate > 0)
		printf("; open loop at %.1f/s: %ld starts due, %ld skipped (conc %d in flight), "
		       "%ld late > 1 ms, max start lag %.2f ms",
		       a->rate, r->scheduled, r->skipped, a->conc, r->late, r->max_lag_ms);
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
		"\"client_cpu_ms\":%.3f,\"client_run_cpu_ms\":%.3f,\"target_rate\":%.1f,"
		"\"scheduled\":%ld,\"skipped_starts\":%ld,\"late_starts\":%ld,"
		"\"max_start_lag_ms\":%.3f,\"failures\":{",
		a->label ? a->label : "", a->flow, a->client, a->conc, r->ok, failures(r), r->prep,
		r->elapsed_s, rate, pct(r, 50), pct(r, 90), pct(r, 99), pct(r, 100),
		client_cpu_ms(r), client_run_cpu_ms(r), a->rate, r->scheduled, r->skipped, r->late,
		r->max_lag_ms);
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

static int do_run(const struct bench_args *a)
{
	struct bench_opts o = { .port = a->port,
				.path = a->path,
				.conc = a->conc,
				.duration_s = a->duration,
				.count = a->count,
				.timeout_s = a->timeout,
				.flow = flow_of(a->flow),
				.keepalive = a->keepalive,
				.progress = isatty(2),
				.rate = a->rate };
	struct bench_result r = { 0 };
	double cpu0;
	int rc = 3;

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
	cpu0 = cpu_ms();
	if ((strcmp(a->client, "ossl") == 0 ? bench_run_ossl(&o, &r) : bench_run_event(&o, &r)) !=
	    0)
		goto out;
	r.cpu_run_ms = cpu_ms() - cpu0;
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

static int do_fixture(const struct bench_args *a)
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

int main(int argc, char **argv)
{
	struct bench_args a;
	char err[256];

	bench_args_defaults(&a);
	if (bench_args_parse(argc, argv, &a, err, sizeof(err)) == 0) {
		if (strcmp(a.cmd, "fixture") == 0)
			return do_fixture(&a);
		int rc = do_run(&a);
		if (rc != 2)
			return rc;
	} else if (err[0]) {
		fprintf(stderr, "cmpbench: %s\n", err);
	}
	fprintf(stderr,
		"usage: cmpbench fixture --dir D --devices N --ca CRT --ca-key KEY [--prefix P]\n"
		"       cmpbench run --dir D --root CRT --port P [--chain CRT]... [--path P]\n"
		"                [--conc N] [--duration S] [--count N] [--timeout S] [--devices "
		"N]\n"
		"                [--flow explicit|implicit|kur] [--client own|ossl]\n"
		"                [--newkey KEY] [--keepalive] [--json FILE|-] [--label TEXT]\n"
		"                [--rate R]\n");
	return 2;
}
