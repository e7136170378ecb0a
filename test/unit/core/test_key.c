/*
 * test/unit/core/test_key.c - key_load, key_probe, key_unavailable: PEM
 * files (mode, encryption), pkcs11: URIs refused before any module is
 * touched (a PIN in the URI, overlong), a module that does not load; and,
 * when SoftHSM2 is installed, a real token made here: the key loads, signs,
 * verifies with its public half, signs from 4 threads at once, and a wrong
 * PIN or a missing object get their exact message without the PIN.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/cfg.h"
#include "core/key.h"
#include "test/unit/tap.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define PIN	"52719930"
#define URI	"pkcs11:token=unit;object=k;type=private"

static char dir[] = "/tmp/cmpgw-test-key-XXXXXX";

static const char *path_of(const char *name)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

/* key_load refuses ref with exactly want */
static void refused(struct cfg *c, const char *ref, const char *want, const char *what)
{
	char err[2048] = "";
	EVP_PKEY *k = key_load(c, ref, "ca.issuing_key", err, sizeof(err));

	ok(!k && strcmp(err, want) == 0, "%s", what);
	if (k || strcmp(err, want) != 0)
		printf("#   got \"%s\"\n#  want \"%s\"\n", err, want);
	ok(!strstr(err, PIN), "%s: no PIN in the message", what);
	EVP_PKEY_free(k);
}

static void write_key(const char *name, EVP_PKEY *k, const EVP_CIPHER *enc, mode_t mode)
{
	FILE *f = fopen(path_of(name), "w");

	if (f) {
		PEM_write_PrivateKey(f, k, enc, (unsigned char *)"pass", enc ? 4 : 0, NULL, NULL);
		fclose(f);
	}
	chmod(path_of(name), mode);
}

static bool verifies(EVP_PKEY *k)
{
	static const unsigned char m[] = "to be signed";
	unsigned char sig[512];
	size_t len = sizeof(sig);
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
	bool good = s && v && EVP_DigestSignInit_ex(s, NULL, "SHA256", NULL, NULL, k, NULL) == 1 &&
		    EVP_DigestSign(s, sig, &len, m, sizeof(m)) == 1 &&
		    EVP_DigestVerifyInit_ex(v, NULL, "SHA256", NULL, NULL, k, NULL) == 1 &&
		    EVP_DigestVerify(v, sig, len, m, sizeof(m)) == 1;

	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(v);
	return good;
}

static void test_files(struct cfg *c)
{
	EVP_PKEY *gen = EVP_EC_gen("P-256"), *k;
	char err[PATH_MAX + 256] = "", want[PATH_MAX + 256];

	ok(gen != NULL, "generated a P-256 key");
	write_key("good.pem", gen, NULL, 0600);
	write_key("open.pem", gen, NULL, 0644);
	write_key("enc.pem", gen, EVP_aes_128_cbc(), 0600);
	k = key_load(c, path_of("good.pem"), "ca.issuing_key", err, sizeof(err));
	ok(k && EVP_PKEY_eq(k, gen) == 1, "PEM file key loads and matches");
	is_int(key_probe(k), 0, "key_probe on a file key: 0");
	ok(!key_unavailable(k), "key_unavailable: false for a file key");
	ok(!key_is_pkcs11(path_of("good.pem")) && key_is_pkcs11(URI) && !key_is_pkcs11("pkcs1:x"),
	   "key_is_pkcs11 tells pkcs11: URIs from paths");
	snprintf(want, sizeof(want),
		 "ca.issuing_key: %s: permissions 0644 allow group/other access (need 0600 or "
		 "stricter)",
		 path_of("open.pem"));
	refused(c, path_of("open.pem"), want, "group/other-readable PEM refused");
	snprintf(want, sizeof(want), "ca.issuing_key: %s: no unencrypted PEM private key found",
		 path_of("enc.pem"));
	refused(c, path_of("enc.pem"), want, "encrypted PEM refused");
	EVP_PKEY_free(k);
	EVP_PKEY_free(gen);
}

static void test_uris(struct cfg *c)
{
	char longuri[1200];

	refused(c, URI "?pin-value=" PIN,
		"ca.issuing_key: put the PIN in pkcs11.pin_file or pkcs11.pin_env, not in the URI",
		"pin-value in the query refused");
	refused(c, "pkcs11:token=unit;pin-value=" PIN ";object=k",
		"ca.issuing_key: put the PIN in pkcs11.pin_file or pkcs11.pin_env, not in the URI",
		"pin-value in the path refused");
	refused(c, URI "?pin-source=file:/etc/pin",
		"ca.issuing_key: put the PIN in pkcs11.pin_file or pkcs11.pin_env, not in the URI",
		"pin-source refused");
	memset(longuri, 'a', sizeof(longuri) - 1);
	longuri[sizeof(longuri) - 1] = '\0';
	memcpy(longuri, "pkcs11:", 7);
	refused(c, longuri, "ca.issuing_key: pkcs11: URI longer than 1024 bytes",
		"overlong URI refused");
}

/* Before any module is loaded (the process's module is not fixed yet). */
static void test_bad_module(struct cfg *c)
{
	char want[512];

	c->p11_module = (char *)path_of("good.pem");
	snprintf(want, sizeof(want),
		 "ca.issuing_key: PKCS#11 module %s/good.pem: %s/good.pem: invalid ELF header", dir,
		 dir);
	refused(c, URI, want, "a module that is no shared object: named");
	c->p11_module = "/lib/x86_64-linux-gnu/libc.so.6";
	if (access(c->p11_module, R_OK) == 0)
		refused(c, URI,
			"ca.issuing_key: PKCS#11 module /lib/x86_64-linux-gnu/libc.so.6: not a "
			"PKCS#11 module (no C_GetFunctionList)",
			"a shared object that is no PKCS#11 module: named");
	c->p11_module = NULL;
}

static bool make_token(void)
{
	char cmd[PATH_MAX * 2 + 512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/tokens", dir);
	if (access(SOFTHSM, R_OK) != 0 || mkdir(cmd, 0700) != 0 ||
	    !(f = fopen(path_of("softhsm2.conf"), "w")))
		return false;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\n", dir);
	fclose(f);
	setenv("SOFTHSM2_CONF", path_of("softhsm2.conf"), 1);
	snprintf(cmd, sizeof(cmd),
		 "softhsm2-util --init-token --free --label unit --pin %s --so-pin 12345678 "
		 ">/dev/null 2>&1 && pkcs11-tool --module %s --token-label unit --login --pin %s "
		 "--keypairgen --key-type EC:prime256v1 --label k --id 01 --sensitive >/dev/null "
		 "2>&1 && pkcs11-tool --module %s --token-label unit --login --pin %s "
		 "--keypairgen --key-type rsa:2048 --label r --id 02 --sensitive >/dev/null 2>&1",
		 PIN, SOFTHSM, PIN, SOFTHSM, PIN);
	return system(cmd) == 0;
}

struct signer {
	EVP_PKEY *k;
	int good;
};

static void *sign_many(void *arg)
{
	struct signer *s = arg;

	for (int i = 0; i < 200; i++)
		s->good += verifies(s->k);
	return NULL;
}

/* An RSA token key: PKCS#1 v1.5 and PSS signatures verify. */
static void test_rsa(struct cfg *c)
{
	static const unsigned char m[] = "to be signed";
	unsigned char sig[512];
	size_t len = sizeof(sig);
	char err[1024] = "";
	EVP_PKEY *k = key_load(c, "pkcs11:token=unit;object=r;type=private", "ca.cmp_key", err,
			       sizeof(err));
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();

	ok(k && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) == 2048, "RSA token key loads (%s)",
	   k ? "RSA" : err);
	ok(k && verifies(k), "RSA token key: PKCS#1 v1.5 signature verifies");
	ok(k && s && v && EVP_DigestSignInit_ex(s, &pc, "SHA256", NULL, NULL, k, NULL) == 1 &&
		   EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
		   EVP_DigestSign(s, sig, &len, m, sizeof(m)) == 1 &&
		   EVP_DigestVerifyInit_ex(v, &pc, "SHA256", NULL, NULL, k, NULL) == 1 &&
		   EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
		   EVP_DigestVerify(v, sig, len, m, sizeof(m)) == 1,
	   "RSA token key: PSS signature verifies");
	EVP_MD_CTX_free(s);
	EVP_MD_CTX_free(v);
	EVP_PKEY_free(k);
}

static void test_token(struct cfg *c)
{
	struct signer s[4];
	pthread_t th[4];
	char err[1024] = "";
	EVP_PKEY *k;
	int good = 0;

	c->p11_module = SOFTHSM;
	c->p11_pin_env = "CMPGW_UNIT_PIN";
	refused(c, URI,
		"ca.issuing_key: pkcs11.pin_env: the environment variable CMPGW_UNIT_PIN is not "
		"set",
		"token: PIN variable unset");
	/* a wrong PIN first: once logged in, libp11 does not log in again */
	setenv("CMPGW_UNIT_PIN", "00000000", 1);
	refused(c, URI, "ca.issuing_key: " URI ": the token refused the PIN (CKR_PIN_INCORRECT)",
		"token: wrong PIN named by its CKR code");
	setenv("CMPGW_UNIT_PIN", PIN, 1);
	refused(c, "pkcs11:token=unit;object=nope;type=private",
		"ca.issuing_key: pkcs11:token=unit;object=nope;type=private: no private key object "
		"matches",
		"token: URI naming no object");
	refused(c, "pkcs11:token=nosuch;object=k;type=private",
		"ca.issuing_key: pkcs11:token=nosuch;object=k;type=private: no token labelled "
		"\"nosuch\" (tokens present: \"unit\")",
		"token: URI naming a missing token");
	k = key_load(c, URI, "ca.issuing_key", err, sizeof(err));
	ok(k && EVP_PKEY_is_a(k, "EC"), "token key loads (%s)", k ? "EC" : err);
	if (!k)
		return;
	is_int(key_probe(k), 0, "key_probe on a token key: 0");
	ok(!key_unavailable(k), "key_unavailable: false while the token answers");
	ok(verifies(k), "token key signs; its public half verifies");
	for (int i = 0; i < 4; i++) {
		s[i] = (struct signer){ k, 0 };
		pthread_create(&th[i], NULL, sign_many, &s[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		good += s[i].good;
	}
	is_int(good, 800, "4 threads x 200 signatures with the token key at once: all verify");
	test_rsa(c);
	c->p11_module = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";
	refused(c, URI,
		"ca.issuing_key: pkcs11.module: the module cannot change while cmpgw runs (was "
		"/usr/lib/softhsm/libsofthsm2.so)",
		"another module in the same process: refused");
	EVP_PKEY_free(k);
}

int main(void)
{
	char cmd[PATH_MAX + 16];
	struct cfg c;

	memset(&c, 0, sizeof(c));
	ok(mkdtemp(dir) != NULL, "temporary directory %s", dir);
	test_files(&c);
	test_uris(&c);
	test_bad_module(&c);
	if (make_token())
		test_token(&c);
	else
		printf("ok %d - # SKIP SoftHSM2 not installed\n", ++tap_n);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ok(system(cmd) == 0, "removed %s", dir);
	return tap_done();
}
