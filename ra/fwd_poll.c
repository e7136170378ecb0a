/*
 * ra/fwd_poll.c - the device's polling for a forwarded request (RFC 4210
 * 5.3.22, RFC 9483 4.4), answered from PostgreSQL alone so that any node
 * can answer: pollRep while the upstream has not answered, then the ip
 * with the certificate, or the error the upstream exchange ended with.
 *
 * Every answer in the transaction carries the senderNonce stored with it,
 * so the certConf's recipNonce matches whichever answer came last.
 */
#include "ra/fwd.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "ra/fwd_poll.h"
#include "ra/pipeline.h"
#include "store/fwd.h"
#include "store/ops.h"

#define POLL_CHECK_AFTER_S 1

/* Same sender as the request (RFC 4210 5.1.1); a pollReq may omit
 * extraCerts, then the stored certificate verifies it. Fail bit or -1. */
static int verify_sender(struct ra_req *req, const struct store_fwd_txn *t, const char **why)
{
	X509 *stored = NULL, *signer = NULL;
	unsigned char fp[32];
	int bit = -1;

	if (req->msg->extraCerts && sk_X509_num(req->msg->extraCerts) > 0) {
		signer = sk_X509_value(req->msg->extraCerts, 0);
	} else if (t->sender_cert.p) {
		const unsigned char *p = t->sender_cert.p;
		signer = stored = d2i_X509(NULL, &p, (long)t->sender_cert.len);
	}
	if (!signer || ra_trust_cert_fp(signer, fp) != 0 || t->sender_fp.len != 32 ||
	    CRYPTO_memcmp(fp, t->sender_fp.p, 32) != 0) {
		*why = "pollReq not protected by the sender of the request";
		bit = CMP_FAIL_NOT_AUTHORIZED;
	} else if (cmp_prot_verify_sig(req->der, req->len, req->msg, signer) != 0) {
		*why = "protection signature does not verify";
		bit = CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	ERR_clear_error();
	X509_free(stored);
	return bit;
}

static void send_pollrep(struct ra_req *req)
{
	CMPGW_MSG *rsp = cmp_build_response(req->msg, req->cfg->cmp_cert, CMP_BODY_POLLREP);
	CMPGW_POLLREP *pr = CMPGW_POLLREP_new();

	if (!rsp || !pr || !ASN1_INTEGER_set(pr->certReqId, 0) ||
	    !ASN1_INTEGER_set(pr->checkAfter, POLL_CHECK_AFTER_S) ||
	    !ASN1_OCTET_STRING_set(rsp->header->senderNonce, req->cr.server_nonce,
				   sizeof(req->cr.server_nonce)) ||
	    !sk_CMPGW_POLLREP_push(rsp->body->value.pollRep, pr)) {
		CMPGW_POLLREP_free(pr);
		CMPGW_MSG_free(rsp);
		ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	ra_req_answer(req, rsp);
}

/* The failure the upstream exchange was closed with (all its bits). */
static void send_closed(struct ra_req *req, int fail_info, const char *fail_text)
{
	CMPGW_MSG *rsp = cmp_build_error(req->msg, req->cfg->cmp_cert, -1, fail_text);
	CMPGW_STATUSINFO *si = rsp ? rsp->body->value.error->pKIStatusInfo : NULL;

	if (!si || (!si->failInfo && !(si->failInfo = ASN1_BIT_STRING_new())))
		goto fail;
	for (int b = 0; b <= CMP_FAIL_MAX; b++)
		if ((fail_info >> b) & 1 && !ASN1_BIT_STRING_set_bit(si->failInfo, b, 1))
			goto fail;
	ra_req_answer(req, rsp);
	return;
fail:
	CMPGW_MSG_free(rsp);
	ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

/* What the answer needs of the stored transaction, kept on the request
 * (t is valid during the callback only). */
static void keep(struct ra_req *req, const struct store_fwd_txn *t)
{
	struct ra_poll_ext *p = &req->ext.poll;

	memcpy(req->cr.server_nonce, t->server_nonce.p, sizeof(req->cr.server_nonce));
	req->cr.cert_req_id = t->cert_req_id;
	/* the answer to the request polled for: ip, cp or kup */
	req->cr.rep_body = strcmp(t->body, "kur") == 0	? CMP_BODY_KUP
			   : strcmp(t->body, "cr") == 0 ? CMP_BODY_CP
							: CMP_BODY_IP;
	p->state = t->state;
	p->fail_info = t->fail_info;
	snprintf(p->fail_text, sizeof(p->fail_text), "%s",
		 t->fail_text ? t->fail_text : "request failed");
	if (t->state == STORE_OUT_ISSUED && t->cert.p) {
		const unsigned char *der = t->cert.p;
		if (!(req->cr.cert = d2i_X509(NULL, &der, (long)t->cert.len)))
			ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	}
}

static void on_txn(void *arg, int rc, const struct store_fwd_txn *t)
{
	struct ra_req *req = arg;
	STACK_OF(CMPGW_POLLREQ) *prs = req->msg->body->value.pollReq;
	const char *why = NULL;
	int bit;

	if (ra_req_client_gone(req)) {
		/* ra_resume drops it */
	} else if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (!t || strcmp(t->alias, req->alias->label) != 0) {
		ra_req_refuse(req, CMP_FAIL_BAD_REQUEST, "unknown transactionID");
	} else if ((bit = verify_sender(req, t, &why)) >= 0) {
		ra_req_refuse(req, bit, why);
	} else if (sk_CMPGW_POLLREQ_num(prs) != 1 ||
		   ASN1_INTEGER_get(sk_CMPGW_POLLREQ_value(prs, 0)->certReqId) != t->cert_req_id) {
		ra_req_refuse(req, CMP_FAIL_BAD_CERT_ID,
			      "pollReq certReqId does not match the request");
	} else if (t->server_nonce.len != sizeof(req->cr.server_nonce)) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	} else {
		keep(req, t);
	}
	ra_resume(req);
}

/* The forwarded transaction as stored (any node can answer). */
static int pollreq_lookup(struct ra_req *req)
{
	const ASN1_OCTET_STRING *tid = req->msg->header->transactionID;
	struct store_bytes b = { tid->data, (size_t)tid->length };

	if (req->rw->ops->fwd_get(req->rw->db, b, on_txn, req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

/* pollRep while pending, then the certificate or the failure. */
static int pollreq_answer(struct ra_req *req)
{
	const struct ra_poll_ext *p = &req->ext.poll;

	if (p->state == STORE_OUT_PENDING)
		send_pollrep(req);
	else if (p->state == STORE_OUT_ISSUED && req->cr.cert)
		ra_answer_certrep(req);
	else if (p->state == STORE_OUT_CLOSED && p->fail_info >= 0)
		send_closed(req, p->fail_info, p->fail_text);
	else
		return ra_req_refuse(req, CMP_FAIL_BAD_REQUEST,
				     "transaction is not waiting for a response");
	return RA_STEP_DONE;
}

/* RA mode only: a CA-mode alias never answers "waiting", and the pipeline
 * refuses a pollReq there as a body type it does not support. */
const struct ra_flow ra_flow_pollreq = {
	"pollReq",
	{ pollreq_lookup, pollreq_answer },
};
