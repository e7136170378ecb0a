/*
 * ra/pipeline.c - the driver: from a request's DER bytes to its flow
 * (decode, PKIHeader checks, the table of flows per body type and mode),
 * then the flow's steps in order, resumed after each async step through
 * ra_resume() (ra/pipeline.h).
 */
#include "ra/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "cmp/prot.h"
#include "ra/answer.h"
#include "ra/certconf.h"
#include "ra/downstream.h"
#include "ra/fwd.h"
#include "ra/fwd_poll.h"
#include "ra/ra.h"
#include "ra/renew.h"

#define MAX_ID_LEN 64 /* transactionID / nonces: RFC 9483 asks 128 bits; bound the rest */

/* Which flow serves a body type on an alias of a mode (-1: any mode). */
static const struct {
	int type;
	int mode;
	const struct ra_flow *flow;
} flows[] = {
	{ CMP_BODY_IR, CFG_MODE_CA, &ra_flow_ir_ca },
	{ CMP_BODY_CR, CFG_MODE_CA, &ra_flow_ir_ca },
	{ CMP_BODY_IR, CFG_MODE_RA, &ra_flow_ir_ra },
	{ CMP_BODY_CR, CFG_MODE_RA, &ra_flow_ir_ra },
	{ CMP_BODY_KUR, CFG_MODE_CA, &ra_flow_kur_ca },
	{ CMP_BODY_KUR, CFG_MODE_RA, &ra_flow_kur_ra },
	{ CMP_BODY_P10CR, -1, &ra_flow_p10cr },
	{ CMP_BODY_CERTCONF, -1, &ra_flow_certconf },
	{ CMP_BODY_ERROR, -1, &ra_flow_error },
	{ CMP_BODY_GENM, -1, &ra_flow_genm },
	{ CMP_BODY_RR, CFG_MODE_CA, &ra_flow_rr_ca },
	{ CMP_BODY_RR, CFG_MODE_RA, &ra_flow_rr_ra },
	{ CMP_BODY_POLLREQ, CFG_MODE_RA, &ra_flow_pollreq },
	{ CMP_BODY_NESTED, -1, &ra_flow_nested },
};

static void hex_of(const ASN1_OCTET_STRING *s, char *buf, size_t buflen)
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;
	buf[0] = '\0';
	if (!s)
		return;
	for (int i = 0; i < s->length && o + 2 < buflen; i++) {
		buf[o++] = hx[s->data[i] >> 4];
		buf[o++] = hx[s->data[i] & 15];
	}
	buf[o] = '\0';
}

/* RFC 4210 5.1.1 / RFC 9483 3.1 header rules common to every request.
 * Returns a failure bit or -1 when the header is acceptable. */
static int check_header(struct ra_req *req, const char **why)
{
	const CMPGW_HDR *h = req->msg->header;
	long pvno = ASN1_INTEGER_get(h->pvno);

	if (pvno != 2 && pvno != 3) {
		*why = "pvno must be 2 (cmp2000) or 3 (cmp2021)";
		return CMP_FAIL_UNSUPPORTED_VERSION;
	}
	if (!h->transactionID || h->transactionID->length < 1 ||
	    h->transactionID->length > MAX_ID_LEN) {
		*why = "transactionID missing or longer than 64 octets";
		return CMP_FAIL_BAD_REQUEST;
	}
	if (!h->senderNonce || h->senderNonce->length < 1 || h->senderNonce->length > MAX_ID_LEN) {
		*why = "senderNonce missing or longer than 64 octets";
		return CMP_FAIL_BAD_SENDER_NONCE;
	}
	if (h->recipNonce && h->recipNonce->length > MAX_ID_LEN) {
		*why = "recipNonce longer than 64 octets";
		return CMP_FAIL_BAD_RECIPIENT_NONCE;
	}
	/* 0 = not checked (docs/CONFIG.md) */
	if (h->messageTime && req->alias->message_time_skew_s > 0) {
		int day = 0, sec = 0;
		if (!ASN1_TIME_diff(&day, &sec, NULL, h->messageTime) ||
		    labs((long)day * 86400 + sec) > req->alias->message_time_skew_s) {
			*why = "messageTime too far from the server's time";
			return CMP_FAIL_BAD_TIME;
		}
	}
	if (!h->protectionAlg || !req->msg->protection) {
		*why = "message is not protected";
		return CMP_FAIL_BAD_MESSAGE_CHECK;
	}
	/* Bounded before any chain is built from them (limits.max_extra_certs) */
	if (req->msg->extraCerts && sk_X509_num(req->msg->extraCerts) > req->cfg->max_extra_certs) {
		*why = "too many certificates in extraCerts";
		return CMP_FAIL_BAD_REQUEST;
	}
	return -1;
}

/* RA mode: true (with *why) for a request this alias cannot forward and
 * must not serve from the local CA (p10cr, token ir); false on a CA-mode
 * alias. */
static bool ra_mode_refused(const struct ra_req *req, const char **why)
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

/* Run req's flow from its current step until a step waits or ends it. */
static void run(struct ra_req *req)
{
	for (;;) {
		ra_step_fn fn = req->step < RA_FLOW_MAX_STEPS ? req->flow->steps[req->step] : NULL;

		if (!fn) { /* a table that does not end in an answering step */
			log_error(&req->log, "flow %s: no answer after step %d", req->flow->name,
				  req->step);
			ra_req_fail(req, CMP_FAIL_SYSTEM_FAILURE, "internal error");
			return;
		}
		switch (fn(req)) {
		case RA_STEP_NEXT:
			req->step++;
			break;
		case RA_STEP_JUMP:
			break;
		case RA_STEP_REFUSED:
			ra_answer_verdict(req);
			return;
		case RA_STEP_WAIT:
		case RA_STEP_DONE:
		default:
			return;
		}
	}
}

void ra_resume(struct ra_req *req)
{
	if (ra_answer_gone(req))
		return;
	if (ra_req_refused(req)) {
		ra_answer_verdict(req);
		return;
	}
	req->step++;
	run(req);
}

int ra_req_goto(struct ra_req *req, const struct ra_flow *flow)
{
	req->flow = flow;
	req->step = 0;
	return RA_STEP_JUMP;
}

static const struct ra_flow *flow_for(const struct ra_req *req)
{
	int type = req->msg->body->type;

	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++)
		if (flows[i].type == type &&
		    (flows[i].mode < 0 || flows[i].mode == (int)req->alias->mode))
			return flows[i].flow;
	return NULL;
}

void ra_submit(struct ra_worker *rw, const struct cfg *cfg, const struct cfg_alias *alias,
	       const unsigned char *der, size_t len, const char *peer, const struct ra_sink *sink,
	       void *sink_arg)
{
	struct ra_req *req = ra_req_new(rw, cfg, alias);
	const char *why = NULL;
	int bit;

	if (!req) {
		sink->deliver(sink_arg, RA_SINK_BUSY, NULL, 0, false);
		return;
	}
	req->der = der;
	req->len = len;
	req->log.peer = peer;
	req->sink = sink;
	req->sink_arg = sink_arg;
	/* extraCerts that repeat (vendor CA, the device certificate again in
	 * certConf) are parsed once per worker: cmp/certcache.h */
	req->msg = cmp_asn1_msg_decode(der, len, rw->certs);
	if (!req->msg) {
		ERR_clear_error();
		if (sink->inner) { /* an inner message: the RA that nested it is authenticated */
			ra_req_fail(req, CMP_FAIL_BAD_DATA_FORMAT,
				    "request is not a DER PKIMessage");
			return;
		}
		/* Not CMP at all (garbage, a length bomb, a certificate): an HTTP
		 * error, so that junk costs no signature (DESIGN.md, data flow). */
		log_info(&req->log, "rejected: body is not a DER PKIMessage (HTTP 400)");
		ra_answer_note(req, RA_SINK_NOT_CMP);
		sink->deliver(sink_arg, RA_SINK_NOT_CMP, NULL, 0, false);
		ra_req_free(req);
		return;
	}
	hex_of(req->msg->header->transactionID, req->tid_hex, sizeof(req->tid_hex));
	req->log.tid = req->tid_hex;
	bit = check_header(req, &why);
	if (bit >= 0) {
		ra_req_fail(req, bit, why);
		return;
	}
	if (ra_mode_refused(req, &why)) { /* RA mode: what must not be done locally */
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, why);
		return;
	}
	req->flow = flow_for(req);
	if (!req->flow) {
		char text[96];
		snprintf(text, sizeof(text), "body type %s not supported by this alias",
			 cmp_asn1_body_name(req->msg->body->type));
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, text);
		return;
	}
	log_debug(&req->log, "%s received", cmp_asn1_body_name(req->msg->body->type));
	run(req);
}
