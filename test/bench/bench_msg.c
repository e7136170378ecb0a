/*
 * test/bench/bench_msg.c - the requests of the load generator (see
 * bench_msg.h); answers are checked in bench_trust.c.
 */
#include "test/bench/bench_msg.h"

#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "cmp/asn1.h"
#include "cmp/build.h"
#include "cmp/prot.h"
#include "cmp/sig.h"

static ASN1_OCTET_STRING *octets_rand(unsigned char *keep)
{
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
	if (o && (RAND_bytes(keep, BENCH_NONCE_LEN) != 1 ||
		  !ASN1_OCTET_STRING_set(o, keep, BENCH_NONCE_LEN))) {
		ASN1_OCTET_STRING_free(o);
		return NULL;
	}
	return o;
}

/* Header of a request from cert's subject with tx's tid and a new nonce. */
static int header(CMPGW_MSG *m, X509 *cert, struct bench_tx *tx, bool new_tid)
{
	CMPGW_HDR *h = m->header;

	ASN1_INTEGER_set(h->pvno, 2);
	GENERAL_NAME_free(h->sender);
	GENERAL_NAME_free(h->recipient);
	h->sender = GENERAL_NAME_new();
	h->recipient = GENERAL_NAME_new();
	if (!h->sender || !h->recipient)
		return RC_NOMEM;
	GENERAL_NAME_set0_value(h->sender, GEN_DIRNAME, X509_NAME_dup(X509_get_subject_name(cert)));
	GENERAL_NAME_set0_value(h->recipient, GEN_DIRNAME, X509_NAME_new());
	h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL));
	if (new_tid && RAND_bytes(tx->tid, BENCH_NONCE_LEN) != 1)
		return RC_CRYPTO;
	h->transactionID = ASN1_OCTET_STRING_new();
	if (!h->transactionID || !ASN1_OCTET_STRING_set(h->transactionID, tx->tid, BENCH_NONCE_LEN))
		return RC_NOMEM;
	if (!(h->senderNonce = octets_rand(tx->nonce)))
		return RC_NOMEM;
	if (X509_get0_subject_key_id(cert))
		h->senderKID = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id(cert));
	return h->messageTime ? 0 : RC_NOMEM;
}

/* oldCertID control (RFC 4211 6.5, RFC 9483 4.1.3) naming cert. */
static CMPGW_ATAV *old_cert_id(X509 *cert)
{
	CMPGW_CERTID *cid = CMPGW_CERTID_new();
	CMPGW_ATAV *a = CMPGW_ATAV_new();
	ASN1_STRING *seq = ASN1_STRING_new();
	unsigned char *der = NULL;
	int len;

	if (!cid || !a || !seq)
		goto err;
	GENERAL_NAME_free(cid->issuer);
	cid->issuer = GENERAL_NAME_new();
	GENERAL_NAME_set0_value(cid->issuer, GEN_DIRNAME,
				X509_NAME_dup(X509_get_issuer_name(cert)));
	ASN1_INTEGER_free(cid->serialNumber);
	cid->serialNumber = ASN1_INTEGER_dup(X509_get0_serialNumber(cert));
	if ((len = i2d_CMPGW_CERTID(cid, &der)) <= 0)
		goto err;
	ASN1_STRING_set0(seq, der, len);
	ASN1_OBJECT_free(a->type);
	ASN1_TYPE_free(a->value);
	a->type = OBJ_txt2obj("1.3.6.1.5.5.7.5.1.5", 1);
	a->value = ASN1_TYPE_new();
	if (!a->type || !a->value)
		goto err;
	ASN1_TYPE_set(a->value, V_ASN1_SEQUENCE, seq);
	CMPGW_CERTID_free(cid);
	return a;
err:
	ASN1_STRING_free(seq);
	CMPGW_ATAV_free(a);
	CMPGW_CERTID_free(cid);
	return NULL;
}

/* SubjectPublicKeyInfo of key into *pk; for EC straight from the encoded
 * point, since X509_PUBKEY_set encodes and re-decodes through providers. */
static int set_pubkey(X509_PUBKEY **pk, EVP_PKEY *key)
{
	unsigned char *pt = NULL;
	size_t ptlen;
	char group[64];
	int nid;
	X509_PUBKEY *n;

	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    NULL) ||
	    (nid = OBJ_txt2nid(group)) == NID_undef)
		return X509_PUBKEY_set(pk, key) ? 0 : RC_CRYPTO;
	if ((ptlen = EVP_PKEY_get1_encoded_public_key(key, &pt)) == 0 || !(n = X509_PUBKEY_new()))
		goto err;
	if (!X509_PUBKEY_set0_param(n, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
				    OBJ_nid2obj(nid), pt, (int)ptlen)) {
		X509_PUBKEY_free(n);
		goto err;
	}
	X509_PUBKEY_free(*pk);
	*pk = n;
	return 0;
err:
	OPENSSL_free(pt);
	return RC_CRYPTO;
}

/* CertReqMsg with certReqId 0, publicKey of newkey (its DER kept in tx),
 * signature POP. */
static CMPGW_CERTREQMSG *certreqmsg(int body_type, X509 *cert, EVP_PKEY *newkey,
				    struct bench_tx *tx)
{
	CMPGW_CERTREQMSG *crm = CMPGW_CERTREQMSG_new();
	unsigned char *der = NULL;
	int len;

	if (!crm)
		return NULL;
	ASN1_INTEGER_set(crm->certReq->certReqId, 0);
	/* RFC 4211 4.1: without poposkInput the template names subject and key */
	crm->certReq->certTemplate->subject = X509_NAME_dup(X509_get_subject_name(cert));
	if (!crm->certReq->certTemplate->subject ||
	    set_pubkey(&crm->certReq->certTemplate->publicKey, newkey) != 0)
		goto err;
	OPENSSL_free(tx->spki);
	tx->spki = NULL;
	if ((len = i2d_X509_PUBKEY(crm->certReq->certTemplate->publicKey, &tx->spki)) <= 0)
		goto err;
	tx->spki_len = (size_t)len;
	if (body_type == CMP_BODY_KUR) {
		CMPGW_ATAV *oc = old_cert_id(cert);
		crm->certReq->controls = sk_CMPGW_ATAV_new_null();
		if (!oc || !crm->certReq->controls ||
		    !sk_CMPGW_ATAV_push(crm->certReq->controls, oc)) {
			CMPGW_ATAV_free(oc);
			goto err;
		}
	}
	/* RFC 4211 4.1: POP signature over the DER of certReq */
	crm->popo = CMPGW_POPO_new();
	if (!crm->popo)
		goto err;
	crm->popo->type = CMPGW_POPO_SIGNATURE;
	crm->popo->value.signature = CMPGW_POPOSIGNINGKEY_new();
	if (!crm->popo->value.signature || (len = i2d_CMPGW_CERTREQ(crm->certReq, &der)) <= 0)
		goto err;
	CMPGW_POPOSIGNINGKEY *sk = crm->popo->value.signature;
	if (cmp_sig_algor_for_key(newkey, sk->algorithmIdentifier) != 0 ||
	    cmp_sig_sign(newkey, sk->algorithmIdentifier, der, (size_t)len, sk->signature) != 0)
		goto err;
	OPENSSL_free(der);
	return crm;
err:
	OPENSSL_free(der);
	CMPGW_CERTREQMSG_free(crm);
	return NULL;
}

/* Add extraCerts, sign with key, encode. */
static int finish(CMPGW_MSG *m, X509 *cert, STACK_OF(X509) *chain, EVP_PKEY *key,
		  unsigned char **der, size_t *len)
{
	if (!(m->extraCerts = sk_X509_new_null()) || !X509_up_ref(cert))
		return RC_NOMEM;
	if (!sk_X509_push(m->extraCerts, cert)) {
		X509_free(cert);
		return RC_NOMEM;
	}
	if (cmp_build_extracerts_push1(m, chain) != 0)
		return RC_NOMEM;
	if (cmp_prot_sign(m, key) != 0)
		return RC_CRYPTO;
	return cmp_build_der(m, der, len) == 0 ? 0 : RC_NOMEM;
}

int bench_msg_certreq(int body_type, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
		      EVP_PKEY *newkey, bool implicit, struct bench_tx *tx, unsigned char **der,
		      size_t *len)
{
	CMPGW_MSG *m = CMPGW_MSG_new();
	CMPGW_CERTREQMSG *crm = NULL;
	int rc = RC_NOMEM;

	if (!m || (rc = header(m, cert, tx, true)) != 0)
		goto out;
	rc = RC_NOMEM;
	if (implicit && cmp_build_implicit_confirm(m) != 0)
		goto out;
	m->body->type = body_type;
	m->body->value.ir = sk_CMPGW_CERTREQMSG_new_null();
	if (!m->body->value.ir || !(crm = certreqmsg(body_type, cert, newkey, tx)))
		goto out;
	if (!sk_CMPGW_CERTREQMSG_push(m->body->value.ir, crm)) {
		CMPGW_CERTREQMSG_free(crm);
		goto out;
	}
	rc = finish(m, cert, chain, key, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}

int bench_msg_certconf(X509 *cert, EVP_PKEY *key, struct bench_tx *tx, unsigned char **der,
		       size_t *len)
{
	CMPGW_MSG *m = CMPGW_MSG_new();
	CMPGW_CERTSTATUS *cs = NULL;
	int rc = RC_INVAL;

	if (!tx->cert_hash_len || !m)
		goto out;
	if ((rc = header(m, cert, tx, false)) != 0)
		goto out;
	rc = RC_NOMEM;
	m->header->recipNonce = ASN1_OCTET_STRING_new();
	if (!m->header->recipNonce ||
	    !ASN1_OCTET_STRING_set(m->header->recipNonce, tx->srv_nonce, tx->srv_nonce_len))
		goto out;
	/* RFC 9810 5.3.18: certHash with the certificate's signature digest,
	 * taken when the ip was checked */
	m->body->type = CMP_BODY_CERTCONF;
	m->body->value.certConf = sk_CMPGW_CERTSTATUS_new_null();
	if (!m->body->value.certConf || !(cs = CMPGW_CERTSTATUS_new()) ||
	    !ASN1_OCTET_STRING_set(cs->certHash, tx->cert_hash, (int)tx->cert_hash_len) ||
	    !ASN1_INTEGER_set(cs->certReqId, 0) ||
	    !sk_CMPGW_CERTSTATUS_push(m->body->value.certConf, cs)) {
		CMPGW_CERTSTATUS_free(cs);
		goto out;
	}
	rc = finish(m, cert, NULL, key, der, len);
out:
	CMPGW_MSG_free(m);
	return rc;
}
