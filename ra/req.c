/*
 * ra/req.c - a request's life: creation with its references, the
 * verdict, the client-gone check, and freeing (ra/req.h).
 */
#include "ra/req.h"

#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "ra/pipeline.h"
#include "ra/ra.h"

struct ra_req *ra_req_new(struct ra_worker *rw, const struct cfg *cfg,
			  const struct cfg_alias *alias)
{
	struct ra_req *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	req->rw = rw;
	/* held until the request ends, so a reload cannot free what it uses */
	req->cfg = cfg_get1((struct cfg *)cfg);
	req->alias = alias;
	req->trust = ra_trust_get1(rw->trust);
	req->verdict.bit = -1;
	req->log.alias = alias->label;
	clock_gettime(CLOCK_MONOTONIC, &req->t0);
	return req;
}

void ra_req_free(struct ra_req *req)
{
	if (!req)
		return;
	EVP_PKEY_free(req->cr.pub);
	X509_free(req->cr.cert);
	CMPGW_MSG_free(req->msg);
	CMPGW_STATUSINFO_free(req->verdict.relay);
	ra_trust_free(req->trust);
	cfg_free((struct cfg *)req->cfg);
	OPENSSL_clear_free(req->cr.mac_secret, req->cr.mac_secret_len);
	free(req);
}

bool ra_req_refused(const struct ra_req *req)
{
	return req->verdict.bit >= 0 || req->verdict.relay;
}

int ra_req_refuse(struct ra_req *req, int bit, const char *text)
{
	if (!ra_req_refused(req)) {
		req->verdict.bit = bit;
		snprintf(req->verdict.text, sizeof(req->verdict.text), "%s", text ? text : "");
	}
	return RA_STEP_REFUSED;
}

int ra_req_refuse_rp(struct ra_req *req, int bit, const char *text)
{
	if (!ra_req_refused(req))
		req->verdict.in_rp = true;
	return ra_req_refuse(req, bit, text);
}

int ra_req_relay(struct ra_req *req, CMPGW_STATUSINFO *si, bool in_rp)
{
	if (ra_req_refused(req)) {
		CMPGW_STATUSINFO_free(si);
		return RA_STEP_REFUSED;
	}
	req->verdict.relay = si;
	req->verdict.in_rp = in_rp;
	return RA_STEP_REFUSED;
}

bool ra_req_client_gone(const struct ra_req *req)
{
	return req->sink->gone && req->sink->gone(req->sink_arg);
}
