/*
 * test/unit/ra/test_check.c - ra/check.c, the factory dry run of a vendor
 * chain: the verdict is step_vendor's (ra_trust_authenticate_alias), the
 * path is reported certificate by certificate with days left, a failed
 * chain still names its vendor, strictness findings, the alias, the
 * serial; a request that is no PKIMessage.
 */
#include <string.h>

#include "cmd/pki.h"
#include "ra/check.h"
#include "test/unit/tap.h"

static EVP_PKEY *k_root, *k_inter, *k_dev;
static X509 *root, *inter;

static X509 *make(const char *subject, int days, int backdate, bool ca, X509 *issuer,
		  EVP_PKEY *ikey, EVP_PKEY *key)
{
	struct cmd_pki_spec s = {
		subject, days, backdate,
		ca,	 -1,   ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature",
		NULL,	 NULL
	};
	return cmd_pki_cert_new(&s, key, issuer, ikey);
}

static const struct ra_check_step *step(const struct ra_check *c, const char *check)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->s[i].check, check) == 0)
			return &c->s[i];
	return NULL;
}

static void expect(const struct ra_check *c, const char *check, bool pass, const char *text,
		   const char *what)
{
	const struct ra_check_step *s = step(c, check);

	ok(s && s->pass == pass && strstr(s->detail, text), "%s: %s %s", what, check,
	   pass ? "passes" : "fails");
	if (s && !strstr(s->detail, text))
		printf("#   got \"%s\"\n", s->detail);
}

int main(void)
{
	k_root = cmd_pki_key_new();
	k_inter = cmd_pki_key_new();
	k_dev = cmd_pki_key_new();
	root = make("CN=Acme Root,O=Acme", 3650, 60, true, NULL, k_root, k_root);
	inter = make("CN=Acme CA,O=Acme", 3650, 60, true, root, k_root, k_inter);
	X509 *dev = make("CN=R,O=Acme,serialNumber=ACME-7", 30, 60, false, inter, k_inter, k_dev);
	X509 *old = make("CN=R,O=Acme,serialNumber=ACME-8", -1, 86400 * 3, false, inter, k_inter,
			 k_dev);
	struct ra_trust *t = ra_trust_new();
	unsigned char *der = NULL;
	int len = i2d_X509(root, &der);
	STACK_OF(X509) *sk = sk_X509_new_null(), *sk_old = sk_X509_new_null();
	char *acme[] = { "acme" }, *other[] = { "other" };
	struct cfg_alias alias = { .label = "3gpp", .vendors = acme, .n_vendors = 1 };
	struct ra_check c;

	if (ra_trust_add_vendor(t, 7, "acme", "subject_serialnumber", true) != 0 ||
	    ra_trust_add_cert(t, 7, "anchor", der, (size_t)len) != 0)
		printf("Bail out! registry\n");
	OPENSSL_free(der);
	sk_X509_push(sk, dev);
	sk_X509_push(sk, inter);
	sk_X509_push(sk_old, old);
	sk_X509_push(sk_old, inter);

	is_int(ra_check_chain(t, &alias, dev, sk, &c), 0, "good: 0");
	ok(ra_check_passed(&c) && c.accepted && c.vendor && strcmp(c.serial, "ACME-7") == 0,
	   "good: passes, vendor and serial");
	expect(&c, "chain", true, "chains to vendor acme", "good");
	expect(&c, "certificate", true, "depth 0, vendor certificate", "good");
	ok(c.n > 3 && strstr(c.s[3].detail, "depth 2, vendor trust anchor"),
	   "good: the path ends at the anchor (depth 2)");
	expect(&c, "strictness", true, "lenient mode would accept the chain", "good");
	expect(&c, "alias", true, "vendor acme is accepted on alias 3gpp", "good");
	expect(&c, "serial", true, "device serial \"ACME-7\"", "good");

	is_int(ra_check_chain(t, &alias, old, sk_old, &c), 0, "expired: 0");
	ok(!ra_check_passed(&c) && !c.accepted && c.vendor, "expired: fails, vendor still named");
	expect(&c, "chain", false, "vendor certificate: expired", "expired");
	expect(&c, "certificate", false, "depth 0, vendor certificate", "expired");

	alias.vendors = other;
	is_int(ra_check_chain(t, &alias, dev, sk, &c), 0, "not accepted: 0");
	expect(&c, "chain", true, "chains to vendor acme", "not accepted");
	expect(&c, "alias", false, "vendor acme is not accepted on alias 3gpp", "not accepted");

	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };
	is_int(ra_check_request(&c, &alias, dev, junk, sizeof(junk)), 0, "junk request: 0");
	expect(&c, "request", false, "not a DER PKIMessage", "junk request");

	sk_X509_free(sk);
	sk_X509_free(sk_old);
	ra_trust_free(t);
	X509_free(dev);
	X509_free(old);
	X509_free(root);
	X509_free(inter);
	EVP_PKEY_free(k_root);
	EVP_PKEY_free(k_inter);
	EVP_PKEY_free(k_dev);
	return tap_done();
}
