/*
 * test/bench/bench_fix.h - the device fixture set of the load generator:
 * vendor certificates and keys made once (a separate, cached step) and
 * loaded by every run.
 *
 * Layout of a fixture directory:
 *   devices.pem   per device: its vendor certificate, then its key (PKCS#8)
 *   serials.txt   the device serials, one a line (for `cmpgw serials import`)
 *   count         number of devices, written last (marks a complete set)
 *
 * Main thread only.
 */
#ifndef CMPGW_TEST_BENCH_FIX_H
#define CMPGW_TEST_BENCH_FIX_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/rc.h"

/* One simulated device; op/opkey: its operator certificate once enrolled. */
struct bench_dev {
	X509 *cert;
	EVP_PKEY *key;
	X509 *op;
	EVP_PKEY *opkey;
};

/*
 * Make n devices "<prefix><7 digits>" issued by ca/ca_key into dir, unless
 * dir already holds a complete set of at least n (then nothing is done).
 * 0, RC_IO, RC_CRYPTO, RC_NOMEM; messages on stderr.
 */
int bench_fix_make(const char *dir, int n, const char *prefix, X509 *ca, EVP_PKEY *ca_key) WUR;

/*
 * Load the first n devices of dir into *devs (caller frees with
 * bench_fix_free); n <= 0 loads all. *ndev is set. 0, RC_IO, RC_DECODE,
 * RC_NOMEM.
 */
int bench_fix_load(const char *dir, int n, struct bench_dev **devs, int *ndev) WUR;
void bench_fix_free(struct bench_dev *devs, int ndev);

#endif
