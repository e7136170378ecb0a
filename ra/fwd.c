/*
 * ra/fwd.c - RA mode: an authenticated ir/cr/kur forwarded to the upstream
 * CA, reprotected (RFC 9483 5.2.3) or nested (5.2.2.1). Steps: admit in
 * PostgreSQL (pending row), POST to the upstream on the worker's loop,
 * verify its answer, store the certificate (or the failure), then record
 * the outcome on the device's request (the certificate, the upstream's
 * status to relay, or a verdict) and ra_resume it: the flow's answer step
 * (ra/answer.c) answers. If the upstream is slower than wait_after_s the
 * request is resumed with req->cr.waiting (status waiting; the device polls,
 * ra/fwd_poll.c); the exchange goes on without it. certConf and rr are
 * forwarded the same way, and the local step (confirmation, revocation
 * record) follows only once the upstream agreed.
 *
 * The upstream request keeps the device's transactionID (RFC 9483 5.2.3
 * allows it): one ID across both hops eases tracing. Lifetime: a struct
 * fwd outlives the device's request once "waiting" was sent; the worker
 * tracks them to cancel on shutdown.
 */
#include "ra/fwd.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "core/httpc.h"
#include "core/metrics.h"
#include "policy/profile.h"
#include "ra/answer.h"
#include "ra/issued.h"
#include "ra/pipeline.h"
#include "ra/step_admit.h"
#include "store/fwd.h"
#include "store/ops.h"

#define CMP_CT	     "application/pkixcmp"
#define UP_MAX_REPLY (256 * 1024)

struct ra_fwd {
	struct ra_fwd *next;
	struct ra_worker *rw;
	struct cfg *cfg;	       /* reference */
	const struct cfg_alias *alias; /* borrowed from cfg */
	struct ra_req *req;	       /* until answered */
	struct httpc_call *call;
	struct timespec sent_at; /* the call's start, for metrics_upstream */
	struct event *wait_ev;
	struct event *poll_ev; /* reprotect: next pollReq to a waiting upstream */
	CMPGW_MSG *dev;	       /* reprotect: the device's request (pollReq headers) */
	time_t deadline;       /* upstream.timeout_s after the request left */
	ASN1_OCTET_STRING *tid;
	EVP_PKEY *pub;
	X509_NAME *subject;	 /* asked of the upstream, NULL: as the device asked */
	GENERAL_NAMES *san;	 /* the profile's SANs for the template, NULL: none */
	unsigned char nonce[16]; /* our senderNonce upstream */
	/* nested style: the device's senderNonce, echoed by the inner answer */
	unsigned char dev_nonce[64];
	size_t dev_nonce_len;
	bool nested;
	bool renewal; /* kur: the serial's vendor-key binding is left alone */
	unsigned char vendor_fp[32];
	int want;			  /* expected body type */
	bool in_db;			  /* a store call will call back */
	void (*done)(struct ra_req *req); /* certConf, rr: continue locally */
	const char *fail_event;		  /* certConf, rr: audit event of a failure */
	X509 *cert;			  /* certConf: the certificate confirmed */
	struct log_ctx log;
	char tid_hex[129], peer[64];
	struct ra_fwd_verdict v;
};

/* Unlink from the worker's list, cancel what runs, free. */
static void fwd_free(struct ra_fwd *f)
{
	struct ra_fwd **pp = (struct ra_fwd **)&f->rw->fwd;

	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	httpc_cancel(f->call);
	if (f->wait_ev)
		event_free(f->wait_ev);
	if (f->poll_ev)
		event_free(f->poll_ev);
	CMPGW_MSG_free(f->dev);
	ASN1_OCTET_STRING_free(f->tid);
	EVP_PKEY_free(f->pub);
	X509_free(f->cert);
	X509_NAME_free(f->subject);
	GENERAL_NAMES_free(f->san);
	ra_fwd_verdict_clear(&f->v);
	cfg_free(f->cfg);
	free(f);
}

/* POST der to the alias's upstream (http or https, core/httpc.h); cb gets
 * the answer. */
static int post(struct ra_fwd *f, const unsigned char *der, size_t len, httpc_cb cb)
{
	const struct cfg_upstream *u = &f->alias->upstream;
	const struct httpc_opts o = {
		.content_type = CMP_CT,
		.timeout_s = u->timeout_s,
		.max_reply = UP_MAX_REPLY,
		.ssl_ctx = u->tls.ctx,
		.server_name = u->tls.server_name,
	};

	clock_gettime(CLOCK_MONOTONIC, &f->sent_at);
	return httpc_post(f->rw->w->base, u->url, &o, der, len, cb, f, &f->call);
}

/* One upstream exchange ended: its result for the metrics ("ok", or why
 * not: "timeout", "connect", "tls", "http", "protection"). */
static void exchange_done(struct ra_fwd *f, const char *result)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_upstream(f->rw->w->metrics, f->alias->label, result,
			 (double)(now.tv_sec - f->sent_at.tv_sec) +
				 (double)(now.tv_nsec - f->sent_at.tv_nsec) / 1e9);
}

/* The transport's answer: NULL when an HTTP 200 came (its CMP is checked
 * next), else the result label, with the reason logged. */
static const char *transport_result(struct ra_fwd *f, const struct httpc_result *res)
{
	const char *url = f->alias->upstream.url;

	if (res->rc == 0 && res->status == 200)
		return NULL;
	if (res->rc == 0) {
		log_warn(&f->log, "upstream CA %s: HTTP %d", url, res->status);
		return "http";
	}
	log_warn(&f->log, "upstream CA %s: %s", url, res->why);
	switch (res->fail) {
	case HTTPC_TIMEOUT:
		return "timeout";
	case HTTPC_CONNECT:
		return "connect";
	case HTTPC_TLS:
	case HTTPC_TLS_VERIFY:
		return "tls";
	default:
		return "http";
	}
}

static struct store_bytes tid_bytes(const struct ra_fwd *f)
{
	struct store_bytes b = { f->tid->data, (size_t)f->tid->length };
	return b;
}

/* Record a verdict on req and resume it (the flow's answer step, or the
 * verdict, answers it through ra/answer.c). */
static void fail_req(struct ra_req *req, int bit, const char *text)
{
	ra_req_refuse(req, bit, text);
	ra_resume(req);
}

/* Hand the device's request the exchange's failure: the upstream's status
 * to relay as received (failInfo bits and text, RFC 9483 5.2.3.2) or our
 * own bit; then resume it. */
static void answer_fail(struct ra_fwd *f)
{
	struct ra_req *req = f->req;

	if (!req)
		return;
	f->req = NULL;
	if (f->v.relay) {
		ra_req_relay(req, f->v.relay, f->v.relay_rp);
		f->v.relay = NULL;
	} else {
		ra_req_refuse(req, f->v.bit >= 0 ? f->v.bit : CMP_FAIL_SYSTEM_FAILURE,
			      f->v.why ? f->v.why : "internal error");
	}
	ra_resume(req);
}

static int fail_info_of(const struct ra_fwd_verdict *v)
{
	int info = 0;
	const ASN1_BIT_STRING *fi = v->relay ? v->relay->failInfo : NULL;

	if (!v->relay)
		return v->bit >= 0 ? 1 << v->bit : 0;
	for (int b = 0; fi && b <= CMP_FAIL_MAX; b++)
		if (ASN1_BIT_STRING_get_bit(fi, b))
			info |= 1 << b;
	return info;
}

static void on_failed(void *arg, int rc, enum store_outcome status)
{
	struct ra_fwd *f = arg;
	(void)rc, (void)status;
	f->in_db = false;
	answer_fail(f);
	fwd_free(f);
}

/* Close the transaction with v's failure (audit row), then answer. */
static void fail_txn(struct ra_fwd *f)
{
	const char *text = f->v.why ? f->v.why : "refused by the upstream CA";
	char detail[160];

	log_info(&f->log, "upstream exchange failed: %s", text);
	snprintf(detail, sizeof(detail), "%s", text);
	if (f->rw->ops->fwd_fail(f->rw->db, tid_bytes(f), fail_info_of(&f->v), text, detail,
				 on_failed, f) == 0) {
		f->in_db = true;
		return;
	}
	answer_fail(f);
	fwd_free(f);
}

static void on_stored(void *arg, int rc, enum store_outcome status)
{
	struct ra_fwd *f = arg;
	struct ra_req *req = f->req;

	f->in_db = false;
	if (rc == 0 && status == STORE_OUT_DUPLICATE) {
		ra_fwd_verdict_clear(&f->v);
		f->v.bit = CMP_FAIL_BAD_MESSAGE_CHECK;
		f->v.why = "upstream CA returned a certificate whose serial number is already used";
		fail_txn(f);
		return;
	}
	if (rc != 0 || status != STORE_OUT_OK) {
		if (req) {
			f->req = NULL;
			fail_req(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
		}
		fwd_free(f);
		return;
	}
	if (req) { /* stored; ra_resume drops req if nobody is left to answer */
		f->req = NULL;
		req->cr.cert = f->v.cert;
		f->v.cert = NULL;
		/* nested: the device's certConf goes upstream unchanged, so it
		 * must echo the upstream's senderNonce (checked in on_upstream) */
		if (f->nested)
			memcpy(req->cr.server_nonce, f->v.nonce, sizeof(req->cr.server_nonce));
		req->cr.implicit = f->nested && f->v.implicit;
		ra_resume(req);
	}
	fwd_free(f);
}

static void store_cert(struct ra_fwd *f)
{
	struct ra_issued is;

	if (ra_issued_facts(f->v.cert, &is) != 0) {
		ra_fwd_verdict_clear(&f->v);
		f->v.bit = CMP_FAIL_SYSTEM_FAILURE;
		fail_txn(f);
		return;
	}
	struct store_fwd_done d = {
		.tid = tid_bytes(f),
		.cert = { is.der, is.len },
		.cert_hash = { is.hash, is.hlen },
		.upstream_nonce = { f->v.nonce, f->v.nonce_len },
		.server_nonce = { f->nested ? f->v.nonce : NULL, f->nested ? f->v.nonce_len : 0 },
		.vendor_key_fp = f->renewal ? NULL : f->vendor_fp,
		.key_fp = is.key_fp,
		.issuer = is.issuer,
		.serial_hex = is.serial_hex,
		.subject = is.subject,
		.not_before = is.not_before,
		.not_after = is.not_after,
		.deadline_s = f->alias->confirm_deadline_s,
		/* nested: the device's own implicitConfirm request reached the
		 * upstream, which alone decides (RFC 4210 5.1.1.1) */
		.implicit = f->nested && f->v.implicit,
	};
	if (f->rw->ops->fwd_done(f->rw->db, &d, on_stored, f) == 0)
		f->in_db = true;
	ra_issued_clear(&is);
	if (!f->in_db) {
		if (f->req) {
			struct ra_req *req = f->req;
			f->req = NULL;
			fail_req(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
		}
		fwd_free(f);
	}
}

static void on_upstream(void *arg, const struct httpc_result *res);

/* RFC 4210 5.3.22: the upstream asked us to poll: a pollReq after
 * v.poll_after_s, as long as the exchange stays within timeout_s. */
static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct ra_fwd *f = arg;
	const struct cfg_upstream *u = &f->alias->upstream;
	unsigned char up_nonce[64], *der = NULL;
	size_t up_len = f->v.nonce_len, len = 0;
	(void)fd, (void)what;

	memcpy(up_nonce, f->v.nonce, up_len);
	ra_fwd_verdict_clear(&f->v);
	if (ra_fwd_msg_pollreq(u, f->dev, up_nonce, up_len, f->nonce, &der, &len) != 0 ||
	    post(f, der, len, on_upstream) != 0) {
		OPENSSL_free(der);
		ERR_clear_error();
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = "upstream CA unavailable";
		fail_txn(f);
		return;
	}
	OPENSSL_free(der);
	log_debug(&f->log, "polling the upstream CA");
}

static void poll_later(struct ra_fwd *f)
{
	struct timeval tv = { f->v.poll_after_s, 0 };

	if (!f->v.nonce_len || time(NULL) + f->v.poll_after_s > f->deadline ||
	    (!f->poll_ev && !(f->poll_ev = evtimer_new(f->rw->w->base, on_poll, f)))) {
		ra_fwd_verdict_clear(&f->v);
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = "upstream CA did not issue in time";
		fail_txn(f);
		return;
	}
	log_info(&f->log, "upstream CA asks to poll in %d s", f->v.poll_after_s);
	evtimer_add(f->poll_ev, &tv);
}

static struct ra_fwd_expect expect(const struct ra_fwd *f)
{
	struct ra_fwd_expect e = {
		.tid = f->tid,
		.nonce = f->nonce,
		.inner_nonce = f->nested ? f->dev_nonce : NULL,
		.inner_nonce_len = f->dev_nonce_len,
		.want = f->want,
		.poll_ok = !f->nested && f->dev,
		.pub = f->pub,
		.subject = f->subject,
	};
	return e;
}

static void on_upstream(void *arg, const struct httpc_result *res)
{
	struct ra_fwd *f = arg;
	const struct cfg_upstream *u = &f->alias->upstream;
	const char *failed = transport_result(f, res);

	f->call = NULL;
	if (failed) {
		exchange_done(f, failed);
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = res->fail == HTTPC_TIMEOUT ? "upstream CA did not answer in time"
						      : "upstream CA unavailable";
		fail_txn(f);
		return;
	}
	struct ra_fwd_expect e = expect(f);
	ra_fwd_msg_verify(u, res->body, res->len, &e, &f->v);
	exchange_done(f, f->v.bit >= 0 ? "protection" : "ok");
	if (f->v.waiting) {
		poll_later(f);
		return;
	}
	if (f->v.cert && f->nested && f->v.nonce_len != sizeof(f->nonce)) {
		ra_fwd_verdict_clear(&f->v);
		f->v.bit = CMP_FAIL_BAD_MESSAGE_CHECK;
		f->v.why = "upstream CA senderNonce is not 128 bits (needed in nested style)";
	}
	if (f->v.cert)
		store_cert(f);
	else
		fail_txn(f);
}

/* RFC 9483 4.4 / RFC 4210 5.3.22: the upstream is slow; tell the device
 * to poll. Its ip carries status waiting and no certificate. */
static void on_wait(evutil_socket_t fd, short what, void *arg)
{
	struct ra_fwd *f = arg;
	struct ra_req *req = f->req;
	(void)fd, (void)what;

	if (!req)
		return;
	f->req = NULL; /* the exchange goes on without it */
	req->cr.waiting = true;
	ra_resume(req);
}

static void send_upstream(struct ra_fwd *f, const unsigned char *der, size_t len)
{
	const struct cfg_upstream *u = &f->alias->upstream;
	struct timeval wait = { u->wait_after_s, 0 };

	if (post(f, der, len, on_upstream) != 0) {
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = "upstream CA unavailable";
		fail_txn(f);
		return;
	}
	if ((f->wait_ev = evtimer_new(f->rw->w->base, on_wait, f)))
		evtimer_add(f->wait_ev, &wait);
}

/* Admission refusals, the same answers as in CA mode (ra/step_admit.c). */
static void refuse(struct ra_req *req, int rc, enum store_outcome status)
{
	if (rc != 0)
		ra_req_refuse(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	else
		ra_step_admit_refuse(req, status);
	ra_resume(req);
}

/* The upstream request DER is kept in the fwd until admission returned. */
struct admit {
	struct ra_fwd *f;
	unsigned char *der;
	size_t len;
};

static void on_admitted(void *arg, int rc, enum store_outcome status)
{
	struct admit *a = arg;
	struct ra_fwd *f = a->f;
	struct ra_req *req = f->req;

	f->in_db = false;
	if (ra_answer_gone(req)) { /* issue 10 #9: no forward for nobody */
		f->req = NULL;
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = "client went away before the forward";
		if (rc == 0 && status == STORE_OUT_OK)
			fail_txn(f); /* close the transaction just begun */
		else
			fwd_free(f);
	} else if (rc == 0 && status == STORE_OUT_OK) {
		log_info(&f->log, "forwarding %s to %s", cmp_asn1_body_name(req->msg->body->type),
			 f->alias->upstream.url);
		send_upstream(f, a->der, a->len);
	} else {
		f->req = NULL;
		refuse(req, rc, status);
		fwd_free(f);
	}
	OPENSSL_free(a->der);
	free(a);
}

/* ir->ip, cr->cp, kur->kup (RFC 4210 5.3.4) */
static int rep_type(int t)
{
	return t == CMP_BODY_CR ? CMP_BODY_CP : t == CMP_BODY_KUR ? CMP_BODY_KUP : CMP_BODY_IP;
}

/* The subject and SANs the profile gives the device, built and validated
 * exactly as in CA mode (policy/profile.h; RFC 9483 5.2.3.2: the RA may
 * adjust the template). 0, or RC_INVAL with the statusString in why. */
static int profile_subject(struct ra_req *req, const char *vendor, struct ra_fwd *f, char *why,
			   size_t whylen)
{
	const struct cfg_profile *p = req->alias->profile;
	struct policy_identity id = { req->cr.serial, vendor };
	int rc = policy_profile_subject(p, &id, req->cr.asked, &f->subject, why, whylen);

	return rc != 0 ? rc : policy_profile_sans(p, &id, &f->san, why, whylen);
}

static struct ra_fwd *fwd_new(struct ra_req *req, EVP_PKEY *pub, int want)
{
	struct ra_fwd *f = calloc(1, sizeof(*f));
	const ASN1_OCTET_STRING *sn = req->msg->header->senderNonce;

	if (!f)
		return NULL;
	f->rw = req->rw;
	f->next = req->rw->fwd;
	req->rw->fwd = f;
	f->cfg = cfg_get1((struct cfg *)req->cfg);
	f->alias = req->alias;
	f->v.bit = -1;
	f->want = want;
	f->nested = req->alias->upstream.style == CFG_FWD_NESTED;
	snprintf(f->tid_hex, sizeof(f->tid_hex), "%s", req->tid_hex);
	snprintf(f->peer, sizeof(f->peer), "%s", req->log.peer ? req->log.peer : "");
	f->log.tid = f->tid_hex;
	f->log.peer = f->peer;
	f->log.alias = f->alias->label;
	if (f->nested && sn && sn->length > 0 && (size_t)sn->length <= sizeof(f->dev_nonce)) {
		memcpy(f->dev_nonce, sn->data, (size_t)sn->length);
		f->dev_nonce_len = (size_t)sn->length;
	}
	if (!(f->tid = ASN1_OCTET_STRING_dup(req->msg->header->transactionID)) ||
	    (pub && !EVP_PKEY_up_ref(pub)) || (f->nested && !f->dev_nonce_len)) {
		fwd_free(f);
		return NULL;
	}
	f->pub = pub;
	return f;
}

/* The message for the upstream: the device's own inside a nested one,
 * or our reprotected request. */
static int build_request(struct ra_fwd *f, struct ra_req *req, unsigned char **der, size_t *len)
{
	const struct cfg_upstream *u = &f->alias->upstream;
	int t = req->msg->body->type;

	if (f->nested)
		return ra_fwd_msg_nested(u, req->msg, f->nonce, der, len);
	if (t == CMP_BODY_RR)
		return ra_fwd_msg_rr(u, req->msg, f->nonce, der, len);
	/* kur: the upstream needs the certificate being renewed (and its
	 * chain) from the device's extraCerts (RFC 9483 5.2.3.2) */
	return ra_fwd_msg_request(u, req->msg, f->subject, f->san,
				  t == CMP_BODY_KUR || u->extra_vendor ? req->msg->extraCerts
								       : NULL,
				  f->nonce, der, len);
}

/* Opens the transaction row; 0, RC_CRYPTO, or RC_DB when the store refused
 * the call (the callback then never runs). */
static int admit(struct ra_fwd *f, struct ra_req *req, struct admit *a)
{
	const CMPGW_HDR *h = req->msg->header;
	unsigned char sender_fp[32], *sender_der = NULL;
	int slen = i2d_X509(req->signer, &sender_der), rc;
	struct store_bytes tid = { h->transactionID->data, (size_t)h->transactionID->length };
	struct store_bytes sender = { sender_der, slen > 0 ? (size_t)slen : 0 };
	struct store_bytes snonce = { req->cr.server_nonce, sizeof(req->cr.server_nonce) };
	struct store_bytes cnonce = { h->senderNonce->data, (size_t)h->senderNonce->length };

	if (slen <= 0 || ra_trust_cert_fp(req->signer, sender_fp) != 0) {
		OPENSSL_free(sender_der);
		return RC_CRYPTO;
	}
	if (f->renewal) {
		struct store_fwd_begin_renew b = {
			.tid = tid,
			.sender_cert = sender,
			.server_nonce = snonce,
			.client_nonce = cnonce,
			.sender_fp = sender_fp,
			.alias = req->alias->label,
			.body = cmp_asn1_body_name(req->msg->body->type),
			.peer = req->log.peer,
			.old_id = req->ext.renew.old_id,
			.cert_req_id = req->cr.cert_req_id,
			.timeout_s = req->alias->upstream.timeout_s,
		};
		rc = req->rw->ops->fwd_begin_renew(req->rw->db, &b, on_admitted, a);
	} else {
		struct store_fwd_begin b = {
			.tid = tid,
			.sender_cert = sender,
			.server_nonce = snonce,
			.client_nonce = cnonce,
			.vendor_key_fp = f->vendor_fp,
			.sender_fp = sender_fp,
			.alias = req->alias->label,
			.body = cmp_asn1_body_name(req->msg->body->type),
			.vendor_name = req->cr.vendor->name,
			.serial = req->cr.serial,
			.peer = req->log.peer,
			.vendor_id = req->cr.vendor->id,
			.cert_req_id = req->cr.cert_req_id,
			.allow_reenroll = req->cr.vendor->allow_reenroll,
			.timeout_s = req->alias->upstream.timeout_s,
		};
		rc = req->rw->ops->fwd_begin(req->rw->db, &b, on_admitted, a);
	}
	OPENSSL_free(sender_der);
	return rc != 0 ? RC_DB : 0; /* the store refused the statement */
}

int ra_fwd_start(struct ra_req *req, EVP_PKEY *pub, const char *vendor)
{
	struct ra_fwd *f = fwd_new(req, pub, rep_type(req->msg->body->type));
	struct admit *a = calloc(1, sizeof(*a));
	int bit = CMP_FAIL_SYSTEM_FAILURE;
	const char *text = "internal error";

	if (!f || !a)
		goto fail;
	f->renewal = req->msg->body->type == CMP_BODY_KUR;
	req->cr.implicit = false; /* confirmation is agreed with the upstream (certConf) */
	char why[256];
	int rc = profile_subject(req, vendor, f, why, sizeof(why));
	if (rc != 0 && rc != RC_INVAL)
		goto fail;
	if (rc == RC_INVAL) {
		free(a);
		fwd_free(f);
		return ra_req_refuse(req, CMP_FAIL_BAD_CERT_TEMPLATE, why);
	}
	f->deadline = time(NULL) + req->alias->upstream.timeout_s;
	if ((!f->nested && !(f->dev = CMPGW_MSG_dup(req->msg))) ||
	    (!f->renewal && ra_trust_spki_fp(req->signer, f->vendor_fp) != 0) ||
	    RAND_bytes(req->cr.server_nonce, sizeof(req->cr.server_nonce)) != 1 ||
	    build_request(f, req, &a->der, &a->len) != 0)
		goto fail;
	a->f = f;
	f->req = req;
	if ((rc = admit(f, req, a)) != 0) {
		f->req = NULL;
		if (rc == RC_DB) { /* as every other step: the database, not us */
			bit = CMP_FAIL_SYSTEM_UNAVAIL;
			text = "service temporarily unavailable";
		}
		goto fail;
	}
	f->in_db = true;
	return RA_STEP_WAIT;
fail:
	log_openssl(&req->log, LOG_ERROR, "forwarding failed");
	if (a)
		OPENSSL_free(a->der);
	free(a);
	if (f)
		fwd_free(f);
	return ra_req_refuse(req, bit, text);
}

void ra_fwd_shutdown(struct ra_worker *rw)
{
	struct ra_fwd *f = rw->fwd, *next;

	for (; f; f = next) {
		next = f->next;
		if (f->in_db)
			continue; /* the pool's cancellation will call back */
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = "service shutting down";
		answer_fail(f);
		fwd_free(f);
	}
}

void ra_fwd_fini(struct ra_worker *rw)
{
	while (rw->fwd)
		fwd_free(rw->fwd);
}

/* ---- certConf (RFC 4210 5.3.18) and rr (5.3.9): the upstream first ---- */

static void on_upstream_then(void *arg, const struct httpc_result *res)
{
	struct ra_fwd *f = arg;
	struct ra_req *req = f->req;
	const char *failed = transport_result(f, res);

	f->call = NULL;
	f->req = NULL;
	if (failed) {
		exchange_done(f, failed);
		f->v.bit = CMP_FAIL_SYSTEM_UNAVAIL;
		f->v.why = f->want == CMP_BODY_PKICONF
				   ? "upstream CA unavailable; send certConf again"
				   : "upstream CA unavailable";
	} else {
		struct ra_fwd_expect e = expect(f);
		ra_fwd_msg_verify(&f->alias->upstream, res->body, res->len, &e, &f->v);
		exchange_done(f, f->v.bit >= 0 ? "protection" : "ok");
	}
	if (f->v.bit < 0 && !f->v.relay) {
		log_info(&req->log, "upstream CA agreed");
		f->done(req);
	} else {
		/* Safe side: nothing is recorded locally until the upstream
		 * agreed; a certConf's transaction stays 'issued' for a retry
		 * and the confirm deadline still applies. */
		f->rw->ops->audit(f->rw->db, f->v.relay_rp ? "revoke_rejected" : f->fail_event,
				  f->alias->label, tid_bytes(f), NULL, NULL, f->peer,
				  f->v.why ? f->v.why : "refused by upstream");
		f->req = req;
		answer_fail(f);
	}
	fwd_free(f);
}

/* Send the message for req upstream; on_upstream_then continues. */
static int send_then(struct ra_fwd *f, struct ra_req *req, unsigned char *der, size_t len)
{
	int rc = post(f, der, len, on_upstream_then);

	(void)req;
	OPENSSL_free(der);
	return rc;
}

static void on_conf_txn(void *arg, int rc, const struct store_fwd_txn *t)
{
	struct ra_fwd *f = arg;
	struct ra_req *req = f->req;
	const struct cfg_upstream *u = &f->alias->upstream;
	const unsigned char *p;
	unsigned char *der = NULL;
	size_t len = 0;

	f->in_db = false;
	if (rc != 0 || !t || !t->cert.p || !t->upstream_nonce.p)
		goto fail;
	p = t->cert.p;
	if (!(f->cert = d2i_X509(NULL, &p, (long)t->cert.len)))
		goto fail;
	/* nested: the device's certConf itself (it echoes the upstream's
	 * nonce, ra/fwd.c on_stored); reprotect: our own */
	if (f->nested ? ra_fwd_msg_nested(u, req->msg, f->nonce, &der, &len) != 0
		      : ra_fwd_msg_certconf(u, req->msg, f->cert, req->ext.certconf.accept,
					    t->upstream_nonce.p, t->upstream_nonce.len, f->nonce,
					    &der, &len) != 0)
		goto fail;
	if (send_then(f, req, der, len) != 0) {
		der = NULL;
		goto fail;
	}
	return;
fail:
	OPENSSL_free(der);
	ERR_clear_error();
	f->req = NULL;
	fwd_free(f);
	fail_req(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
}

void ra_fwd_certconf(struct ra_req *req, void (*done)(struct ra_req *req))
{
	struct ra_fwd *f = fwd_new(req, NULL, CMP_BODY_PKICONF);
	const ASN1_OCTET_STRING *tid = req->msg->header->transactionID;
	struct store_bytes b = { tid->data, (size_t)tid->length };

	if (!f) {
		fail_req(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	f->req = req;
	f->done = done;
	f->fail_event = "upstream_confirm_failed";
	if (req->rw->ops->fwd_get(req->rw->db, b, on_conf_txn, f) != 0) {
		f->req = NULL;
		fwd_free(f);
		fail_req(req, CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
		return;
	}
	f->in_db = true;
}

void ra_fwd_rr(struct ra_req *req, void (*done)(struct ra_req *req))
{
	struct ra_fwd *f = fwd_new(req, NULL, CMP_BODY_RP);
	unsigned char *der = NULL;
	size_t len = 0;

	if (!f || build_request(f, req, &der, &len) != 0) {
		log_openssl(&req->log, LOG_ERROR, "forwarding failed");
		if (f)
			fwd_free(f);
		fail_req(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
		return;
	}
	f->req = req;
	f->done = done;
	f->fail_event = "upstream_failed";
	log_info(&f->log, "forwarding rr to %s", f->alias->upstream.url);
	if (send_then(f, req, der, len) != 0) {
		f->req = NULL;
		fwd_free(f);
		fail_req(req, CMP_FAIL_SYSTEM_UNAVAIL, "upstream CA unavailable");
	}
}

int ra_fwd_step_forward(struct ra_req *req)
{
	return ra_fwd_start(req, req->cr.pub, req->cr.id_vendor);
}
