/*
 * cmp/sig.c - signature verification and creation over raw bytes, driven by
 * an AlgorithmIdentifier (RFC 9481 3 for protection, RFC 4211 4.1 for POP).
 */
#include "cmp/sig.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "core/key.h"

/* Accepted signature algorithms: OID, digest (NULL: pure EdDSA), key type. */
struct sigalg {
	int nid;
	const char *md;
	const char *keytype;
};

static const struct sigalg sigalgs[] = {
	{ NID_ecdsa_with_SHA256, "SHA256", "EC" },
	{ NID_ecdsa_with_SHA384, "SHA384", "EC" },
	{ NID_ecdsa_with_SHA512, "SHA512", "EC" },
	{ NID_sha256WithRSAEncryption, "SHA256", "RSA" },
	{ NID_sha384WithRSAEncryption, "SHA384", "RSA" },
	{ NID_sha512WithRSAEncryption, "SHA512", "RSA" },
	{ NID_ED25519, NULL, "ED25519" },
	{ NID_ED448, NULL, "ED448" },
};

/* RSASSA-PSS parameters after checking (RFC 4055 3.1) */
struct pss {
	const char *md;
	const char *mgf1md;
	int saltlen;
};

static const struct sigalg *sigalg_find(int nid)
{
	for (size_t i = 0; i < sizeof(sigalgs) / sizeof(sigalgs[0]); i++)
		if (sigalgs[i].nid == nid)
			return &sigalgs[i];
	return NULL;
}

/* SHA-2 digest name for an AlgorithmIdentifier, NULL if not accepted */
static const char *sha2_name(const X509_ALGOR *alg)
{
	if (alg == NULL)
		return NULL; /* absent means SHA-1 in PSS: not accepted */
	switch (OBJ_obj2nid(alg->algorithm)) {
	case NID_sha256:
		return "SHA256";
	case NID_sha384:
		return "SHA384";
	case NID_sha512:
		return "SHA512";
	default:
		return NULL;
	}
}

static int pss_decode(const X509_ALGOR *alg, struct pss *pss)
{
	RSA_PSS_PARAMS *p = NULL;
	X509_ALGOR *mgfhash = NULL;
	int64_t salt = 20, trailer = 1;
	int rc = RC_UNSUPPORTED;

	if (alg->parameter == NULL || alg->parameter->type != V_ASN1_SEQUENCE)
		goto out;
	p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), alg->parameter);
	if (p == NULL || (pss->md = sha2_name(p->hashAlgorithm)) == NULL)
		goto out;
	if (p->maskGenAlgorithm == NULL ||
	    OBJ_obj2nid(p->maskGenAlgorithm->algorithm) != NID_mgf1 ||
	    p->maskGenAlgorithm->parameter == NULL ||
	    p->maskGenAlgorithm->parameter->type != V_ASN1_SEQUENCE)
		goto out;
	mgfhash = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
					    p->maskGenAlgorithm->parameter);
	if ((pss->mgf1md = sha2_name(mgfhash)) == NULL)
		goto out;
	if (p->saltLength != NULL && !ASN1_INTEGER_get_int64(&salt, p->saltLength))
		goto out;
	if (p->trailerField != NULL && !ASN1_INTEGER_get_int64(&trailer, p->trailerField))
		goto out;
	if (salt < 0 || salt > 1024 || trailer != 1)
		goto out;
	pss->saltlen = (int)salt;
	rc = 0;
out:
	X509_ALGOR_free(mgfhash);
	RSA_PSS_PARAMS_free(p);
	return rc;
}

/* Resolve alg to digest name + optional PSS settings; check the key type. */
static int sig_resolve(const X509_ALGOR *alg, EVP_PKEY *pkey, const char **md, struct pss *pss,
		       bool *is_pss)
{
	int nid = OBJ_obj2nid(alg->algorithm);
	const struct sigalg *sa;
	int rc;

	*is_pss = false;
	if (nid == NID_rsassaPss) {
		if ((rc = pss_decode(alg, pss)) != 0)
			return rc;
		if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "RSA-PSS"))
			return RC_CRYPTO;
		*md = pss->md;
		*is_pss = true;
		return 0;
	}
	if ((sa = sigalg_find(nid)) == NULL)
		return RC_UNSUPPORTED;
	/* RFC 8410 3 / RFC 5758 3.2: EdDSA and ECDSA parameters are absent */
	if (sa->md == NULL || strcmp(sa->keytype, "EC") == 0) {
		if (alg->parameter != NULL)
			return RC_UNSUPPORTED;
	}
	if (!EVP_PKEY_is_a(pkey, sa->keytype))
		return RC_CRYPTO;
	*md = sa->md;
	return 0;
}

static int pss_setup(EVP_PKEY_CTX *pctx, const struct pss *pss)
{
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, pss->mgf1md, NULL) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss->saltlen) <= 0)
		return RC_CRYPTO;
	return 0;
}

int cmp_sig_verify(const X509_ALGOR *alg, const ASN1_BIT_STRING *sig, const unsigned char *tbs,
		   size_t tbslen, EVP_PKEY *pkey)
{
	EVP_MD_CTX *mctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	const char *md = NULL;
	struct pss pss = { 0 };
	bool is_pss;
	int rc;

	if (alg == NULL || sig == NULL || pkey == NULL)
		return RC_INVAL;
	if ((rc = sig_resolve(alg, pkey, &md, &pss, &is_pss)) != 0)
		return rc;
	/* a signature value is a whole number of octets */
	if ((sig->flags & ASN1_STRING_FLAG_BITS_LEFT) && (sig->flags & 0x07))
		return RC_CRYPTO;
	rc = RC_NOMEM;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	rc = RC_CRYPTO;
	if (EVP_DigestVerifyInit_ex(mctx, &pctx, md, NULL, NULL, pkey, NULL) <= 0)
		goto out;
	if (is_pss && pss_setup(pctx, &pss) != 0)
		goto out;
	if (EVP_DigestVerify(mctx, sig->data, (size_t)sig->length, tbs, tbslen) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

static const char *ec_md_for_bits(int bits)
{
	if (bits <= 256)
		return "SHA256";
	if (bits <= 384)
		return "SHA384";
	return "SHA512";
}

int cmp_sig_algor_for_key(EVP_PKEY *key, X509_ALGOR *alg)
{
	int nid, ptype = V_ASN1_UNDEF;

	if (key == NULL || alg == NULL)
		return RC_INVAL;
	if (EVP_PKEY_is_a(key, "EC")) {
		const char *md = ec_md_for_bits(EVP_PKEY_get_bits(key));

		nid = strcmp(md, "SHA256") == 0	  ? NID_ecdsa_with_SHA256
		      : strcmp(md, "SHA384") == 0 ? NID_ecdsa_with_SHA384
						  : NID_ecdsa_with_SHA512;
	} else if (EVP_PKEY_is_a(key, "RSA")) {
		nid = NID_sha256WithRSAEncryption;
		ptype = V_ASN1_NULL; /* RFC 4055 5: parameters MUST be NULL */
	} else if (EVP_PKEY_is_a(key, "ED25519")) {
		nid = NID_ED25519;
	} else if (EVP_PKEY_is_a(key, "ED448")) {
		nid = NID_ED448;
	} else {
		return RC_UNSUPPORTED;
	}
	if (!X509_ALGOR_set0(alg, OBJ_nid2obj(nid), ptype, NULL))
		return RC_NOMEM;
	return 0;
}

void cmp_sig_bitstring_no_unused(ASN1_BIT_STRING *bs)
{
	bs->flags &= ~0x07L;
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
}

int cmp_sig_sign(EVP_PKEY *key, const X509_ALGOR *alg, const unsigned char *tbs, size_t tbslen,
		 ASN1_BIT_STRING *sig)
{
	EVP_MD_CTX *mctx = NULL;
	unsigned char *buf = NULL;
	const struct sigalg *sa;
	size_t siglen = 0;
	int rc = RC_UNSUPPORTED;

	if (key == NULL || alg == NULL || sig == NULL)
		return RC_INVAL;
	if ((sa = sigalg_find(OBJ_obj2nid(alg->algorithm))) == NULL ||
	    !EVP_PKEY_is_a(key, sa->keytype))
		goto out;
	rc = RC_NOMEM;
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	rc = RC_CRYPTO;
	if (EVP_DigestSignInit_ex(mctx, NULL, sa->md, NULL, NULL, key, NULL) <= 0 ||
	    EVP_DigestSign(mctx, NULL, &siglen, tbs, tbslen) <= 0)
		goto out;
	rc = RC_NOMEM;
	if ((buf = OPENSSL_malloc(siglen)) == NULL)
		goto out;
	rc = RC_CRYPTO;
	if (EVP_DigestSign(mctx, buf, &siglen, tbs, tbslen) <= 0 || siglen > INT_MAX)
		goto out;
	rc = RC_NOMEM;
	if (!ASN1_BIT_STRING_set(sig, buf, (int)siglen))
		goto out;
	cmp_sig_bitstring_no_unused(sig);
	rc = 0;
out:
	if (rc == RC_CRYPTO && key_unavailable(key))
		rc = RC_UNAVAIL;
	OPENSSL_free(buf);
	EVP_MD_CTX_free(mctx);
	return rc;
}
