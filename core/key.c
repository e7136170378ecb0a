/*
 * core/key.c - private keys from PEM files or PKCS#11 tokens (core/key.h).
 */
#include "core/key.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/cfg.h"
#include "core/file.h"
#include "core/p11.h"

bool key_is_pkcs11(const char *ref)
{
	return ref && strncmp(ref, "pkcs11:", 7) == 0;
}

/* Never prompt for a pass phrase: encrypted keys fail to load. */
static int no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return -1;
}

static EVP_PKEY *load_file(const char *path, const char *jp, char *err, size_t len)
{
	char msg[PATH_MAX + 128];
	FILE *fp = file_fopen(path, FILE_PRIVATE, msg, sizeof(msg));
	EVP_PKEY *k = NULL;

	if (!fp) {
		cfg_errf(err, len, jp, "%s", msg);
		return NULL;
	}
	if (!(k = PEM_read_PrivateKey(fp, NULL, no_pass, NULL)))
		cfg_errf(err, len, jp, "%s: no unencrypted PEM private key found", path);
	fclose(fp);
	return k;
}

EVP_PKEY *key_load(const struct cfg *c, const char *ref, const char *jp, char *err, size_t len)
{
	struct p11_src src = { c->p11_module, c->p11_pin_file, c->p11_pin_env };
	char msg[1536];
	EVP_PKEY *k;

	if (!key_is_pkcs11(ref))
		return load_file(ref, jp, err, len);
	if (!(k = p11_key_load(&src, ref, msg, sizeof(msg))))
		cfg_errf(err, len, jp, "%s", msg);
	return k;
}

int key_probe(EVP_PKEY *k)
{
	static const unsigned char msg[] = "cmpgw key probe";
	unsigned char sig[EVP_MAX_MD_SIZE + 1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* EdDSA signs the message itself: no digest */
	const char *md = EVP_PKEY_is_a(k, "ED25519") || EVP_PKEY_is_a(k, "ED448") ? NULL : "SHA256";
	int rc = RC_UNAVAIL;

	if (ctx && EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k, NULL) == 1 &&
	    EVP_DigestSign(ctx, sig, &siglen, msg, sizeof(msg) - 1) == 1)
		rc = 0;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

bool key_unavailable(const EVP_PKEY *k)
{
	return p11_key_is(k) && !p11_key_up(k);
}
