/*
 * ra/certconf.c - certificate confirmation (RFC 4210 5.3.18, RFC 9483
 * 4.1.1): match the transaction in PostgreSQL, check the signer, nonce,
 * certReqId and certHash, then record the decision and answer pkiConf.
 */
#include "ra/ra.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cmp/build.h"
#include "cmp/certhash.h"
#include "cmp/prot.h"
#include "ra/certconf.h"
#include "ra/fwd.h"
#include "ra/pipeline.h"
#include "store/enroll.h"
#include "store/ops.h"

/* The refusal texts, shared by the one-statement path and the two-step
 * path so that both answer alike. */
static const char WHY_UNKNOWN[] = "unknown transactionID";
static const char WHY_NOT_SENDER[] = "certConf not protected by the sender of the request";
static const char WHY_BAD_SIG[] = "protection signature does not verify";
static const char WHY_BAD_NONCE[] = "recipNonce does not match the senderNonce of the response";
static const char WHY_BAD_CRID[] = "certReqId does not match the request";
static const char WHY_BAD_HASH[] = "certHash does not match the issued certificate";

static struct store_bytes tid_of(const struct ra_req *req)
{
	const ASN1_OCTET_STRING *t = req->msg->header->transactionID;
	struct store_bytes b = { t->data, (size_t)t->length };
	return b;
}

/* The decision as stored (cmpgw_confirm / cmpgw_certconf): the state the
 * transaction is in now, or a refusal. */
static void confirm_result(struct ra_req *req, int rc, enum store_outcome state)
{
	if (rc != 0)
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else if (state == STORE_OUT_EXPIRED)
		ra_req_refuse(req, CMP_FAIL_BAD_REQUEST,
			      "confirmation deadline passed; the certificate was revoked");
	else if (state == STORE_OUT_UNKNOWN)
		ra_req_refuse(req, CMP_FAIL_BAD_REQUEST, WHY_UNKNOWN);
	req->ext.certconf.recorded = true;
	req->ext.certconf.state = state;
}

/* Recorded; a client that went away gets no pkiConf (ra_resume drops it). */
static void on_confirm(void *arg, int rc, enum store_outcome state)
{
	struct ra_req *req = arg;

	confirm_result(req, rc, state);
	ra_resume(req);
}

/* A token transaction (ra/token_ir.c) is confirmed under the same
 * shared secret, named by the same senderKID (RFC 9483 4.1.5); the
 * pkiConf is then MAC-protected too. Returns a fail bit or -1. */
static int verify_token_mac(struct ra_req *req, const struct store_txn *t, const char **why)
{
	const ASN1_OCTET_STRING *kid = req->msg->header->senderKID;
	size_t n = strlen(t->token_ref);

	if (!cmp_prot_is_pbmac(req->msg)) {
		*why = "this transaction requires MAC protection with its enrollment token";
		return CMP_FAIL_WRONG_INTEGRITY;
	}
	if (!kid || (size_t)kid->length != n || memcmp(kid->data, t->token_ref, n) != 0) {
		*why = WHY_NOT_SENDER;
		return CMP_FAIL_NOT_AUTHORIZED;
	}
	return ra_token_verify_mac(req, t->token_ref, t->token_secret_enc.p,
				   t->token_secret_enc.len, why);
}

/* The signer of a certConf must be the signer of the ir (RFC 4210 5.1.1:
 * same transaction, same sender). It may omit extraCerts; then the stored
 * certificate is used. Returns a fail bit or -1. */
static int verify_signer(struct ra_req *req, const struct store_txn *t, X509 **stored,
			 const char **why)
{
	unsigned char fp[32];
	X509 *signer = NULL;

	if (t->token_ref)
		return verify_token_mac(req, t, why);
	if (req->msg->extraCerts && sk_X509_num(req->msg->extraCerts) > 0) {
		signer = sk_X509_value(req->msg->extraCerts, 0);
	} else {
		const unsigned char *p = t->sender_cert.p;
		*stored = d2i_X509(NULL, &p, (long)t->sender_cert.len);
		signer = *stored;
	}
	if (!signer || ra_trust_cert_fp(signer, fp) != 0 || t->sender_fp.len != 32 ||
	    CRYPTO_memcmp(fp, t->sender_fp.p, 32) != 0) {
		*why = WHY_NOT_SENDER;
		return CMP_FAIL_NOT_AUTHORIZED;
	}
	if (cmp_prot_verify_sig(req->der, req->len, req->msg, signer) != 0) {
		ERR_clear_error();
		*why = WHY_BAD_SIG;
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	return -1;
}

static bool client_accepts(const CMPGW_CERTSTATUS *cs)
{
	return !cs->statusInfo || ASN1_INTEGER_get(cs->statusInfo->status) == CMP_STATUS_ACCEPTED ||
	       ASN1_INTEGER_get(cs->statusInfo->status) == CMP_STATUS_GRANTED_WITH_MODS;
}

/* RFC 4210 5.3.18: one CertStatus for our single certificate, matching
 * certReqId and certHash (hash of the certificate's signature algorithm,
 * or hashAlg when given). Returns a fail bit or -1. */
static int check_status(struct ra_req *req, const struct store_txn *t, const char **why)
{
	STACK_OF(CMPGW_CERTSTATUS) *sts = req->msg->body->value.certConf;
	const CMPGW_CERTSTATUS *cs;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen = sizeof(hash);
	X509 *cert = NULL;
	int bit = -1;

	if (sk_CMPGW_CERTSTATUS_num(sts) != 1) {
		*why = "certConf must carry exactly one CertStatus";
		return CMP_FAIL_BAD_REQUEST;
	}
	cs = sk_CMPGW_CERTSTATUS_value(sts, 0);
	if (ASN1_INTEGER_get(cs->certReqId) != t->cert_req_id) {
		*why = WHY_BAD_CRID;
		return CMP_FAIL_BAD_CERT_ID;
	}
	if (cs->hashAlg) {
		const unsigned char *p = t->cert.p;
		cert = d2i_X509(NULL, &p, (long)t->cert.len);
		if (!cert || cmp_certhash_compute(cert, cs->hashAlg, hash, &hlen) != 0) {
			*why = "hashAlg not supported";
			bit = CMP_FAIL_BAD_ALG;
			goto out;
		}
	} else {
		if (t->cert_hash.len > sizeof(hash))
			goto out;
		memcpy(hash, t->cert_hash.p, t->cert_hash.len);
		hlen = (unsigned int)t->cert_hash.len;
	}
	if (!cs->certHash || (unsigned int)cs->certHash->length != hlen ||
	    CRYPTO_memcmp(cs->certHash->data, hash, hlen) != 0) {
		*why = WHY_BAD_HASH;
		bit = CMP_FAIL_BAD_CERT_ID;
		goto out;
	}
	req->ext.certconf.accept = client_accepts(cs);
out:
	ERR_clear_error();
	X509_free(cert);
	return bit;
}

/* Record the client's decision (two-step path), then resume. */
static void record(struct ra_req *req)
{
	if (req->rw->ops->confirm(req->rw->db, tid_of(req), req->ext.certconf.accept, req->log.peer,
				  req->ext.certconf.accept ? "accepted by client"
							   : "rejected by client",
				  on_confirm, req) != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
		ra_resume(req);
	}
}

/* Answer of cmpgw_certconf: a refusal, "slow", or the state as after
 * store_enroll_confirm. */
static void on_certconf(void *arg, int rc, enum store_outcome status)
{
	static const struct {
		enum store_outcome status;
		int bit;
		const char *why;
	} refusals[] = {
		{ STORE_OUT_NOT_SENDER, CMP_FAIL_NOT_AUTHORIZED, WHY_NOT_SENDER },
		{ STORE_OUT_BAD_SIGNATURE, CMP_FAIL_BAD_MESSAGE_CHECK, WHY_BAD_SIG },
		{ STORE_OUT_BAD_NONCE, CMP_FAIL_BAD_RECIPIENT_NONCE, WHY_BAD_NONCE },
		{ STORE_OUT_BAD_CERT_REQ_ID, CMP_FAIL_BAD_CERT_ID, WHY_BAD_CRID },
		{ STORE_OUT_BAD_CERT_HASH, CMP_FAIL_BAD_CERT_ID, WHY_BAD_HASH },
	};
	struct ra_req *req = arg;
	size_t i = 0;

	if (rc == 0 && status == STORE_OUT_SLOW) {
		req->ext.certconf.two_step = true;
	} else {
		while (rc == 0 && i < sizeof(refusals) / sizeof(refusals[0]) &&
		       status != refusals[i].status)
			i++;
		if (rc == 0 && i < sizeof(refusals) / sizeof(refusals[0]))
			ra_req_refuse(req, refusals[i].bit, refusals[i].why);
		else
			confirm_result(req, rc, status);
	}
	ra_resume(req);
}

/*
 * The common certConf in one statement (one round trip, one transaction):
 * signature protection by a signer sent in extraCerts, one CertStatus
 * without hashAlg, CA mode. What needs the message is computed here, what
 * needs the transaction is checked by cmpgw_certconf, in the order of the
 * two-step path (on_txn), which takes everything else. Costs one signature
 * verification even when the transaction turns out unknown or another
 * signer's. Not eligible: the two-step path, nothing done here.
 */
static int cc_one_step(struct ra_req *req)
{
	STACK_OF(CMPGW_CERTSTATUS) *sts = req->msg->body->value.certConf;
	const ASN1_OCTET_STRING *rn = req->msg->header->recipNonce;
	const CMPGW_CERTSTATUS *cs;
	struct store_certconf c = { 0 };
	unsigned char fp[32];
	X509 *signer;

	if (req->alias->mode == CFG_MODE_RA || cmp_prot_is_pbmac(req->msg) ||
	    !req->msg->extraCerts || sk_X509_num(req->msg->extraCerts) < 1 ||
	    sk_CMPGW_CERTSTATUS_num(sts) != 1 || sk_CMPGW_CERTSTATUS_value(sts, 0)->hashAlg) {
		req->ext.certconf.two_step = true;
		return RA_STEP_NEXT;
	}
	cs = sk_CMPGW_CERTSTATUS_value(sts, 0);
	signer = sk_X509_value(req->msg->extraCerts, 0);
	if (signer && ra_trust_cert_fp(signer, fp) == 0) {
		c.sender_fp = fp;
		c.sig_ok = cmp_prot_verify_sig(req->der, req->len, req->msg, signer) == 0;
	}
	ERR_clear_error();
	c.tid = tid_of(req);
	if (rn) {
		c.recip_nonce.p = rn->data ? rn->data : (const unsigned char *)"";
		c.recip_nonce.len = (size_t)rn->length;
	}
	if (cs->certHash) {
		c.cert_hash.p = cs->certHash->data ? cs->certHash->data : (const unsigned char *)"";
		c.cert_hash.len = (size_t)cs->certHash->length;
	}
	c.cert_req_id = ASN1_INTEGER_get(cs->certReqId);
	c.accept = client_accepts(cs);
	c.alias = req->alias->label;
	c.peer = req->log.peer;
	c.detail = c.accept ? "accepted by client" : "rejected by client";
	if (req->rw->ops->certconf(req->rw->db, &c, on_certconf, req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

/* Two-step path: the transaction as stored, checked here. */
static void on_txn(void *arg, int rc, const struct store_txn *t)
{
	struct ra_req *req = arg;
	const ASN1_OCTET_STRING *rn = req->msg->header->recipNonce;
	const char *why = NULL;
	X509 *stored = NULL;
	int bit;

	if (ra_req_client_gone(req)) { /* before forwarding the certConf upstream */
		ra_resume(req);
		return;
	}
	if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
		goto out;
	}
	if (!t || strcmp(t->alias, req->alias->label) != 0) {
		ra_req_refuse(req, CMP_FAIL_BAD_REQUEST, WHY_UNKNOWN);
		goto out;
	}
	bit = verify_signer(req, t, &stored, &why);
	X509_free(stored);
	/* RFC 4210 5.1.1: recipNonce echoes the senderNonce of our ip. */
	if (bit < 0 && (!rn || (size_t)rn->length != t->server_nonce.len ||
			CRYPTO_memcmp(rn->data, t->server_nonce.p, t->server_nonce.len) != 0)) {
		why = WHY_BAD_NONCE;
		bit = CMP_FAIL_BAD_RECIPIENT_NONCE;
	}
	if (bit < 0)
		bit = check_status(req, t, &why);
	if (bit >= 0)
		ra_req_refuse(req, bit, why);
	/* RA mode: the upstream CA must agree first (ra/fwd.c) */
	else if (req->alias->mode == CFG_MODE_RA && t->state == STORE_OUT_ISSUED)
		req->ext.certconf.upstream = true;
out:
	ra_resume(req);
}

static int cc_lookup(struct ra_req *req)
{
	if (!req->ext.certconf.two_step)
		return RA_STEP_NEXT;
	if (req->rw->ops->txn_get(req->rw->db, tid_of(req), on_txn, req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

/* RA mode: the upstream's pkiConf first; then the decision is recorded
 * (record resumes). A failed upstream exchange records its verdict and
 * resumes req. */
static int cc_upstream(struct ra_req *req)
{
	if (!req->ext.certconf.upstream)
		return RA_STEP_NEXT;
	ra_fwd_certconf(req, record);
	return RA_STEP_WAIT;
}

static int cc_record(struct ra_req *req)
{
	if (req->ext.certconf.recorded)
		return RA_STEP_NEXT;
	record(req);
	return RA_STEP_WAIT;
}

/* pkiConf (RFC 4210 5.3.18); also the acknowledgement of an error. */
static int answer_pkiconf(struct ra_req *req)
{
	CMPGW_MSG *rsp = cmp_build_response(req->msg, req->cfg->cmp_cert, CMP_BODY_PKICONF);

	if (req->ext.certconf.recorded)
		log_info(&req->log, "certConf: transaction %s",
			 store_outcome_name(req->ext.certconf.state));
	if (!rsp)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	ra_answer_send(req, rsp);
	return RA_STEP_DONE;
}

/* RFC 4210 5.3.21 / RFC 9483 4.6: an error from the client ends its
 * transaction; an issued but unconfirmed certificate is revoked. */
static void on_error_txn(void *arg, int rc, const struct store_txn *t)
{
	struct ra_req *req = arg;
	const char *why = NULL;
	X509 *stored = NULL;
	int bit;

	if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (!t || strcmp(t->alias, req->alias->label) != 0) {
		/* Nothing to close (e.g. we rejected the request): acknowledge
		 * a correctly signed error all the same. */
		X509 *s = req->msg->extraCerts && sk_X509_num(req->msg->extraCerts) > 0
				  ? sk_X509_value(req->msg->extraCerts, 0)
				  : NULL;
		if (!s || cmp_prot_verify_sig(req->der, req->len, req->msg, s) != 0) {
			ERR_clear_error();
			ra_req_refuse(req, CMP_FAIL_BAD_MESSAGE_CHECK,
				      "error message protection does not verify");
		}
	} else if ((bit = verify_signer(req, t, &stored, &why)) >= 0) {
		ra_req_refuse(req, bit, why);
	} else if (req->rw->ops->confirm(req->rw->db, tid_of(req), false, req->log.peer,
					 "error message from client", on_confirm, req) == 0) {
		X509_free(stored);
		return; /* on_confirm resumes */
	} else {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	}
	X509_free(stored);
	ra_resume(req);
}

static int err_lookup(struct ra_req *req)
{
	if (req->rw->ops->txn_get(req->rw->db, tid_of(req), on_error_txn, req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

const struct ra_flow ra_flow_certconf = {
	"certConf",
	{ cc_one_step, cc_lookup, cc_upstream, cc_record, answer_pkiconf },
};

const struct ra_flow ra_flow_error = {
	"error",
	{ err_lookup, answer_pkiconf },
};
