/*
 * ra/handler.c - from an HTTP request to a handler and back: transport
 * checks (RFC 6712 3.x), decoding, PKIHeader checks, the body-type table,
 * and the one place where answers are protected and sent.
 */
#include "ra/ra.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "ra/crl.h"
#include "ra/fwd.h"
#include "store/db.h"
#include "store/enroll.h"

#define CMP_CONTENT_TYPE "application/pkixcmp"
#define WELL_KNOWN "/.well-known/cmp"
#define MAX_ID_LEN 64 /* transactionID / nonces: RFC 9483 asks 128 bits; bound the rest */

static const char *const fail_names[] = {
	"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId", "badDataFormat",
	"wrongAuthority", "incorrectData", "missingTimeStamp", "badPOP", "certRevoked",
	"certConfirmed", "wrongIntegrity", "badRecipientNonce", "timeNotAvailable",
	"unacceptedPolicy", "unacceptedExtension", "addInfoNotAvailable", "badSenderNonce",
	"badCertTemplate", "signerNotTrusted", "transactionIdInUse", "unsupportedVersion",
	"notAuthorized", "systemUnavail", "systemFailure", "duplicateCertReq",
};

static void req_free(struct ra_req *req)
{
	if (!req)
		return;
	X509_free(req->cert);
	CMPGW_MSG_free(req->msg);
	ra_trust_free(req->trust);
	cfg_free((struct cfg *)req->cfg);
	OPENSSL_free(req->der_owned);
	OPENSSL_clear_free(req->mac_secret, req->mac_secret_len);
	free(req);
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

	if (!req->mac_secret)
		return cmp_prot_sign_der(rsp, req->cfg->cmp_key, der, len);
	if (req->msg->header->senderKID &&
	    !(kid = ASN1_OCTET_STRING_dup(req->msg->header->senderKID)))
		return RC_NOMEM;
	ASN1_OCTET_STRING_free(rsp->header->senderKID);
	rsp->header->senderKID = kid;
	rc = cmp_prot_pbmac(rsp, req->mac_secret, req->mac_secret_len, RSP_PBM_ITERATIONS);
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

static void send_msg(struct ra_req *req, CMPGW_MSG *rsp)
{
	const struct cfg *cfg = req->cfg;
	unsigned char *der = NULL;
	size_t len = 0;

	if (!rsp || cmp_build_extracerts_push1(rsp, cfg->cmp_chain) != 0 ||
	    protect_der(req, rsp, &der, &len) != 0) {
		log_openssl(&req->log, LOG_ERROR, "building the response failed");
		if (req->parent)
			ra_nested_inner_done(req->parent, req->child_idx, NULL, 0);
		else
			http_reply(req->http, 500, NULL, NULL, 0);
	} else if (req->parent) { /* inner answer of a nested request */
		ra_nested_inner_done(req->parent, req->child_idx, der, len);
	} else {
		if (rsp_continues(rsp))
			http_req_set_continues(req->http);
		http_reply(req->http, 200, CMP_CONTENT_TYPE, der, len);
	}
	OPENSSL_free(der);
	CMPGW_MSG_free(rsp);
	req_free(req);
}

void ra_req_fail(struct ra_req *req, int fail_bit, const char *text)
{
	const char *name = fail_bit >= 0 && fail_bit <= CMP_FAIL_MAX ? fail_names[fail_bit] : "?";

	log_info(&req->log, "rejected %s: %s: %s",
		 req->msg ? cmp_asn1_body_name(req->msg->body->type) : "message", name, text);
	send_msg(req, cmp_build_error(req->msg, req->cfg->cmp_cert, fail_bit, text));
}

void ra_req_answer(struct ra_req *req, CMPGW_MSG *rsp)
{
	send_msg(req, rsp);
}

bool ra_req_gone(struct ra_req *req)
{
	const struct ra_req *top = req;

	while (top->parent)
		top = top->parent;
	if (!top->http || !http_req_cancelled(top->http))
		return false;
	log_info(&req->log, "client went away; %s dropped",
		 req->msg ? cmp_asn1_body_name(req->msg->body->type) : "request");
	if (req->parent)
		ra_nested_inner_done(req->parent, req->child_idx, NULL, 0);
	else
		http_reply(req->http, HTTP_DROPPED, NULL, NULL, 0);
	req_free(req);
	return true;
}

static bool path_is(const char *path, const char *want)
{
	size_t n = strlen(want);
	while (n > 1 && want[n - 1] == '/')
		n--;
	if (strncmp(path, want, n) != 0)
		return false;
	return path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0');
}

/* RFC 9483 3.3: /.well-known/cmp is the default alias (the first one),
 * /.well-known/cmp/p/<label> names one; extra legacy paths map exactly. */
static const struct cfg_alias *resolve_alias(const struct cfg *cfg, const char *path)
{
	static const char pfx[] = WELL_KNOWN "/p/";

	if (cfg->n_aliases == 0)
		return NULL;
	if (path_is(path, WELL_KNOWN))
		return &cfg->aliases[0];
	if (strncmp(path, pfx, sizeof(pfx) - 1) == 0) {
		const char *label = path + sizeof(pfx) - 1;
		size_t n = strcspn(label, "/");
		if (label[n] == '/' && label[n + 1] != '\0')
			return NULL;
		for (size_t i = 0; i < cfg->n_aliases; i++)
			if (strlen(cfg->aliases[i].label) == n &&
			    strncmp(cfg->aliases[i].label, label, n) == 0)
				return &cfg->aliases[i];
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_aliases; i++)
		for (size_t j = 0; j < cfg->aliases[i].n_paths; j++)
			if (path_is(path, cfg->aliases[i].paths[j]))
				return &cfg->aliases[i];
	return NULL;
}

static bool content_type_ok(const char *ct)
{
	size_t n = sizeof(CMP_CONTENT_TYPE) - 1;
	if (!ct)
		return false;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, CMP_CONTENT_TYPE, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

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

typedef void (*ra_handler_fn)(struct ra_req *req);

static const struct {
	int type;
	ra_handler_fn fn;
} handlers[] = {
	{ CMP_BODY_IR, ra_ir_handle },
	{ CMP_BODY_CR, ra_ir_handle },
	{ CMP_BODY_KUR, ra_kur_handle },
	{ CMP_BODY_P10CR, ra_p10cr_handle },
	{ CMP_BODY_CERTCONF, ra_certconf_handle },
	{ CMP_BODY_ERROR, ra_error_handle },
	{ CMP_BODY_GENM, ra_genm_handle },
	{ CMP_BODY_RR, ra_rr_handle },
	{ CMP_BODY_POLLREQ, ra_fwd_pollreq_handle },
	{ CMP_BODY_NESTED, ra_nested_handle },
};

static void dispatch_cmp(struct ra_req *req)
{
	const char *why = NULL;
	int bit;

	/* extraCerts that repeat (vendor CA, the device certificate again in
	 * certConf) are parsed once per worker: cmp/certcache.h */
	req->msg = cmp_asn1_msg_decode(req->der, req->len, req->rw->certs);
	if (!req->msg) {
		ERR_clear_error();
		if (req->parent) { /* an inner message: the RA that nested it is authenticated */
			ra_req_fail(req, CMP_FAIL_BAD_DATA_FORMAT,
				    "request is not a DER PKIMessage");
			return;
		}
		/* Not CMP at all (garbage, a length bomb, a certificate): an HTTP
		 * error, so that junk costs no signature (DESIGN.md, data flow). */
		log_info(&req->log, "rejected: body is not a DER PKIMessage (HTTP 400)");
		http_reply(req->http, 400, NULL, NULL, 0);
		req_free(req);
		return;
	}
	hex_of(req->msg->header->transactionID, req->tid_hex, sizeof(req->tid_hex));
	req->log.tid = req->tid_hex;
	bit = check_header(req, &why);
	if (bit >= 0) {
		ra_req_fail(req, bit, why);
		return;
	}
	if (ra_fwd_refused(req, &why)) { /* RA mode: what must not be done locally */
		ra_req_fail(req, CMP_FAIL_BAD_REQUEST, why);
		return;
	}
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == req->msg->body->type) {
			log_debug(&req->log, "%s received", cmp_asn1_body_name(req->msg->body->type));
			handlers[i].fn(req);
			return;
		}
	char text[96];
	snprintf(text, sizeof(text), "body type %s not supported by this alias",
		 cmp_asn1_body_name(req->msg->body->type));
	ra_req_fail(req, CMP_FAIL_BAD_REQUEST, text);
}

void ra_req_dispatch_child(struct ra_req *parent, int idx, unsigned char *der, size_t len)
{
	struct ra_req *req = calloc(1, sizeof(*req));

	if (!req) {
		OPENSSL_free(der);
		ra_nested_inner_done(parent, idx, NULL, 0);
		return;
	}
	req->child_idx = idx;
	req->rw = parent->rw;
	req->cfg = cfg_get1((struct cfg *)parent->cfg);
	req->alias = parent->alias;
	req->trust = ra_trust_get1(parent->trust);
	req->parent = parent;
	req->der = req->der_owned = der;
	req->len = len;
	req->log.peer = parent->log.peer;
	req->log.alias = parent->log.alias;
	dispatch_cmp(req);
}

void ra_dispatch(struct http_req *hr, void *arg)
{
	struct worker *w = arg;
	struct ra_worker *rw = w->app;
	const struct cfg_alias *alias;
	struct ra_req *req;

	if (ra_crl_is_path(w->cfg, http_req_path(hr))) {
		ra_crl_serve(rw->crl, hr);
		return;
	}
	alias = resolve_alias(w->cfg, http_req_path(hr));
	if (!alias) {
		http_reply(hr, 404, NULL, NULL, 0);
		return;
	}
	if (http_req_method(hr) != HTTP_M_POST) {
		http_reply(hr, 405, NULL, NULL, 0);
		return;
	}
	if (!content_type_ok(http_req_content_type(hr))) {
		http_reply(hr, 415, NULL, NULL, 0);
		return;
	}
	req = calloc(1, sizeof(*req));
	if (!req) {
		http_reply(hr, 503, NULL, NULL, 0);
		return;
	}
	req->rw = rw;
	req->http = hr;
	/* held until the request ends, so a reload cannot free what it uses */
	req->cfg = cfg_get1(w->cfg);
	req->alias = alias;
	req->trust = ra_trust_get1(rw->trust);
	req->der = http_req_body(hr, &req->len);
	req->log.peer = http_req_peer(hr);
	req->log.alias = alias->label;
	dispatch_cmp(req);
}
