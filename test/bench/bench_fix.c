/*
 * test/bench/bench_fix.c - device fixture generation and loading.
 */
#include "test/bench/bench_fix.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/decoder.h>
#include <openssl/pem.h>

#include "cmd/pki.h"

static int count_of(const char *dir)
{
	char path[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/count", dir);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "%d", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

static int write_text(const char *dir, const char *name, const char *text, size_t len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (cmd_pki_write_file(path, text, len, 0644) != 0) {
		fprintf(stderr, "cmpbench: cannot write %s: %s\n", path, strerror(errno));
		return RC_IO;
	}
	return 0;
}

/* Append device i (cert, key) to pem and its serial to serials. */
static int make_one(int i, const char *prefix, X509 *ca, EVP_PKEY *ca_key, BIO *pem, BIO *serials)
{
	char serial[64];
	EVP_PKEY *key = cmd_pki_key_new();
	X509 *cert = NULL;
	int rc = RC_CRYPTO;

	snprintf(serial, sizeof(serial), "%s%07d", prefix, i);
	if (key && (cert = cmd_pki_device_cert_new(serial, "Acme Devices", key, ca, ca_key)) &&
	    PEM_write_bio_X509(pem, cert) &&
	    PEM_write_bio_PrivateKey(pem, key, NULL, NULL, 0, NULL, NULL) &&
	    BIO_printf(serials, "%s\n", serial) > 0)
		rc = 0;
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int bench_fix_make(const char *dir, int n, const char *prefix, X509 *ca, EVP_PKEY *ca_key)
{
	BIO *pem = BIO_new(BIO_s_mem()), *serials = BIO_new(BIO_s_mem());
	char *p = NULL, *count = NULL;
	long len;
	int rc = RC_NOMEM;

	if (count_of(dir) >= n) {
		fprintf(stderr, "cmpbench: %s holds %d devices already (cached)\n", dir,
			count_of(dir));
		rc = 0;
		goto out;
	}
	if (!pem || !serials)
		goto out;
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "cmpbench: cannot create %s: %s\n", dir, strerror(errno));
		rc = RC_IO;
		goto out;
	}
	for (int i = 1; i <= n; i++)
		if ((rc = make_one(i, prefix, ca, ca_key, pem, serials)) != 0)
			goto out;
	len = BIO_get_mem_data(pem, &p);
	if ((rc = write_text(dir, "devices.pem", p, (size_t)len)) != 0)
		goto out;
	len = BIO_get_mem_data(serials, &p);
	if ((rc = write_text(dir, "serials.txt", p, (size_t)len)) != 0)
		goto out;
	rc = RC_NOMEM;
	if (asprintf(&count, "%d\n", n) > 0)
		rc = write_text(dir, "count", count, strlen(count));
out:
	free(count);
	BIO_free(pem);
	BIO_free(serials);
	return rc;
}

/* The next PEM block of f, which must be named want; its DER in *der. */
static bool pem_next(FILE *f, const char *want, unsigned char **der, long *len)
{
	char *name = NULL, *header = NULL;
	bool ok = PEM_read(f, &name, &header, der, len) == 1 && strcmp(name, want) == 0 &&
		  header[0] == '\0';

	OPENSSL_free(name);
	OPENSSL_free(header);
	if (!ok) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	return ok;
}

/*
 * Device i from f: its certificate, then its PKCS#8 key. The keys go
 * through one decoder context made once (dctx, which writes to *slot):
 * making a decoder context costs OpenSSL 3.0 more than an ECDSA
 * verification, and PEM_read_PrivateKey makes one per key.
 */
static bool load_one(FILE *f, OSSL_DECODER_CTX *dctx, EVP_PKEY **slot, struct bench_dev *d)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	long len = 0;
	size_t left;

	if (!pem_next(f, PEM_STRING_X509, &der, &len))
		return false;
	p = der;
	d->cert = d2i_X509(NULL, &p, len);
	if (d->cert && p != der + len) {
		X509_free(d->cert);
		d->cert = NULL;
	}
	OPENSSL_free(der);
	if (!d->cert || !pem_next(f, PEM_STRING_PKCS8INF, &der, &len))
		return false;
	p = der;
	left = (size_t)len;
	*slot = NULL;
	if (OSSL_DECODER_from_data(dctx, &p, &left) == 1 && left == 0)
		d->key = *slot;
	else
		EVP_PKEY_free(*slot);
	*slot = NULL;
	OPENSSL_clear_free(der, (size_t)len);
	return d->key != NULL;
}

int bench_fix_load(const char *dir, int n, struct bench_dev **devs, int *ndev)
{
	char path[4096];
	int have = count_of(dir), rc = RC_DECODE;
	struct bench_dev *d = NULL;
	FILE *f = NULL;
	EVP_PKEY *slot = NULL;
	OSSL_DECODER_CTX *dctx = NULL;

	*devs = NULL;
	*ndev = 0;
	if (n <= 0 || n > have)
		n = have;
	snprintf(path, sizeof(path), "%s/devices.pem", dir);
	if (n <= 0 || !(f = fopen(path, "r"))) {
		fprintf(stderr, "cmpbench: no fixture in %s (run `cmpbench fixture` first)\n", dir);
		return RC_IO;
	}
	dctx = OSSL_DECODER_CTX_new_for_pkey(&slot, "DER", "PrivateKeyInfo", "EC", EVP_PKEY_KEYPAIR,
					     NULL, NULL);
	if (!dctx || !(d = calloc((size_t)n, sizeof(*d)))) {
		rc = RC_NOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (!load_one(f, dctx, &slot, &d[i])) {
			fprintf(stderr, "cmpbench: %s: device %d unreadable\n", path, i + 1);
			bench_fix_free(d, n);
			d = NULL;
			goto out;
		}
	}
	*devs = d;
	*ndev = n;
	rc = 0;
out:
	OSSL_DECODER_CTX_free(dctx);
	fclose(f);
	return rc;
}

void bench_fix_free(struct bench_dev *devs, int ndev)
{
	for (int i = 0; devs && i < ndev; i++) {
		X509_free(devs[i].cert);
		EVP_PKEY_free(devs[i].key);
		X509_free(devs[i].op);
		EVP_PKEY_free(devs[i].opkey);
	}
	free(devs);
}
