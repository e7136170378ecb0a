/* Unit tests for policy/crl.c: CRL contents, numbers, reasons, signature,
 * and the CRLReason names. */
#include <stdbool.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "cmd/pki.h"
#include "policy/crl.h"
#include "test/unit/tap.h"

static long long crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	int64_t v = -1;
	if (n)
		ASN1_INTEGER_get_int64(&v, n);
	ASN1_INTEGER_free(n);
	return v;
}

/* Reason of the entry with serial hex, -1 if no reasonCode, -2 if absent. */
static int entry_reason(X509_CRL *crl, const char *hex)
{
	STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
	for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(r), NULL);
		char *h = bn ? BN_bn2hex(bn) : NULL;
		bool match = h && strcmp(h, hex) == 0;
		OPENSSL_free(h);
		BN_free(bn);
		if (!match)
			continue;
		ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
		int v = e ? (int)ASN1_ENUMERATED_get(e) : -1;
		ASN1_ENUMERATED_free(e);
		return v;
	}
	return -2;
}

static int verify_with_crl(X509 *ca, X509 *leaf, X509_CRL *crl)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err = -1;

	if (st && ctx && leaf && crl && X509_STORE_add_cert(st, ca) &&
	    X509_STORE_add_crl(st, crl) && X509_STORE_CTX_init(ctx, st, leaf, NULL)) {
		X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_CRL_CHECK);
		err = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return err;
}

static void test_build(X509 *ca, EVP_PKEY *key, EVP_PKEY *other)
{
	struct policy_crl_entry e[] = {
		{ "1A2B3C", 1700000000, 1 },	       /* keyCompromise */
		{ "7F00000000000001", 1700000100, 0 }, /* unspecified: no reasonCode */
		{ "DEADBEEF", 1700000200, 4 },	       /* superseded */
	};
	X509_CRL *c1 = NULL, *c2 = NULL, *c0 = NULL;
	time_t now = time(NULL);

	is_int(policy_crl_build(ca, key, NULL, 0, 1, now, 3600, &c0), 0, "empty CRL builds");
	ok(c0 && sk_X509_REVOKED_num(X509_CRL_get_REVOKED(c0)) <= 0, "empty CRL has no entries");
	is_int(policy_crl_build(ca, key, e, 3, 2, now, 86400, &c1), 0, "CRL with 3 entries builds");
	is_int(policy_crl_build(ca, key, e, 2, 3, now, 86400, &c2), 0, "next CRL builds");
	if (!c0 || !c1 || !c2) {
		ok(0, "CRLs built");
		goto out;
	}
	is_int(crl_number(c0), 1, "cRLNumber 1");
	is_int(crl_number(c1), 2, "cRLNumber 2");
	is_int(crl_number(c2), 3, "cRLNumber 3: numbers increase with the argument");
	is_int(X509_CRL_get_version(c1), X509_CRL_VERSION_2, "version 2 (extensions present)");
	ok(X509_NAME_cmp(X509_CRL_get_issuer(c1), X509_get_subject_name(ca)) == 0,
	   "issuer is the CA subject");
	is_int(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(c1)), 3, "3 entries");
	is_int(entry_reason(c1, "1A2B3C"), 1, "keyCompromise entry carries reasonCode 1");
	is_int(entry_reason(c1, "7F00000000000001"), -1,
	       "unspecified entry has no reasonCode (RFC 5280 5.3.1)");
	is_int(entry_reason(c1, "DEADBEEF"), 4, "superseded entry carries reasonCode 4");
	is_int(entry_reason(c2, "DEADBEEF"), -2, "entry absent when not listed");
	is_int(X509_CRL_verify(c1, X509_get0_pubkey(ca)), 1, "signature verifies with the CA key");
	is_int(X509_CRL_verify(c1, other), 0, "signature does not verify with another key");

	AUTHORITY_KEYID *aki = X509_CRL_get_ext_d2i(c1, NID_authority_key_identifier, NULL, NULL);
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	ok(aki && aki->keyid && ski && ASN1_OCTET_STRING_cmp(aki->keyid, ski) == 0,
	   "AKI keyid = the CA's SKI");
	AUTHORITY_KEYID_free(aki);

	int day = 0, sec = 0;
	ok(ASN1_TIME_diff(&day, &sec, X509_CRL_get0_lastUpdate(c1), X509_CRL_get0_nextUpdate(c1)) &&
		   day == 1 && sec == 0,
	   "nextUpdate = thisUpdate + validity");

	/* a relying party with CRL checking sees a listed leaf as revoked */
	struct cmd_pki_spec ls = { "CN=leaf", 1, 0, false, -1, "digitalSignature", NULL, NULL };
	X509 *leaf = cmd_pki_cert_new(&ls, other, ca, key);
	BIGNUM *bn = leaf ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	struct policy_crl_entry le[] = { { hex, (long long)now - 10, 1 } };
	X509_CRL *c3 = NULL, *c4 = NULL;
	ok(hex && policy_crl_build(ca, key, le, 1, 4, now, 600, &c3) == 0 &&
		   policy_crl_build(ca, key, NULL, 0, 5, now, 600, &c4) == 0,
	   "CRLs for the leaf built");
	is_int(verify_with_crl(ca, leaf, c3), X509_V_ERR_CERT_REVOKED,
	       "leaf listed -> X509_V_ERR_CERT_REVOKED");
	is_int(verify_with_crl(ca, leaf, c4), X509_V_OK, "leaf not listed -> verifies");
	X509_CRL_free(c3);
	X509_CRL_free(c4);
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(leaf);
out:
	X509_CRL_free(c0);
	X509_CRL_free(c1);
	X509_CRL_free(c2);
}

static void test_refusals(X509 *ca, EVP_PKEY *key)
{
	struct policy_crl_entry bad_serial = { "12XZ", 1, 1 };
	struct policy_crl_entry bad_reason = { "12", 1, 7 };
	struct policy_crl_entry remove = { "12", 1, POLICY_CRL_REASON_REMOVE };
	X509_CRL *c = NULL;

	is_int(policy_crl_build(ca, key, &bad_serial, 1, 1, time(NULL), 60, &c), RC_INVAL,
	       "non-hex serial refused");
	is_int(policy_crl_build(ca, key, &bad_reason, 1, 1, time(NULL), 60, &c), RC_INVAL,
	       "reason 7 refused");
	is_int(policy_crl_build(ca, key, &remove, 1, 1, time(NULL), 60, &c), RC_INVAL,
	       "removeFromCRL is no entry of a full CRL");
	is_int(policy_crl_build(ca, key, NULL, 0, 0, time(NULL), 60, &c), RC_INVAL,
	       "cRLNumber 0 refused");
	ok(c == NULL, "nothing returned on refusal");
}

static void test_reasons(void)
{
	is_int(policy_crl_reason_parse("keyCompromise"), 1, "keyCompromise = 1");
	is_int(policy_crl_reason_parse("aACompromise"), 10, "aACompromise = 10");
	is_int(policy_crl_reason_parse("removeFromCRL"), 8, "removeFromCRL = 8");
	is_int(policy_crl_reason_parse("keycompromise"), -1, "names are case-sensitive");
	is_int(policy_crl_reason_parse("7"), -1, "numbers are not names");
	ok(strcmp(policy_crl_reason_name(4), "superseded") == 0, "4 = superseded");
	ok(strcmp(policy_crl_reason_name(7), "?") == 0, "7 has no name");
}

int main(void)
{
	EVP_PKEY *key = cmd_pki_key_new(), *other = cmd_pki_key_new();
	struct cmd_pki_spec spec = { "CN=Test Issuing CA,O=cmpgw",   30,   0,	true, 0,
				     "critical,keyCertSign,cRLSign", NULL, NULL };
	X509 *ca = key ? cmd_pki_cert_new(&spec, key, NULL, key) : NULL;

	ok(ca != NULL, "test CA made");
	if (ca) {
		test_build(ca, key, other);
		test_refusals(ca, key);
	}
	test_reasons();
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return tap_done();
}
