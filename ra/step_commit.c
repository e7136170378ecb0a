/*
 * ra/step_commit.c - commit of a CA-mode ir/cr (ra/step_commit.h).
 */
#include "ra/step_commit.h"

#include <openssl/rand.h>

#include "ra/issued.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/step_admit.h"
#include "store/ops.h"

static void on_commit(void *arg, int rc, enum store_outcome status)
{
	struct ra_req *req = arg;

	if (rc != 0)
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else if (status != STORE_OUT_OK)
		ra_step_admit_refuse(req, status);
	ra_resume(req);
}

static int commit(struct ra_req *req)
{
	unsigned char vendor_fp[32], sender_fp[32], *sender_der = NULL;
	const CMPGW_HDR *h = req->msg->header;
	int slen = i2d_X509(req->signer, &sender_der);
	struct ra_issued f;
	int rc = ra_issued_facts(req->cr.cert, &f);

	if (rc != 0 || slen <= 0 || ra_trust_spki_fp(req->signer, vendor_fp) ||
	    ra_trust_cert_fp(req->signer, sender_fp) ||
	    RAND_bytes(req->cr.server_nonce, sizeof(req->cr.server_nonce)) != 1) {
		rc = RC_CRYPTO;
		goto out;
	}
	struct store_ir_commit c = {
		.tid = { h->transactionID->data, (size_t)h->transactionID->length },
		.sender_cert = { sender_der, (size_t)slen },
		.server_nonce = { req->cr.server_nonce, sizeof(req->cr.server_nonce) },
		.client_nonce = { h->senderNonce->data, (size_t)h->senderNonce->length },
		.cert = { f.der, f.len },
		.cert_hash = { f.hash, f.hlen },
		.vendor_key_fp = vendor_fp,
		.sender_fp = sender_fp,
		.key_fp = f.key_fp,
		.alias = req->alias->label,
		.body = cmp_asn1_body_name(req->msg->body->type),
		.vendor_name = req->cr.vendor ? req->cr.vendor->name : NULL,
		.serial = req->cr.serial,
		.issuer = f.issuer,
		.serial_hex = f.serial_hex,
		.subject = f.subject,
		.peer = req->log.peer,
		.vendor_id = req->cr.vendor ? req->cr.vendor->id : 0,
		.cert_req_id = req->cr.cert_req_id,
		.not_before = f.not_before,
		.not_after = f.not_after,
		.implicit = req->cr.implicit,
		.allow_reenroll = !req->cr.vendor || req->cr.vendor->allow_reenroll,
		.revoke_old = req->alias->profile->renewal_revokes_old,
		.deadline_s = req->alias->confirm_deadline_s,
	};
	rc = req->ra ? req->rw->ops->ra_ir_commit(req->rw->db, &c, on_commit, req)
		     : req->rw->ops->ir_commit(req->rw->db, &c, on_commit, req);
out:
	ra_issued_clear(&f);
	OPENSSL_free(sender_der);
	return rc;
}

int ra_step_commit(struct ra_req *req)
{
	if (commit(req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}
