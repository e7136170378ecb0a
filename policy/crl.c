/*
 * policy/crl.c - the issuing CA's CRL (RFC 5280 5) from a list of revoked
 * serials. Storage and scheduling are elsewhere (store/revoke, ra/crl).
 */
#include "policy/crl.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/key.h"

static const char *const reason_names[] = {
	"unspecified",	 "keyCompromise",	 "cACompromise",    "affiliationChanged",
	"superseded",	 "cessationOfOperation", "certificateHold", NULL, /* 7 is not used */
	"removeFromCRL", "privilegeWithdrawn",	 "aACompromise",
};

int policy_crl_reason_parse(const char *name)
{
	for (int i = 0; i <= POLICY_CRL_REASON_MAX; i++)
		if (reason_names[i] && name && strcmp(reason_names[i], name) == 0)
			return i;
	return -1;
}

const char *policy_crl_reason_name(int reason)
{
	if (reason < 0 || reason > POLICY_CRL_REASON_MAX || !reason_names[reason])
		return "?";
	return reason_names[reason];
}

static const EVP_MD *md_for(EVP_PKEY *key)
{
	int base = EVP_PKEY_get_base_id(key), bits = EVP_PKEY_get_bits(key);

	if (base == EVP_PKEY_ED25519 || base == EVP_PKEY_ED448)
		return NULL;
	if (base == EVP_PKEY_EC)
		return bits > 384 ? EVP_sha512() : bits > 256 ? EVP_sha384() : EVP_sha256();
	return EVP_sha256();
}

/* Append one revokedCertificates entry. */
static int add_entry(X509_CRL *crl, const struct policy_crl_entry *e)
{
	X509_REVOKED *rev = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	BIGNUM *bn = NULL;
	int rc = RC_INVAL;

	if (!e->serial_hex || e->reason < 0 || e->reason > POLICY_CRL_REASON_MAX ||
	    !reason_names[e->reason] || e->reason == POLICY_CRL_REASON_REMOVE ||
	    BN_hex2bn(&bn, e->serial_hex) != (int)strlen(e->serial_hex) || BN_is_negative(bn))
		goto out;
	rc = RC_CRYPTO;
	if (!(rev = X509_REVOKED_new()) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)) ||
	    !X509_REVOKED_set_serialNumber(rev, serial) ||
	    !(when = ASN1_TIME_set(NULL, (time_t)e->revoked_at)) ||
	    !X509_REVOKED_set_revocationDate(rev, when))
		goto out;
	/* RFC 5280 5.3.1: omit reasonCode rather than use unspecified. */
	if (e->reason != POLICY_CRL_REASON_UNSPECIFIED &&
	    (!(reason = ASN1_ENUMERATED_new()) || !ASN1_ENUMERATED_set(reason, e->reason) ||
	     !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0)))
		goto out;
	if (!X509_CRL_add0_revoked(crl, rev))
		goto out;
	rev = NULL;
	rc = 0;
out:
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_REVOKED_free(rev);
	return rc;
}

/* RFC 5280 5.2.1 (AKI, keyid of the issuer) and 5.2.3 (cRLNumber). */
static int add_extensions(X509_CRL *crl, X509 *issuer, long long number)
{
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	ASN1_INTEGER *num = NULL;
	int ok;

	X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
	aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
	ok = aki && X509_CRL_add_ext(crl, aki, -1) && (num = ASN1_INTEGER_new()) &&
	     ASN1_INTEGER_set_int64(num, number) &&
	     X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	return ok ? 0 : RC_CRYPTO;
}

int policy_crl_build(X509 *issuer, EVP_PKEY *key, const struct policy_crl_entry *e, size_t n,
		     long long number, time_t now, int validity_s, X509_CRL **out)
{
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	int rc = RC_INVAL;

	*out = NULL;
	if (!issuer || !key || number < 1 || validity_s < 1 || (n && !e))
		return RC_INVAL;
	rc = RC_CRYPTO;
	if (!(crl = X509_CRL_new()) || !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) ||
	    !(t = ASN1_TIME_set(NULL, now)) || !X509_CRL_set1_lastUpdate(crl, t) ||
	    !ASN1_TIME_set(t, now + validity_s) || !X509_CRL_set1_nextUpdate(crl, t))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((rc = add_entry(crl, &e[i])) != 0)
			goto out;
	rc = RC_CRYPTO;
	if (add_extensions(crl, issuer, number) != 0 || !X509_CRL_sort(crl))
		goto out;
	if (X509_CRL_sign(crl, key, md_for(key)) <= 0) {
		rc = key_unavailable(key) ? RC_UNAVAIL : RC_CRYPTO;
		goto out;
	}
	*out = crl;
	crl = NULL;
	rc = 0;
out:
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return rc;
}
