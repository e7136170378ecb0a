#include "policy/profile.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "core/cfg.h"

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

/* The template is parsed before substitution so that a serial containing
 * ',' or '=' can never add or change attributes: it only ever becomes the
 * value of the attribute the template put it in. */
static X509_NAME *subject_from_template(const char *tmpl, const struct policy_identity *id)
{
	X509_NAME *tn = cfg_name_parse(tmpl), *out = NULL;
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
		int set = i > 0 && X509_NAME_ENTRY_set(e) ==
					   X509_NAME_ENTRY_set(X509_NAME_get_entry(tn, i - 1))
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

static GENERAL_NAME *san_from_template(const char *tmpl, const struct policy_identity *id)
{
	static const struct {
		const char *prefix;
		int type;
	} kinds[] = { { "dns:", GEN_DNS }, { "uri:", GEN_URI }, { "email:", GEN_EMAIL },
		      { "ip:", GEN_IPADD } };
	char val[1024];

	if (policy_profile_expand(tmpl, id, val, sizeof(val)) != 0)
		return NULL;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t pl = strlen(kinds[k].prefix);
		if (strncasecmp(val, kinds[k].prefix, pl) == 0 && val[pl] != '\0')
			return a2i_GENERAL_NAME(NULL, NULL, NULL, kinds[k].type, val + pl, 0);
	}
	return NULL;
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

static int add_san(X509 *cert, const struct cfg_profile *p, const struct policy_identity *id)
{
	GENERAL_NAMES *gens = NULL;
	int rc = RC_INVAL;

	if (p->n_san == 0)
		return 0;
	gens = sk_GENERAL_NAME_new_null();
	for (size_t i = 0; gens && i < p->n_san; i++) {
		GENERAL_NAME *gn = san_from_template(p->san[i], id);
		if (!gn || !sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	if (gens && X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
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
	X509 *cert = X509_new();
	X509_NAME *subject = NULL;
	X509V3_CTX ctx;
	int rc = RC_CRYPTO;

	*out = NULL;
	snprintf(why, whylen, "profile cannot build a subject for this device");
	if (!cert)
		return RC_NOMEM;
	if (p->allow_requested_subject && requested && X509_NAME_entry_count(requested) > 0)
		subject = X509_NAME_dup(requested);
	else
		subject = subject_from_template(p->subject, id);
	if (!subject) {
		rc = RC_INVAL;
		goto out;
	}
	if (!X509_set_version(cert, X509_VERSION_3) || set_random_serial(cert) != 0 ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(cfg->ca_cert)) ||
	    !X509_set_subject_name(cert, subject) || set_pubkey(cert, pub) != 0)
		goto out;
	if (!X509_gmtime_adj(X509_getm_notBefore(cert), -(long)p->backdate_s) ||
	    !X509_time_adj_ex(X509_getm_notAfter(cert), p->validity_days, 0, NULL))
		goto out;
	X509V3_set_ctx(&ctx, cfg->ca_cert, cert, NULL, NULL, 0);
	if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(cert, &ctx, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") != 0 ||
	    add_key_usage(cert, p->key_usage) != 0 || add_eku(cert, p) != 0)
		goto out;
	rc = add_san(cert, p, id);
	if (rc != 0)
		goto out;
	rc = RC_CRYPTO;
	/* Ed25519/Ed448 CA keys sign without a separate digest. */
	const EVP_MD *md = NULL;
	int base = EVP_PKEY_get_base_id(cfg->ca_key);
	if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_ED448)
		md = EVP_PKEY_get_bits(cfg->ca_key) > 384 && base == EVP_PKEY_EC ? EVP_sha512()
		     : EVP_PKEY_get_bits(cfg->ca_key) > 256 && base == EVP_PKEY_EC ? EVP_sha384()
										       : EVP_sha256();
	if (X509_sign(cert, cfg->ca_key, md) <= 0)
		goto out;
	*out = cert;
	cert = NULL;
	rc = 0;
out:
	X509_NAME_free(subject);
	X509_free(cert);
	return rc;
}
