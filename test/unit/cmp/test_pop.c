/*
 * test/unit/cmp/test_pop.c - cmp/pop.c: signature POP per RFC 4211 4.1 and
 * the exact code of every refusal.
 */
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "cmp/pop.h"
#include "helpers.h"
#include "tap.h"

static void test_valid(const char *kt)
{
	EVP_PKEY *k = t_key(kt), *got = NULL;
	CMPGW_CERTREQMSG *crm = t_crm(k, "device");

	is_int(cmp_pop_verify(crm, &got), 0, "%s: valid POP", kt);
	ok(got != NULL && EVP_PKEY_eq(got, k) == 1, "%s: template key returned", kt);
	is_int(cmp_pop_verify(crm, NULL), 0, "%s: valid POP, key not wanted", kt);
	EVP_PKEY_free(got);
	CMPGW_CERTREQMSG_free(crm);
	EVP_PKEY_free(k);
}

/* Re-sign crm's POP with RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) */
static void pss_resign(CMPGW_CERTREQMSG *crm, EVP_PKEY *k)
{
	CMPGW_POPOSIGNINGKEY *sk = crm->popo->value.signature;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL, aid[256], sig[512];
	const unsigned char *p = aid;
	size_t siglen = sizeof(sig);
	OSSL_PARAM params[2];
	int n;

	MUST(mctx && EVP_DigestSignInit_ex(mctx, &pctx, "SHA384", NULL, NULL, k, NULL) == 1);
	MUST(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
	MUST(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, aid,
						      sizeof(aid));
	params[1] = OSSL_PARAM_construct_end();
	MUST(EVP_PKEY_CTX_get_params(pctx, params) == 1);
	X509_ALGOR_free(sk->algorithmIdentifier);
	MUST((sk->algorithmIdentifier = d2i_X509_ALGOR(NULL, &p, (long)params[0].return_size)));
	MUST((n = i2d_CMPGW_CERTREQ(crm->certReq, &der)) > 0);
	MUST(EVP_DigestSign(mctx, sig, &siglen, der, (size_t)n) == 1);
	MUST(ASN1_BIT_STRING_set(sk->signature, sig, (int)siglen));
	cmp_sig_bitstring_no_unused(sk->signature);
	OPENSSL_free(der);
	EVP_MD_CTX_free(mctx);
}

static void test_pss(void)
{
	EVP_PKEY *k = t_key("RSA");
	CMPGW_CERTREQMSG *crm = t_crm(k, "device-pss");

	pss_resign(crm, k);
	is_int(OBJ_obj2nid(crm->popo->value.signature->algorithmIdentifier->algorithm),
	       NID_rsassaPss, "PSS: algorithm is RSASSA-PSS");
	is_int(cmp_pop_verify(crm, NULL), 0, "PSS: valid POP");
	crm->popo->value.signature->signature->data[5] ^= 1;
	is_int(cmp_pop_verify(crm, NULL), RC_CRYPTO, "PSS: bad signature");
	CMPGW_CERTREQMSG_free(crm);
	EVP_PKEY_free(k);
}

static void test_refusals(void)
{
	EVP_PKEY *k = t_key("P-256");
	CMPGW_CERTREQMSG *crm = t_crm(k, "device");
	CMPGW_POPO *popo;
	X509_PUBKEY *pk;

	/* tampered template: the signature covered another subject */
	MUST(X509_NAME_add_entry_by_txt(crm->certReq->certTemplate->subject, "O", MBSTRING_ASC,
					(const unsigned char *)"evil", -1, -1, 0));
	is_int(cmp_pop_verify(crm, NULL), RC_CRYPTO, "tampered template: RC_CRYPTO");
	CMPGW_CERTREQMSG_free(crm);

	crm = t_crm(k, "device");
	MUST(ASN1_INTEGER_set(crm->certReq->certReqId, 1));
	is_int(cmp_pop_verify(crm, NULL), RC_CRYPTO, "tampered certReqId: RC_CRYPTO");
	MUST(ASN1_INTEGER_set(crm->certReq->certReqId, 0));

	MUST(X509_ALGOR_set0(crm->popo->value.signature->algorithmIdentifier,
			     OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL));
	is_int(cmp_pop_verify(crm, NULL), RC_CRYPTO, "RSA algorithm with EC key: RC_CRYPTO");
	MUST(X509_ALGOR_set0(crm->popo->value.signature->algorithmIdentifier,
			     OBJ_nid2obj(NID_ecdsa_with_SHA1), V_ASN1_UNDEF, NULL));
	is_int(cmp_pop_verify(crm, NULL), RC_UNSUPPORTED, "ecdsa-with-SHA1: RC_UNSUPPORTED");

	MUST((crm->popo->value.signature->poposkInput = CMPGW_POPOSKINPUT_new()) != NULL);
	is_int(cmp_pop_verify(crm, NULL), RC_INVAL, "poposkInput: RC_INVAL");

	popo = crm->popo;
	crm->popo = NULL;
	is_int(cmp_pop_verify(crm, NULL), RC_INVAL, "missing popo: RC_INVAL");
	CMPGW_POPO_free(popo);

	MUST((crm->popo = CMPGW_POPO_new()) != NULL);
	crm->popo->type = CMPGW_POPO_RAVERIFIED;
	MUST((crm->popo->value.raVerified = ASN1_NULL_new()) != NULL);
	is_int(cmp_pop_verify(crm, NULL), RC_UNSUPPORTED, "raVerified: RC_UNSUPPORTED");
	CMPGW_POPO_free(crm->popo);

	MUST((crm->popo = CMPGW_POPO_new()) != NULL);
	crm->popo->type = CMPGW_POPO_KEYENC;
	MUST((crm->popo->value.keyEncipherment = ASN1_TYPE_new()) != NULL);
	ASN1_TYPE_set(crm->popo->value.keyEncipherment, V_ASN1_NULL, NULL);
	is_int(cmp_pop_verify(crm, NULL), RC_INVAL, "keyEncipherment: RC_INVAL");
	CMPGW_CERTREQMSG_free(crm);

	crm = t_crm(k, "device");
	pk = crm->certReq->certTemplate->publicKey;
	crm->certReq->certTemplate->publicKey = NULL;
	is_int(cmp_pop_verify(crm, NULL), RC_INVAL, "template without publicKey: RC_INVAL");
	X509_PUBKEY_free(pk);
	CMPGW_CERTREQMSG_free(crm);
	is_int(cmp_pop_verify(NULL, NULL), RC_INVAL, "NULL: RC_INVAL");
	EVP_PKEY_free(k);
}

/* POPs made by the stock openssl cmp client (EC and Ed25519 new keys) */
static void test_fixtures(void)
{
	static const char *const fx[] = { "ir_sig.der", "ir_rsa_ed25519.der", "ir_pbm.der",
					  "cr_sig.der", "kur_sig.der" };

	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		size_t len;
		unsigned char *der = t_read(fx[i], &len);
		CMPGW_MSG *m = t_decode(der, len);

		MUST(m != NULL);
		/* ir, cr and kur share the union slot */
		is_int(cmp_pop_verify(sk_CMPGW_CERTREQMSG_value(m->body->value.ir, 0), NULL), 0,
		       "%s: openssl cmp POP verifies", fx[i]);
		CMPGW_MSG_free(m);
		free(der);
	}
}

int main(void)
{
	test_valid("P-256");
	test_valid("P-384");
	test_valid("RSA");
	test_valid("ED25519");
	test_valid("ED448");
	test_pss();
	test_refusals();
	test_fixtures();
	return tap_done();
}
