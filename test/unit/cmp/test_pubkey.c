/*
 * test/unit/cmp/test_pubkey.c - cmp/pubkey.c: the certTemplate publicKey
 * item decodes every SubjectPublicKeyInfo into what OpenSSL's X509_PUBKEY
 * item makes of it (same fields, same key, same failures); the fast path is
 * taken exactly for named NIST curves with uncompressed points, and its key
 * works like the generic one (parameters, signatures, POP).
 */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "cmp/asn1.h"
#include "cmp/pop.h"
#include "cmp/pubkey.h"
#include "helpers.h"
#include "tap.h"

static X509_PUBKEY *fast_d2i(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509_PUBKEY *x = (X509_PUBKEY *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(CMPGW_PUBKEY));

	if (x && p != der + len) {
		X509_PUBKEY_free(x);
		x = NULL;
	}
	return x;
}

static X509_PUBKEY *generic_d2i(const unsigned char *der, long len)
{
	const unsigned char *p = der;
	X509_PUBKEY *x = d2i_X509_PUBKEY(NULL, &p, len);

	if (x && p != der + len) {
		X509_PUBKEY_free(x);
		x = NULL;
	}
	return x;
}

/* Both items agree on der: same verdict, same encoding, same key (or both
 * without one). Returns 1 if they agree; *fast says the fast path made it. */
static int agree(const unsigned char *der, long len, int *fast)
{
	X509_PUBKEY *a = fast_d2i(der, len), *b = generic_d2i(der, len);
	unsigned char *da = NULL, *db = NULL;
	int same = (a == NULL) == (b == NULL);

	*fast = 0;
	if (a && b) {
		EVP_PKEY *ka = X509_PUBKEY_get0(a), *kb = X509_PUBKEY_get0(b);
		int na = i2d_X509_PUBKEY(a, &da), nb = i2d_X509_PUBKEY(b, &db);
		same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0 &&
		       (ka == NULL) == (kb == NULL) && (!ka || EVP_PKEY_eq(ka, kb) == 1);
		*fast = ka && EVP_PKEY_get0_provider(ka) == NULL;
	}
	ERR_clear_error();
	OPENSSL_free(da);
	OPENSSL_free(db);
	X509_PUBKEY_free(a);
	X509_PUBKEY_free(b);
	return same;
}

static unsigned char *spki_of(EVP_PKEY *k, int *len)
{
	unsigned char *der = NULL;

	MUST((*len = i2d_PUBKEY(k, &der)) > 0);
	return der;
}

static void check_key(EVP_PKEY *k, const char *what, int want_fast)
{
	int n, fast;
	unsigned char *der = spki_of(k, &n);

	ok(agree(der, n, &fast), "%s: same as X509_PUBKEY", what);
	ok(fast == want_fast, "%s: %s path", what, want_fast ? "fast" : "generic");
	OPENSSL_free(der);
}

static void test_key_types(void)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };

	for (size_t i = 0; i < 3; i++) {
		EVP_PKEY *k = t_key(curves[i]);
		check_key(k, curves[i], 1);
		EVP_PKEY_free(k);
	}
	EVP_PKEY *rsa = t_key("RSA"), *ed = t_key("ED25519"), *ed448 = t_key("ED448");
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	EVP_PKEY *comp = t_key("P-256"), *expl = t_key("P-256");
	MUST(k1 != NULL);
	MUST(EVP_PKEY_set_utf8_string_param(comp, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
					    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED));
	MUST(EVP_PKEY_set_utf8_string_param(expl, OSSL_PKEY_PARAM_EC_ENCODING,
					    OSSL_PKEY_EC_ENCODING_EXPLICIT));
	check_key(rsa, "RSA", 0);
	check_key(ed, "Ed25519", 0);
	check_key(ed448, "Ed448", 0);
	check_key(k1, "secp256k1", 0);
	check_key(comp, "P-256 compressed point", 0);
	check_key(expl, "P-256 explicit parameters", 0);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ed448);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(comp);
	EVP_PKEY_free(expl);
}

/* Damaged P-256 keys: every bit flip and truncation gets the generic verdict */
static void test_damage(void)
{
	EVP_PKEY *k = t_key("P-256");
	int n, fast, all = 1, fast_flips = 0;
	unsigned char *der = spki_of(k, &n), *buf = OPENSSL_malloc((size_t)n);

	MUST(buf != NULL);
	for (int i = 0; i < n; i++)
		for (int b = 0; b < 8; b++) {
			memcpy(buf, der, (size_t)n);
			buf[i] ^= (unsigned char)(1 << b);
			all &= agree(buf, n, &fast);
			fast_flips += fast;
		}
	ok(all, "every bit flip of a P-256 SubjectPublicKeyInfo: same verdict and key");
	/* only flips that leave a valid uncompressed point on the curve could
	 * go fast; a point not on the curve never does */
	memcpy(buf, der, (size_t)n);
	buf[n - 1] ^= 1;
	ok(agree(buf, n, &fast) && !fast, "point not on the curve: generic path (no key)");
	all = 1;
	for (int cut = 1; cut < n; cut++)
		all &= agree(der, cut, &fast) && !fast;
	ok(all, "every truncation: same verdict");
	/* non-minimal length of the outer SEQUENCE (BER): accepted or not as
	 * X509_PUBKEY does, never by the fast path */
	unsigned char *ber = OPENSSL_malloc((size_t)n + 1);
	MUST(ber != NULL && der[1] < 0x80);
	ber[0] = 0x30;
	ber[1] = 0x81;
	memcpy(ber + 2, der + 1, (size_t)n - 1);
	ok(agree(ber, n + 1, &fast) && !fast, "BER length: same verdict, generic path");
	(void)fast_flips;
	OPENSSL_free(ber);
	OPENSSL_free(buf);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* The fast key answers like the provider key: group, point, bits, SPKI */
static void test_fast_key_behaves(void)
{
	EVP_PKEY *k = t_key("P-384");
	int n;
	unsigned char *der = spki_of(k, &n), *e1 = NULL, *e2 = NULL, *s1 = NULL, *s2 = NULL;
	X509_PUBKEY *a = fast_d2i(der, n), *b = generic_d2i(der, n);
	EVP_PKEY *ka = a ? X509_PUBKEY_get0(a) : NULL, *kb = b ? X509_PUBKEY_get0(b) : NULL;
	char ga[32] = "", gb[32] = "";

	MUST(ka && kb);
	ok(EVP_PKEY_get_utf8_string_param(ka, OSSL_PKEY_PARAM_GROUP_NAME, ga, sizeof(ga), NULL) &&
		   EVP_PKEY_get_utf8_string_param(kb, OSSL_PKEY_PARAM_GROUP_NAME, gb, sizeof(gb),
						  NULL) &&
		   strcmp(ga, gb) == 0,
	   "group name %s", ga);
	size_t l1 = EVP_PKEY_get1_encoded_public_key(ka, &e1),
	       l2 = EVP_PKEY_get1_encoded_public_key(kb, &e2);
	ok(l1 > 0 && l1 == l2 && memcmp(e1, e2, l1) == 0, "encoded point");
	ok(EVP_PKEY_get_base_id(ka) == EVP_PKEY_get_base_id(kb) &&
		   EVP_PKEY_get_bits(ka) == EVP_PKEY_get_bits(kb) && EVP_PKEY_is_a(ka, "EC"),
	   "type and size");
	int n1 = i2d_PUBKEY(ka, &s1), n2 = i2d_PUBKEY(kb, &s2);
	ok(n1 > 0 && n1 == n2 && memcmp(s1, s2, (size_t)n1) == 0 && n1 == n &&
		   memcmp(s1, der, (size_t)n) == 0,
	   "i2d_PUBKEY gives the received bytes");
	unsigned char msg[] = "to be signed";
	ASN1_BIT_STRING *sig = ASN1_BIT_STRING_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	MUST(sig && alg && cmp_sig_algor_for_key(k, alg) == 0 &&
	     cmp_sig_sign(k, alg, msg, sizeof(msg), sig) == 0);
	ok(cmp_sig_verify(alg, sig, msg, sizeof(msg), ka) == 0, "a signature verifies");
	msg[0] ^= 1;
	ok(cmp_sig_verify(alg, sig, msg, sizeof(msg), ka) != 0, "a wrong signature does not");
	ERR_clear_error();
	ASN1_BIT_STRING_free(sig);
	X509_ALGOR_free(alg);
	OPENSSL_free(s1);
	OPENSSL_free(s2);
	OPENSSL_free(e1);
	OPENSSL_free(e2);
	X509_PUBKEY_free(a);
	X509_PUBKEY_free(b);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* In its place: publicKey [6] IMPLICIT of a certTemplate, POP over it */
static void test_in_template(void)
{
	EVP_PKEY *k = t_key("P-256"), *pub = NULL;
	CMPGW_MSG *m = t_ir(k), *back;
	unsigned char *d1 = NULL, *d2 = NULL;
	int n1 = t_der(m, &d1), n2;
	CMPGW_CERTREQMSG *crm;

	MUST(n1 > 0 && (back = t_decode(d1, (size_t)n1)) != NULL);
	crm = sk_CMPGW_CERTREQMSG_value(back->body->value.ir, 0);
	EVP_PKEY *tk = X509_PUBKEY_get0(crm->certReq->certTemplate->publicKey);
	ok(tk && EVP_PKEY_get0_provider(tk) == NULL && EVP_PKEY_eq(tk, k) == 1,
	   "template key decoded on the fast path, equal to the key");
	n2 = t_der(back, &d2);
	ok(n2 == n1 && memcmp(d1, d2, (size_t)n1) == 0, "the ir re-encodes byte-exactly");
	ok(cmp_pop_verify(crm, &pub) == 0 && pub && EVP_PKEY_eq(pub, k) == 1,
	   "the signature POP verifies with it");
	EVP_PKEY_free(pub);
	CMPGW_CERTTEMPLATE *dup = CMPGW_CERTTEMPLATE_dup(crm->certReq->certTemplate);
	ok(dup && EVP_PKEY_eq(X509_PUBKEY_get0(dup->publicKey), k) == 1, "the template dups");
	CMPGW_CERTTEMPLATE_free(dup);
	CMPGW_CERTTEMPLATE *none = CMPGW_CERTTEMPLATE_new();
	unsigned char *d3 = NULL;
	const unsigned char *p;
	int n3 = i2d_CMPGW_CERTTEMPLATE(none, &d3);
	p = d3;
	CMPGW_CERTTEMPLATE *none2 = n3 > 0 ? d2i_CMPGW_CERTTEMPLATE(NULL, &p, n3) : NULL;
	ok(none2 && none2->publicKey == NULL, "a template without publicKey stays without");
	CMPGW_CERTTEMPLATE_free(none);
	CMPGW_CERTTEMPLATE_free(none2);
	OPENSSL_free(d3);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	CMPGW_MSG_free(back);
	CMPGW_MSG_free(m);
	EVP_PKEY_free(k);
}

int main(void)
{
	test_key_types();
	test_damage();
	test_fast_key_behaves();
	test_in_template();
	return tap_done();
}
