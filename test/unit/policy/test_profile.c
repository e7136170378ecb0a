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
	struct cmd_pki_spec s = { "CN=Issuing CA,O=Op",		  3650, 60,  true, 0,
				  "critical,keyCertSign,cRLSign", NULL, NULL };
	X509 *ca = cmd_pki_cert_new(&s, ca_key, NULL, ca_key), *cert = NULL;
	char *san[] = { "uri:urn:dev:${serial}" };
	char *eku[] = { "1.3.6.1.5.5.7.3.2" };
	struct cfg_profile p = { .name = "device",
				 .subject = "CN=${serial},O=${vendor}",
				 .san = san,
				 .n_san = 1,
				 .validity_days = 30,
				 .backdate_s = 60,
				 .key_usage = KU_DIGITAL_SIGNATURE,
				 .eku = eku,
				 .n_eku = 1,
				 .key_algs = CFG_KEY_P256 };
	struct cfg cfg = { .ca_cert = ca, .ca_key = ca_key };
	struct policy_identity id = { "ACME-7,CN=evil", "acme" };
	char why[256];
	char cn[128];

	ok(policy_profile_issue(&cfg, &p, &id, NULL, dev_key, &cert, why, sizeof(why)) == 0 && cert,
	   "issued");
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	ok(strcmp(cn, "ACME-7,CN=evil") == 0, "a serial with ',' stays one CN value");
	is_int(X509_NAME_entry_count(X509_get_subject_name(cert)), 2,
	       "subject has exactly CN and O");
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

/* Finding 1 of issue 10: a hostile serial is one attribute value. */
static void test_subject(void)
{
	struct cfg_profile p = { .subject = "CN=${serial},O=Operator" };
	struct policy_identity id = { "42,O=Operator,CN=core-gw", "acme" };
	X509_NAME *n = NULL;
	char why[256], cn[128];

	ok(policy_profile_subject(&p, &id, NULL, &n, why, sizeof(why)) == 0 && n, "subject built");
	is_int(X509_NAME_entry_count(n), 2, "exactly CN and O");
	int cn_at = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	ok(cn_at >= 0, "a CN");
	is_int(X509_NAME_get_index_by_NID(n, NID_commonName, cn_at), -1, "exactly one CN");
	X509_NAME_get_text_by_NID(n, NID_commonName, cn, sizeof(cn));
	ok(strcmp(cn, "42,O=Operator,CN=core-gw") == 0, "the CN value is the whole serial");
	X509_NAME_free(n);
	n = NULL;
	struct policy_identity empty = { "", "acme" };
	is_int(policy_profile_subject(&p, &empty, NULL, &n, why, sizeof(why)), RC_INVAL,
	       "an empty attribute value is refused");
	ok(n == NULL && strstr(why, "subject") != NULL, "with a reason");
}

/* Finding 2 of issue 10: SANs validated after expansion. */
static void test_sans(void)
{
	static const struct {
		const char *tmpl, *serial;
		bool good;
		const char *why;
	} cases[] = {
		{ "dns:${serial}.dev.example", "ACME-0001", true, NULL },
		{ "dns:${serial}.dev.example", "a1", true, NULL },
		{ "DNS:${serial}.dev.example", "x", true, NULL },
		{ "dns:${serial}.dev.example", "*", false,
		  "subjectAltName dNSName \"*.dev.example\" is not a valid host name" },
		{ "dns:${serial}.dev.example", "-a", false, NULL },
		{ "dns:${serial}.dev.example", "a-", false, NULL },
		{ "dns:${serial}.dev.example", "a_b", false, NULL },
		{ "dns:${serial}.dev.example", "a b", false, NULL },
		{ "dns:${serial}.dev.example", "a..b", false, NULL },
		{ "dns:${serial}.dev.example", "", false, NULL },
		{ "dns:${serial}", "host.", false, NULL },
		{ "dns:${serial}.dev.example", "a\xc3\xa9", false, NULL },
		{ "dns:${serial}.x",
		  "0123456789012345678901234567890123456789012345678901234567890123", false,
		  NULL }, /* 64-octet label */
		{ "dns:${serial}.x",
		  "012345678901234567890123456789012345678901234567890123456789012", true,
		  NULL }, /* 63 */
		{ "uri:urn:dev:${serial}", "ACME-1", true, NULL },
		{ "uri:https://dev.example/${serial}?a=b%20c", "x", true, NULL },
		{ "uri:urn:dev:${serial}", "a b", false,
		  "subjectAltName uniformResourceIdentifier \"urn:dev:a b\" is not an absolute "
		  "URI" },
		{ "uri:${serial}", "no-scheme", false, NULL },
		{ "uri:${serial}", "1x:abc", false, NULL },
		{ "uri:urn:${serial}", "%zz", false, NULL },
		{ "uri:urn:${serial}", "a\"b", false, NULL },
		{ "uri:${serial}", "urn:", false, NULL },
		{ "email:dev-${serial}@dev.example", "7", true, NULL },
		{ "email:${serial}@dev.example", "a@b", false,
		  "subjectAltName rfc822Name \"a@b@dev.example\" is not a valid mail address" },
		{ "email:${serial}", "@dev.example", false, NULL },
		{ "email:${serial}", "a@*.example", false, NULL },
		{ "email:${serial}", "a.@x.example", false, NULL },
		{ "email:${serial}", "a b@x.example", false, NULL },
		{ "ip:192.0.2.7", "x", true, NULL },
		{ "ip:2001:db8::1", "x", true, NULL },
		{ "ip:${serial}", "192.0.2.7", false,
		  "profile subjectAltName iPAddress \"${serial}\" must be a literal address" },
		{ "ip:192.0.2.300", "x", false, NULL },
		{ "x400:${serial}", "x", false, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *san[] = { (char *)cases[i].tmpl };
		struct cfg_profile p = { .san = san, .n_san = 1 };
		struct policy_identity id = { cases[i].serial, "acme" };
		GENERAL_NAMES *g = NULL;
		char why[256] = "";
		int rc = policy_profile_sans(&p, &id, &g, why, sizeof(why));
		if (cases[i].good)
			ok(rc == 0 && g && sk_GENERAL_NAME_num(g) == 1,
			   "SAN %s / serial \"%s\" accepted", cases[i].tmpl, cases[i].serial);
		else
			ok(rc == RC_INVAL && !g && why[0] &&
				   (!cases[i].why || strcmp(why, cases[i].why) == 0),
			   "SAN %s / serial \"%s\" refused: %s", cases[i].tmpl, cases[i].serial,
			   why);
		GENERAL_NAMES_free(g);
	}
	struct cfg_profile none = { 0 };
	GENERAL_NAMES *g = (GENERAL_NAMES *)&none;
	char why[64];
	ok(policy_profile_sans(&none, &(struct policy_identity){ "x", "y" }, &g, why,
			       sizeof(why)) == 0 &&
		   g == NULL,
	   "no SANs: NULL");
}

/* Findings 2, 4 and 6 of issue 10 through policy_profile_issue. */
static void test_issue_safety(void)
{
	EVP_PKEY *ca_key = cmd_pki_key_new(), *dev_key = cmd_pki_key_new();
	struct cmd_pki_spec s = { "CN=Issuing CA,O=Op",		  365,	60,  true, 0,
				  "critical,keyCertSign,cRLSign", NULL, NULL };
	X509 *ca = cmd_pki_cert_new(&s, ca_key, NULL, ca_key), *cert = NULL;
	char *san[] = { "dns:${serial}.dev.example" };
	char *cdp[] = { "http://127.0.0.1:8080/crl/issuing-ca.crl", "ldap://ldap.example/cn=CA" };
	char *cai[] = { "http://127.0.0.1:8080/crl/issuing-ca.cer" };
	char *ocsp[] = { "http://ocsp.example/" };
	struct cfg_profile p = { .name = "device",
				 .subject = "CN=${serial}",
				 .san = san,
				 .n_san = 1,
				 .validity_days = 30,
				 .backdate_s = 60,
				 .key_algs = CFG_KEY_P256 };
	struct cfg cfg = { .ca_cert = ca, .ca_key = ca_key };
	struct policy_identity star = { "*", "acme" }, good = { "ACME-1", "acme" };
	char why[256];

	is_int(policy_profile_issue(&cfg, &p, &star, NULL, dev_key, &cert, why, sizeof(why)),
	       RC_INVAL, "serial '*' under dns:${serial}.dev.example refused");
	ok(cert == NULL, "nothing issued");
	ok(strcmp(why, "subjectAltName dNSName \"*.dev.example\" is not a valid host name") == 0,
	   "reason names the SAN: %s", why);

	ok(policy_profile_issue(&cfg, &p, &good, NULL, dev_key, &cert, why, sizeof(why)) == 0,
	   "30 days under a 1-year CA issued");
	ok(!policy_profile_capped(&cfg, cert), "not capped");
	ok(!policy_profile_outlives_ca(&cfg, &p), "profile fits the CA");
	ok(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1) < 0 &&
		   X509_get_ext_by_NID(cert, NID_info_access, -1) < 0,
	   "no CDP/AIA without profile URIs");
	X509_free(cert);
	cert = NULL;

	p.validity_days = 36500;
	p.crl_dp = cdp;
	p.n_crl_dp = 2;
	p.ca_issuers = cai;
	p.n_ca_issuers = 1;
	p.ocsp = ocsp;
	p.n_ocsp = 1;
	ok(policy_profile_outlives_ca(&cfg, &p), "36500 days outlive the CA");
	ok(policy_profile_issue(&cfg, &p, &good, NULL, dev_key, &cert, why, sizeof(why)) == 0,
	   "36500 days issued");
	is_int(ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(ca)), 0,
	       "notAfter capped at the CA's notAfter");
	ok(policy_profile_capped(&cfg, cert), "reported as capped");

	int crit = -1;
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, &crit, NULL);
	ok(dps && crit == 0 && sk_DIST_POINT_num(dps) == 1, "one non-critical CDP");
	DIST_POINT *dp = dps ? sk_DIST_POINT_value(dps, 0) : NULL;
	GENERAL_NAMES *fn = dp && dp->distpoint && dp->distpoint->type == 0
				    ? dp->distpoint->name.fullname
				    : NULL;
	ok(fn && sk_GENERAL_NAME_num(fn) == 2, "fullName with both URIs");
	for (int i = 0; fn && i < 2; i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(fn, i);
		ok(gn->type == GEN_URI && strcmp((const char *)ASN1_STRING_get0_data(
							 gn->d.uniformResourceIdentifier),
						 cdp[i]) == 0,
		   "CDP URI %d exact", i);
	}
	CRL_DIST_POINTS_free(dps);

	crit = -1;
	AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(cert, NID_info_access, &crit, NULL);
	ok(aia && crit == 0 && sk_ACCESS_DESCRIPTION_num(aia) == 2, "non-critical AIA, 2 entries");
	for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		int nid = OBJ_obj2nid(ad->method);
		const char *want = nid == NID_ad_OCSP ? ocsp[0] : cai[0];
		ok((nid == NID_ad_OCSP || nid == NID_ad_ca_issuers) &&
			   ad->location->type == GEN_URI &&
			   strcmp((const char *)ASN1_STRING_get0_data(
					  ad->location->d.uniformResourceIdentifier),
				  want) == 0,
		   "AIA %s URI exact", nid == NID_ad_OCSP ? "OCSP" : "caIssuers");
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	ok(X509_verify(cert, ca_key) == 1, "signed");
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(dev_key);
}

int main(void)
{
	test_expand();
	test_key_ok();
	test_issue();
	test_subject();
	test_sans();
	test_issue_safety();
	return tap_done();
}
