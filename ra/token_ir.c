/*
 * ra/token_ir.c - initial registration with a one-time enrollment token
 * (shared-secret PBMAC, RFC 4210 5.1.3.1, RFC 9483 4.1.5), CA mode:
 * look up the token named by senderKID, verify the MAC with its secret,
 * check it is usable here, check POP, issue for the token's identity,
 * consume the token and commit in one statement, answer under the MAC.
 *
 * Unauthenticated bytes must cost almost nothing (issue 10 finding 7): the
 * key derivation (iterationCount hashes, chosen by the client) runs only
 * for a known, live, unspent token of this alias, from a peer and for a
 * reference under limits.mac_failures_per_minute, with iterationCount
 * within tokens.max_iterations. Everything else is refused first, with a
 * signed answer: an unknown reference gets badMessageCheck, a used,
 * expired, revoked or other-alias token notAuthorized. Hiding whether a
 * reference exists is not worth a CPU-exhaustion hole: references are
 * 128 random bits. Every refusal writes one 'token_rejected' audit row
 * (bounded per peer by ra_audit_unauth until the MAC verified).
 */
#include "ra/token_ir.h"

#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "cmp/build.h"
#include "cmp/certhash.h"
#include "cmp/prot.h"
#include "policy/profile.h"
#include "ra/audit.h"
#include "ra/issued.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/step_pop.h"
#include "ra/token.h"
#include "store/ops.h"
#include "store/token.h"

#define BAD_MAC	      "MAC protection does not verify with the token named by senderKID"
#define TOO_MANY_ITER "PBMParameter iterationCount above tokens.max_iterations"

static void ref_of(const struct ra_req *req, char ref[65])
{
	const ASN1_OCTET_STRING *kid = req->msg->header->senderKID;
	bool ok = kid && ra_token_ref_ok(kid->data, (size_t)kid->length);
	snprintf(ref, 65, "%.*s", ok ? kid->length : 0, ok ? (const char *)kid->data : "");
}

/* Audit row (no secret), then the error answer. Until the MAC verified
 * (req->cr.mac_secret unset) the sender is anyone: the row is bounded per
 * peer (ra_audit_unauth). */
static int reject(struct ra_req *req, int bit, const char *why, const char *detail)
{
	const ASN1_OCTET_STRING *t = req->msg->header->transactionID;
	struct store_bytes tid = { t->data, (size_t)t->length };
	const char *serial = req->cr.serial[0] ? req->cr.serial : NULL;
	char ref[65], text[256];

	ref_of(req, ref);
	snprintf(text, sizeof(text), "ir: token %s: %s", ref[0] ? ref : "-", detail);
	if (req->cr.mac_secret)
		req->rw->ops->audit(req->rw->db, "token_rejected", req->alias->label, tid, "token",
				    serial, req->log.peer, text);
	else
		ra_audit_unauth(req, "token_rejected", "token", serial, text);
	return ra_req_refuse(req, bit, why);
}

/* A failed cmp_prot_pbmac_check / cmp_prot_verify_pbmac as a fail bit and
 * statusString. */
static int mac_fail(int rc, const char **why)
{
	*why = rc == RC_UNSUPPORTED ? "PBMAC one-way function or MAC algorithm not supported"
	       : rc == RC_TOOBIG    ? TOO_MANY_ITER
	       : rc == RC_INVAL	    ? "PBMParameter not acceptable (salt length or iterationCount)"
				    : BAD_MAC;
	return rc == RC_UNSUPPORTED ? CMP_FAIL_BAD_ALG : CMP_FAIL_BAD_MESSAGE_CHECK;
}

int ra_token_verify_mac(struct ra_req *req, const char *ref, const unsigned char *sealed,
			size_t sealed_len, const char **why)
{
	unsigned char *secret = NULL;
	size_t len = 0;
	long iter = 0;
	int rc;

	/* Everything that costs nothing first: the parameters (bounded
	 * iterationCount), then the failure budget of the peer and the
	 * reference; only then open the secret and derive the key. */
	rc = cmp_prot_pbmac_check(req->msg, req->cfg->token_max_iterations, &iter);
	ERR_clear_error();
	if (rc != 0)
		return mac_fail(rc, why);
	if (ra_unauth_mac_blocked(req, ref)) {
		log_warn(&req->log, "token %s: MAC check refused: too many failures", ref);
		*why = RA_UNAUTH_TOO_MANY_MAC;
		return CMP_FAIL_NOT_AUTHORIZED;
	}
	if (!req->cfg->has_token_key) {
		*why = "internal error";
		return CMP_FAIL_SYSTEM_FAILURE;
	}
	rc = ra_token_open(req->cfg->token_key, ref, sealed, sealed_len, &secret, &len);
	if (rc != 0) {
		/* wrong tokens.key_file or a row edited by hand: the operator's problem */
		log_error(&req->log, "token %s: stored secret does not open (%s)", ref, rc_str(rc));
		*why = "internal error";
		return CMP_FAIL_SYSTEM_FAILURE;
	}
	/* the one key derivation on a client's parameters: tests count this line */
	log_debug(&req->log, "PBMAC key derivation: token %s, %ld iterations", ref, iter);
	rc = cmp_prot_verify_pbmac(req->der, req->len, req->msg, secret, len,
				   req->cfg->token_max_iterations);
	ERR_clear_error();
	if (rc != 0) {
		OPENSSL_clear_free(secret, len);
		if (rc == RC_CRYPTO)
			ra_unauth_mac_failed(req, ref);
		return mac_fail(rc, why);
	}
	OPENSSL_clear_free(req->cr.mac_secret, req->cr.mac_secret_len);
	req->cr.mac_secret = secret;
	req->cr.mac_secret_len = len;
	return -1;
}

/* The reasons of cmpgw_token_refusal / cmpgw_token_ir_commit (migration
 * 005), after the MAC verified. Returns a fail bit or -1 for "ok". */
static int refusal_bit(enum store_outcome reason, const char **why)
{
	static const struct {
		enum store_outcome reason;
		int bit;
		const char *why;
	} tab[] = {
		{ STORE_OUT_USED, CMP_FAIL_NOT_AUTHORIZED, "token already used" },
		{ STORE_OUT_EXPIRED, CMP_FAIL_NOT_AUTHORIZED, "token expired" },
		{ STORE_OUT_REVOKED, CMP_FAIL_NOT_AUTHORIZED, "token revoked" },
		{ STORE_OUT_ALIAS, CMP_FAIL_NOT_AUTHORIZED, "token not valid for this alias" },
		{ STORE_OUT_UNKNOWN, CMP_FAIL_NOT_AUTHORIZED, "token no longer exists" },
		{ STORE_OUT_TID_IN_USE, CMP_FAIL_TRANSACTION_ID_IN_USE,
		  "transactionID already in use" },
	};
	if (reason == STORE_OUT_OK)
		return -1;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].reason == reason) {
			*why = tab[i].why;
			return tab[i].bit;
		}
	*why = "internal error";
	return CMP_FAIL_SYSTEM_FAILURE;
}

static void on_commit(void *arg, int rc, enum store_outcome status)
{
	struct ra_req *req = arg;
	const char *why = NULL;
	int bit;

	if (rc != 0)
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else if ((bit = refusal_bit(status, &why)) >= 0) /* audited by cmpgw_token_ir_commit */
		ra_req_refuse(req, bit, why);
	ra_resume(req);
}

static int commit(struct ra_req *req, const char *ref)
{
	const CMPGW_HDR *h = req->msg->header;
	struct ra_issued f;
	int rc = ra_issued_facts(req->cr.cert, &f);

	if (rc != 0 || RAND_bytes(req->cr.server_nonce, sizeof(req->cr.server_nonce)) != 1) {
		rc = RC_CRYPTO;
		goto out;
	}
	struct store_token_commit c = {
		.tid = { h->transactionID->data, (size_t)h->transactionID->length },
		.server_nonce = { req->cr.server_nonce, sizeof(req->cr.server_nonce) },
		.client_nonce = { h->senderNonce->data, (size_t)h->senderNonce->length },
		.cert = { f.der, f.len },
		.cert_hash = { f.hash, f.hlen },
		.key_fp = f.key_fp,
		.ref = ref,
		.alias = req->alias->label,
		.body = cmp_asn1_body_name(req->msg->body->type),
		.issuer = f.issuer,
		.serial_hex = f.serial_hex,
		.subject = f.subject,
		.peer = req->log.peer,
		.cert_req_id = req->cr.cert_req_id,
		.not_before = f.not_before,
		.not_after = f.not_after,
		.implicit = req->cr.implicit,
		.revoke_old = req->alias->profile->renewal_revokes_old,
		.deadline_s = req->alias->confirm_deadline_s,
	};
	rc = req->rw->ops->token_ir_commit(req->rw->db, &c, on_commit, req);
out:
	ra_issued_clear(&f);
	return rc;
}

/* Consume the token and commit in one statement. */
static int token_commit(struct ra_req *req)
{
	if (commit(req, req->ext.token.ref) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

/* After the MAC verified and the token is usable: POP and key policy. */
static int token_pop(struct ra_req *req)
{
	const char *why = NULL;
	int bit = ra_step_pop_check(req, req->cr.crm, &req->cr.pub, &why);

	if (bit >= 0)
		return reject(req, bit, why, why);
	req->cr.implicit = req->alias->implicit_confirm && cmp_build_has_implicit_confirm(req->msg);
	return RA_STEP_NEXT;
}

/* Issue for the token's identity (${serial}; ${vendor} is "token"). */
static int token_sign(struct ra_req *req)
{
	struct policy_identity id = { req->cr.serial, "token" };
	char reason[256];
	int rc = ra_issue(req, &id, req->cr.crm->certReq->certTemplate->subject, req->cr.pub,
			  reason, sizeof(reason));

	if (rc == 0)
		return RA_STEP_NEXT;
	log_openssl(&req->log, LOG_ERROR, "issuing failed");
	if (rc == RC_INVAL)
		return reject(req, CMP_FAIL_BAD_CERT_TEMPLATE, reason, "bad subject");
	return ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

/* The token as stored: usable here, the MAC verifies with its secret, the
 * transactionID is new. */
static void on_token(void *arg, int rc, const struct store_token *t)
{
	struct ra_req *req = arg;
	const char *why = NULL;
	int bit;

	if (ra_req_client_gone(req)) {
		/* ra_resume drops it */
	} else if (rc != 0) {
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	} else if (!t) {
		/* No key derivation for a token that could not be used anyway;
		 * the answer is signed, since no secret was verified. */
		reject(req, CMP_FAIL_BAD_MESSAGE_CHECK, "unknown token reference",
		       "unknown reference");
	} else {
		snprintf(req->cr.serial, sizeof(req->cr.serial), "%s", t->identity);
		if ((bit = refusal_bit(t->refusal, &why)) >= 0)
			reject(req, bit, why, store_outcome_name(t->refusal));
		else if ((bit = ra_token_verify_mac(req, req->ext.token.ref, t->secret_enc.p,
						    t->secret_enc.len, &why)) >= 0)
			reject(req, bit, why,
			       bit == CMP_FAIL_SYSTEM_FAILURE ? "secret does not open" : why);
		/* MAC-protected from here on. A replayed transactionID costs no
		 * CA signature (finding 3); cmpgw_token_ir_commit checks again. */
		else if (t->tid_in_use)
			reject(req, CMP_FAIL_TRANSACTION_ID_IN_USE, "transactionID already in use",
			       "tid_in_use");
	}
	ra_resume(req);
}

/* senderKID and PBMParameter before the database: a bad one costs no
 * query; then look the token up. */
static int token_lookup(struct ra_req *req)
{
	const ASN1_OCTET_STRING *kid = req->msg->header->senderKID;
	const ASN1_OCTET_STRING *t = req->msg->header->transactionID;
	struct store_bytes tid = { t->data, (size_t)t->length };
	char text[160];
	const char *why = NULL;
	long iter = 0;
	int rc;

	/* RFC 9483 4.1.5: with MAC protection senderKID names the shared secret */
	if (!kid || !ra_token_ref_ok(kid->data, (size_t)kid->length))
		return reject(req, CMP_FAIL_BAD_MESSAGE_CHECK,
			      "senderKID must carry the token reference",
			      "senderKID missing or malformed");
	rc = cmp_prot_pbmac_check(req->msg, req->cfg->token_max_iterations, &iter);
	ERR_clear_error();
	if (rc == RC_TOOBIG) {
		snprintf(text, sizeof(text), "%s: %ld > %d", TOO_MANY_ITER, iter,
			 req->cfg->token_max_iterations);
		return reject(req, CMP_FAIL_BAD_MESSAGE_CHECK, text, text);
	}
	if (rc != 0) {
		int bit = mac_fail(rc, &why);
		return reject(req, bit, why, why);
	}
	ref_of(req, req->ext.token.ref);
	if (req->rw->ops->token_get(req->rw->db, req->ext.token.ref, req->alias->label, tid,
				    on_token, req) != 0)
		return ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL,
				     "service temporarily unavailable");
	return RA_STEP_WAIT;
}

const struct ra_flow ra_flow_token_ir = {
	"ir (token)",
	{ token_lookup, token_pop, token_sign, token_commit, ra_step_answer_certrep },
};
