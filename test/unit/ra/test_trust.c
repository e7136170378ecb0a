/* Unit tests for ra/trust.c: vendor chain validation and serial extraction. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "cmd/pki.h"
#include "ra/trust.h"
#include "test/unit/tap.h"

static EVP_PKEY *k_root, *k_inter, *k_dev, *k_other;
static X509 *root, *inter, *other_root;

static X509 *make(const char *subject, int days, int backdate, bool ca, EVP_PKEY *key, X509 *issuer,
		  EVP_PKEY *ikey)
{
	struct cmd_pki_spec s = {
		subject, days, backdate,
		ca,	 -1,   ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature",
		NULL
	};
	return cmd_pki_cert_new(&s, key, issuer, ikey);
}

static STACK_OF(X509) *chain_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	sk_X509_push(sk, a);
	if (b)
		sk_X509_push(sk, b);
	return sk;
}

static struct ra_trust *trust_with(bool with_inter)
{
	struct ra_trust *t = ra_trust_new();
	unsigned char *der = NULL;
	int len;

	if (ra_trust_add_vendor(t, 7, "acme", "subject_serialnumber", true) != 0 ||
	    ra_trust_add_vendor(t, 8, "other", "subject_cn", false) != 0)
		return t;
	len = i2d_X509(root, &der);
	if (ra_trust_add_cert(t, 7, "anchor", der, (size_t)len) != 0)
		printf("# anchor add failed\n");
	OPENSSL_free(der);
	der = NULL;
	if (with_inter) {
		len = i2d_X509(inter, &der);
		if (ra_trust_add_cert(t, 7, "intermediate", der, (size_t)len) != 0)
			printf("# intermediate add failed\n");
		OPENSSL_free(der);
	}
	return t;
}

static void test_chain(void)
{
	X509 *dev =
		make("CN=Router,O=Acme,serialNumber=ACME-1", 30, 60, false, k_dev, inter, k_inter);
	X509 *old = make("CN=Old,O=Acme,serialNumber=ACME-2", -1, 86400 * 3, false, k_dev, inter,
			 k_inter);
	X509 *alien =
		make("CN=Alien,serialNumber=ACME-1", 30, 60, false, k_dev, other_root, k_other);
	struct ra_trust *t = trust_with(true), *t2 = trust_with(false);
	STACK_OF(X509) *only_dev = chain_of(dev, NULL), *dev_inter = chain_of(dev, inter);
	STACK_OF(X509) *old_inter = chain_of(old, inter), *alien_sk = chain_of(alien, NULL);
	char *acme_only[] = { "acme" }, *other_only[] = { "other" };
	struct ra_auth a;

	ok(ra_trust_authenticate(t, NULL, 0, dev, only_dev, &a) == 0 && a.vendor &&
		   strcmp(a.vendor->name, "acme") == 0,
	   "device chains through a registered intermediate to the anchor");
	ok(ra_trust_authenticate(t2, NULL, 0, dev, dev_inter, &a) == 0,
	   "intermediate taken from extraCerts when not registered");
	is_int(ra_trust_authenticate(t2, NULL, 0, dev, only_dev, &a), RC_PERM,
	       "no intermediate anywhere: refused");
	ok(ra_trust_authenticate(t, acme_only, 1, dev, only_dev, &a) == 0, "accepted vendor list");
	is_int(ra_trust_authenticate(t, other_only, 1, dev, only_dev, &a), RC_PERM,
	       "vendor not accepted by the alias: refused");
	is_int(ra_trust_authenticate(t, NULL, 0, old, old_inter, &a), RC_PERM, "expired: refused");
	is_int(a.verr, X509_V_ERR_CERT_HAS_EXPIRED, "expired: reason is CERT_HAS_EXPIRED");
	ok(a.text && strstr(a.text, "expired"), "expired: statusString says so");
	is_int(ra_trust_authenticate(t, NULL, 0, alien, alien_sk, &a), RC_PERM,
	       "foreign root: refused");
	ok(a.vendor == NULL, "foreign root: no vendor");
	sk_X509_free(only_dev);
	sk_X509_free(dev_inter);
	sk_X509_free(old_inter);
	sk_X509_free(alien_sk);
	ra_trust_free(t);
	ra_trust_free(t2);
	X509_free(dev);
	X509_free(old);
	X509_free(alien);
}

static void test_serial(void)
{
	X509 *dev = make("CN=Router 9,O=Acme,serialNumber=ACME-9", 30, 60, false, k_dev, inter,
			 k_inter);
	X509 *none = make("CN=NoSerial,O=Acme", 30, 60, false, k_dev, inter, k_inter);
	X509 *two =
		make("CN=x,serialNumber=A,serialNumber=B", 30, 60, false, k_dev, inter, k_inter);
	char buf[130], hex[64];

	ok(ra_trust_device_serial(RA_SERIAL_SUBJECT_SN, dev, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "ACME-9") == 0,
	   "subject serialNumber rule");
	ok(ra_trust_device_serial(RA_SERIAL_SUBJECT_CN, dev, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "Router 9") == 0,
	   "subject CN rule");
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(dev), NULL);
	char *h = BN_bn2hex(bn);
	snprintf(hex, sizeof(hex), "%s", h);
	OPENSSL_free(h);
	BN_free(bn);
	ok(ra_trust_device_serial(RA_SERIAL_CERT, dev, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, hex) == 0,
	   "certificate serial rule gives the hex serial");
	is_int(ra_trust_device_serial(RA_SERIAL_SUBJECT_SN, none, buf, sizeof(buf)), RC_NOTFOUND,
	       "missing serialNumber attribute");
	is_int(ra_trust_device_serial(RA_SERIAL_SUBJECT_SN, two, buf, sizeof(buf)), RC_INVAL,
	       "two serialNumber attributes are ambiguous");
	is_int(ra_trust_device_serial(RA_SERIAL_SUBJECT_SN, dev, buf, 4), RC_TOOBIG,
	       "serial longer than the buffer");
	X509_free(dev);
	X509_free(none);
	X509_free(two);
}

/* The validated-intermediate cache (ra/trust.h): hits give the same answers
 * as the full path, and it never stands in for an intermediate not offered. */
static void test_icache(void)
{
	X509 *d1 = make("CN=R1,O=Acme,serialNumber=ACME-11", 30, 60, false, k_dev, inter, k_inter);
	X509 *d2 = make("CN=R2,O=Acme,serialNumber=ACME-12", 30, 60, false, k_dev, inter, k_inter);
	/* names and AKI of inter, signature by another key */
	X509 *forged =
		make("CN=R3,O=Acme,serialNumber=ACME-13", 30, 60, false, k_dev, inter, k_other);
	struct ra_trust *t = trust_with(false);
	STACK_OF(X509) *s1 = chain_of(d1, inter), *s2 = chain_of(d2, inter);
	STACK_OF(X509) *s3 = chain_of(forged, inter), *bare = chain_of(d2, NULL);
	struct ra_auth a;

	is_int(ra_trust_authenticate(t, NULL, 0, d1, s1, &a), 0, "icache: first device, full path");
	is_int(ra_trust_authenticate(t, NULL, 0, d2, s2, &a), 0,
	       "icache: second device, cached CA");
	is_int(ra_trust_authenticate(t, NULL, 0, forged, s3, &a), RC_PERM,
	       "icache: leaf not signed by the cached CA is refused");
	is_int(a.verr, X509_V_ERR_CERT_SIGNATURE_FAILURE, "icache: reason is the signature");
	is_int(ra_trust_authenticate(t, NULL, 0, d2, bare, &a), RC_PERM,
	       "icache: a cached CA the request does not offer is not used");
	is_int(ra_trust_authenticate(t, NULL, 0, d1, s1, &a), 0,
	       "icache: still accepts after refusals");
	sk_X509_free(s1);
	sk_X509_free(s2);
	sk_X509_free(s3);
	sk_X509_free(bare);
	X509_free(d1);
	X509_free(d2);
	X509_free(forged);
	ra_trust_free(t);
}

int main(void)
{
	k_root = cmd_pki_key_new();
	k_inter = cmd_pki_key_new();
	k_dev = cmd_pki_key_new();
	k_other = cmd_pki_key_new();
	root = make("CN=Acme Root,O=Acme", 3650, 60, true, k_root, NULL, k_root);
	inter = make("CN=Acme CA,O=Acme", 3650, 60, true, k_inter, root, k_root);
	other_root = make("CN=Other Root", 3650, 60, true, k_other, NULL, k_other);
	ok(root && inter && other_root, "fixture PKI built");
	/* A request keeps its registry snapshot alive across a reload. */
	struct ra_trust *snap = trust_with(true), *held = ra_trust_get1(snap);
	const struct ra_vendor *v = &held->v[0];
	ra_trust_free(snap); /* the worker swaps in a reloaded registry */
	ok(held->refs == 1 && strcmp(v->name, "acme") == 0,
	   "vendor pointer still valid after the worker dropped its reference");
	ra_trust_free(held);
	test_chain();
	test_icache();
	test_serial();
	X509_free(root);
	X509_free(inter);
	X509_free(other_root);
	EVP_PKEY_free(k_root);
	EVP_PKEY_free(k_inter);
	EVP_PKEY_free(k_dev);
	EVP_PKEY_free(k_other);
	return tap_done();
}
