/*
 * test/unit/cmp/test_certcache.c - cmp/certcache.c and cmp_asn1_msg_decode:
 * a hit is the certificate of exactly the same DER, the cache stays within
 * its bound and keeps a hot certificate through a flood, and decoding a
 * message through the cache gives what d2i_CMPGW_MSG gives, for valid and
 * for damaged input alike.
 */
#include <openssl/err.h>
#include <openssl/rand.h>

#include "cmp/asn1.h"
#include "cmp/certcache.h"
#include "helpers.h"
#include "tap.h"

static int cert_der(X509 *x, unsigned char **der)
{
	*der = NULL;
	return i2d_X509(x, der);
}

/* Two messages are the same when they encode the same and their
 * extraCerts are the same certificates. */
static int same_msg(const CMPGW_MSG *a, const CMPGW_MSG *b)
{
	unsigned char *da = NULL, *db = NULL;
	int na = t_der(a, &da), nb = t_der(b, &db);
	int same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0 &&
		   sk_X509_num(a->extraCerts) == sk_X509_num(b->extraCerts);

	for (int i = 0; same && i < sk_X509_num(a->extraCerts); i++)
		same = X509_cmp(sk_X509_value(a->extraCerts, i), sk_X509_value(b->extraCerts, i)) ==
		       0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return same;
}

static void test_hit_is_same_der(void)
{
	struct cmp_certcache *c = cmp_certcache_new();
	struct cmp_certcache_stats st;
	EVP_PKEY *k = t_key("P-256");
	X509 *x = t_cert(k, "vendor-ca", NULL, NULL, EVP_sha256()), *a, *b, *d;
	unsigned char *der = NULL, *flip;
	int n = cert_der(x, &der);

	MUST(c && n > 0 && (flip = OPENSSL_memdup(der, (size_t)n)));
	a = cmp_certcache_get1(c, der, (size_t)n);
	b = cmp_certcache_get1(c, der, (size_t)n);
	ok(a != NULL && a == b, "same DER twice: the same object");
	ok(a && X509_cmp(a, x) == 0, "it is the certificate of that DER");
	cmp_certcache_stats(c, &st);
	ok(st.hits == 1 && st.misses == 1, "one miss, then one hit");
	flip[n - 1] ^= 1; /* last byte of the signature */
	d = cmp_certcache_get1(c, flip, (size_t)n);
	ok(d != NULL && d != a && X509_cmp(d, a) != 0, "one byte different: another certificate");
	ok(cmp_certcache_get1(c, der, (size_t)n - 1) == NULL, "truncated DER: NULL");
	unsigned char *longer = OPENSSL_malloc((size_t)n + 1);
	MUST(longer != NULL);
	memcpy(longer, der, (size_t)n);
	longer[n] = 0;
	ok(cmp_certcache_get1(c, longer, (size_t)n + 1) == NULL, "trailing byte: NULL");
	ok(cmp_certcache_get1(c, der, 0) == NULL, "empty: NULL");
	X509 *nocache = cmp_certcache_get1(NULL, der, (size_t)n);
	ok(nocache != NULL && nocache != a && X509_cmp(nocache, a) == 0, "no cache: plain decode");
	X509_free(nocache);
	X509_free(a);
	X509_free(b);
	cmp_certcache_free(c); /* d still owned by the caller */
	ok(X509_cmp(d, x) != 0 && X509_get_subject_name(d) != NULL, "references outlive the cache");
	X509_free(d);
	OPENSSL_free(longer);
	OPENSSL_free(flip);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
	cmp_certcache_free(NULL);
}

/* 8x the capacity of distinct certificates go through while a hot one is
 * used between them: it is never evicted, while the first of the flood is
 * (with a uniform hash its set saw ~32 newer entries for 4 ways). */
static void test_bound_and_lru(void)
{
	enum { N = 8 * CMP_CERTCACHE_SETS * CMP_CERTCACHE_WAYS };
	struct cmp_certcache *c = cmp_certcache_new();
	struct cmp_certcache_stats st;
	EVP_PKEY *k = t_key("P-256");
	X509 *hot = t_cert(k, "vendor-ca", NULL, NULL, EVP_sha256());
	unsigned char *hder = NULL, *fder = NULL;
	int hn = cert_der(hot, &hder), fn = 0, all_hits = 1;
	X509 *first = NULL, *again;

	MUST(c && hn > 0);
	X509_free(cmp_certcache_get1(c, hder, (size_t)hn));
	/* distinct certificates by serial number (t_cert's is 4711 = 0x1267):
	 * they decode; their signatures need not verify here */
	X509 *dev = t_cert(k, "device", NULL, NULL, EVP_sha256());
	unsigned char *dder = NULL, *serial = NULL;
	int dn = cert_der(dev, &dder);
	for (int i = 0; dn > 4 && i < dn - 4 && !serial; i++)
		if (memcmp(dder + i, "\x02\x02\x12\x67", 4) == 0)
			serial = dder + i + 2;
	MUST(serial != NULL);
	for (int i = 0; i < N; i++) {
		X509 *y, *h;
		unsigned char *der;
		int n = dn;

		serial[0] = (unsigned char)(0x10 + (i >> 8));
		serial[1] = (unsigned char)(i & 0xff);
		MUST((der = OPENSSL_memdup(dder, (size_t)dn)) != NULL);
		MUST((y = cmp_certcache_get1(c, der, (size_t)n)) != NULL);
		if (i == 0) {
			first = y;
			fder = der;
			fn = n;
			der = NULL;
		} else {
			X509_free(y);
		}
		h = cmp_certcache_get1(c, hder, (size_t)hn);
		cmp_certcache_stats(c, &st);
		all_hits &= h != NULL && st.hits == (unsigned long)i + 1;
		X509_free(h);
		OPENSSL_free(der);
	}
	OPENSSL_free(dder);
	X509_free(dev);
	ok(all_hits, "a certificate used between %d others stays cached", N);
	cmp_certcache_stats(c, &st);
	ok(st.misses == N + 1 && st.uncacheable == 0, "every new certificate was a miss");
	again = cmp_certcache_get1(c, fder, (size_t)fn);
	ok(again && again != first && X509_cmp(again, first) == 0,
	   "the oldest unused one was evicted (decoded anew)");
	X509_free(again);
	X509_free(first);
	cmp_certcache_free(c);
	OPENSSL_free(fder);
	OPENSSL_free(hder);
	X509_free(hot);
	EVP_PKEY_free(k);
}

static void test_oversized_not_cached(void)
{
	struct cmp_certcache *c = cmp_certcache_new();
	struct cmp_certcache_stats st;
	EVP_PKEY *k = t_key("P-256");
	X509 *x = X509_new(), *a, *b;
	unsigned char *der = NULL, big[CMP_CERTCACHE_MAX_DER];
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;
	int n;

	MUST(c && x && os);
	memset(big, 'x', sizeof(big));
	MUST(ASN1_OCTET_STRING_set(os, big, sizeof(big)));
	MUST((ext = X509_EXTENSION_create_by_NID(NULL, NID_netscape_comment, 0, os)) != NULL);
	MUST(X509_set_version(x, X509_VERSION_3) && X509_set_pubkey(x, k));
	MUST(X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 60));
	MUST(X509_add_ext(x, ext, -1) && X509_sign(x, k, EVP_sha256()) > 0);
	MUST((n = cert_der(x, &der)) > CMP_CERTCACHE_MAX_DER);
	a = cmp_certcache_get1(c, der, (size_t)n);
	b = cmp_certcache_get1(c, der, (size_t)n);
	cmp_certcache_stats(c, &st);
	ok(a && b && a != b && st.hits == 0 && st.uncacheable == 2,
	   "a certificate over %d bytes is decoded, not cached", CMP_CERTCACHE_MAX_DER);
	X509_free(a);
	X509_free(b);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
	cmp_certcache_free(c);
}

/* ir with extraCerts: leaf, CA, and the leaf once more */
static unsigned char *ir_with_certs(int *len, X509 **leaf_out)
{
	EVP_PKEY *ck = t_key("P-256"), *lk = t_key("P-256"), *nk = t_key("P-256");
	X509 *ca = t_cert(ck, "vendor-ca", NULL, NULL, EVP_sha256());
	X509 *leaf = t_cert(lk, "device", ca, ck, EVP_sha256());
	CMPGW_MSG *m = t_ir(nk);
	unsigned char *der = NULL;

	MUST((m->protection = ASN1_BIT_STRING_new()) != NULL);
	MUST(ASN1_BIT_STRING_set(m->protection, (unsigned char *)"sig", 3));
	MUST((m->extraCerts = sk_X509_new_null()) != NULL);
	MUST(X509_up_ref(leaf) && X509_up_ref(leaf));
	MUST(sk_X509_push(m->extraCerts, leaf) && sk_X509_push(m->extraCerts, ca) &&
	     sk_X509_push(m->extraCerts, leaf));
	MUST((*len = t_der(m, &der)) > 0);
	*leaf_out = leaf;
	CMPGW_MSG_free(m);
	EVP_PKEY_free(ck);
	EVP_PKEY_free(lk);
	EVP_PKEY_free(nk);
	return der;
}

static void test_msg_decode(void)
{
	struct cmp_certcache *c = cmp_certcache_new();
	X509 *leaf = NULL;
	int n;
	unsigned char *der = ir_with_certs(&n, &leaf);
	CMPGW_MSG *plain = t_decode(der, (size_t)n);
	CMPGW_MSG *m1 = cmp_asn1_msg_decode(der, (size_t)n, c);
	CMPGW_MSG *m2 = cmp_asn1_msg_decode(der, (size_t)n, c);
	CMPGW_MSG *m0 = cmp_asn1_msg_decode(der, (size_t)n, NULL);

	ok(plain && m1 && same_msg(plain, m1),
	   "through the cache: the message d2i_CMPGW_MSG makes");
	ok(m0 && same_msg(plain, m0), "without a cache: the same message");
	ok(m1 && m2 && same_msg(m1, m2), "decoded twice: the same message");
	ok(m1 && m2 && sk_X509_value(m1->extraCerts, 1) == sk_X509_value(m2->extraCerts, 1) &&
		   sk_X509_value(m1->extraCerts, 0) == sk_X509_value(m2->extraCerts, 0),
	   "the second decode takes its certificates from the cache");
	ok(m1 && sk_X509_value(m1->extraCerts, 0) != sk_X509_value(m1->extraCerts, 2) &&
		   X509_cmp(sk_X509_value(m1->extraCerts, 0), sk_X509_value(m1->extraCerts, 2)) ==
			   0,
	   "a certificate repeated in one message: distinct objects, as d2i makes them");
	ok(m1 && X509_cmp(sk_X509_value(m1->extraCerts, 0), leaf) == 0, "first is the leaf");
	CMPGW_MSG_free(m1);
	CMPGW_MSG_free(m2);
	CMPGW_MSG_free(m0);
	CMPGW_MSG_free(plain);

	/* Damage at every position (one bit each) and every truncation: NULL exactly when
	 * d2i_CMPGW_MSG says NULL, otherwise the same message. */
	unsigned char *buf = OPENSSL_malloc((size_t)n + 1);
	int agree = 1, flips_decoded = 0;
	MUST(buf != NULL);
	for (int i = 0; i < n; i++) {
		const unsigned char *p = buf;
		CMPGW_MSG *a, *b;

		memcpy(buf, der, (size_t)n);
		buf[i] ^= (unsigned char)(1 << (i % 8));
		/* the handler's old check: d2i_CMPGW_MSG consuming all of it */
		a = d2i_CMPGW_MSG(NULL, &p, n);
		if (a && p != buf + n) {
			CMPGW_MSG_free(a);
			a = NULL;
		}
		b = cmp_asn1_msg_decode(buf, (size_t)n, c);
		agree &= (a == NULL) == (b == NULL) && (!a || same_msg(a, b));
		flips_decoded += a != NULL;
		CMPGW_MSG_free(a);
		CMPGW_MSG_free(b);
	}
	ok(agree, "bit flips at every position: same verdict and message as d2i (%d decoded)",
	   flips_decoded);
	agree = 1;
	for (int cut = 0; cut < n; cut++) {
		CMPGW_MSG *b = cmp_asn1_msg_decode(der, (size_t)cut, c);
		agree &= b == NULL;
		CMPGW_MSG_free(b);
	}
	ok(agree, "every truncation rejected");
	memcpy(buf, der, (size_t)n);
	buf[n] = 0;
	ok(cmp_asn1_msg_decode(buf, (size_t)n + 1, c) == NULL, "a trailing byte rejected");
	ERR_clear_error();
	OPENSSL_free(buf);
	OPENSSL_free(der);
	X509_free(leaf);
	cmp_certcache_free(c);
}

/* The fixtures (openssl cmp's own requests): same as d2i_CMPGW_MSG */
static void test_fixtures(void)
{
	static const char *const fx[] = { "ir_sig.der", "ir_rsa_ed25519.der", "ir_pbm.der",
					  "cr_sig.der", "kur_sig.der",	      "p10cr_sig.der",
					  "rr_sig.der", "genm_sig.der" };
	struct cmp_certcache *c = cmp_certcache_new();

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		size_t len;
		unsigned char *der = t_read(fx[i], &len);
		CMPGW_MSG *a = t_decode(der, len), *b = cmp_asn1_msg_decode(der, len, c);

		ok(a && b && same_msg(a, b), "%s: same message through the cache", fx[i]);
		CMPGW_MSG_free(a);
		CMPGW_MSG_free(b);
		free(der);
	}
	cmp_certcache_free(c);
}

int main(void)
{
	test_hit_is_same_der();
	test_bound_and_lru();
	test_oversized_not_cached();
	test_msg_decode();
	test_fixtures();
	return tap_done();
}
