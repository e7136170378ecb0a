/*
 * cmp/build.c - response message construction (RFC 4210/9810 5.1.1, 5.3;
 * RFC 9483 4).
 */
#include "cmp/build.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/objects.h>
#include <openssl/rand.h>

/* New OCTET STRING of n random bytes */
static ASN1_OCTET_STRING *random_octets(int n)
{
	unsigned char buf[64];
	ASN1_OCTET_STRING *os = NULL;

	if (n > (int)sizeof(buf) || RAND_bytes(buf, n) != 1)
		return NULL;
	if ((os = ASN1_OCTET_STRING_new()) != NULL && !ASN1_OCTET_STRING_set(os, buf, n)) {
		ASN1_OCTET_STRING_free(os);
		os = NULL;
	}
	return os;
}

/* New GeneralName directoryName holding a copy of name (empty name if NULL) */
static GENERAL_NAME *dirname_new(const X509_NAME *name)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	X509_NAME *n = name != NULL ? X509_NAME_dup(name) : X509_NAME_new();

	if (gn == NULL || n == NULL) {
		GENERAL_NAME_free(gn);
		X509_NAME_free(n);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, n);
	return gn;
}

/* Duplicate an optional OCTET STRING; *out stays NULL if src is NULL */
static int octets_dup(const ASN1_OCTET_STRING *src, ASN1_OCTET_STRING **out)
{
	if (src == NULL)
		return 0;
	if ((*out = ASN1_OCTET_STRING_dup(src)) == NULL)
		return RC_NOMEM;
	return 0;
}

/* Fill a fresh header h for an answer to req (may be NULL) from sender_cert */
static int hdr_fill(CMPGW_HDR *h, const CMPGW_MSG *req, X509 *sender_cert)
{
	const CMPGW_HDR *rh = req != NULL ? req->header : NULL;
	const ASN1_OCTET_STRING *ski = NULL;
	/* RFC 9810 7: answer with the version of the request when supported */
	long pvno = rh != NULL && ASN1_INTEGER_get(rh->pvno) == 3 ? 3 : 2;

	GENERAL_NAME_free(h->sender);
	GENERAL_NAME_free(h->recipient);
	h->sender = dirname_new(sender_cert ? X509_get_subject_name(sender_cert) : NULL);
	h->recipient = rh != NULL ? GENERAL_NAME_dup(rh->sender) : dirname_new(NULL);
	if (h->sender == NULL || h->recipient == NULL || !ASN1_INTEGER_set(h->pvno, pvno))
		return RC_NOMEM;
	if ((h->messageTime = ASN1_GENERALIZEDTIME_set(NULL, time(NULL))) == NULL)
		return RC_NOMEM;
	if ((h->senderNonce = random_octets(CMP_BUILD_NONCE_LEN)) == NULL)
		return RC_NOMEM;
	if (rh == NULL) {
		if ((h->transactionID = random_octets(CMP_BUILD_NONCE_LEN)) == NULL)
			return RC_NOMEM;
	} else if (octets_dup(rh->transactionID, &h->transactionID) != 0 ||
		   octets_dup(rh->senderNonce, &h->recipNonce) != 0) {
		return RC_NOMEM;
	}
	if (sender_cert != NULL)
		ski = X509_get0_subject_key_id(sender_cert);
	return octets_dup(ski, &h->senderKID);
}

/* Allocate the empty content of a body of type t; false if t is not sent */
static bool body_alloc(CMPGW_BODY *b, int t)
{
	switch (t) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
	case CMP_BODY_KRR:
	case CMP_BODY_CCR:
		b->value.ir = sk_CMPGW_CERTREQMSG_new_null();
		break;
	case CMP_BODY_IP:
	case CMP_BODY_CP:
	case CMP_BODY_KUP:
	case CMP_BODY_CCP:
		b->value.ip = CMPGW_CERTREPMSG_new();
		break;
	case CMP_BODY_RR:
		b->value.rr = sk_CMPGW_REVDETAILS_new_null();
		break;
	case CMP_BODY_RP:
		b->value.rp = CMPGW_REVREP_new();
		break;
	case CMP_BODY_PKICONF:
		b->value.pkiconf = ASN1_NULL_new();
		break;
	case CMP_BODY_NESTED:
		b->value.nested = sk_CMPGW_MSG_new_null();
		break;
	case CMP_BODY_GENM:
	case CMP_BODY_GENP:
		b->value.genm = sk_CMPGW_ITAV_new_null();
		break;
	case CMP_BODY_ERROR:
		b->value.error = CMPGW_ERRORMSG_new();
		break;
	case CMP_BODY_CERTCONF:
		b->value.certConf = sk_CMPGW_CERTSTATUS_new_null();
		break;
	case CMP_BODY_POLLREQ:
		b->value.pollReq = sk_CMPGW_POLLREQ_new_null();
		break;
	case CMP_BODY_POLLREP:
		b->value.pollRep = sk_CMPGW_POLLREP_new_null();
		break;
	default:
		return false;
	}
	/* all members share one pointer slot; value.other aliases it */
	if (b->value.other == NULL)
		return false;
	b->type = t;
	return true;
}

CMPGW_MSG *cmp_build_response(const CMPGW_MSG *req, X509 *sender_cert, int body_type)
{
	CMPGW_MSG *msg = CMPGW_MSG_new();

	if (msg == NULL)
		goto err;
	if (hdr_fill(msg->header, req, sender_cert) != 0)
		goto err;
	/* CMPGW_MSG_new left body as an unselected CHOICE (type -1) */
	if (!body_alloc(msg->body, body_type))
		goto err;
	return msg;
err:
	CMPGW_MSG_free(msg);
	return NULL;
}

CMPGW_STATUSINFO *cmp_build_statusinfo(int status, int fail_bit, const char *text)
{
	CMPGW_STATUSINFO *si = NULL;
	ASN1_UTF8STRING *s = NULL;

	if (fail_bit < -1 || fail_bit > CMP_FAIL_MAX)
		return NULL;
	if ((si = CMPGW_STATUSINFO_new()) == NULL || !ASN1_INTEGER_set(si->status, status))
		goto err;
	if (fail_bit >= 0) {
		if ((si->failInfo = ASN1_BIT_STRING_new()) == NULL ||
		    !ASN1_BIT_STRING_set_bit(si->failInfo, fail_bit, 1))
			goto err;
	}
	if (text != NULL) {
		if ((si->statusString = sk_ASN1_UTF8STRING_new_null()) == NULL ||
		    (s = ASN1_UTF8STRING_new()) == NULL || !ASN1_STRING_set(s, text, -1) ||
		    !sk_ASN1_UTF8STRING_push(si->statusString, s))
			goto err;
	}
	return si;
err:
	ASN1_UTF8STRING_free(s);
	CMPGW_STATUSINFO_free(si);
	return NULL;
}

static CMPGW_CERTREPMSG *certrep_get0(CMPGW_MSG *rsp)
{
	if (rsp == NULL || rsp->body == NULL)
		return NULL;
	switch (rsp->body->type) {
	case CMP_BODY_IP:
		return rsp->body->value.ip;
	case CMP_BODY_CP:
		return rsp->body->value.cp;
	case CMP_BODY_KUP:
		return rsp->body->value.kup;
	case CMP_BODY_CCP:
		return rsp->body->value.ccp;
	default:
		return NULL;
	}
}

int cmp_build_certrep_add(CMPGW_MSG *rsp, long certReqId, CMPGW_STATUSINFO *si, X509 *cert)
{
	CMPGW_CERTREPMSG *rep = certrep_get0(rsp);
	CMPGW_CERTRESPONSE *resp = NULL;
	CMPGW_CERTKEYPAIR *ckp = NULL;
	int rc = RC_INVAL;

	if (rep == NULL || si == NULL)
		goto out;
	rc = RC_NOMEM;
	if ((resp = CMPGW_CERTRESPONSE_new()) == NULL ||
	    !ASN1_INTEGER_set(resp->certReqId, certReqId))
		goto out;
	if (cert != NULL) {
		if ((ckp = CMPGW_CERTKEYPAIR_new()) == NULL || !X509_up_ref(cert))
			goto out;
		ckp->certOrEncCert->type = CMPGW_CERTORENC_CERT;
		ckp->certOrEncCert->value.certificate = cert;
		resp->certifiedKeyPair = ckp;
		ckp = NULL;
	}
	CMPGW_STATUSINFO_free(resp->status);
	resp->status = si;
	if (!sk_CMPGW_CERTRESPONSE_push(rep->response, resp)) {
		resp->status = NULL; /* still the caller's on failure */
		goto out;
	}
	resp = NULL;
	rc = 0;
out:
	CMPGW_CERTKEYPAIR_free(ckp);
	CMPGW_CERTRESPONSE_free(resp);
	return rc;
}

int cmp_build_capubs_push1(CMPGW_MSG *rsp, X509 *cert)
{
	CMPGW_CERTREPMSG *rep = certrep_get0(rsp);

	if (rep == NULL || cert == NULL)
		return RC_INVAL;
	if (rep->caPubs == NULL && (rep->caPubs = sk_X509_new_null()) == NULL)
		return RC_NOMEM;
	if (!X509_up_ref(cert))
		return RC_NOMEM;
	if (!sk_X509_push(rep->caPubs, cert)) {
		X509_free(cert);
		return RC_NOMEM;
	}
	return 0;
}

CMPGW_MSG *cmp_build_error(const CMPGW_MSG *req, X509 *sender_cert, int fail_bit, const char *text)
{
	CMPGW_MSG *msg = cmp_build_response(req, sender_cert, CMP_BODY_ERROR);
	CMPGW_STATUSINFO *si = cmp_build_statusinfo(CMP_STATUS_REJECTION, fail_bit, text);

	if (msg == NULL || si == NULL) {
		CMPGW_STATUSINFO_free(si);
		CMPGW_MSG_free(msg);
		return NULL;
	}
	CMPGW_STATUSINFO_free(msg->body->value.error->pKIStatusInfo);
	msg->body->value.error->pKIStatusInfo = si;
	return msg;
}

int cmp_build_extracerts_push1(CMPGW_MSG *msg, STACK_OF(X509) *chain)
{
	int n0, created = 0;

	if (msg == NULL)
		return RC_INVAL;
	if (chain == NULL || sk_X509_num(chain) == 0)
		return 0;
	if (msg->extraCerts == NULL) {
		if ((msg->extraCerts = sk_X509_new_null()) == NULL)
			return RC_NOMEM;
		created = 1;
	}
	n0 = sk_X509_num(msg->extraCerts);
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);

		if (!X509_up_ref(c))
			goto err;
		if (!sk_X509_push(msg->extraCerts, c)) {
			X509_free(c);
			goto err;
		}
	}
	return 0;
err:
	while (sk_X509_num(msg->extraCerts) > n0)
		X509_free(sk_X509_pop(msg->extraCerts));
	if (created) {
		sk_X509_free(msg->extraCerts);
		msg->extraCerts = NULL;
	}
	return RC_NOMEM;
}

bool cmp_build_has_implicit_confirm(const CMPGW_MSG *req)
{
	const STACK_OF(CMPGW_ITAV) *gi;

	if (req == NULL || req->header == NULL || (gi = req->header->generalInfo) == NULL)
		return false;
	for (int i = 0; i < sk_CMPGW_ITAV_num(gi); i++)
		if (OBJ_obj2nid(sk_CMPGW_ITAV_value(gi, i)->type) == NID_id_it_implicitConfirm)
			return true;
	return false;
}

int cmp_build_implicit_confirm(CMPGW_MSG *msg)
{
	CMPGW_ITAV *itav = NULL;
	int rc = RC_INVAL;

	if (msg == NULL || msg->header == NULL)
		goto out;
	rc = 0;
	if (cmp_build_has_implicit_confirm(msg))
		goto out;
	rc = RC_NOMEM;
	if ((itav = CMPGW_ITAV_new()) == NULL || (itav->value = ASN1_TYPE_new()) == NULL)
		goto out;
	ASN1_OBJECT_free(itav->type);
	itav->type = OBJ_nid2obj(NID_id_it_implicitConfirm);
	ASN1_TYPE_set(itav->value, V_ASN1_NULL, NULL);
	if (msg->header->generalInfo == NULL &&
	    (msg->header->generalInfo = sk_CMPGW_ITAV_new_null()) == NULL)
		goto out;
	if (!sk_CMPGW_ITAV_push(msg->header->generalInfo, itav))
		goto out;
	itav = NULL;
	rc = 0;
out:
	CMPGW_ITAV_free(itav);
	return rc;
}

int cmp_build_der(const CMPGW_MSG *msg, unsigned char **der, size_t *len)
{
	unsigned char *buf = NULL;
	int n;

	if (msg == NULL || der == NULL || len == NULL)
		return RC_INVAL;
	if ((n = i2d_CMPGW_MSG(msg, &buf)) <= 0)
		return RC_NOMEM;
	*der = buf;
	*len = (size_t)n;
	return 0;
}
