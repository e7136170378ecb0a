/*
 * ra/answer.c - verdicts and results into protected CMP answers, handed
 * to the request's sink (ra/answer.h).
 */
#include "ra/answer.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "core/key.h"
#include "core/metrics.h"
#include "policy/profile.h"
#include "ra/pipeline.h"
#include "ra/ra.h"

/* failInfo names come from core/metrics.h (one table for the outcome
 * label, the access line and the log) */
_Static_assert(CMP_FAIL_MAX == 26, "metrics_fail_name covers bits 0..26");

static const char *const status_names[] = {
	"accepted",	     "grantedWithMods",	       "rejection",	   "waiting",
	"revocationWarning", "revocationNotification", "keyUpdateWarning",
};

/* ---- what an answer says, for the metrics and the access log ---- */

struct answer_facts {
	const char *outcome;	 /* "ok", a PKIFailureInfo name, "failed" */
	int fail_bit;		 /* the lowest failInfo bit set, or -1 */
	const char *status;	 /* PKIStatus name, NULL when the body has none */
	char serial[2 * 20 + 8]; /* RFC 5280 4.1.2.2: at most 20 octets */
};

/* The PKIStatusInfo an answer carries: error, the first CertResponse of
 * ip/cp/kup, the first status of rp; NULL for other bodies. */
static const CMPGW_STATUSINFO *rsp_status(const CMPGW_MSG *rsp)
{
	int t = rsp->body->type;

	if (t == CMP_BODY_ERROR)
		return rsp->body->value.error->pKIStatusInfo;
	if (t == CMP_BODY_RP)
		return sk_CMPGW_STATUSINFO_value(rsp->body->value.rp->status, 0);
	if ((t == CMP_BODY_IP || t == CMP_BODY_CP || t == CMP_BODY_KUP) && rsp->body->value.ip) {
		const CMPGW_CERTRESPONSE *cr =
			sk_CMPGW_CERTRESPONSE_value(rsp->body->value.ip->response, 0);
		return cr ? cr->status : NULL;
	}
	return NULL;
}

/* Hex serialNumber (uppercase, as `openssl x509 -serial` prints it). */
static void serial_hex(const X509 *cert, char *buf, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	buf[0] = '\0';
	if (hex && strlen(hex) < len)
		memcpy(buf, hex, strlen(hex) + 1);
	OPENSSL_free(hex);
	BN_free(bn);
	ERR_clear_error();
}

static void answer_facts(const struct ra_req *req, const CMPGW_MSG *rsp, struct answer_facts *f)
{
	const CMPGW_STATUSINFO *si = rsp ? rsp_status(rsp) : NULL;
	long st = si && si->status ? ASN1_INTEGER_get(si->status) : -1;

	f->outcome = rsp ? "ok" : "failed";
	f->fail_bit = -1;
	f->status = st >= 0 && st <= CMP_STATUS_KEY_UPDATE_WARNING ? status_names[st] : NULL;
	f->serial[0] = '\0';
	for (int i = 0; si && si->failInfo && i <= CMP_FAIL_MAX; i++)
		if (ASN1_BIT_STRING_get_bit(si->failInfo, i)) {
			f->fail_bit = i;
			f->outcome = metrics_fail_name(i);
			break;
		}
	if (f->fail_bit < 0 && st == CMP_STATUS_REJECTION)
		f->outcome = "rejection"; /* no failInfo given (a relayed status) */
	/* the certificate an ip/cp/kup carries (rp and error carry none) */
	if ((st == CMP_STATUS_ACCEPTED || st == CMP_STATUS_GRANTED_WITH_MODS) && req->cr.cert &&
	    rsp->body->type != CMP_BODY_ERROR && rsp->body->type != CMP_BODY_RP)
		serial_hex(req->cr.cert, f->serial, sizeof(f->serial));
}

/* Seconds since the request arrived; < 0: unknown. struct ra_req has no
 * arrival time yet (ra/req.h; see docs/OBSERVABILITY.md). */
/* From the request's arrival in ra/ to its answer. */
static double req_seconds(const struct ra_req *req)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - req->t0.tv_sec) +
	       (double)(now.tv_nsec - req->t0.tv_nsec) / 1e9;
}

/* Count a request's end (core/metrics.h) and write its access-log line
 * (log.access): once per request, just before its delivery. http is the
 * status the HTTP sink will send, 0 for an inner message of a nested
 * request (no HTTP of its own). */
static void account(const struct ra_req *req, const char *outcome, int fail_bit, const char *status,
		    const char *serial, int http)
{
	struct metrics *m = req->rw && req->rw->w ? req->rw->w->metrics : NULL;
	const char *body = req->msg ? cmp_asn1_body_name(req->msg->body->type) : "unknown";
	const char *alias = req->alias ? req->alias->label : NULL;
	double secs = req_seconds(req);

	metrics_request(m, alias, body, outcome, secs);
	if (!req->cfg->log_access)
		return;
	struct log_access a = {
		.peer = req->log.peer,
		.alias = alias,
		.body = body,
		.outcome = outcome,
		.fail_bit = fail_bit,
		.status = status,
		.latency_ms = secs >= 0 ? secs * 1000 : -1,
		.tid = req->tid_hex[0] ? req->tid_hex : NULL,
		.serial = serial,
		.http = http,
	};
	log_access(&a);
}

/* An answer built (rsp) or not (NULL: "failed"). */
static void answer_account(const struct ra_req *req, const CMPGW_MSG *rsp, int http)
{
	struct answer_facts f;

	answer_facts(req, rsp, &f);
	account(req, f.outcome, f.fail_bit, f.status, f.serial[0] ? f.serial : NULL, http);
}

void ra_answer_note(const struct ra_req *req, enum ra_sink_what what)
{
	const char *outcome = what == RA_SINK_NOT_CMP	? "not_cmp"
			      : what == RA_SINK_DROPPED ? "dropped"
			      : what == RA_SINK_BUSY	? "busy"
							: "failed";
	int http = req->sink->inner	     ? 0
		   : what == RA_SINK_NOT_CMP ? 400
		   : what == RA_SINK_DROPPED ? HTTP_DROPPED
		   : what == RA_SINK_BUSY    ? 503
					     : 500;

	account(req, outcome, -1, NULL, NULL, http);
}

bool ra_answer_gone(struct ra_req *req)
{
	if (!ra_req_client_gone(req))
		return false;
	log_info(&req->log, "client went away; %s dropped",
		 req->msg ? cmp_asn1_body_name(req->msg->body->type) : "request");
	ra_answer_note(req, RA_SINK_DROPPED);
	req->sink->deliver(req->sink_arg, RA_SINK_DROPPED, NULL, 0, false);
	ra_req_free(req);
	return true;
}

/* RFC 9483 4.1.5 / RFC 4210 5.1.3.1: a request MAC-protected with a
 * shared secret the server knows gets a MAC-protected answer (the client
 * may hold no trust anchor yet), under the client's reference (senderKID).
 * The chain in extraCerts then lets it validate the new certificate. */
#define RSP_PBM_ITERATIONS 10000

/* Protect rsp and encode it into *der (header and body encoded once when signed). */
static int protect_der(struct ra_req *req, CMPGW_MSG *rsp, unsigned char **der, size_t *len)
{
	ASN1_OCTET_STRING *kid = NULL;
	int rc;

	if (!req->cr.mac_secret)
		return cmp_prot_sign_der(rsp, req->cfg->cmp_key, der, len);
	if (req->msg->header->senderKID &&
	    !(kid = ASN1_OCTET_STRING_dup(req->msg->header->senderKID)))
		return RC_NOMEM;
	ASN1_OCTET_STRING_free(rsp->header->senderKID);
	rsp->header->senderKID = kid;
	rc = cmp_prot_pbmac(rsp, req->cr.mac_secret, req->cr.mac_secret_len, RSP_PBM_ITERATIONS);
	return rc != 0 ? rc : cmp_build_der(rsp, der, len);
}

/* Does the client's transaction go on after rsp: a certificate it must
 * confirm (no implicitConfirm granted), or "waiting" / pollRep (it polls)?
 * A draining gateway keeps serving that client (core/http.h). */
static bool rsp_continues(const CMPGW_MSG *rsp)
{
	int t = rsp->body->type;
	const CMPGW_CERTREPMSG *rep;

	if (t == CMP_BODY_POLLREP)
		return true;
	if (t != CMP_BODY_IP && t != CMP_BODY_CP && t != CMP_BODY_KUP)
		return false;
	rep = rsp->body->value.ip;
	for (int i = 0; rep && i < sk_CMPGW_CERTRESPONSE_num(rep->response); i++) {
		const CMPGW_CERTRESPONSE *cr = sk_CMPGW_CERTRESPONSE_value(rep->response, i);
		long st = cr->status ? ASN1_INTEGER_get(cr->status->status) : -1;
		if (st == CMP_STATUS_WAITING ||
		    ((st == CMP_STATUS_ACCEPTED || st == CMP_STATUS_GRANTED_WITH_MODS) &&
		     !cmp_build_has_implicit_confirm(rsp)))
			return true;
	}
	return false;
}

/* Signing the answer failed: is it because the CMP key cannot sign (its
 * token gone: core/key.h), not a fault of this answer? */
static bool cmp_key_gone(const struct ra_req *req, int rc)
{
	if (req->cr.mac_secret || rc == RC_NOMEM || rc == RC_INVAL)
		return false;
	return rc == RC_UNAVAIL || !req->cfg->cmp_key || key_probe(req->cfg->cmp_key) != 0;
}

/* RFC 9483 3.6.4: a server that cannot protect its answer may send an
 * unprotected error. The CMP key cannot sign (an HSM gone): tell the
 * client systemUnavail, so that it retries later, instead of an HTTP 500.
 * NULL when even that cannot be built. */
static CMPGW_MSG *unprotected_unavail(struct ra_req *req, unsigned char **der, size_t *len)
{
	CMPGW_MSG *err = cmp_build_error(req->msg, req->cfg->cmp_cert, CMP_FAIL_SYSTEM_UNAVAIL,
					 "signing key unavailable; try again later");

	ERR_clear_error();
	if (err && cmp_build_der(err, der, len) == 0)
		return err;
	CMPGW_MSG_free(err);
	return NULL;
}

void ra_answer_send(struct ra_req *req, CMPGW_MSG *rsp)
{
	const struct cfg *cfg = req->cfg;
	unsigned char *der = NULL;
	size_t len = 0;
	int http = req->sink->inner ? 0 : 200;
	int rc = RC_NOMEM;

	if (rsp && cmp_build_extracerts_push1(rsp, cfg->cmp_chain) == 0)
		rc = protect_der(req, rsp, &der, &len);
	if (rc == 0) {
		answer_account(req, rsp, http);
		req->sink->deliver(req->sink_arg, RA_SINK_ANSWER, der, len, rsp_continues(rsp));
	} else if (rsp && cmp_key_gone(req, rc)) {
		CMPGW_MSG *err;

		OPENSSL_free(der);
		der = NULL;
		log_openssl(&req->log, LOG_ERROR,
			    "the CMP key cannot sign: answered systemUnavail unprotected");
		if ((err = unprotected_unavail(req, &der, &len))) {
			answer_account(req, err, http);
			req->sink->deliver(req->sink_arg, RA_SINK_ANSWER, der, len, false);
			CMPGW_MSG_free(err);
		} else {
			answer_account(req, NULL, req->sink->inner ? 0 : 500);
			req->sink->deliver(req->sink_arg, RA_SINK_FAILED, NULL, 0, false);
		}
	} else {
		log_openssl(&req->log, LOG_ERROR, "building the response failed");
		answer_account(req, NULL, req->sink->inner ? 0 : 500);
		req->sink->deliver(req->sink_arg, RA_SINK_FAILED, NULL, 0, false);
	}
	OPENSSL_free(der);
	CMPGW_MSG_free(rsp);
	ra_req_free(req);
}

/* RA mode: the upstream's status as received (RFC 9483 5.2.3.2), in an
 * rp for a refused rr (RFC 4210 5.3.10), else in an error. NULL: building
 * it failed. */
static CMPGW_MSG *relay_msg(struct ra_req *req)
{
	CMPGW_MSG *rsp;

	log_info(&req->log, "upstream CA refused the request; relayed");
	if (req->verdict.in_rp) {
		rsp = cmp_build_response(req->msg, req->cfg->cmp_cert, CMP_BODY_RP);
		if (!rsp ||
		    !sk_CMPGW_STATUSINFO_push(rsp->body->value.rp->status, req->verdict.relay)) {
			CMPGW_MSG_free(rsp);
			return NULL;
		}
	} else {
		if (!(rsp = cmp_build_error(req->msg, req->cfg->cmp_cert, -1, NULL)))
			return NULL;
		CMPGW_STATUSINFO_free(rsp->body->value.error->pKIStatusInfo);
		rsp->body->value.error->pKIStatusInfo = req->verdict.relay;
	}
	req->verdict.relay = NULL; /* consumed */
	return rsp;
}

void ra_answer_verdict(struct ra_req *req)
{
	if (req->verdict.relay) {
		CMPGW_MSG *rsp = relay_msg(req);
		if (rsp) {
			ra_answer_send(req, rsp);
			return;
		}
		CMPGW_STATUSINFO_free(req->verdict.relay);
		req->verdict.relay = NULL;
		req->verdict.in_rp = false;
		req->verdict.bit = CMP_FAIL_SYSTEM_FAILURE;
		snprintf(req->verdict.text, sizeof(req->verdict.text), "internal error");
	}
	if (req->verdict.in_rp) { /* rr: decisions about the named certificate */
		ra_answer_rp(req, CMP_STATUS_REJECTION, req->verdict.bit, req->verdict.text);
		return;
	}
	int bit = req->verdict.bit;
	const char *name = metrics_fail_name(bit) ? metrics_fail_name(bit) : "?";

	log_info(&req->log, "rejected %s: %s: %s",
		 req->msg ? cmp_asn1_body_name(req->msg->body->type) : "message", name,
		 req->verdict.text);
	ra_answer_send(req, cmp_build_error(req->msg, req->cfg->cmp_cert, bit, req->verdict.text));
}

void ra_req_fail(struct ra_req *req, int fail_bit, const char *text)
{
	ra_req_refuse(req, fail_bit, text);
	ra_answer_verdict(req);
}

void ra_req_answer(struct ra_req *req, CMPGW_MSG *rsp)
{
	ra_answer_send(req, rsp);
}

/* ir->ip, cr->cp, kur->kup, p10cr->cp (RFC 4210 5.3.4) */
static int rep_type(int req_type)
{
	switch (req_type) {
	case CMP_BODY_CR:
	case CMP_BODY_P10CR:
		return CMP_BODY_CP;
	case CMP_BODY_KUR:
		return CMP_BODY_KUP;
	default:
		return CMP_BODY_IP;
	}
}

/* RFC 9483 4.4 / RFC 4210 5.3.22: the upstream is slow; the device is told
 * to poll. Its ip carries status waiting and no certificate. */
static void answer_waiting(struct ra_req *req)
{
	CMPGW_MSG *rsp =
		cmp_build_response(req->msg, req->cfg->cmp_cert, rep_type(req->msg->body->type));
	CMPGW_STATUSINFO *si =
		cmp_build_statusinfo(CMP_STATUS_WAITING, -1, "forwarded to the upstream CA; poll");

	if (!rsp || !si ||
	    !ASN1_OCTET_STRING_set(rsp->header->senderNonce, req->cr.server_nonce,
				   sizeof(req->cr.server_nonce)) ||
	    cmp_build_certrep_add(rsp, 0, si, NULL) != 0) {
		CMPGW_STATUSINFO_free(si);
		CMPGW_MSG_free(rsp);
		ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	log_info(&req->log, "upstream CA slow: device told to poll");
	ra_answer_send(req, rsp);
}

void ra_answer_certrep(struct ra_req *req)
{
	if (req->cr.waiting) {
		answer_waiting(req);
		return;
	}
	const struct cfg *cfg = req->cfg;
	CMPGW_MSG *rsp = cmp_build_response(req->msg, cfg->cmp_cert,
					    req->cr.rep_body ? req->cr.rep_body
							     : rep_type(req->msg->body->type));
	const X509_NAME *asked = req->cr.asked;
	/* RFC 4210 5.2.3: grantedWithMods when the profile replaced the
	 * subject the device suggested (3GPP TS 33.310 allows the RA/CA to),
	 * or when notAfter was capped at the issuing CA's (issue 10 finding 4;
	 * only this CA's own issuance is capped, not an upstream CA's). */
	bool modified = asked && X509_NAME_entry_count(asked) > 0 &&
			X509_NAME_cmp(asked, X509_get_subject_name(req->cr.cert)) != 0;
	bool capped = req->alias->mode != CFG_MODE_RA && cfg->ca_cert &&
		      policy_profile_capped(cfg, req->cr.cert);
	const char *text = modified && capped
				   ? "subject set by the operator profile; validity capped at the "
				     "issuing CA's notAfter"
			   : modified ? "subject set by the operator profile"
			   : capped   ? "validity capped at the issuing CA's notAfter"
				      : NULL;
	CMPGW_STATUSINFO *si = cmp_build_statusinfo(
		text ? CMP_STATUS_GRANTED_WITH_MODS : CMP_STATUS_ACCEPTED, -1, text);

	if (!rsp || !si ||
	    !ASN1_OCTET_STRING_set(rsp->header->senderNonce, req->cr.server_nonce,
				   sizeof(req->cr.server_nonce)))
		goto fail;
	if (cmp_build_certrep_add(rsp, req->cr.cert_req_id, si, req->cr.cert) != 0)
		goto fail;
	si = NULL; /* consumed */
	if ((cfg->root_cert && cmp_build_capubs_push1(rsp, cfg->root_cert) != 0) ||
	    (req->cr.implicit && cmp_build_implicit_confirm(rsp) != 0))
		goto fail;
	char cserial[48];

	serial_hex(req->cr.cert, cserial, sizeof(cserial));
	log_info(&req->log, "issued certificate serial %s for %s serial %s%s", cserial,
		 req->cr.vendor ? req->cr.vendor->name : "device", req->cr.serial,
		 req->cr.implicit ? " (implicitConfirm)" : "");
	/* every flow that gets here committed the certificate first (CA
	 * mode: step_commit, renew_commit, token_commit; RA mode: the
	 * upstream issued it and fwd.c recorded it) */
	metrics_issued(req->rw && req->rw->w ? req->rw->w->metrics : NULL, req->alias->label);
	ra_answer_send(req, rsp);
	return;
fail:
	CMPGW_STATUSINFO_free(si);
	CMPGW_MSG_free(rsp);
	ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
}

int ra_step_answer_certrep(struct ra_req *req)
{
	ra_answer_certrep(req);
	return RA_STEP_DONE;
}

static int set1_dirname(CMPGW_CERTID *cid, const X509_NAME *name)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	X509_NAME *dup = X509_NAME_dup(name);

	if (!gn || !dup) {
		GENERAL_NAME_free(gn);
		X509_NAME_free(dup);
		return RC_NOMEM;
	}
	GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dup);
	GENERAL_NAME_free(cid->issuer);
	cid->issuer = gn;
	return 0;
}

/* RFC 4210 5.3.10: rp with one status and, for it, the CertId of the
 * certificate named in the request. */
void ra_answer_rp(struct ra_req *req, int status, int fail_bit, const char *text)
{
	const struct cfg *cfg = req->cfg;
	CMPGW_MSG *rsp = cmp_build_response(req->msg, cfg->cmp_cert, CMP_BODY_RP);
	CMPGW_STATUSINFO *si = cmp_build_statusinfo(status, fail_bit, text);
	CMPGW_CERTID *cid = CMPGW_CERTID_new();
	const CMPGW_CERTTEMPLATE *t =
		sk_CMPGW_REVDETAILS_value(req->msg->body->value.rr, 0)->certDetails;
	CMPGW_REVREP *rp = rsp ? rsp->body->value.rp : NULL;

	if (!rp || !si || !cid || !sk_CMPGW_STATUSINFO_push(rp->status, si))
		goto fail;
	si = NULL;
	if (t->serialNumber && t->issuer) {
		ASN1_INTEGER_free(cid->serialNumber);
		if (!(cid->serialNumber = ASN1_INTEGER_dup(t->serialNumber)) ||
		    set1_dirname(cid, t->issuer) != 0 ||
		    (!rp->revCerts && !(rp->revCerts = sk_CMPGW_CERTID_new_null())) ||
		    !sk_CMPGW_CERTID_push(rp->revCerts, cid))
			goto fail;
		cid = NULL;
	}
	CMPGW_CERTID_free(cid);
	if (status == CMP_STATUS_REJECTION)
		log_info(&req->log, "rr rejected: %s", text ? text : "");
	ra_answer_send(req, rsp);
	return;
fail:
	CMPGW_CERTID_free(cid);
	CMPGW_STATUSINFO_free(si);
	CMPGW_MSG_free(rsp);
	ra_req_refuse(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
	req->verdict.in_rp = false;
	ra_answer_verdict(req);
}
