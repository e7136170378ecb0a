/*
 * cmp/prot.c - PKIMessage protection: signatures and PasswordBasedMac
 * (RFC 4210/9810 5.1.3, RFC 9481 3 and 6.1.1).
 */
#include "cmp/prot.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include "cmp/sig.h"

#define PBM_SALT_LEN 16

/* Read one definite-length TLV at *p (bounded by end); advance *p past it. */
static int tlv_next(const unsigned char **p, const unsigned char *end, int *tag, int *cls)
{
	long clen;
	int r;

	if (*p >= end)
		return RC_DECODE;
	r = ASN1_get_object(p, &clen, tag, cls, (long)(end - *p));
	/* 0x80: error or overlong; bit 0: indefinite length (not DER) */
	if ((r & 0x80) || (r & 0x01) || !(r & V_ASN1_CONSTRUCTED) || clen > end - *p)
		return RC_DECODE;
	*p += clen;
	return 0;
}

int cmp_prot_part_der(const unsigned char *msg_der, size_t len, unsigned char **out, size_t *outlen)
{
	const unsigned char *p = msg_der, *end, *start;
	unsigned char *buf = NULL, *q;
	int tag, cls, r, total;
	long clen;
	size_t partlen;

	if (msg_der == NULL || out == NULL || outlen == NULL)
		return RC_INVAL;
	if (len == 0 || len > INT_MAX)
		return RC_DECODE;
	r = ASN1_get_object(&p, &clen, &tag, &cls, (long)len);
	if ((r & 0x80) || r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    cls != V_ASN1_UNIVERSAL)
		return RC_DECODE;
	start = p;
	end = p + clen;
	if (tlv_next(&p, end, &tag, &cls) != 0 || tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
		return RC_DECODE;
	if (tlv_next(&p, end, &tag, &cls) != 0 || cls != V_ASN1_CONTEXT_SPECIFIC ||
	    tag > CMP_BODY_MAX)
		return RC_DECODE;
	partlen = (size_t)(p - start);
	total = ASN1_object_size(1, (int)partlen, V_ASN1_SEQUENCE);
	if (total <= 0)
		return RC_DECODE;
	if ((buf = OPENSSL_malloc((size_t)total)) == NULL)
		return RC_NOMEM;
	q = buf;
	ASN1_put_object(&q, 1, (int)partlen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(q, start, partlen);
	*out = buf;
	*outlen = (size_t)total;
	return 0;
}

int cmp_prot_verify_sig(const unsigned char *msg_der, size_t len, const CMPGW_MSG *msg,
			X509 *signer)
{
	unsigned char *part = NULL;
	size_t partlen = 0;
	EVP_PKEY *pkey;
	int rc;

	if (msg == NULL || msg->header == NULL || signer == NULL)
		return RC_INVAL;
	if (msg->protection == NULL || msg->header->protectionAlg == NULL)
		return RC_INVAL;
	if ((pkey = X509_get0_pubkey(signer)) == NULL)
		return RC_INVAL;
	if ((rc = cmp_prot_part_der(msg_der, len, &part, &partlen)) != 0)
		goto out;
	rc = cmp_sig_verify(msg->header->protectionAlg, msg->protection, part, partlen, pkey);
out:
	OPENSSL_free(part);
	return rc;
}

/* DER of ProtectedPart {header, body} of msg as we would encode it */
static int part_encode(const CMPGW_MSG *msg, unsigned char **der, size_t *len)
{
	CMPGW_PROTPART pp = { .header = msg->header, .body = msg->body };
	int n;

	*der = NULL;
	n = i2d_CMPGW_PROTPART(&pp, der);
	if (n <= 0)
		return RC_NOMEM;
	*len = (size_t)n;
	return 0;
}

/* Replace msg->protection with a new BIT STRING holding buf[0..len) */
static int protection_set(CMPGW_MSG *msg, const unsigned char *buf, size_t len)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();

	if (bs == NULL || len > INT_MAX || !ASN1_STRING_set(bs, buf, (int)len)) {
		ASN1_BIT_STRING_free(bs);
		return RC_NOMEM;
	}
	cmp_sig_bitstring_no_unused(bs);
	ASN1_BIT_STRING_free(msg->protection);
	msg->protection = bs;
	return 0;
}

/* cmp_prot_sign, keeping the DER of ProtectedPart in *der (caller frees) */
static int sign_part(CMPGW_MSG *msg, EVP_PKEY *key, unsigned char **der, size_t *len)
{
	X509_ALGOR *alg = NULL;
	ASN1_BIT_STRING *sig = NULL;
	int rc = RC_NOMEM;

	*der = NULL;
	if (msg == NULL || msg->header == NULL || msg->body == NULL || key == NULL)
		return RC_INVAL;
	if ((alg = X509_ALGOR_new()) == NULL || (sig = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	if ((rc = cmp_sig_algor_for_key(key, alg)) != 0)
		goto out;
	/* protectionAlg is part of the header, hence of what is signed */
	X509_ALGOR_free(msg->header->protectionAlg);
	msg->header->protectionAlg = alg;
	alg = NULL;
	if ((rc = part_encode(msg, der, len)) != 0)
		goto out;
	if ((rc = cmp_sig_sign(key, msg->header->protectionAlg, *der, *len, sig)) != 0)
		goto out;
	ASN1_BIT_STRING_free(msg->protection);
	msg->protection = sig;
	sig = NULL;
out:
	if (rc != 0) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	ASN1_BIT_STRING_free(sig);
	X509_ALGOR_free(alg);
	return rc;
}

int cmp_prot_sign(CMPGW_MSG *msg, EVP_PKEY *key)
{
	unsigned char *part = NULL;
	size_t partlen = 0;
	int rc = sign_part(msg, key, &part, &partlen);

	OPENSSL_free(part);
	return rc;
}

/* What follows header and body in a PKIMessage: the same fields and tags
 * as the last two of CMPGW_MSG (cmp/asn1.c), so that header, body and this
 * make the DER i2d_CMPGW_MSG makes (unit-tested). */
typedef struct cmpgw_msg_tail_st {
	ASN1_BIT_STRING *protection;
	STACK_OF(X509) *extraCerts;
} CMPGW_MSG_TAIL;

/* clang-format off */
ASN1_SEQUENCE(CMPGW_MSG_TAIL) = {
	ASN1_EXP_OPT(CMPGW_MSG_TAIL, protection, ASN1_BIT_STRING, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(CMPGW_MSG_TAIL, extraCerts, X509, 1),
} static_ASN1_SEQUENCE_END(CMPGW_MSG_TAIL)
/* clang-format on */

/* Content (after the tag and length) of the DER SEQUENCE der[0..len) */
static int seq_content(const unsigned char *der, size_t len, const unsigned char **c, long *clen)
{
	int tag, cls;
	const unsigned char *p = der;
	int r = ASN1_get_object(&p, clen, &tag, &cls, (long)len);

	if ((r & 0x80) || r != V_ASN1_CONSTRUCTED || tag != V_ASN1_SEQUENCE ||
	    p + *clen != der + len)
		return RC_DECODE;
	*c = p;
	return 0;
}

int cmp_prot_sign_der(CMPGW_MSG *msg, EVP_PKEY *key, unsigned char **der, size_t *len)
{
	CMPGW_MSG_TAIL tail;
	unsigned char *part = NULL, *tder = NULL, *buf = NULL, *q;
	const unsigned char *pc, *tc;
	size_t partlen = 0;
	long pclen, tclen;
	int rc, tlen, total;

	if (der == NULL || len == NULL)
		return RC_INVAL;
	if ((rc = sign_part(msg, key, &part, &partlen)) != 0)
		return rc;
	tail.protection = msg->protection;
	tail.extraCerts = msg->extraCerts;
	rc = RC_NOMEM;
	if ((tlen = ASN1_item_i2d((ASN1_VALUE *)&tail, &tder, ASN1_ITEM_rptr(CMPGW_MSG_TAIL))) <= 0)
		goto out;
	rc = RC_ERR;
	if (seq_content(part, partlen, &pc, &pclen) != 0 ||
	    seq_content(tder, (size_t)tlen, &tc, &tclen) != 0 || pclen > INT_MAX - tclen ||
	    (total = ASN1_object_size(1, (int)(pclen + tclen), V_ASN1_SEQUENCE)) <= 0)
		goto out;
	rc = RC_NOMEM;
	if ((buf = OPENSSL_malloc((size_t)total)) == NULL)
		goto out;
	q = buf;
	ASN1_put_object(&q, 1, (int)(pclen + tclen), V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(q, pc, (size_t)pclen);
	memcpy(q + pclen, tc, (size_t)tclen);
	*der = buf;
	*len = (size_t)total;
	rc = 0;
out:
	OPENSSL_free(tder);
	OPENSSL_free(part);
	return rc;
}

bool cmp_prot_is_pbmac(const CMPGW_MSG *msg)
{
	return msg != NULL && msg->header != NULL && msg->header->protectionAlg != NULL &&
	       OBJ_obj2nid(msg->header->protectionAlg->algorithm) == NID_id_PasswordBasedMAC;
}

static const EVP_MD *pbm_owf(const X509_ALGOR *owf)
{
	switch (OBJ_obj2nid(owf->algorithm)) {
	case NID_sha256:
		return EVP_sha256();
	case NID_sha384:
		return EVP_sha384();
	case NID_sha512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

static const EVP_MD *pbm_mac(const X509_ALGOR *mac)
{
	switch (OBJ_obj2nid(mac->algorithm)) {
	case NID_hmac_sha1: /* 1.3.6.1.5.5.8.1.2, the default of openssl cmp */
	case NID_hmacWithSHA1:
		return EVP_sha1();
	case NID_hmacWithSHA224:
		return EVP_sha224();
	case NID_hmacWithSHA256:
		return EVP_sha256();
	case NID_hmacWithSHA384:
		return EVP_sha384();
	case NID_hmacWithSHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/*
 * RFC 4210 5.1.3.1: BASEKEY = OWF(secret || salt), then OWF applied again
 * until iterationCount applications in total; MAC = HMAC(BASEKEY, data).
 */
static int pbm_compute(const CMPGW_PBMPARAM *pp, long iter, const unsigned char *secret,
		       size_t secretlen, const unsigned char *data, size_t datalen,
		       unsigned char *mac, unsigned int *maclen)
{
	const EVP_MD *owf = pbm_owf(pp->owf), *hmd = pbm_mac(pp->mac);
	unsigned char key[EVP_MAX_MD_SIZE];
	unsigned int keylen = 0;
	EVP_MD_CTX *c = NULL;
	int rc = RC_UNSUPPORTED;

	if (owf == NULL || hmd == NULL)
		goto out;
	rc = RC_NOMEM;
	if ((c = EVP_MD_CTX_new()) == NULL)
		goto out;
	rc = RC_CRYPTO;
	if (!EVP_DigestInit_ex(c, owf, NULL) || !EVP_DigestUpdate(c, secret, secretlen) ||
	    !EVP_DigestUpdate(c, pp->salt->data, (size_t)pp->salt->length) ||
	    !EVP_DigestFinal_ex(c, key, &keylen))
		goto out;
	for (long i = 1; i < iter; i++) {
		if (!EVP_DigestInit_ex(c, owf, NULL) || !EVP_DigestUpdate(c, key, keylen) ||
		    !EVP_DigestFinal_ex(c, key, &keylen))
			goto out;
	}
	if (HMAC(hmd, key, (int)keylen, data, datalen, mac, maclen) == NULL)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_MD_CTX_free(c);
	return rc;
}

/* Decode and bound-check PBMParameter from protectionAlg */
static int pbm_params(const X509_ALGOR *alg, long max_iter, CMPGW_PBMPARAM **out, long *iter)
{
	CMPGW_PBMPARAM *pp = NULL;
	int64_t n;

	if (OBJ_obj2nid(alg->algorithm) != NID_id_PasswordBasedMAC)
		return RC_UNSUPPORTED;
	if (alg->parameter == NULL || alg->parameter->type != V_ASN1_SEQUENCE)
		return RC_INVAL;
	pp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMPGW_PBMPARAM), alg->parameter);
	if (pp == NULL)
		return RC_INVAL;
	if (!ASN1_INTEGER_get_int64(&n, pp->iterationCount) || n < CMP_PROT_PBM_MIN_ITERATIONS ||
	    n > max_iter || pp->salt->length > CMP_PROT_PBM_MAX_SALT) {
		CMPGW_PBMPARAM_free(pp);
		return RC_INVAL;
	}
	*iter = (long)n;
	*out = pp;
	return 0;
}

int cmp_prot_pbmac_check(const CMPGW_MSG *msg, long max_iterations, long *iter)
{
	CMPGW_PBMPARAM *pp = NULL;
	int rc;

	if (msg == NULL || msg->header == NULL || iter == NULL)
		return RC_INVAL;
	if (msg->protection == NULL || msg->header->protectionAlg == NULL)
		return RC_INVAL;
	/* the decode and the lower bounds; the upper bound is told apart below */
	rc = pbm_params(msg->header->protectionAlg, LONG_MAX, &pp, iter);
	if (rc != 0)
		return rc;
	if (pbm_owf(pp->owf) == NULL || pbm_mac(pp->mac) == NULL)
		rc = RC_UNSUPPORTED;
	else if (*iter > max_iterations)
		rc = RC_TOOBIG;
	CMPGW_PBMPARAM_free(pp);
	return rc;
}

int cmp_prot_verify_pbmac(const unsigned char *msg_der, size_t len, const CMPGW_MSG *msg,
			  const unsigned char *secret, size_t secretlen, long max_iterations)
{
	CMPGW_PBMPARAM *pp = NULL;
	unsigned char *part = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t partlen = 0;
	long iter = 0;
	int rc;

	if (msg == NULL || msg->header == NULL || secret == NULL)
		return RC_INVAL;
	if (msg->protection == NULL || msg->header->protectionAlg == NULL)
		return RC_INVAL;
	if ((rc = pbm_params(msg->header->protectionAlg, max_iterations, &pp, &iter)) != 0)
		goto out;
	if ((rc = cmp_prot_part_der(msg_der, len, &part, &partlen)) != 0)
		goto out;
	if ((rc = pbm_compute(pp, iter, secret, secretlen, part, partlen, mac, &maclen)) != 0)
		goto out;
	rc = RC_CRYPTO;
	if ((unsigned int)msg->protection->length != maclen ||
	    CRYPTO_memcmp(mac, msg->protection->data, maclen) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_free(part);
	CMPGW_PBMPARAM_free(pp);
	return rc;
}

/* New PBMParameter: SHA-256 owf, HMAC-SHA256 mac, random salt */
static CMPGW_PBMPARAM *pbm_param_new(int iterations)
{
	unsigned char salt[PBM_SALT_LEN];
	CMPGW_PBMPARAM *pp = CMPGW_PBMPARAM_new();

	if (pp == NULL || RAND_bytes(salt, sizeof(salt)) != 1 ||
	    !ASN1_OCTET_STRING_set(pp->salt, salt, sizeof(salt)) ||
	    !X509_ALGOR_set0(pp->owf, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF, NULL) ||
	    !ASN1_INTEGER_set(pp->iterationCount, iterations) ||
	    !X509_ALGOR_set0(pp->mac, OBJ_nid2obj(NID_hmacWithSHA256), V_ASN1_UNDEF, NULL)) {
		CMPGW_PBMPARAM_free(pp);
		return NULL;
	}
	return pp;
}

/* Set header.protectionAlg = id-PasswordBasedMac with pp as parameters */
static int pbm_algor_set(CMPGW_MSG *msg, const CMPGW_PBMPARAM *pp)
{
	ASN1_STRING *params = ASN1_item_pack((void *)pp, ASN1_ITEM_rptr(CMPGW_PBMPARAM), NULL);
	X509_ALGOR *alg = X509_ALGOR_new();

	if (params == NULL || alg == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_id_PasswordBasedMAC), V_ASN1_SEQUENCE, params)) {
		ASN1_STRING_free(params);
		X509_ALGOR_free(alg);
		return RC_NOMEM;
	}
	X509_ALGOR_free(msg->header->protectionAlg);
	msg->header->protectionAlg = alg;
	return 0;
}

int cmp_prot_pbmac(CMPGW_MSG *msg, const unsigned char *secret, size_t secretlen, int iterations)
{
	CMPGW_PBMPARAM *pp = NULL;
	unsigned char *der = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t len = 0;
	int rc = RC_INVAL;

	if (msg == NULL || msg->header == NULL || msg->body == NULL || secret == NULL ||
	    iterations < CMP_PROT_PBM_MIN_ITERATIONS)
		goto out;
	rc = RC_NOMEM;
	if ((pp = pbm_param_new(iterations)) == NULL)
		goto out;
	if ((rc = pbm_algor_set(msg, pp)) != 0 || (rc = part_encode(msg, &der, &len)) != 0)
		goto out;
	if ((rc = pbm_compute(pp, iterations, secret, secretlen, der, len, mac, &maclen)) != 0)
		goto out;
	rc = protection_set(msg, mac, maclen);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	OPENSSL_free(der);
	CMPGW_PBMPARAM_free(pp);
	return rc;
}
