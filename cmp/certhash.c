/*
 * cmp/certhash.c - certHash computation (RFC 9810 5.3.18, RFC 9481 2).
 */
#include "cmp/certhash.h"

#include <openssl/objects.h>

/* Digests accepted in CertStatus.hashAlg, with the XOF output length d/8 */
struct hashalg {
	int nid;
	unsigned int xof_len; /* 0: fixed-length digest */
};

static const struct hashalg hashalgs[] = {
	{ NID_sha224, 0 },    { NID_sha256, 0 },    { NID_sha384, 0 },	 { NID_sha512, 0 },
	{ NID_sha3_224, 0 },  { NID_sha3_256, 0 },  { NID_sha3_384, 0 }, { NID_sha3_512, 0 },
	{ NID_shake128, 32 }, { NID_shake256, 64 },
};

static const EVP_MD *hashalg_md(const X509_ALGOR *alg)
{
	int nid = OBJ_obj2nid(alg->algorithm);

	for (size_t i = 0; i < sizeof(hashalgs) / sizeof(hashalgs[0]); i++)
		if (hashalgs[i].nid == nid)
			return EVP_get_digestbynid(nid);
	return NULL;
}

static unsigned int xof_len(const EVP_MD *md)
{
	int nid = EVP_MD_get_type(md);

	for (size_t i = 0; i < sizeof(hashalgs) / sizeof(hashalgs[0]); i++)
		if (hashalgs[i].nid == nid)
			return hashalgs[i].xof_len;
	return 0;
}

const EVP_MD *cmp_certhash_md(X509 *cert)
{
	int mdnid = NID_undef, pknid = NID_undef;

	if (cert == NULL || !X509_get_signature_info(cert, &mdnid, &pknid, NULL, NULL))
		return NULL;
	if (mdnid != NID_undef)
		return EVP_get_digestbynid(mdnid);
	/* RFC 9481 3.3: EdDSA signs the message itself; certHash fixes the hash */
	if (pknid == NID_ED25519)
		return EVP_sha512();
	if (pknid == NID_ED448)
		return EVP_shake256();
	return NULL;
}

int cmp_certhash_compute(X509 *cert, const X509_ALGOR *hashAlg, unsigned char *out,
			 unsigned int *outlen)
{
	const EVP_MD *md;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	unsigned int xlen;
	int n, rc = RC_INVAL;

	if (cert == NULL || out == NULL || outlen == NULL)
		goto out;
	rc = RC_UNSUPPORTED;
	md = hashAlg != NULL ? hashalg_md(hashAlg) : cmp_certhash_md(cert);
	if (md == NULL)
		goto out;
	xlen = xof_len(md);
	if (xlen == 0 && EVP_MD_get_size(md) > CMP_CERTHASH_MAX)
		goto out;
	rc = RC_NOMEM;
	if ((n = i2d_X509(cert, &der)) <= 0 || (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	rc = RC_CRYPTO;
	if (!EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, der, (size_t)n))
		goto out;
	if (xlen != 0) {
		if (!EVP_DigestFinalXOF(ctx, out, xlen))
			goto out;
		*outlen = xlen;
	} else if (!EVP_DigestFinal_ex(ctx, out, outlen)) {
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	return rc;
}
