/*
 * ra/genm.c - general messages (RFC 4210 5.3.19, RFC 9483 4.3): answer
 * the infoTypes we know, omit the others (RFC 4210 5.3.19: the receiver
 * is free to ignore OIDs it does not recognize); an empty genm is a
 * liveness check and gets an empty genp.
 */
#include "ra/ra.h"

#include <string.h>

#include <openssl/err.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "ra/issued.h"
#include "ra/pipeline.h"
#include "ra/step_protect.h"

#define OID_CA_CERTS		"1.3.6.1.5.5.7.4.17" /* id-it-caCerts, RFC 9483 4.3.1 */
#define OID_SIGN_KEY_PAIR_TYPES "1.3.6.1.5.5.7.4.2"  /* id-it-signKeyPairTypes */

/* Wrap n DER elements into one SEQUENCE, as an ASN1_TYPE (whose
 * value.sequence holds the whole encoding, tag included). */
static ASN1_TYPE *seq_of(unsigned char **ders, const int *lens, int n)
{
	long total = 0;
	unsigned char *buf = NULL, *p;
	ASN1_STRING *str = NULL;
	ASN1_TYPE *t = NULL;
	int len;

	for (int i = 0; i < n; i++)
		total += lens[i];
	len = ASN1_object_size(1, total, V_ASN1_SEQUENCE);
	if (len <= 0 || !(buf = OPENSSL_malloc((size_t)len)))
		return NULL;
	p = buf;
	ASN1_put_object(&p, 1, total, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	for (int i = 0; i < n; i++) {
		memcpy(p, ders[i], (size_t)lens[i]);
		p += lens[i];
	}
	str = ASN1_STRING_type_new(V_ASN1_SEQUENCE);
	t = ASN1_TYPE_new();
	if (!str || !t) {
		ASN1_STRING_free(str);
		ASN1_TYPE_free(t);
		OPENSSL_free(buf);
		return NULL;
	}
	ASN1_STRING_set0(str, buf, len);
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, str);
	return t;
}

/* id-it-caCerts: the issuing CA and its chain (RFC 9483 4.3.1). */
static ASN1_TYPE *ca_certs_value(const struct cfg *cfg)
{
	unsigned char *ders[16] = { 0 };
	int lens[16], n = 0;
	ASN1_TYPE *t = NULL;

	lens[n] = i2d_X509(cfg->ca_cert, &ders[n]);
	if (lens[n++] <= 0)
		goto out;
	for (int i = 0; i < sk_X509_num(cfg->ca_chain) && n < 16; i++) {
		lens[n] = i2d_X509(sk_X509_value(cfg->ca_chain, i), &ders[n]);
		if (lens[n++] <= 0)
			goto out;
	}
	t = seq_of(ders, lens, n);
out:
	for (int i = 0; i < n; i++)
		OPENSSL_free(ders[i]);
	return t;
}

/* id-it-signKeyPairTypes: the subject key types the alias's profile
 * accepts, as AlgorithmIdentifiers (RFC 4210 5.3.19.2). */
static ASN1_TYPE *key_types_value(const struct cfg_profile *p)
{
	static const struct {
		unsigned bit;
		int nid;
		int curve;
	} algs[] = {
		{ CFG_KEY_P256, NID_X9_62_id_ecPublicKey, NID_X9_62_prime256v1 },
		{ CFG_KEY_P384, NID_X9_62_id_ecPublicKey, NID_secp384r1 },
		{ CFG_KEY_P521, NID_X9_62_id_ecPublicKey, NID_secp521r1 },
		{ CFG_KEY_RSA, NID_rsaEncryption, 0 },
		{ CFG_KEY_ED25519, NID_ED25519, 0 },
		{ CFG_KEY_ED448, NID_ED448, 0 },
	};
	unsigned char *ders[6] = { 0 };
	int lens[6], n = 0;
	ASN1_TYPE *t = NULL;

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (!(p->key_algs & algs[i].bit))
			continue;
		X509_ALGOR *a = X509_ALGOR_new();
		int ok = a != NULL;
		if (ok && algs[i].curve)
			ok = X509_ALGOR_set0(a, OBJ_nid2obj(algs[i].nid), V_ASN1_OBJECT,
					     OBJ_nid2obj(algs[i].curve));
		else if (ok)
			ok = X509_ALGOR_set0(a, OBJ_nid2obj(algs[i].nid),
					     algs[i].nid == NID_rsaEncryption ? V_ASN1_NULL
									      : V_ASN1_UNDEF,
					     NULL);
		lens[n] = ok ? i2d_X509_ALGOR(a, &ders[n]) : -1;
		X509_ALGOR_free(a);
		if (lens[n++] <= 0)
			goto out;
	}
	t = seq_of(ders, lens, n);
out:
	for (int i = 0; i < n; i++)
		OPENSSL_free(ders[i]);
	return t;
}

static int push_itav(STACK_OF(CMPGW_ITAV) *out, const char *oid, ASN1_TYPE *value)
{
	CMPGW_ITAV *itav = CMPGW_ITAV_new();

	if (!itav || !value || !(itav->type = OBJ_txt2obj(oid, 1)))
		goto fail;
	itav->value = value;
	if (!sk_CMPGW_ITAV_push(out, itav)) {
		itav->value = NULL;
		goto fail;
	}
	return 0;
fail:
	CMPGW_ITAV_free(itav);
	ASN1_TYPE_free(value);
	return RC_NOMEM;
}

/* Who may ask: a holder of a vendor certificate or of one of ours. */
static bool sender_trusted(struct ra_req *req)
{
	struct ra_auth auth;
	EVP_PKEY *ca_pub = X509_get0_pubkey(req->cfg->ca_cert);

	if (ra_issued_by_ca(req->cfg, req->signer))
		return X509_verify(req->signer, ca_pub) == 1;
	return req->trust &&
	       ra_trust_authenticate(req->trust, req->alias->vendors, req->alias->n_vendors,
				     req->signer, req->msg->extraCerts, &auth) == 0;
}

/* The sender must be trusted here: an operator certificate of this CA or
 * a vendor certificate accepted on the alias. */
static int genm_trust(struct ra_req *req)
{
	if (sender_trusted(req))
		return RA_STEP_NEXT;
	ERR_clear_error();
	return ra_req_refuse(req, CMP_FAIL_SIGNER_NOT_TRUSTED, "sender certificate not trusted");
}

/* genp with the infoTypes asked for that are supported (RFC 9483 4.3). */
static int genm_answer(struct ra_req *req)
{
	STACK_OF(CMPGW_ITAV) *asked = req->msg->body->value.genm;
	char oid[64];
	CMPGW_MSG *rsp = NULL;

	if (sk_CMPGW_ITAV_num(asked) > 16)
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST, "too many infoTypes (at most 16)");
	rsp = cmp_build_response(req->msg, req->cfg->cmp_cert, CMP_BODY_GENP);
	if (!rsp)
		goto fail;
	for (int i = 0; i < sk_CMPGW_ITAV_num(asked); i++) {
		const CMPGW_ITAV *q = sk_CMPGW_ITAV_value(asked, i);
		if (OBJ_obj2txt(oid, sizeof(oid), q->type, 1) <= 0)
			continue;
		int rc = 0;
		if (strcmp(oid, OID_CA_CERTS) == 0)
			rc = push_itav(rsp->body->value.genp, oid, ca_certs_value(req->cfg));
		else if (strcmp(oid, OID_SIGN_KEY_PAIR_TYPES) == 0)
			rc = push_itav(rsp->body->value.genp, oid,
				       key_types_value(req->alias->profile));
		else
			log_debug(&req->log, "genm: infoType %s not supported, omitted", oid);
		if (rc != 0)
			goto fail;
	}
	ra_answer_send(req, rsp);
	return RA_STEP_DONE;
fail:
	CMPGW_MSG_free(rsp);
	return ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

const struct ra_flow ra_flow_genm = {
	"genm",
	{ ra_step_protect, genm_trust, genm_answer },
};
