/*
 * test/unit/cmp/test_certhash.c - cmp/certhash.c: the certHash digest per
 * certificate signature algorithm (RFC 9810 5.3.18, RFC 9481 2) and the
 * CMP v3 hashAlg override.
 */
#include "cmp/certhash.h"
#include "helpers.h"
#include "tap.h"

/* certHash of a cert self-signed by a kt key with md equals X509_digest(want) */
static void test_default(const char *kt, const EVP_MD *sigmd, const EVP_MD *want,
			 unsigned int wantlen)
{
	EVP_PKEY *k = t_key(kt);
	X509 *c = t_cert(k, "cert", NULL, NULL, sigmd);
	unsigned char h[CMP_CERTHASH_MAX], ref[EVP_MAX_MD_SIZE];
	unsigned int hl = 0, rl = 0;
	const EVP_MD *md = cmp_certhash_md(c);

	ok(md != NULL && EVP_MD_get_type(md) == EVP_MD_get_type(want), "%s: digest %s", kt,
	   EVP_MD_get0_name(want));
	is_int(cmp_certhash_compute(c, NULL, h, &hl), 0, "%s: compute", kt);
	is_int(hl, wantlen, "%s: %u bytes", kt, wantlen);
	if (EVP_MD_get_flags(want) & EVP_MD_FLAG_XOF) {
		unsigned char *der = NULL;
		int n = i2d_X509(c, &der);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		MUST(n > 0 && ctx && EVP_DigestInit_ex(ctx, want, NULL) &&
		     EVP_DigestUpdate(ctx, der, (size_t)n) &&
		     EVP_DigestFinalXOF(ctx, ref, wantlen));
		rl = wantlen;
		EVP_MD_CTX_free(ctx);
		OPENSSL_free(der);
	} else {
		MUST(X509_digest(c, want, ref, &rl));
	}
	ok(hl == rl && memcmp(h, ref, hl) == 0, "%s: value matches reference", kt);
	X509_free(c);
	EVP_PKEY_free(k);
}

static void test_hashalg(void)
{
	EVP_PKEY *k = t_key("P-256");
	X509 *c = t_cert(k, "cert", NULL, NULL, EVP_sha256());
	X509_ALGOR *alg = X509_ALGOR_new();
	unsigned char h[CMP_CERTHASH_MAX], ref[EVP_MAX_MD_SIZE];
	unsigned int hl = 0, rl = 0;

	MUST(alg && X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha512), V_ASN1_UNDEF, NULL));
	MUST(X509_digest(c, EVP_sha512(), ref, &rl));
	is_int(cmp_certhash_compute(c, alg, h, &hl), 0, "hashAlg sha512 on an ecdsa-SHA256 cert");
	ok(hl == 64 && memcmp(h, ref, 64) == 0, "hashAlg override honoured");
	MUST(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_shake128), V_ASN1_UNDEF, NULL));
	is_int(cmp_certhash_compute(c, alg, h, &hl), 0, "hashAlg shake128");
	is_int(hl, 32, "shake128: d = 256 bits");
	MUST(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_md5), V_ASN1_UNDEF, NULL));
	is_int(cmp_certhash_compute(c, alg, h, &hl), RC_UNSUPPORTED, "hashAlg md5: RC_UNSUPPORTED");
	MUST(X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL));
	is_int(cmp_certhash_compute(c, alg, h, &hl), RC_UNSUPPORTED,
	       "hashAlg that is no digest: RC_UNSUPPORTED");
	is_int(cmp_certhash_compute(NULL, NULL, h, &hl), RC_INVAL, "NULL cert: RC_INVAL");
	ok(cmp_certhash_md(NULL) == NULL, "md of NULL cert");
	X509_ALGOR_free(alg);
	X509_free(c);
	EVP_PKEY_free(k);
}

int main(void)
{
	test_default("P-256", EVP_sha256(), EVP_sha256(), 32);
	test_default("P-384", EVP_sha384(), EVP_sha384(), 48);
	test_default("RSA", EVP_sha512(), EVP_sha512(), 64);
	test_default("ED25519", NULL, EVP_sha512(), 64);
	test_default("ED448", NULL, EVP_shake256(), 64);
	test_hashalg();
	return tap_done();
}
