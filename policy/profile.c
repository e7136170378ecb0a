#include "policy/profile.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/cfg.h"
#include "core/dn.h"

bool policy_profile_key_ok(const struct cfg_profile *p, EVP_PKEY *pub, const char **why)
{
	char group[32] = "";
	size_t glen = 0;

	switch (EVP_PKEY_get_base_id(pub)) {
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group,
						    sizeof(group), &glen))
			break;
		if (strcmp(group, "prime256v1") == 0 && (p->key_algs & CFG_KEY_P256))
			return true;
		if (strcmp(group, "secp384r1") == 0 && (p->key_algs & CFG_KEY_P384))
			return true;
		if (strcmp(group, "secp521r1") == 0 && (p->key_algs & CFG_KEY_P521))
			return true;
		*why = "EC curve not allowed by the profile";
		return false;
	case EVP_PKEY_RSA:
		if (!(p->key_algs & CFG_KEY_RSA)) {
			*why = "RSA keys not allowed by the profile";
			return false;
		}
		if (EVP_PKEY_get_bits(pub) < p->rsa_min_bits) {
			*why = "RSA key too short for the profile";
			return false;
		}
		return true;
	case EVP_PKEY_ED25519:
		if (p->key_algs & CFG_KEY_ED25519)
			return true;
		break;
	case EVP_PKEY_ED448:
		if (p->key_algs & CFG_KEY_ED448)
			return true;
		break;
	default:
		break;
	}
	*why = "key algorithm not allowed by the profile";
	return false;
}

int policy_profile_expand(const char *tmpl, const struct policy_identity *id, char *buf,
			  size_t buflen)
{
	size_t off = 0;

	for (const char *s = tmpl; *s;) {
		const char *val = NULL;
		size_t skip = 0;
		if (strncmp(s, "${serial}", 9) == 0) {
			val = id->serial;
			skip = 9;
		} else if (strncmp(s, "${vendor}", 9) == 0) {
			val = id->vendor;
			skip = 9;
		} else if (strncmp(s, "${", 2) == 0) {
			return RC_INVAL;
		}
		if (val) {
			size_t n = strlen(val);
			if (off + n >= buflen)
				return RC_TOOBIG;
			memcpy(buf + off, val, n);
			off += n;
			s += skip;
		} else {
			if (off + 1 >= buflen)
				return RC_TOOBIG;
			buf[off++] = *s++;
		}
	}
	if (off >= buflen)
		return RC_TOOBIG;
	buf[off] = '\0';
	return 0;
}

/* Copy v into out for a statusString: printable ASCII only, bounded. */
static void quote(const char *v, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *v && n + 4 < outlen && n < 96; v++)
		out[n++] = (unsigned char)*v >= 0x20 && (unsigned char)*v < 0x7f ? *v : '?';
	if (*v && n + 4 < outlen) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

/* The template is parsed before substitution so that a serial containing
 * ',' or '=' can never add or change attributes: it only ever becomes the
 * value of the attribute the template put it in. */
static X509_NAME *subject_from_template(const char *tmpl, const struct policy_identity *id)
{
	X509_NAME *tn = dn_parse(tmpl), *out = NULL;
	char val[1024];

	if (!tn)
		return NULL;
	out = X509_NAME_new();
	for (int i = 0; out && i < X509_NAME_entry_count(tn); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(tn, i);
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
		char raw[1024];
		int len = ASN1_STRING_length(d);
		if (len <= 0 || (size_t)len >= sizeof(raw))
			goto fail;
		memcpy(raw, ASN1_STRING_get0_data(d), (size_t)len);
		raw[len] = '\0';
		if (policy_profile_expand(raw, id, val, sizeof(val)) != 0 || val[0] == '\0')
			goto fail;
		/* keep multi-valued RDNs together: -1 joins the previous RDN */
		int set = i > 0 && X509_NAME_ENTRY_set(e) == X509_NAME_ENTRY_set(
								     X509_NAME_get_entry(tn, i - 1))
				  ? -1
				  : 0;
		if (!X509_NAME_add_entry_by_OBJ(out, X509_NAME_ENTRY_get_object(e), MBSTRING_UTF8,
						(const unsigned char *)val, -1, -1, set))
			goto fail;
	}
	X509_NAME_free(tn);
	return out;
fail:
	X509_NAME_free(tn);
	X509_NAME_free(out);
	return NULL;
}

int policy_profile_subject(const struct cfg_profile *p, const struct policy_identity *id,
			   const X509_NAME *requested, X509_NAME **out, char *why, size_t whylen)
{
	char q[128];

	*out = NULL;
	if (p->allow_requested_subject && requested && X509_NAME_entry_count(requested) > 0)
		*out = X509_NAME_dup(requested);
	else if (p->subject)
		*out = subject_from_template(p->subject, id);
	if (*out)
		return 0;
	quote(id->serial ? id->serial : "", q, sizeof(q));
	snprintf(why, whylen, "profile subject cannot be built for device serial \"%s\"", q);
	return RC_INVAL;
}

/* RFC 1123 2.1 / RFC 5280 4.2.1.6: a host name of LDH labels, 1-63
 * octets each, at most 253 in all; no wildcard, no trailing dot. */
static bool dns_ok(const char *s)
{
	size_t total = strlen(s), label = 0;

	if (total == 0 || total > 253)
		return false;
	for (const char *c = s;; c++) {
		if (*c == '.' || *c == '\0') {
			if (label == 0 || label > 63 || c[-1] == '-')
				return false;
			if (*c == '\0')
				return true;
			label = 0;
			continue;
		}
		bool ldh = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			   (*c >= '0' && *c <= '9') || *c == '-';
		if (!ldh || (label == 0 && *c == '-'))
			return false;
		label++;
	}
}

/* RFC 3986 3 / RFC 5280 4.2.1.6: an absolute URI, scheme ":" and a
 * non-empty rest of URI characters (percent escapes well-formed). */
static bool uri_ok(const char *s)
{
	static const char other[] = "-._~:/?#[]@!$&'()*+,;=";
	const char *c = s;

	if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
		return false;
	while ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
	       *c == '+' || *c == '-' || *c == '.')
		c++;
	if (*c++ != ':' || *c == '\0')
		return false;
	for (; *c; c++) {
		bool alnum = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			     (*c >= '0' && *c <= '9');
		if (*c == '%') {
			if (!isxdigit((unsigned char)c[1]) || !isxdigit((unsigned char)c[2]))
				return false;
			c += 2;
		} else if (!alnum && !strchr(other, *c)) {
			return false;
		}
	}
	return true;
}

/* RFC 5280 4.2.1.6 / RFC 5322 3.4.1: local@domain, local a dot-atom of at
 * most 64 octets, domain a host name. */
static bool email_ok(const char *s)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	const char *at = strchr(s, '@');
	size_t n = at ? (size_t)(at - s) : 0;

	if (!at || n == 0 || n > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *c = s; c < at; c++) {
		bool alnum = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			     (*c >= '0' && *c <= '9');
		if (*c == '.' ? c[1] == '.' : !alnum && !strchr(atext, *c))
			return false;
	}
	return dns_ok(at + 1);
}

static const struct {
	const char *prefix, *name, *bad;
	int type;
} san_kinds[] = {
	{ "dns:", "dNSName", "is not a valid host name", GEN_DNS },
	{ "uri:", "uniformResourceIdentifier", "is not an absolute URI", GEN_URI },
	{ "email:", "rfc822Name", "is not a valid mail address", GEN_EMAIL },
	{ "ip:", "iPAddress", "is not an IP address", GEN_IPADD },
};

/* One SAN of the profile for id, validated after expansion (a serial must
 * never turn a name into a wildcard or another kind of name). */
static int san_from_template(const char *tmpl, const struct policy_identity *id, GENERAL_NAME **out,
			     char *why, size_t whylen)
{
	char val[1024], q[128];
	size_t k, pl = 0;

	*out = NULL;
	for (k = 0; k < sizeof(san_kinds) / sizeof(san_kinds[0]); k++)
		if (strncasecmp(tmpl, san_kinds[k].prefix, pl = strlen(san_kinds[k].prefix)) == 0)
			break;
	if (k == sizeof(san_kinds) / sizeof(san_kinds[0])) {
		quote(tmpl, q, sizeof(q));
		snprintf(why, whylen, "profile subjectAltName \"%s\" has an unknown kind", q);
		return RC_INVAL;
	}
	if (san_kinds[k].type == GEN_IPADD && strstr(tmpl + pl, "${")) {
		quote(tmpl + pl, q, sizeof(q));
		snprintf(why, whylen,
			 "profile subjectAltName iPAddress \"%s\" must be a literal address", q);
		return RC_INVAL;
	}
	if (policy_profile_expand(tmpl + pl, id, val, sizeof(val)) != 0) {
		quote(tmpl, q, sizeof(q));
		snprintf(why, whylen, "profile subjectAltName \"%s\" cannot be expanded", q);
		return RC_INVAL;
	}
	bool ok = san_kinds[k].type == GEN_DNS	   ? dns_ok(val)
		  : san_kinds[k].type == GEN_URI   ? uri_ok(val)
		  : san_kinds[k].type == GEN_EMAIL ? email_ok(val)
						   : true;
	if (ok)
		*out = a2i_GENERAL_NAME(NULL, NULL, NULL, san_kinds[k].type, val, 0);
	if (*out)
		return 0;
	ERR_clear_error();
	quote(val, q, sizeof(q));
	snprintf(why, whylen, "subjectAltName %s \"%s\" %s", san_kinds[k].name, q,
		 san_kinds[k].bad);
	return RC_INVAL;
}

int policy_profile_sans(const struct cfg_profile *p, const struct policy_identity *id,
			GENERAL_NAMES **out, char *why, size_t whylen)
{
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gn = NULL;
	int rc = RC_NOMEM;

	*out = NULL;
	if (p->n_san == 0)
		return 0;
	if (!(gens = sk_GENERAL_NAME_new_null()))
		return RC_NOMEM;
	for (size_t i = 0; i < p->n_san; i++) {
		if ((rc = san_from_template(p->san[i], id, &gn, why, whylen)) != 0)
			goto fail;
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			rc = RC_NOMEM;
			goto fail;
		}
	}
	*out = gens;
	return 0;
fail:
	GENERAL_NAMES_free(gens);
	return rc;
}

static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : RC_CRYPTO;
}

static int add_key_usage(X509 *cert, unsigned ku)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = { { KU_DIGITAL_SIGNATURE, "digitalSignature" },
		      { KU_NON_REPUDIATION, "nonRepudiation" },
		      { KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		      { KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		      { KU_KEY_AGREEMENT, "keyAgreement" },
		      { KU_KEY_CERT_SIGN, "keyCertSign" },
		      { KU_CRL_SIGN, "cRLSign" } };
	char buf[256] = "critical";

	if (!ku)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ku & names[i].bit) {
			strcat(buf, ",");
			strcat(buf, names[i].name);
		}
	return add_ext(cert, NULL, NID_key_usage, buf);
}

static int add_eku(X509 *cert, const struct cfg_profile *p)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	int rc = RC_CRYPTO;

	if (p->n_eku == 0)
		return 0;
	eku = sk_ASN1_OBJECT_new_null();
	for (size_t i = 0; eku && i < p->n_eku; i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(p->eku[i], 1);
		if (!o || !sk_ASN1_OBJECT_push(eku, o)) {
			ASN1_OBJECT_free(o);
			goto out;
		}
	}
	if (eku && X509_add1_ext_i2d(cert, NID_ext_key_usage, eku, 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return rc;
}

static GENERAL_NAME *uri_name(const char *uri)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

	if (!gn || !ia5 || !ASN1_STRING_set(ia5, uri, -1)) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(ia5);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
	return gn;
}

/* RFC 5280 4.2.1.13: one DistributionPoint whose fullName lists the
 * profile's URIs (alternative locations of the same CRL), non-critical. */
static int add_crl_dp(X509 *cert, const struct cfg_profile *p)
{
	CRL_DIST_POINTS *cdp = NULL;
	DIST_POINT *dp = NULL;
	GENERAL_NAME *gn = NULL;
	int rc = RC_NOMEM;

	if (p->n_crl_dp == 0)
		return 0;
	if (!(cdp = sk_DIST_POINT_new_null()) || !(dp = DIST_POINT_new()) ||
	    !(dp->distpoint = DIST_POINT_NAME_new()) ||
	    !(dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()))
		goto out;
	dp->distpoint->type = 0; /* fullName */
	for (size_t i = 0; i < p->n_crl_dp; i++) {
		if (!(gn = uri_name(p->crl_dp[i])) ||
		    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
			goto out;
		gn = NULL;
	}
	if (!sk_DIST_POINT_push(cdp, dp))
		goto out;
	dp = NULL;
	if (X509_add1_ext_i2d(cert, NID_crl_distribution_points, cdp, 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	CRL_DIST_POINTS_free(cdp);
	return rc;
}

static int push_access(AUTHORITY_INFO_ACCESS *aia, int nid, const char *uri)
{
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();

	if (!ad)
		return RC_NOMEM;
	GENERAL_NAME_free(ad->location);
	ad->method = OBJ_nid2obj(nid);
	if (!(ad->location = uri_name(uri)) || !sk_ACCESS_DESCRIPTION_push(aia, ad)) {
		ACCESS_DESCRIPTION_free(ad);
		return RC_NOMEM;
	}
	return 0;
}

/* RFC 5280 4.2.2.1: id-ad-ocsp and id-ad-caIssuers URIs, non-critical. */
static int add_aia(X509 *cert, const struct cfg_profile *p)
{
	AUTHORITY_INFO_ACCESS *aia = NULL;
	int rc = RC_NOMEM;

	if (p->n_ocsp == 0 && p->n_ca_issuers == 0)
		return 0;
	if (!(aia = sk_ACCESS_DESCRIPTION_new_null()))
		return RC_NOMEM;
	for (size_t i = 0; i < p->n_ocsp; i++)
		if (push_access(aia, NID_ad_OCSP, p->ocsp[i]) != 0)
			goto out;
	for (size_t i = 0; i < p->n_ca_issuers; i++)
		if (push_access(aia, NID_ad_ca_issuers, p->ca_issuers[i]) != 0)
			goto out;
	if (X509_add1_ext_i2d(cert, NID_info_access, aia, 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	AUTHORITY_INFO_ACCESS_free(aia);
	return rc;
}

/* notAfter = now + validity_days, but never past the issuing CA's own
 * notAfter (RFC 5280 6.1.3 (a)(2): a certificate is only valid while its
 * issuer's is). */
static int set_not_after(X509 *cert, const X509 *ca, int days)
{
	const ASN1_TIME *ca_end = X509_get0_notAfter(ca);

	if (!X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL))
		return RC_CRYPTO;
	if (ASN1_TIME_compare(X509_get0_notAfter(cert), ca_end) > 0 &&
	    !X509_set1_notAfter(cert, ca_end))
		return RC_CRYPTO;
	return 0;
}

bool policy_profile_capped(const struct cfg *cfg, X509 *cert)
{
	return ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(cfg->ca_cert)) == 0;
}

bool policy_profile_outlives_ca(const struct cfg *cfg, const struct cfg_profile *p)
{
	ASN1_TIME *end = X509_time_adj_ex(NULL, p->validity_days, 0, NULL);
	bool past = end && ASN1_TIME_compare(end, X509_get0_notAfter(cfg->ca_cert)) > 0;

	ASN1_TIME_free(end);
	return past;
}

/* RFC 5280 4.1.2.2: positive, at most 20 octets; 127 random bits give the
 * entropy CA/B and 3GPP practice ask for (>= 64). */
static int set_random_serial(X509 *cert)
{
	unsigned char rnd[16];
	BIGNUM *bn = NULL;
	int rc = RC_CRYPTO;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return RC_CRYPTO;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x40; /* fixed length, never zero */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		rc = 0;
	BN_free(bn);
	return rc;
}

/*
 * Set cert's SubjectPublicKeyInfo to pub. For a named-curve EC key the
 * fields are set from the key's encoded point directly: OpenSSL 3.0's
 * X509_set_pubkey encodes the key through the provider encoders and then
 * decodes it again, which the profile showed as the single most expensive
 * step of issuance (BENCHMARKS.md). The DER is the same (RFC 5480 2); other
 * key types take the generic path.
 */
static int set_pubkey(X509 *cert, EVP_PKEY *pub)
{
	unsigned char *pt = NULL;
	size_t ptlen = 0;
	char group[64];
	int nid;

	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    NULL) ||
	    (nid = OBJ_txt2nid(group)) == NID_undef ||
	    (ptlen = EVP_PKEY_get1_encoded_public_key(pub, &pt)) == 0)
		return X509_set_pubkey(cert, pub) ? 0 : RC_CRYPTO;
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(cert),
				    OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
				    OBJ_nid2obj(nid), pt, (int)ptlen)) {
		OPENSSL_free(pt);
		return RC_CRYPTO;
	}
	return 0;
}

int policy_profile_issue(const struct cfg *cfg, const struct cfg_profile *p,
			 const struct policy_identity *id, const X509_NAME *requested,
			 EVP_PKEY *pub, X509 **out, char *why, size_t whylen)
{
	X509 *cert = NULL;
	X509_NAME *subject = NULL;
	GENERAL_NAMES *sans = NULL;
	X509V3_CTX ctx;
	int rc;

	*out = NULL;
	/* names first: a refusal costs no signature and no allocation more */
	if ((rc = policy_profile_subject(p, id, requested, &subject, why, whylen)) != 0 ||
	    (rc = policy_profile_sans(p, id, &sans, why, whylen)) != 0)
		goto out;
	rc = RC_NOMEM;
	if (!(cert = X509_new()))
		goto out;
	rc = RC_CRYPTO;
	snprintf(why, whylen, "internal error");
	if (!X509_set_version(cert, X509_VERSION_3) || set_random_serial(cert) != 0 ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(cfg->ca_cert)) ||
	    !X509_set_subject_name(cert, subject) || set_pubkey(cert, pub) != 0)
		goto out;
	if (!X509_gmtime_adj(X509_getm_notBefore(cert), -(long)p->backdate_s) ||
	    set_not_after(cert, cfg->ca_cert, p->validity_days) != 0)
		goto out;
	X509V3_set_ctx(&ctx, cfg->ca_cert, cert, NULL, NULL, 0);
	if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(cert, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") != 0 ||
	    add_key_usage(cert, p->key_usage) != 0 || add_eku(cert, p) != 0 ||
	    (sans &&
	     X509_add1_ext_i2d(cert, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT) != 1) ||
	    add_crl_dp(cert, p) != 0 || add_aia(cert, p) != 0)
		goto out;
	/* Ed25519/Ed448 CA keys sign without a separate digest. */
	const EVP_MD *md = NULL;
	int base = EVP_PKEY_get_base_id(cfg->ca_key);
	if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_ED448)
		md = EVP_PKEY_get_bits(cfg->ca_key) > 384 && base == EVP_PKEY_EC   ? EVP_sha512()
		     : EVP_PKEY_get_bits(cfg->ca_key) > 256 && base == EVP_PKEY_EC ? EVP_sha384()
										   : EVP_sha256();
	if (X509_sign(cert, cfg->ca_key, md) <= 0)
		goto out;
	*out = cert;
	cert = NULL;
	rc = 0;
out:
	GENERAL_NAMES_free(sans);
	X509_NAME_free(subject);
	X509_free(cert);
	return rc;
}
