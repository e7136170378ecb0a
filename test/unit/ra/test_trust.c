/* Unit tests for ra/trust.c: vendor chain validation and serial extraction. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "cmd/pki.h"
#include "ra/trust.h"
#include "test/unit/tap.h"

#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *g_ = (got);                                                            \
		ok(g_ &&strcmp(g_, want) == 0, __VA_ARGS__);                                       \
		if (!g_ || strcmp(g_, want) != 0)                                                  \
			printf("#   got \"%s\"\n", g_ ? g_ : "(null)");                            \
	} while (0)

static EVP_PKEY *k_root, *k_inter, *k_dev, *k_other;
static X509 *root, *inter, *other_root;

static X509 *make(const char *subject, int days, int backdate, bool ca, EVP_PKEY *key, X509 *issuer,
		  EVP_PKEY *ikey)
{
	struct cmd_pki_spec s = {
		subject, days, backdate,
		ca,	 -1,   ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature",
		NULL,	 NULL
	};
	return cmd_pki_cert_new(&s, key, issuer, ikey);
}

/* x with extension nid set to value (replacing one there), re-signed by
 * key, through DER so that no cached extension state survives. */
static X509 *with_ext(X509 *x, int nid, const char *value, EVP_PKEY *key)
{
	int idx = X509_get_ext_by_NID(x, nid, -1);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *y = NULL;
	int len;

	if (idx >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, idx));
	if (e && X509_add_ext(x, e, -1) && X509_sign(x, key, EVP_sha256()) &&
	    (len = i2d_X509(x, &der)) > 0) {
		p = der;
		y = d2i_X509(NULL, &p, len);
	}
	X509_EXTENSION_free(e);
	OPENSSL_free(der);
	X509_free(x);
	return y;
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

static struct ra_trust *trust_root(X509 *r, bool strict)
{
	struct ra_trust *t = ra_trust_new();
	unsigned char *der = NULL;
	int len = i2d_X509(r, &der);

	if (ra_trust_add_vendor(t, 7, "acme", "subject_serialnumber", true) != 0 ||
	    ra_trust_add_vendor(t, 8, "other", "subject_cn", false) != 0 ||
	    ra_trust_add_cert(t, 7, "anchor", der, (size_t)len) != 0 ||
	    ra_trust_set_strict(t, 7, strict) != 0)
		printf("# trust_root failed\n");
	OPENSSL_free(der);
	return t;
}

/* The precise reasons (ra_trust_verr_text), strict and lenient vendors,
 * the leaf rules and "not accepted on this alias". */
static void test_reasons(void)
{
	/* an intermediate with a non-critical basicConstraints */
	X509 *soft =
		with_ext(make("CN=Acme Legacy CA,O=Acme", 3650, 60, true, k_inter, root, k_root),
			 NID_basic_constraints, "CA:TRUE", k_root);
	X509 *dev = make("CN=R,O=Acme,serialNumber=ACME-20", 30, 60, false, k_dev, soft, k_inter);
	X509 *old_ca = make("CN=Acme Old CA,O=Acme", -1, 86400 * 3, true, k_inter, root, k_root);
	X509 *dev_old =
		make("CN=R,O=Acme,serialNumber=ACME-21", 30, 60, false, k_dev, old_ca, k_inter);
	X509 *ca_leaf =
		make("CN=R,O=Acme,serialNumber=ACME-22", 30, 60, true, k_dev, inter, k_inter);
	struct cmd_pki_spec ka = { "CN=R,O=Acme,serialNumber=ACME-23",
				   30,
				   60,
				   false,
				   -1,
				   "critical,keyAgreement",
				   NULL,
				   NULL };
	X509 *ka_leaf = cmd_pki_cert_new(&ka, k_dev, inter, k_inter);
	X509 *good = make("CN=R,O=Acme,serialNumber=ACME-24", 30, 60, false, k_dev, inter, k_inter);
	struct ra_trust *strict = trust_root(root, true), *lenient = trust_root(root, false);
	STACK_OF(X509) *s_soft = chain_of(dev, soft), *s_old = chain_of(dev_old, old_ca);
	STACK_OF(X509) *s_ca = chain_of(ca_leaf, inter), *s_ka = chain_of(ka_leaf, inter);
	STACK_OF(X509) *s_good = chain_of(good, inter);
	char *other_only[] = { "other" };
	struct ra_auth a;

	ok(soft && dev && old_ca && ca_leaf && ka_leaf, "reasons: fixtures");
	is_int(ra_trust_authenticate(strict, NULL, 0, dev, s_soft, &a), RC_PERM,
	       "strict vendor: CA with non-critical basicConstraints refused");
	is_str(a.text,
	       "vendor CA certificate at depth 1: basicConstraints not marked critical "
	       "(strict X.509)",
	       "strict vendor: the reason names the CA and strict X.509");
	is_int(ra_trust_authenticate(lenient, NULL, 0, dev, s_soft, &a), 0,
	       "lenient vendor: the same chain is accepted");
	is_int(ra_trust_authenticate(lenient, NULL, 0, dev_old, s_old, &a), RC_PERM,
	       "lenient vendor: an expired CA is still refused");
	is_str(a.text, "vendor CA certificate at depth 1: expired", "expired CA: reason");
	is_int(ra_trust_authenticate(lenient, NULL, 0, ca_leaf, s_ca, &a), RC_PERM,
	       "lenient vendor: a CA as device certificate refused");
	is_str(a.text,
	       "vendor certificate: a CA certificate where an end-entity certificate is "
	       "required",
	       "CA leaf: reason");
	is_int(ra_trust_authenticate(strict, NULL, 0, ka_leaf, s_ka, &a), RC_PERM,
	       "keyUsage without digitalSignature refused");
	is_str(a.text, "vendor certificate: keyUsage does not allow digitalSignature",
	       "keyUsage: reason");
	is_int(ra_trust_authenticate_alias(strict, other_only, 1, good, s_good, &a), RC_UNSUPPORTED,
	       "registered vendor the alias does not accept: RC_UNSUPPORTED");
	ok(a.not_accepted && a.vendor && strcmp(a.vendor->name, "acme") == 0,
	   "not accepted: names the vendor");
	is_int(ra_trust_authenticate(strict, other_only, 1, good, s_good, &a), RC_PERM,
	       "not accepted: the old call still refuses");
	is_int(ra_trust_authenticate_alias(strict, other_only, 1, ca_leaf, s_ca, &a), RC_PERM,
	       "not accepted and a CA leaf: the leaf reason wins");
	X509_STORE *none = X509_STORE_new(), *anchors = X509_STORE_new();
	STACK_OF(X509) *s_soft_ca = chain_of(soft, NULL);
	char why[256];
	X509_STORE_add_cert(anchors, root);
	is_int(ra_trust_check_ca(none, NULL, inter, true, false, why, sizeof(why)), RC_PERM,
	       "check_ca: no anchor, refused");
	is_str(why,
	       "does not chain to an anchor of this vendor (through its registered "
	       "intermediates)",
	       "check_ca: the reason");
	is_int(ra_trust_check_ca(anchors, NULL, inter, true, false, why, sizeof(why)), 0,
	       "check_ca: a CA issued by the anchor");
	is_int(ra_trust_check_ca(anchors, NULL, soft, true, false, why, sizeof(why)), RC_PERM,
	       "check_ca: strict refuses a non-critical basicConstraints");
	is_str(why, "basicConstraints not marked critical (strict X.509)", "check_ca: reason");
	is_int(ra_trust_check_ca(anchors, NULL, soft, false, false, why, sizeof(why)), 0,
	       "check_ca: lenient accepts it");
	is_int(ra_trust_check_ca(anchors, NULL, old_ca, false, false, why, sizeof(why)), RC_PERM,
	       "check_ca: expired refused");
	is_str(why, "expired", "check_ca: expired reason");
	is_int(ra_trust_check_ca(anchors, NULL, old_ca, false, true, why, sizeof(why)), 0,
	       "check_ca: expired accepted with no_time (--force)");
	/* as an issuer: what enrollment will ask of the CA */
	struct cmd_pki_spec nosign = { "CN=Acme Signing-less CA,O=Acme", 3650, 60,  true, -1,
				       "critical,digitalSignature",	 NULL, NULL };
	X509 *nokcs = cmd_pki_cert_new(&nosign, k_inter, root, k_root);
	X509 *softroot = with_ext(make("CN=Soft Root,O=Acme", 3650, 60, true, k_root, NULL, k_root),
				  NID_basic_constraints, "CA:TRUE", k_root);
	X509_STORE *soft_store = X509_STORE_new();
	X509_STORE_add_cert(soft_store, softroot);
	is_int(ra_trust_check_issuer(anchors, NULL, inter, true, false, why, sizeof(why)), 0,
	       "check_issuer: a good intermediate");
	is_int(ra_trust_check_issuer(anchors, NULL, soft, true, false, why, sizeof(why)), RC_PERM,
	       "check_issuer: strict refuses a non-critical basicConstraints");
	is_str(why, "basicConstraints not marked critical (strict X.509)", "check_issuer: reason");
	is_int(ra_trust_check_issuer(anchors, NULL, soft, false, false, why, sizeof(why)), 0,
	       "check_issuer: lenient accepts it");
	is_int(ra_trust_check_issuer(anchors, NULL, nokcs, false, false, why, sizeof(why)), RC_PERM,
	       "check_issuer: a CA without keyCertSign refused (lenient too)");
	is_str(why, "not a CA (needs basicConstraints CA:TRUE and, with keyUsage, keyCertSign)",
	       "check_issuer: keyCertSign reason");
	is_int(ra_trust_check_ca(anchors, NULL, nokcs, false, false, why, sizeof(why)), 0,
	       "check_ca alone would have let it pass");
	is_int(ra_trust_check_issuer(soft_store, NULL, softroot, true, false, why, sizeof(why)),
	       RC_PERM,
	       "check_issuer: strict refuses an anchor with a non-critical basicConstraints");
	is_str(why, "basicConstraints not marked critical (strict X.509)",
	       "check_issuer: anchor reason");
	is_int(ra_trust_check_issuer(soft_store, NULL, softroot, false, false, why, sizeof(why)), 0,
	       "check_issuer: lenient accepts that anchor");
	is_int(ra_trust_check_issuer(anchors, NULL, root, true, false, why, sizeof(why)), 0,
	       "check_issuer: a good anchor");
	X509_STORE_free(soft_store);
	X509_free(softroot);
	X509_free(nokcs);
	X509_STORE_free(none);
	X509_STORE_free(anchors);
	sk_X509_free(s_soft_ca);
	sk_X509_free(s_soft);
	sk_X509_free(s_old);
	sk_X509_free(s_ca);
	sk_X509_free(s_ka);
	sk_X509_free(s_good);
	ra_trust_free(strict);
	ra_trust_free(lenient);
	X509_free(soft);
	X509_free(dev);
	X509_free(old_ca);
	X509_free(dev_old);
	X509_free(ca_leaf);
	X509_free(ka_leaf);
	X509_free(good);
}

/* A root's nameConstraints bind the leaf on the cached path as on the
 * full one (RFC 5280 4.2.1.10). */
static void test_name_constraints(void)
{
	EVP_PKEY *k_nroot = cmd_pki_key_new();
	X509 *nroot =
		with_ext(make("CN=NC Root,O=Acme", 3650, 60, true, k_nroot, NULL, k_nroot),
			 NID_name_constraints, "critical,permitted;DNS:acme.example", k_nroot);
	X509 *ninter = make("CN=NC CA,O=Acme", 3650, 60, true, k_inter, nroot, k_nroot);
	X509 *in = with_ext(
		make("CN=R1,O=Acme,serialNumber=ACME-31", 30, 60, false, k_dev, ninter, k_inter),
		NID_subject_alt_name, "DNS:r1.acme.example", k_inter);
	X509 *out = with_ext(
		make("CN=R2,O=Acme,serialNumber=ACME-32", 30, 60, false, k_dev, ninter, k_inter),
		NID_subject_alt_name, "DNS:r2.evil.example", k_inter);
	struct ra_trust *t = trust_root(nroot, true), *fresh = trust_root(nroot, true);
	STACK_OF(X509) *s_in = chain_of(in, ninter), *s_out = chain_of(out, ninter);
	struct ra_auth a;

	ok(nroot && ninter && in && out, "nc: fixtures");
	is_int(ra_trust_authenticate(fresh, NULL, 0, out, s_out, &a), RC_PERM,
	       "nc: full path refuses a name outside the root's constraints");
	is_int(a.verr, X509_V_ERR_PERMITTED_VIOLATION, "nc: full path: PERMITTED_VIOLATION");
	is_int(ra_trust_authenticate(t, NULL, 0, in, s_in, &a), 0,
	       "nc: a name inside is accepted (its CA now cached)");
	is_int(ra_trust_authenticate(t, NULL, 0, in, s_in, &a), 0,
	       "nc: accepted again on the cached path");
	is_int(ra_trust_authenticate(t, NULL, 0, out, s_out, &a), RC_PERM,
	       "nc: cached path refuses a name outside the root's constraints");
	is_str(a.text,
	       "vendor certificate: name not permitted by the nameConstraints of a vendor CA",
	       "nc: the reason");
	sk_X509_free(s_in);
	sk_X509_free(s_out);
	ra_trust_free(t);
	ra_trust_free(fresh);
	X509_free(nroot);
	X509_free(ninter);
	X509_free(in);
	X509_free(out);
	EVP_PKEY_free(k_nroot);
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
	test_reasons();
	test_name_constraints();
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
