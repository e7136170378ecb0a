/*
 * test/unit/ra/test_token.c - ra/token: generation, AES-256-GCM sealing
 * round trip, tamper detection, binding to the reference (additional data),
 * wrong key, TTL parsing.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ra/token.h"
#include "test/unit/tap.h"

static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
static const unsigned char key2[32] = "0123456789abcdef0123456789abcdX";

static bool opens(const unsigned char *k, const char *ref, const unsigned char *b, size_t n,
		  int want)
{
	unsigned char *s = NULL;
	size_t len = 0;
	int rc = ra_token_open(k, ref, b, n, &s, &len);
	if (s)
		OPENSSL_clear_free(s, len);
	if (rc != want)
		printf("#   open rc %d, want %d\n", rc, want);
	return rc == want && (rc != 0 || len > 0);
}

static void test_generate(void)
{
	char ref[RA_TOKEN_REF_LEN + 1], ref2[RA_TOKEN_REF_LEN + 1];
	char sec[RA_TOKEN_SECRET_LEN + 1], sec2[RA_TOKEN_SECRET_LEN + 1];

	ok(ra_token_generate(ref, sec) == 0 && ra_token_generate(ref2, sec2) == 0, "generate");
	is_int(strlen(ref), 32, "ref is 32 hex characters");
	ok(strspn(ref, "0123456789abcdef") == 32, "ref is lower-case hex");
	is_int(strlen(sec), 24, "secret is 24 characters (144 bits)");
	ok(strspn(sec, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 24,
	   "secret is base64url");
	ok(strcmp(ref, ref2) != 0 && strcmp(sec, sec2) != 0, "two tokens differ");
	ok(ra_token_ref_ok((unsigned char *)ref, strlen(ref)), "generated ref is acceptable");
	ok(!ra_token_ref_ok((const unsigned char *)"a b", 3), "space refused in a ref");
	ok(!ra_token_ref_ok((const unsigned char *)"a\0b", 3), "NUL refused in a ref");
	ok(!ra_token_ref_ok((const unsigned char *)"", 0), "empty ref refused");
}

static void test_seal(void)
{
	const char *ref = "00112233445566778899aabbccddeeff";
	const unsigned char sec[] = "s3cr3t-s3cr3t-s3cr3t-abc";
	unsigned char *blob = NULL, *out = NULL;
	size_t n = 0, len = 0;

	ok(ra_token_seal(key, ref, sec, sizeof(sec) - 1, &blob, &n) == 0, "seal");
	is_int(n, sizeof(sec) - 1 + 29, "sealed = version + nonce + ciphertext + tag");
	ok(blob && memmem(blob, n, sec, sizeof(sec) - 1) == NULL,
	   "plaintext not in the sealed form");
	ok(ra_token_open(key, ref, blob, n, &out, &len) == 0 && len == sizeof(sec) - 1 &&
		   memcmp(out, sec, len) == 0,
	   "open returns the secret");
	OPENSSL_clear_free(out, len);

	/* tamper: every region of the sealed form is authenticated */
	size_t spots[] = { 1, 12, 13, n - 17, n - 1 };
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		blob[spots[i]] ^= 0x01;
		ok(opens(key, ref, blob, n, RC_CRYPTO), "flipped byte %zu refused", spots[i]);
		blob[spots[i]] ^= 0x01;
	}
	blob[0] = 0x02;
	ok(opens(key, ref, blob, n, RC_DECODE), "unknown version refused");
	blob[0] = 0x01;
	ok(opens(key, ref, blob, n - 1, RC_CRYPTO), "truncated tag refused");
	ok(opens(key, ref, blob, 29, RC_DECODE), "no ciphertext refused");
	ok(opens(key, "00112233445566778899aabbccddeefe", blob, n, RC_CRYPTO),
	   "sealed for another ref: refused (additional data)");
	ok(opens(key2, ref, blob, n, RC_CRYPTO), "wrong key refused");
	ok(opens(key, ref, blob, n, 0), "untouched still opens");

	unsigned char *b2 = NULL;
	size_t n2 = 0;
	ok(ra_token_seal(key, ref, sec, sizeof(sec) - 1, &b2, &n2) == 0 && n2 == n &&
		   memcmp(b2, blob, n) != 0,
	   "sealing twice uses a fresh nonce");
	OPENSSL_free(b2);
	ok(ra_token_seal(key, "", sec, 3, &b2, &n2) == RC_INVAL, "empty ref refused when sealing");
	OPENSSL_free(blob);
}

static void test_ttl(void)
{
	is_int(ra_token_ttl_parse("1h"), 3600, "1h");
	is_int(ra_token_ttl_parse("30m"), 1800, "30m");
	is_int(ra_token_ttl_parse("86400s"), 86400, "86400s");
	is_int(ra_token_ttl_parse("2d"), 172800, "2d");
	is_int(ra_token_ttl_parse("5"), 5, "plain seconds");
	is_int(ra_token_ttl_parse("0s"), -1, "zero refused");
	is_int(ra_token_ttl_parse("1hx"), -1, "trailing junk refused");
	is_int(ra_token_ttl_parse("-1h"), -1, "negative refused");
	is_int(ra_token_ttl_parse("99999d"), -1, "more than 10 years refused");
}

int main(void)
{
	test_generate();
	test_seal();
	test_ttl();
	return tap_done();
}
