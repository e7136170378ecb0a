/*
 * test/unit/cmp/test_prot.c - cmp/prot.c: signature and PBMAC protection,
 * checked against our verifier, OpenSSL's OSSL_CMP_validate_msg and the
 * stock openssl cmp client's requests.
 */
#include <openssl/cmp.h>

#include "cmp/prot.h"
#include "helpers.h"
#include "tap.h"

/* OpenSSL's own verdict on a protected message: signature with srv, or PBMAC with secret */
static int ossl_validates(const unsigned char *der, size_t len, X509 *srv, const char *secret)
{
	const unsigned char *p = der;
	OSSL_CMP_MSG *om = d2i_OSSL_CMP_MSG(NULL, &p, (long)len);
	OSSL_CMP_CTX *ctx = OSSL_CMP_CTX_new(NULL, NULL);
	int r = 0;

	if (om == NULL || ctx == NULL)
		goto out;
	if (srv != NULL && !OSSL_CMP_CTX_set1_srvCert(ctx, srv))
		goto out;
	if (secret != NULL &&
	    !OSSL_CMP_CTX_set1_secretValue(ctx, (const unsigned char *)secret, (int)strlen(secret)))
		goto out;
	r = OSSL_CMP_validate_msg(ctx, om);
out:
	OSSL_CMP_CTX_free(ctx);
	OSSL_CMP_MSG_free(om);
	return r;
}

/* Sign an ir with a key of type kt; verify with us and with OpenSSL */
static void test_sign_verify(const char *kt, const EVP_MD *certmd, int want_nid)
{
	EVP_PKEY *k = t_key(kt), *newkey = t_key("P-256");
	X509 *cert = t_cert(k, "device", NULL, NULL, certmd);
	CMPGW_MSG *m = t_ir(newkey), *d = NULL;
	unsigned char *der = NULL;
	int n;

	is_int(cmp_prot_sign(m, k), 0, "%s: sign", kt);
	is_int(OBJ_obj2nid(m->header->protectionAlg->algorithm), want_nid, "%s: protectionAlg %s",
	       kt, OBJ_nid2sn(want_nid));
	MUST((n = t_der(m, &der)) > 0 && (d = t_decode(der, (size_t)n)) != NULL);
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, cert), 0, "%s: our verifier accepts", kt);
	is_int(ossl_validates(der, (size_t)n, cert, NULL), 1, "%s: OpenSSL accepts", kt);
	ok(!cmp_prot_is_pbmac(d), "%s: not PBMAC", kt);

	/* a flipped bit in the signature value */
	d->protection->data[d->protection->length / 2] ^= 0x01;
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, cert), RC_CRYPTO, "%s: bad signature", kt);
	d->protection->data[d->protection->length / 2] ^= 0x01;

	/* a changed byte in the header (transactionID), as received */
	{
		unsigned char *hit = memmem(der, (size_t)n, "0123456789abcdef", 16);
		CMPGW_MSG *d2;

		MUST(hit != NULL);
		hit[3] ^= 0x01;
		MUST((d2 = t_decode(der, (size_t)n)) != NULL);
		is_int(cmp_prot_verify_sig(der, (size_t)n, d2, cert), RC_CRYPTO,
		       "%s: tampered header", kt);
		CMPGW_MSG_free(d2);
		hit[3] ^= 0x01;
	}
	OPENSSL_free(der);
	CMPGW_MSG_free(d);
	CMPGW_MSG_free(m);
	X509_free(cert);
	EVP_PKEY_free(newkey);
	EVP_PKEY_free(k);
}

static void test_wrong_keys_and_algs(void)
{
	EVP_PKEY *k = t_key("P-256"), *k2 = t_key("P-256"), *rsa = t_key("RSA");
	X509 *c2 = t_cert(k2, "other", NULL, NULL, EVP_sha256());
	X509 *crsa = t_cert(rsa, "rsa", NULL, NULL, EVP_sha256());
	X509 *c = t_cert(k, "device", NULL, NULL, EVP_sha256());
	CMPGW_MSG *m = t_ir(k2), *d;
	unsigned char *der = NULL;
	int n;

	MUST(cmp_prot_sign(m, k) == 0);
	MUST((n = t_der(m, &der)) > 0 && (d = t_decode(der, (size_t)n)) != NULL);
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, c2), RC_CRYPTO, "other EC key: RC_CRYPTO");
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, crsa), RC_CRYPTO,
	       "ecdsa alg with an RSA key: RC_CRYPTO");
	CMPGW_MSG_free(d);
	OPENSSL_free(der);

	/* ecdsa-with-SHA1 is not accepted (RFC 9481 3.2 lists SHA-2 only) */
	MUST(X509_ALGOR_set0(m->header->protectionAlg, OBJ_nid2obj(NID_ecdsa_with_SHA1),
			     V_ASN1_UNDEF, NULL));
	MUST((n = t_der(m, &der)) > 0 && (d = t_decode(der, (size_t)n)) != NULL);
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, c), RC_UNSUPPORTED,
	       "ecdsa-with-SHA1: RC_UNSUPPORTED");
	CMPGW_MSG_free(d);
	OPENSSL_free(der);

	/* no protection at all */
	ASN1_BIT_STRING_free(m->protection);
	m->protection = NULL;
	MUST((n = t_der(m, &der)) > 0 && (d = t_decode(der, (size_t)n)) != NULL);
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, c), RC_INVAL, "unprotected: RC_INVAL");
	CMPGW_MSG_free(d);
	OPENSSL_free(der);
	CMPGW_MSG_free(m);
	X509_free(c);
	X509_free(crsa);
	X509_free(c2);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k);
}

static void test_part_der(void)
{
	size_t len, plen = 0;
	unsigned char *der = t_read("ir_sig.der", &len), *part = NULL, *re = NULL;
	CMPGW_MSG *m = t_decode(der, len);
	CMPGW_PROTPART pp = { m->header, m->body };
	int n = i2d_CMPGW_PROTPART(&pp, &re);

	is_int(cmp_prot_part_der(der, len, &part, &plen), 0, "part_der of a fixture");
	ok(n > 0 && plen == (size_t)n && memcmp(part, re, plen) == 0,
	   "part_der equals the DER of ProtectedPart");
	OPENSSL_free(part);
	is_int(cmp_prot_part_der((const unsigned char *)"\x30\x80\x30\x00\xa0\x00\x00\x00", 8,
				 &part, &plen),
	       RC_DECODE, "indefinite length: RC_DECODE");
	is_int(cmp_prot_part_der((const unsigned char *)"\x30\x04\x30\x00\x04\x00", 6, &part,
				 &plen),
	       RC_DECODE, "body not context-tagged: RC_DECODE");
	is_int(cmp_prot_part_der(der, 10, &part, &plen), RC_DECODE, "truncated: RC_DECODE");
	is_int(cmp_prot_part_der((const unsigned char *)"\x30\x04\x30\x00\xbf\x1b\x00", 7, &part,
				 &plen),
	       RC_DECODE, "body tag 27: RC_DECODE");
	OPENSSL_free(re);
	CMPGW_MSG_free(m);
	free(der);
}

/* Requests of the stock openssl cmp client verify with the vendor certificate */
static void test_fixtures(void)
{
	static const char *const sig[] = { "ir_sig.der",  "ir_rsa_ed25519.der", "cr_sig.der",
					   "kur_sig.der", "p10cr_sig.der",	"rr_sig.der",
					   "genm_sig.der" };
	size_t len;
	unsigned char *der;
	CMPGW_MSG *m;
	X509 *signer;

	for (size_t i = 0; i < sizeof(sig) / sizeof(sig[0]); i++) {
		der = t_read(sig[i], &len);
		m = t_decode(der, len);
		signer = t_read_cert(strstr(sig[i], "rsa") ? "vendor_rsa.crt" : "vendor.crt");
		MUST(m != NULL);
		is_int(cmp_prot_verify_sig(der, len, m, signer), 0,
		       "%s: openssl cmp signature verifies", sig[i]);
		X509_free(signer);
		CMPGW_MSG_free(m);
		free(der);
	}
	der = t_read("ir_pbm.der", &len);
	m = t_decode(der, len);
	MUST(m != NULL);
	ok(cmp_prot_is_pbmac(m), "ir_pbm: is PBMAC");
	is_int(cmp_prot_verify_pbmac(der, len, m, (const unsigned char *)"fixture-secret", 14,
				     10000),
	       0, "ir_pbm: openssl cmp PBMAC (sha256, hmac-sha1) verifies");
	is_int(cmp_prot_verify_pbmac(der, len, m, (const unsigned char *)"fixture-secreT", 14,
				     10000),
	       RC_CRYPTO, "ir_pbm: wrong secret: RC_CRYPTO");
	is_int(cmp_prot_verify_pbmac(der, len, m, (const unsigned char *)"fixture-secret", 14, 499),
	       RC_INVAL, "ir_pbm: 500 iterations > max 499: RC_INVAL");
	is_int(cmp_prot_verify_sig(der, len, m, NULL), RC_INVAL, "verify_sig without signer");
	CMPGW_MSG_free(m);
	free(der);
}

static void test_pbmac(void)
{
	static const unsigned char secret[] = "one-time-token";
	EVP_PKEY *k = t_key("P-256");
	CMPGW_MSG *m = t_ir(k), *d;
	unsigned char *der = NULL;
	int n;

	is_int(cmp_prot_pbmac(m, secret, sizeof(secret) - 1, 99), RC_INVAL,
	       "pbmac: 99 iterations refused");
	is_int(cmp_prot_pbmac(m, secret, sizeof(secret) - 1, 1000), 0, "pbmac: protect");
	MUST((n = t_der(m, &der)) > 0 && (d = t_decode(der, (size_t)n)) != NULL);
	is_int(cmp_prot_verify_pbmac(der, (size_t)n, d, secret, sizeof(secret) - 1, 1000), 0,
	       "pbmac: our verifier accepts");
	is_int(ossl_validates(der, (size_t)n, NULL, "one-time-token"), 1, "pbmac: OpenSSL accepts");
	is_int(cmp_prot_verify_pbmac(der, (size_t)n, d, secret, sizeof(secret) - 2, 1000),
	       RC_CRYPTO, "pbmac: wrong secret");
	is_int(cmp_prot_verify_pbmac(der, (size_t)n, d, secret, sizeof(secret) - 1, 999), RC_INVAL,
	       "pbmac: too many iterations");
	is_int(cmp_prot_verify_sig(der, (size_t)n, d, NULL), RC_INVAL, "pbmac: no signer");
	{
		long iter = 0;
		is_int(cmp_prot_pbmac_check(d, 1000, &iter), 0, "pbmac check: within the bound");
		is_int(iter, 1000, "pbmac check: iterationCount read");
		iter = 0;
		is_int(cmp_prot_pbmac_check(d, 999, &iter), RC_TOOBIG,
		       "pbmac check: above the bound is RC_TOOBIG, told apart from malformed");
		is_int(iter, 1000, "pbmac check: iterationCount read when above the bound");
	}
	d->protection->data[0] ^= 0x80;
	is_int(cmp_prot_verify_pbmac(der, (size_t)n, d, secret, sizeof(secret) - 1, 1000),
	       RC_CRYPTO, "pbmac: tampered MAC");
	CMPGW_MSG_free(d);
	OPENSSL_free(der);

	/* a signed message is not PBMAC */
	MUST(cmp_prot_sign(m, k) == 0);
	MUST((n = t_der(m, &der)) > 0 && (d = t_decode(der, (size_t)n)) != NULL);
	is_int(cmp_prot_verify_pbmac(der, (size_t)n, d, secret, sizeof(secret) - 1, 1000),
	       RC_UNSUPPORTED, "pbmac verify of a signed message: RC_UNSUPPORTED");
	{
		long iter = 0;
		is_int(cmp_prot_pbmac_check(d, 1000, &iter), RC_UNSUPPORTED,
		       "pbmac check of a signed message: RC_UNSUPPORTED");
	}
	CMPGW_MSG_free(d);
	OPENSSL_free(der);
	CMPGW_MSG_free(m);
	EVP_PKEY_free(k);
}

/* cmp_prot_sign_der: the bytes cmp_prot_sign + i2d give, for messages
 * without extraCerts, with an empty list, with certificates, and big ones. */
static void test_sign_der(const char *kt)
{
	EVP_PKEY *k = t_key(kt), *ck = t_key("P-256");
	X509 *cert = t_cert(k, "ra", NULL, NULL, strcmp(kt, "ED25519") ? EVP_sha256() : NULL);
	X509 *ca = t_cert(ck, "ca", NULL, NULL, EVP_sha256());
	int all = 1, verifies = 1;

	for (int variant = 0; variant < 4; variant++) {
		CMPGW_MSG *m = t_ir(ck), *d;
		unsigned char *der = NULL, *ref = NULL;
		size_t len = 0;
		int n;

		if (variant >= 1)
			MUST((m->extraCerts = sk_X509_new_null()) != NULL);
		if (variant >= 2) {
			MUST(X509_up_ref(cert) && sk_X509_push(m->extraCerts, cert));
			MUST(X509_up_ref(ca) && sk_X509_push(m->extraCerts, ca));
		}
		if (variant == 3) /* a body over 64 KiB: 3-octet lengths */
			for (int i = 0; i < 300; i++)
				MUST(sk_CMPGW_CERTREQMSG_push(m->body->value.ir,
							      t_crm(ck, "a-long-subject-name")));
		MUST(cmp_prot_sign_der(m, k, &der, &len) == 0);
		n = t_der(m, &ref); /* the message as signed, encoded in one go */
		all &= n > 0 && (size_t)n == len && memcmp(der, ref, len) == 0;
		d = t_decode(der, len);
		verifies &= d && cmp_prot_verify_sig(der, len, d, cert) == 0;
		CMPGW_MSG_free(d);
		OPENSSL_free(der);
		OPENSSL_free(ref);
		CMPGW_MSG_free(m);
	}
	ok(all, "%s: sign_der gives i2d's bytes (no/empty/two extraCerts, >64 KiB body)", kt);
	ok(verifies, "%s: and they verify", kt);
	size_t len;
	unsigned char *der;
	is_int(cmp_prot_sign_der(NULL, k, &der, &len), RC_INVAL, "%s: NULL message", kt);
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ck);
}

int main(void)
{
	test_sign_der("P-256");
	test_sign_der("RSA");
	test_sign_der("ED25519");
	test_sign_verify("P-256", EVP_sha256(), NID_ecdsa_with_SHA256);
	test_sign_verify("P-384", EVP_sha384(), NID_ecdsa_with_SHA384);
	test_sign_verify("P-521", EVP_sha512(), NID_ecdsa_with_SHA512);
	test_sign_verify("RSA", EVP_sha256(), NID_sha256WithRSAEncryption);
	test_sign_verify("ED25519", NULL, NID_ED25519);
	test_sign_verify("ED448", NULL, NID_ED448);
	test_wrong_keys_and_algs();
	test_part_der();
	test_fixtures();
	test_pbmac();
	return tap_done();
}
