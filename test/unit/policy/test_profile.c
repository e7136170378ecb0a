/* Unit tests for policy/profile.c: templates, key policy, issuance. */
#include <string.h>

#include <openssl/x509v3.h>

#include "cmd/pki.h"
#include "policy/profile.h"
#include "test/unit/tap.h"

static void test_expand(void)
{
	struct policy_identity id = { "ACME-1", "acme" };
	char buf[64];

	ok(policy_profile_expand("CN=${serial},O=${vendor}", &id, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "CN=ACME-1,O=acme") == 0,
	   "placeholders expanded");
	is_int(policy_profile_expand("CN=${nope}", &id, buf, sizeof(buf)), RC_INVAL,
	       "unknown placeholder refused");
	is_int(policy_profile_expand("CN=${serial}${serial}", &id, buf, 10), RC_TOOBIG,
	       "overflow refused");
}

static void test_key_ok(void)
{
	struct cfg_profile p = { .key_algs = CFG_KEY_P256 | CFG_KEY_RSA, .rsa_min_bits = 2048 };
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *rsa1k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	const char *why = NULL;

	ok(policy_profile_key_ok(&p, p256, &why), "P-256 allowed");
	ok(!policy_profile_key_ok(&p, p384, &why) && why, "P-384 not in the profile");
	ok(!policy_profile_key_ok(&p, rsa1k, &why) && strstr(why, "short"), "RSA-1024 too short");
	ok(!policy_profile_key_ok(&p, ed, &why), "Ed25519 not in the profile");
	p.key_algs |= CFG_KEY_ED25519;
	ok(policy_profile_key_ok(&p, ed, &why), "Ed25519 allowed when listed");
	EVP_PKEY_free(p256);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa1k);
	EVP_PKEY_free(ed);
}

static void test_issue(void)
{
	EVP_PKEY *ca_key = cmd_pki_key_new(), *dev_key = cmd_pki_key_new();
	struct cmd_pki_spec s = { "CN=Issuing CA,O=Op", 3650, 60, true, 0,
				  "critical,keyCertSign,cRLSign", NULL };
	X509 *ca = cmd_pki_cert_new(&s, ca_key, NULL, ca_key), *cert = NULL;
	char *san[] = { "dns:${serial}.dev.example.net" };
	char *eku[] = { "1.3.6.1.5.5.7.3.2" };
	struct cfg_profile p = { .name = "device", .subject = "CN=${serial},O=${vendor}",
				 .san = san, .n_san = 1, .validity_days = 30, .backdate_s = 60,
				 .key_usage = KU_DIGITAL_SIGNATURE, .eku = eku, .n_eku = 1,
				 .key_algs = CFG_KEY_P256 };
	struct cfg cfg = { .ca_cert = ca, .ca_key = ca_key };
	struct policy_identity id = { "ACME-7,CN=evil", "acme" };
	char why[256];
	char cn[128];

	ok(policy_profile_issue(&cfg, &p, &id, NULL, dev_key, &cert, why, sizeof(why)) == 0 && cert,
	   "issued");
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	ok(strcmp(cn, "ACME-7,CN=evil") == 0, "a serial with ',' stays one CN value");
	is_int(X509_NAME_entry_count(X509_get_subject_name(cert)), 2, "subject has exactly CN and O");
	ok(X509_verify(cert, ca_key) == 1, "signed by the CA key");
	ok(X509_check_issued(ca, cert) == X509_V_OK, "issuer/AKI match the CA");
	ok(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE, "key usage from the profile");
	ok((X509_get_extended_key_usage(cert) & XKU_SSL_CLIENT) != 0, "EKU clientAuth");
	ok(X509_get0_subject_key_id(cert) != NULL, "SKI present");
	{
		/* the EC fast path of set_pubkey must give X509_set_pubkey's DER */
		unsigned char *want = NULL, *got = NULL, *der = NULL;
		int wl = i2d_PUBKEY(dev_key, &want);
		int gl = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &got);
		ok(wl > 0 && wl == gl && memcmp(want, got, (size_t)wl) == 0,
		   "SubjectPublicKeyInfo DER equals the key's own encoding");
		int dl = i2d_X509(cert, &der);
		const unsigned char *p = der;
		X509 *back = d2i_X509(NULL, &p, dl);
		ok(back && EVP_PKEY_eq(X509_get0_pubkey(back), dev_key) == 1,
		   "decoded certificate carries the key");
		X509_free(back);
		OPENSSL_free(der);
		OPENSSL_free(got);
		OPENSSL_free(want);
	}
	const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
	ok(sn->length >= 9 && !(sn->type & V_ASN1_NEG), "serial positive with >= 64 bits");
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	ok(gens && sk_GENERAL_NAME_num(gens) == 1, "one SAN");
	GENERAL_NAMES_free(gens);
	int days = 0, secs = 0;
	ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
	ok(days == 30 && secs == 60, "validity = days + backdate");
	X509_free(cert);
	cert = NULL;

	X509_NAME *req = X509_NAME_new();
	X509_NAME_add_entry_by_txt(req, "CN", MBSTRING_ASC, (const unsigned char *)"asked", -1, -1,
				   0);
	ok(policy_profile_issue(&cfg, &p, &id, req, dev_key, &cert, why, sizeof(why)) == 0 &&
		   X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
					     sizeof(cn)) > 0 &&
		   strcmp(cn, "asked") != 0,
	   "requested subject ignored unless the profile allows it");
	X509_free(cert);
	cert = NULL;
	p.allow_requested_subject = true;
	ok(policy_profile_issue(&cfg, &p, &id, req, dev_key, &cert, why, sizeof(why)) == 0 &&
		   X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
					     sizeof(cn)) > 0 &&
		   strcmp(cn, "asked") == 0,
	   "requested subject used when allowed");
	X509_free(cert);
	X509_NAME_free(req);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(dev_key);
}

int main(void)
{
	test_expand();
	test_key_ok();
	test_issue();
	return tap_done();
}
