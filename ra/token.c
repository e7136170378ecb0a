/*
 * ra/token.c - token references, secrets and their sealing at rest
 * (AES-256-GCM, NIST SP 800-38D: 96-bit random nonce, 128-bit tag).
 */
#include "ra/token.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SEAL_VERSION  0x01
#define NONCE_LEN     12
#define TAG_LEN	      16
#define SEAL_OVERHEAD (1 + NONCE_LEN + TAG_LEN)
#define SECRET_MAX    1024

int ra_token_generate(char ref[RA_TOKEN_REF_LEN + 1], char secret[RA_TOKEN_SECRET_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";
	unsigned char rnd[RA_TOKEN_REF_LEN / 2], sec[RA_TOKEN_SECRET_LEN * 3 / 4];
	int rc = RC_CRYPTO;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || RAND_priv_bytes(sec, sizeof(sec)) != 1)
		goto out;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		ref[2 * i] = hx[rnd[i] >> 4];
		ref[2 * i + 1] = hx[rnd[i] & 15];
	}
	ref[RA_TOKEN_REF_LEN] = '\0';
	/* 18 bytes encode to 24 characters without padding; then base64url
	 * (RFC 4648 5) so that the secret needs no quoting in a shell. */
	if (EVP_EncodeBlock((unsigned char *)secret, sec, (int)sizeof(sec)) != RA_TOKEN_SECRET_LEN)
		goto out;
	for (char *p = secret; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	rc = 0;
out:
	OPENSSL_cleanse(sec, sizeof(sec));
	if (rc != 0) {
		OPENSSL_cleanse(secret, RA_TOKEN_SECRET_LEN + 1);
		memset(ref, 0, RA_TOKEN_REF_LEN + 1);
	}
	return rc;
}

bool ra_token_ref_ok(const unsigned char *p, size_t len)
{
	static const char ok[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

	if (!p || len < 1 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\0' || !strchr(ok, p[i]))
			return false;
	return true;
}

bool ra_token_identity_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > RA_TOKEN_IDENTITY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* One AES-256-GCM pass; enc selects the direction. tag is written when
 * sealing, checked when opening. Returns 0, RC_CRYPTO. */
static int gcm(int enc, const unsigned char *key, const unsigned char *nonce, const char *ad,
	       const unsigned char *in, size_t len, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, rc = RC_CRYPTO;

	if (!ctx || len > INT32_MAX ||
	    EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)ad, (int)strlen(ad)) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int ra_token_seal(const unsigned char key[RA_TOKEN_KEY_LEN], const char *ref,
		  const unsigned char *secret, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char *buf = NULL;
	int rc;

	if (!key || !ref || !ref[0] || !secret || len < 1 || len > SECRET_MAX || !out || !outlen)
		return RC_INVAL;
	if (!(buf = OPENSSL_malloc(len + SEAL_OVERHEAD)))
		return RC_NOMEM;
	buf[0] = SEAL_VERSION;
	if (RAND_bytes(buf + 1, NONCE_LEN) != 1) {
		rc = RC_CRYPTO;
		goto out;
	}
	rc = gcm(1, key, buf + 1, ref, secret, len, buf + 1 + NONCE_LEN, buf + 1 + NONCE_LEN + len);
	if (rc == 0) {
		*out = buf;
		*outlen = len + SEAL_OVERHEAD;
		buf = NULL;
	}
out:
	OPENSSL_free(buf);
	return rc;
}

int ra_token_open(const unsigned char key[RA_TOKEN_KEY_LEN], const char *ref,
		  const unsigned char *blob, size_t bloblen, unsigned char **secret, size_t *len)
{
	unsigned char *buf = NULL;
	size_t n;
	int rc;

	if (!key || !ref || !blob || !secret || !len)
		return RC_INVAL;
	if (bloblen <= SEAL_OVERHEAD || bloblen > SECRET_MAX + SEAL_OVERHEAD ||
	    blob[0] != SEAL_VERSION)
		return RC_DECODE;
	n = bloblen - SEAL_OVERHEAD;
	if (!(buf = OPENSSL_malloc(n)))
		return RC_NOMEM;
	rc = gcm(0, key, blob + 1, ref, blob + 1 + NONCE_LEN, n, buf,
		 (unsigned char *)(blob + 1 + NONCE_LEN + n));
	if (rc != 0) {
		OPENSSL_clear_free(buf, n);
		return rc;
	}
	*secret = buf;
	*len = n;
	return 0;
}

long ra_token_ttl_parse(const char *s)
{
	char *end = NULL;
	long v, mul = 1;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (*end == 's')
		mul = 1;
	else if (*end == 'm')
		mul = 60;
	else if (*end == 'h')
		mul = 3600;
	else if (*end == 'd')
		mul = 86400;
	else if (*end != '\0')
		return -1;
	if (*end && end[1] != '\0')
		return -1;
	if (v < 1 || v > 3650L * 86400 / mul)
		return -1;
	return v * mul;
}
