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

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cmp/build.h"
#include "cmp/prot.h"
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
	    !ASN1_OCTET_STRING_set(rsp->header->senderNonce, req->server_nonce,
				   sizeof(req->server_nonce)) ||
	    !sk_CMPGW_POLLREP_push(rsp->body->value.pollRep, pr)) {
		CMPGW_POLLREP_free(pr);
		CMPGW_MSG_free(rsp);
		ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	ra_req_answer(req, rsp);
}

/* The failure the upstream exchange was closed with (all its bits). */
static void send_closed(struct ra_req *req, const struct store_fwd_txn *t)
{
	CMPGW_MSG *rsp = cmp_build_error(req->msg, req->cfg->cmp_cert, -1,
					 t->fail_text ? t->fail_text : "request failed");
	CMPGW_STATUSINFO *si = rsp ? rsp->body->value.error->pKIStatusInfo : NULL;

	if (!si || (!si->failInfo && !(si->failInfo = ASN1_BIT_STRING_new())))
		goto fail;
	for (int b = 0; b <= CMP_FAIL_MAX; b++)
		if ((t->fail_info >> b) & 1 && !ASN1_BIT_STRING_set_bit(si->failInfo, b, 1))
			goto fail;
	ra_req_answer(req, rsp);
	return;
fail:
	CMPGW_MSG_free(rsp);
	ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

static void on_txn(void *arg, int rc, const struct store_fwd_txn *t)
{
	struct ra_req *req = arg;
	STACK_OF(CMPGW_POLLREQ) *prs = req->msg->body->value.pollReq;
	const char *why = NULL;
	int bit;

	if (ra_req_gone(req))
		return;
	if (rc != 0) {
		ra_req_fail(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
		return;
	}
	if (!t || strcmp(t->alias, req->alias->label) != 0) {
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, "unknown transactionID");
		return;
	}
	if ((bit = verify_sender(req, t, &why)) >= 0) {
		ra_req_fail(req, bit, why);
		return;
	}
	if (sk_CMPGW_POLLREQ_num(prs) != 1 ||
	    ASN1_INTEGER_get(sk_CMPGW_POLLREQ_value(prs, 0)->certReqId) != t->cert_req_id) {
		ra_req_fail(req, CMP_FAIL_BAD_CERT_ID,
			    "pollReq certReqId does not match the request");
		return;
	}
	if (t->server_nonce.len != sizeof(req->server_nonce)) {
		ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	memcpy(req->server_nonce, t->server_nonce.p, sizeof(req->server_nonce));
	req->cert_req_id = t->cert_req_id;
	/* the answer to the request polled for: ip, cp or kup */
	req->rep_body = strcmp(t->body, "kur") == 0  ? CMP_BODY_KUP
			: strcmp(t->body, "cr") == 0 ? CMP_BODY_CP
						     : CMP_BODY_IP;
	if (t->state == STORE_OUT_PENDING) {
		send_pollrep(req);
	} else if (t->state == STORE_OUT_ISSUED && t->cert.p) {
		const unsigned char *p = t->cert.p;
		if (!(req->cert = d2i_X509(NULL, &p, (long)t->cert.len))) {
			ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
			return;
		}
		ra_answer_certrep(req);
	} else if (t->state == STORE_OUT_CLOSED && t->fail_info >= 0) {
		send_closed(req, t);
	} else {
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, "transaction is not waiting for a response");
	}
}

void ra_fwd_pollreq_handle(struct ra_req *req)
{
	const ASN1_OCTET_STRING *tid = req->msg->header->transactionID;
	struct store_bytes b = { tid->data, (size_t)tid->length };

	if (req->alias->mode != CFG_MODE_RA) { /* CA mode never answers "waiting" */
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST,
			    "body type pollReq not supported by this alias");
		return;
	}
	if (req->rw->ops->fwd_get(req->rw->db, b, on_txn, req) != 0)
		ra_req_fail(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
}

bool ra_fwd_refused(const struct ra_req *req, const char **why)
{
	int t = req->msg->body->type;

	if (req->alias->mode != CFG_MODE_RA)
		return false;
	if (t == CMP_BODY_P10CR) {
		*why = "p10cr is not forwarded by this RA alias (use ir, cr or kur)";
		return true;
	}
	if (t == CMP_BODY_POLLREQ || t == CMP_BODY_CERTCONF || t == CMP_BODY_ERROR ||
	    t == CMP_BODY_GENM)
		return false;
	if ((t == CMP_BODY_IR || t == CMP_BODY_CR) && cmp_prot_is_pbmac(req->msg)) {
		*why = "shared-secret (token) requests are not forwarded by this RA alias";
		return true;
	}
	return false;
}
