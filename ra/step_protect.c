/*
 * ra/step_protect.c - signature protection by the first extraCerts
 * certificate (ra/step_protect.h).
 */
#include "ra/step_protect.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp/prot.h"
#include "ra/pipeline.h"

#define OID_PBM "1.2.840.113533.7.66.13"

static bool is_pbm(const X509_ALGOR *alg)
{
	char oid[64];
	const ASN1_OBJECT *obj = NULL;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return obj && OBJ_obj2txt(oid, sizeof(oid), obj, 1) > 0 && strcmp(oid, OID_PBM) == 0;
}

int ra_step_protect_check(struct ra_req *req, const char **why)
{
	const CMPGW_MSG *m = req->msg;
	int rc;

	if (is_pbm(m->header->protectionAlg)) {
		*why = "this alias requires signature protection with the vendor certificate";
		return CMP_FAIL_WRONG_INTEGRITY;
	}
	if (!m->extraCerts || sk_X509_num(m->extraCerts) < 1) {
		*why = "protecting certificate missing: it must be the first of extraCerts";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	req->signer = sk_X509_value(m->extraCerts, 0);
	/* RFC 4210 5.1.1 / RFC 9483 3.1: senderKID names the protecting key by
	 * its subjectKeyIdentifier; a certificate without one cannot be the
	 * key the sender names (OpenSSL's verifier refuses it too). */
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(req->signer);
	if (m->header->senderKID &&
	    (!ski || ASN1_OCTET_STRING_cmp(ski, m->header->senderKID) != 0)) {
		*why = ski ? "senderKID does not match the first extraCerts certificate"
			   : "senderKID given but the protecting certificate has no "
			     "subjectKeyIdentifier";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	/* RFC 4210 5.1.1: with signature protection the sender is the subject
	 * of the protecting certificate (an empty name means "unknown"). */
	const GENERAL_NAME *snd = m->header->sender;
	if (snd && snd->type == GEN_DIRNAME && X509_NAME_entry_count(snd->d.directoryName) > 0 &&
	    X509_NAME_cmp(snd->d.directoryName, X509_get_subject_name(req->signer)) != 0) {
		*why = "sender does not match the subject of the protecting certificate";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	rc = cmp_prot_verify_sig(req->der, req->len, m, req->signer);
	ERR_clear_error();
	if (rc == RC_UNSUPPORTED) {
		*why = "protection algorithm not supported";
		return CMP_FAIL_BAD_ALG;
	}
	if (rc != 0) {
		*why = "protection signature does not verify";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	return -1;
}

int ra_step_protect(struct ra_req *req)
{
	const char *why = NULL;
	int bit = ra_step_protect_check(req, &why);

	return bit >= 0 ? ra_req_refuse(req, bit, why) : RA_STEP_NEXT;
}
