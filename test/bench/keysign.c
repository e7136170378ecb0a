/*
 * test/bench/keysign.c - signatures per second and per-signature latency
 * of one private key as cmpgw loads it (core/key.c: a PEM file or a
 * pkcs11: URI through libp11's engine), from T threads at once; what a
 * worker waits for when it signs a certificate or a CMP answer inline.
 *
 * usage: keysign [--module SO] [--pin-file F] [--threads T] [--count N] KEY
 * Prints one line: key, threads, signatures, seconds, signatures/s, and
 * the median and p99 latency of one signature in ms. Never run by
 * `meson test` (timings are not tests; BENCHMARKS.md).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "core/cfg.h"
#include "core/key.h"

#define MAX_THREADS 64

struct job {
	EVP_PKEY *key;
	int count;
	double *lat; /* count entries, ms */
	int failed;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *run(void *arg)
{
	struct job *j = arg;
	static const unsigned char tbs[] = "a TBSCertificate stands here";

	for (int i = 0; i < j->count; i++) {
		unsigned char sig[512];
		size_t len = sizeof(sig);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		double t0 = now_ms();
		if (!ctx ||
		    EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, j->key, NULL) != 1 ||
		    EVP_DigestSign(ctx, sig, &len, tbs, sizeof(tbs) - 1) != 1)
			j->failed++;
		j->lat[i] = now_ms() - t0;
		EVP_MD_CTX_free(ctx);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "module", required_argument, NULL, 'm' },
					      { "pin-file", required_argument, NULL, 'p' },
					      { "threads", required_argument, NULL, 't' },
					      { "count", required_argument, NULL, 'n' },
					      { NULL, 0, NULL, 0 } };
	struct cfg c;
	struct job jobs[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	int threads = 1, count = 1000, o, failed = 0;
	char err[2048];
	EVP_PKEY *key;
	double *all, t0, secs;

	memset(&c, 0, sizeof(c));
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'm')
			c.p11_module = optarg;
		else if (o == 'p')
			c.p11_pin_file = optarg;
		else if (o == 't')
			threads = atoi(optarg);
		else if (o == 'n')
			count = atoi(optarg);
		else
			return 2;
	}
	if (optind != argc - 1 || threads < 1 || threads > MAX_THREADS || count < 1 ||
	    count > 1000000) {
		fprintf(stderr, "usage: keysign [--module SO] [--pin-file F] [--threads 1..64] "
				"[--count N] KEY\n");
		return 2;
	}
	if (!(key = key_load(&c, argv[optind], "key", err, sizeof(err)))) {
		fprintf(stderr, "keysign: %s\n", err);
		return 2;
	}
	if (!(all = calloc((size_t)threads * (size_t)count, sizeof(double))))
		return 1;
	t0 = now_ms();
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct job){ key, count, all + (size_t)i * (size_t)count, 0 };
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		failed += jobs[i].failed;
	}
	secs = (now_ms() - t0) / 1e3;
	qsort(all, (size_t)threads * (size_t)count, sizeof(double), cmp_double);
	printf("%s threads=%d signatures=%d failed=%d seconds=%.3f rate=%.0f/s median=%.3fms "
	       "p99=%.3fms\n",
	       EVP_PKEY_get0_type_name(key), threads, threads * count, failed, secs,
	       threads * count / secs, all[(size_t)threads * (size_t)count / 2],
	       all[(size_t)threads * (size_t)count * 99 / 100]);
	free(all);
	EVP_PKEY_free(key);
	return failed ? 1 : 0;
}
