/*
 * cmp/pubkey.c - CMPGW_PUBKEY (see pubkey.h): X509_PUBKEY with a fast
 * decode for named-curve EC keys, X509_PUBKEY's item for everything else.
 */
#include "cmp/pubkey.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

/* The fields of SubjectPublicKeyInfo without the key decode; the same
 * template as OpenSSL's X509_PUBKEY_INTERNAL, so it accepts what that does. */
typedef struct cmpgw_spki_raw_st {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *key;
} CMPGW_SPKI_RAW;

/* clang-format off */
ASN1_SEQUENCE(CMPGW_SPKI_RAW) = {
	ASN1_SIMPLE(CMPGW_SPKI_RAW, algor, X509_ALGOR),
	ASN1_SIMPLE(CMPGW_SPKI_RAW, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CMPGW_SPKI_RAW)
/* clang-format on */

/* Length of an uncompressed point (0x04 || X || Y) on the curves we build
 * here; 0 for any other curve. */
static int point_len(int curve_nid)
{
	switch (curve_nid) {
	case NID_X9_62_prime256v1:
		return 1 + 2 * 32;
	case NID_secp384r1:
		return 1 + 2 * 48;
	case NID_secp521r1:
		return 1 + 2 * 66;
	default:
		return 0;
	}
}

/*
 * The X509_PUBKEY of raw, built from the curve OID and the point, if raw
 * is a named NIST curve key with an uncompressed point and its encoding
 * equals der[0..len) (the received bytes; der[0] may be an implicit tag).
 * NULL otherwise: the caller takes the generic path.
 */
static X509_PUBKEY *ec_fast(const CMPGW_SPKI_RAW *raw, const unsigned char *der, long len)
{
	const ASN1_OBJECT *alg = NULL;
	const void *param = NULL;
	unsigned char oid[16], *op = oid, *enc = NULL;
	const unsigned char *p;
	X509_PUBKEY *xpk = NULL;
	EVP_PKEY *pkey = NULL;
	int ptype = V_ASN1_UNDEF, olen, elen, plen;

	X509_ALGOR_get0(&alg, &ptype, &param, raw->algor);
	if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT ||
	    (plen = point_len(OBJ_obj2nid(param))) == 0 || raw->key->length != plen ||
	    raw->key->data[0] != POINT_CONVERSION_UNCOMPRESSED)
		return NULL;
	if (i2d_ASN1_OBJECT(param, NULL) > (int)sizeof(oid) ||
	    (olen = i2d_ASN1_OBJECT(param, &op)) <= 0)
		return NULL;
	/* ECParameters ::= CHOICE { namedCurve OBJECT IDENTIFIER, ... } (RFC 5480 2.1.1) */
	p = oid;
	if (!(pkey = d2i_KeyParams(EVP_PKEY_EC, NULL, &p, olen)))
		goto out;
	p = raw->key->data;
	if (!d2i_PublicKey(EVP_PKEY_EC, &pkey, &p, plen) || p != raw->key->data + plen)
		goto fail;
	/* legacy key: encoded by its ASN.1 method, no provider round trip */
	if (!X509_PUBKEY_set(&xpk, pkey))
		goto fail;
	elen = i2d_X509_PUBKEY(xpk, &enc);
	if (elen != len || len < 2 || enc[0] != (V_ASN1_CONSTRUCTED | V_ASN1_SEQUENCE) ||
	    memcmp(enc + 1, der + 1, (size_t)len - 1) != 0)
		goto fail;
	goto out;
fail:
	X509_PUBKEY_free(xpk);
	xpk = NULL;
out:
	OPENSSL_free(enc);
	EVP_PKEY_free(pkey);
	return xpk;
}

static int pubkey_d2i(ASN1_VALUE **pval, const unsigned char **in, long len, const ASN1_ITEM *it,
		      int tag, int aclass, char opt, ASN1_TLC *ctx)
{
	const unsigned char *start = *in;
	CMPGW_SPKI_RAW *raw = NULL;
	X509_PUBKEY *fast;
	int r;

	(void)it;
	/* -1: an absent OPTIONAL field (nothing consumed), 0: malformed; the
	 * X509_PUBKEY item would say the same of the same bytes. */
	r = ASN1_item_ex_d2i((ASN1_VALUE **)&raw, in, len, ASN1_ITEM_rptr(CMPGW_SPKI_RAW), tag,
			     aclass, opt, ctx);
	if (r <= 0)
		return r;
	ERR_set_mark();
	fast = ec_fast(raw, start, (long)(*in - start));
	ERR_pop_to_mark();
	ASN1_item_free((ASN1_VALUE *)raw, ASN1_ITEM_rptr(CMPGW_SPKI_RAW));
	if (fast) {
		ASN1_item_ex_free(pval, ASN1_ITEM_rptr(X509_PUBKEY));
		*pval = (ASN1_VALUE *)fast;
		return 1;
	}
	*in = start;
	return ASN1_item_ex_d2i(pval, in, len, ASN1_ITEM_rptr(X509_PUBKEY), tag, aclass, opt, ctx);
}

static int pubkey_new(ASN1_VALUE **pval, const ASN1_ITEM *it)
{
	(void)it;
	return ASN1_item_ex_new(pval, ASN1_ITEM_rptr(X509_PUBKEY));
}

static void pubkey_free(ASN1_VALUE **pval, const ASN1_ITEM *it)
{
	(void)it;
	ASN1_item_ex_free(pval, ASN1_ITEM_rptr(X509_PUBKEY));
}

static int pubkey_i2d(const ASN1_VALUE **pval, unsigned char **out, const ASN1_ITEM *it, int tag,
		      int aclass)
{
	(void)it;
	return ASN1_item_ex_i2d(pval, out, ASN1_ITEM_rptr(X509_PUBKEY), tag, aclass);
}

static int pubkey_print(BIO *out, const ASN1_VALUE **pval, int indent, const char *fname,
			const ASN1_PCTX *pctx)
{
	(void)fname;
	return ASN1_item_print(out, *pval, indent, ASN1_ITEM_rptr(X509_PUBKEY), pctx);
}

static const ASN1_EXTERN_FUNCS pubkey_funcs = {
	.asn1_ex_new = pubkey_new,
	.asn1_ex_free = pubkey_free,
	.asn1_ex_d2i = pubkey_d2i,
	.asn1_ex_i2d = pubkey_i2d,
	.asn1_ex_print = pubkey_print,
};

/* clang-format off */
IMPLEMENT_EXTERN_ASN1(CMPGW_PUBKEY, V_ASN1_SEQUENCE, pubkey_funcs)
/* clang-format on */
