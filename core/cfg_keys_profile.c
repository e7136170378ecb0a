/*
 * core/cfg_keys_profile.c - the config keys of certificate profiles
 * (profiles.<name>.*; see core/cfg_int.h; never calls into core/cfg.c).
 */
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "core/cfg_int.h"
#include "core/dn.h"

/* ---- converters ---- */

/* Only ${serial} and ${vendor}; sample values substituted into out. */
static int check_placeholders(struct cfg_ld *ld, const char *jp, const char *s, char *out,
			      size_t len)
{
	size_t o = 0;

	while (*s) {
		const char *rep = NULL;
		if (s[0] == '$' && s[1] == '{') {
			const char *end = strchr(s, '}');
			if (!end)
				return cfg_fail(ld, jp, "unterminated placeholder \"%s\"", s);
			if (end - s == 8 && strncmp(s, "${serial}", 9) == 0)
				rep = "X";
			else if (end - s == 8 && strncmp(s, "${vendor}", 9) == 0)
				rep = "Y";
			else
				return cfg_fail(ld, jp,
						"unknown placeholder \"%.*s\" (allowed: ${serial}, "
						"${vendor})",
						(int)(end - s + 1), s);
			s = end + 1;
		}
		if (o + 2 >= len)
			return cfg_fail(ld, jp, "too long");
		out[o++] = rep ? rep[0] : *s++;
	}
	out[o] = '\0';
	return 0;
}

static int conv_subject(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);
	char sample[1024];
	X509_NAME *n = NULL;
	int rc = check_placeholders(ld, jp, s, sample, sizeof(sample));

	if (rc)
		return rc;
	if (!(n = dn_parse(s))) {
		ERR_clear_error();
		return cfg_fail(ld, jp, "cannot parse \"%s\" as a distinguished name", s);
	}
	X509_NAME_free(n);
	if (!(n = dn_parse(sample))) {
		ERR_clear_error();
		return cfg_fail(ld, jp, "\"%s\" with ${serial}=X, ${vendor}=Y is not a valid name",
				s);
	}
	X509_NAME_free(n);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

static int conv_san(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const pfx[] = { "dns:", "uri:", "ip:", "email:" };
	char ***arr = field, sample[1024];
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		char ejp[256];
		size_t k = 0;
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		while (k < 4 && strncmp(s, pfx[k], strlen(pfx[k])) != 0)
			k++;
		if (k == 4 || !s[strlen(pfx[k])])
			return cfg_fail(ld, ejp,
					"must be dns:, uri:, ip: or email: followed by a value");
		int rc = check_placeholders(ld, ejp, s, sample, sizeof(sample));
		if (rc)
			return rc;
		if (!((*arr)[i] = strdup(s)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static int conv_ku(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const struct cfg_named_bit ku[] = {
		{ "digitalSignature", KU_DIGITAL_SIGNATURE },
		{ "nonRepudiation", KU_NON_REPUDIATION },
		{ "keyEncipherment", KU_KEY_ENCIPHERMENT },
		{ "dataEncipherment", KU_DATA_ENCIPHERMENT },
		{ "keyAgreement", KU_KEY_AGREEMENT },
		{ "keyCertSign", KU_KEY_CERT_SIGN },
		{ "cRLSign", KU_CRL_SIGN },
	};
	return cfg_conv_bits(ld, jp, v, field, ku, sizeof(ku) / sizeof(ku[0]), "key usage");
}

static int conv_algs(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const struct cfg_named_bit algs[] = {
		{ "P-256", CFG_KEY_P256 },	{ "P-384", CFG_KEY_P384 },
		{ "P-521", CFG_KEY_P521 },	{ "RSA", CFG_KEY_RSA },
		{ "Ed25519", CFG_KEY_ED25519 }, { "Ed448", CFG_KEY_ED448 },
	};
	return cfg_conv_bits(ld, jp, v, field, algs, sizeof(algs) / sizeof(algs[0]),
			     "key algorithm");
}

static int conv_eku(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const names[][2] = {
		{ "serverAuth", "1.3.6.1.5.5.7.3.1" },	 { "clientAuth", "1.3.6.1.5.5.7.3.2" },
		{ "codeSigning", "1.3.6.1.5.5.7.3.3" },	 { "emailProtection", "1.3.6.1.5.5.7.3.4" },
		{ "timeStamping", "1.3.6.1.5.5.7.3.8" }, { "OCSPSigning", "1.3.6.1.5.5.7.3.9" },
	};
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i, k;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e), *oid = NULL;
		char ejp[256];
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		for (k = 0; k < sizeof(names) / sizeof(names[0]) && !oid; k++)
			if (strcmp(names[k][0], s) == 0)
				oid = names[k][1];
		if (!oid && strspn(s, "0123456789.") == strlen(s)) {
			ASN1_OBJECT *o = OBJ_txt2obj(s, 1);
			oid = o ? s : NULL;
			ASN1_OBJECT_free(o);
			ERR_clear_error();
		}
		if (!oid)
			return cfg_fail(ld, ejp, "unknown extended key usage \"%s\"", s);
		for (k = 0; k < i; k++)
			if (strcmp((*arr)[k], oid) == 0)
				return cfg_fail(ld, ejp, "duplicate extended key usage \"%s\"", s);
		if (!((*arr)[i] = strdup(oid)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

/* RFC 5280 4.2.1.13 / 4.2.2.1: where relying parties fetch status and
 * issuer certificates; absolute URIs of a scheme they can reach. */
static bool uri_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"<>\\`{}|^", c);
}

static int conv_urls(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const schemes[] = { "http://", "https://", "ldap://" };
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		char ejp[256];
		size_t k = 0, len = strlen(s);
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		while (k < 3 && strncasecmp(s, schemes[k], strlen(schemes[k])) != 0)
			k++;
		if (k == 3 || len <= strlen(schemes[k]) || len > 1024)
			return cfg_fail(ld, ejp,
					"must be an http://, https:// or ldap:// URI of at most "
					"1024 characters");
		for (const char *c = s; *c; c++)
			if (!uri_char_ok((unsigned char)*c))
				return cfg_fail(ld, ejp,
						"\"%s\" holds a character not allowed in a URI", s);
		if (!((*arr)[i] = strdup(s)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

CFG_STRS_PAIR(struct cfg_profile, san, n_san);
CFG_STRS_PAIR(struct cfg_profile, eku, n_eku);
CFG_STRS_PAIR(struct cfg_profile, crl_dp, n_crl_dp);
CFG_STRS_PAIR(struct cfg_profile, ca_issuers, n_ca_issuers);
CFG_STRS_PAIR(struct cfg_profile, ocsp, n_ocsp);

/* ---- the keys ---- */

// clang-format off
static const struct cfg_key profiles_keys[] = {
	{"profiles", K_MAP, S_PROFILE, 0, "{}", 0, 256, NULL,
	 "Certificate profiles by name (`[A-Za-z0-9._-]{1,64}`)."},
	{"profiles.<name>.subject", K_STR, P(subject), NULL, 0, 0, conv_subject,
	 "Subject template: `CN=${serial},O=${vendor}` (RFC 4514 order, last RDN first) or "
	 "`/O=${vendor}/CN=${serial}` (DER order); placeholders `${serial}` and `${vendor}` only."},
	{"profiles.<name>.san", K_STRS, P(san), "[]", 0, 16, conv_san,
	 "subjectAltName templates: `dns:`, `uri:`, `ip:` or `email:` followed by the value."},
	{"profiles.<name>.validity_days", K_INT, P(validity_days), "365", 1, 36500, NULL,
	 "Certificate lifetime in days (1..36500)."},
	{"profiles.<name>.backdate_s", K_INT, P(backdate_s), "300", 0, 86400, NULL,
	 "notBefore = now - backdate_s, for devices with a slow clock (0..86400)."},
	{"profiles.<name>.key_usage", K_STRS, P(key_usage), "[\"digitalSignature\"]", 1, 9, conv_ku,
	 "keyUsage bits: digitalSignature nonRepudiation keyEncipherment dataEncipherment "
	 "keyAgreement keyCertSign cRLSign."},
	{"profiles.<name>.eku", K_STRS, P(eku), "[]", 0, 16, conv_eku,
	 "extendedKeyUsage: serverAuth clientAuth codeSigning emailProtection timeStamping "
	 "OCSPSigning or dotted OIDs; empty = no extension."},
	{"profiles.<name>.key_algorithms", K_STRS, P(key_algs), "[\"P-256\",\"P-384\",\"RSA\",\"Ed25519\"]",
	 1, 6, conv_algs, "Accepted subject keys: P-256 P-384 P-521 RSA Ed25519 Ed448."},
	{"profiles.<name>.rsa_min_bits", K_INT, P(rsa_min_bits), "2048", 2048, 16384, NULL,
	 "Smallest RSA modulus accepted (2048..16384)."},
	{"profiles.<name>.allow_requested_subject", K_BOOL, P(allow_requested_subject), "false", 0, 0,
	 NULL, "Use the subject the device asks for instead of the template."},
	{"profiles.<name>.renewal_revokes_old", K_BOOL, P(renewal_revokes_old), "true", 0, 0,
	 NULL, "When a device's new certificate is confirmed (re-enrollment with the vendor "
	       "certificate, or renewal by ir/cr/kur/p10cr with the operator certificate), revoke "
	       "its previous certificate with reason superseded so that it appears on the CRL; "
	       "false only marks it superseded and leaves it valid until it expires."},
	{"profiles.<name>.crl_distribution_points", K_STRS, P(crl_dp), "[]", 0, 4, conv_urls,
	 "cRLDistributionPoints URIs put in every certificate (RFC 5280 4.2.1.13), e.g. "
	 "`http://pki.example/crl/issuing-ca.crl`; empty = no extension."},
	{"profiles.<name>.ca_issuers", K_STRS, P(ca_issuers), "[]", 0, 4, conv_urls,
	 "authorityInfoAccess caIssuers URIs (RFC 5280 4.2.2.1) where the issuing CA certificate "
	 "is published (DER, e.g. the gateway's `crl.ca_cert_path`)."},
	{"profiles.<name>.ocsp", K_STRS, P(ocsp), "[]", 0, 4, conv_urls,
	 "authorityInfoAccess OCSP responder URIs (RFC 5280 4.2.2.1); empty = none."},
};
const struct cfg_keys cfg_keys_profiles = CFG_KEYS(profiles_keys);
// clang-format on
