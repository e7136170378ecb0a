/*
 * test/unit/bench/test_bench_fix.c - the device fixture: made once, loaded
 * with one shared key decoder, every device's key matches its certificate;
 * a second make is a no-op; a damaged file is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/pki.h"
#include "test/bench/bench_fix.h"
#include "test/unit/tap.h"

int main(void)
{
	char dir[] = "/tmp/cmpbench-fix-XXXXXX", path[256];
	EVP_PKEY *ca_key = cmd_pki_key_new();
	struct cmd_pki_spec spec = {
		.subject = "CN=Vendor CA", .days = 30, .ca = true, .pathlen = -1
	};
	X509 *ca = cmd_pki_cert_new(&spec, ca_key, NULL, ca_key);
	struct bench_dev *devs = NULL;
	int n = 0;
	bool all = true;

	ok(mkdtemp(dir) && ca, "fixtures");
	is_int(bench_fix_make(dir, 5, "T-", ca, ca_key), 0, "5 devices made");
	is_int(bench_fix_load(dir, 0, &devs, &n), 0, "and loaded");
	is_int(n, 5, "all 5");
	for (int i = 0; i < n; i++)
		all = all && devs[i].cert && devs[i].key &&
		      X509_check_private_key(devs[i].cert, devs[i].key) == 1 &&
		      X509_verify(devs[i].cert, X509_get0_pubkey(ca)) == 1;
	ok(all, "every key matches its certificate, issued by the CA");
	ok(n == 5 && X509_cmp(devs[0].cert, devs[1].cert) != 0, "devices differ");
	bench_fix_free(devs, n);
	is_int(bench_fix_load(dir, 2, &devs, &n), 0, "the first 2 loaded");
	is_int(n, 2, "just 2");
	bench_fix_free(devs, n);
	is_int(bench_fix_make(dir, 3, "T-", ca, ca_key), 0, "a smaller set is already there");

	/* a key that is not PKCS#8 where one is expected */
	snprintf(path, sizeof(path), "%s/devices.pem", dir);
	FILE *f = fopen(path, "r+");
	char buf[8192];
	size_t len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[len] = '\0';
	char *k = strstr(buf, "-----BEGIN PRIVATE KEY-----");
	ok(k != NULL, "the file holds PKCS#8 keys");
	if (k && f) {
		k[30] ^= 0x01; /* one base64 character of the first key */
		rewind(f);
		fwrite(buf, 1, len, f);
	}
	if (f)
		fclose(f);
	devs = NULL;
	is_int(bench_fix_load(dir, 0, &devs, &n), RC_DECODE, "a damaged key: refused");
	ok(devs == NULL && n == 0, "and nothing is returned");

	const char *names[] = { "devices.pem", "serials.txt", "count" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return tap_done();
}
