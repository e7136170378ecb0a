/*
 * ra/req.h - one CMP request in the pipeline (ra/pipeline.h): its core,
 * the verdict a refusing step records, and the answer sink.
 *
 * Ownership: a struct ra_req is created by ra_submit() and freed exactly
 * once, by the function that delivers its answer (ra/answer.h) or drops
 * it (ra_answer_gone). Fields marked "borrowed" point into memory the request
 * does not own (the message, the config snapshot it holds a reference on,
 * the sink's caller); everything else is freed with the request.
 * Threads: the owning worker's loop only.
 */
#ifndef CMPGW_RA_REQ_H
#define CMPGW_RA_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "cmp/asn1.h"
#include "core/cfg.h"
#include "core/log.h"
#include "ra/certconf.h"
#include "ra/certreq.h"
#include "ra/downstream.h"
#include "ra/fwd_poll.h"
#include "ra/renew.h"
#include "ra/token_ir.h"

struct ra_worker;
struct ra_trust;
struct ra_vendor;
struct ra_nested;
struct ra_flow;

/*
 * Where a request's answer goes: HTTP (ra/handler.c), the nested request
 * an inner message belongs to (ra/downstream.c), or a test or fuzzer.
 *  deliver: called exactly once per request. what is RA_SINK_ANSWER with
 *    the protected DER answer (der/len borrowed for the call; continues:
 *    the client's transaction goes on after it, a certificate to confirm
 *    or a pollRep, core/http.h), RA_SINK_NOT_CMP (the body is not a DER
 *    PKIMessage: nothing was signed, HTTP answers 400), RA_SINK_FAILED
 *    (building the answer failed: HTTP 500), RA_SINK_DROPPED (gone()
 *    said the client went away) or RA_SINK_BUSY (no memory for the
 *    request: HTTP 503).
 *  gone: has the client gone away (checked at every resume point)?
 *  inner: an inner message of a nested request (RFC 9483 5.2.2.1): a body
 *    that is not a PKIMessage is then answered badDataFormat (the RA that
 *    nested it is authenticated), and nesting again is refused.
 */
enum ra_sink_what {
	RA_SINK_ANSWER,
	RA_SINK_NOT_CMP,
	RA_SINK_FAILED,
	RA_SINK_DROPPED,
	RA_SINK_BUSY
};

struct ra_sink {
	void (*deliver)(void *arg, enum ra_sink_what what, const unsigned char *der, size_t len,
			bool continues);
	bool (*gone)(void *arg);
	bool inner;
};

/* A refusal, recorded once by the step that refuses (ra_req_refuse) and
 * turned into the CMP answer by ra/answer.c. bit < 0: none yet. */
struct ra_verdict {
	int bit;	/* PKIFailureInfo bit (CMP_FAIL_*) */
	bool in_rp;	/* answered as a rejection in an rp (rr), not an error */
	char text[256]; /* statusString, exactly as sent */
	/* RA mode: the upstream's PKIStatusInfo, relayed as received (every
	 * failInfo bit and its text, RFC 9483 5.2.3.2) instead of bit/text;
	 * owned */
	CMPGW_STATUSINFO *relay;
};

struct ra_req {
	/* ---- core ---- */
	struct ra_worker *rw; /* borrowed: the worker the request runs on */
	/* The config snapshot the request started with, a reference held
	 * until the request ends: alias and alias->profile point into it. */
	const struct cfg *cfg;
	const struct cfg_alias *alias; /* borrowed from cfg */
	/* The vendor registry snapshot this request authenticates against, a
	 * reference held until the request ends: cr.vendor points into it, and
	 * the worker may swap in a reloaded registry during an async step. */
	struct ra_trust *trust;
	const unsigned char *der; /* borrowed from the sink's caller until delivery */
	size_t len;
	CMPGW_MSG *msg;
	X509 *signer; /* borrowed from msg->extraCerts */
	char tid_hex[129];
	struct log_ctx log; /* peer and alias borrowed */
	struct ra_verdict verdict;
	const struct ra_sink *sink; /* borrowed: static or owned by sink_arg's owner */
	void *sink_arg;
	const struct ra_flow *flow; /* the step table being run (ra/pipeline.h) */
	int step;		    /* index of the running step */
	struct timespec t0;	    /* CLOCK_MONOTONIC at ra_req_new: latency */
	/* downstream RA (ra/downstream.c, rr.c): the authorized RA entry of the
	 * signer, borrowed from cfg; NULL for a device's own request */
	const struct cfg_ra *ra;

	/* ---- certificate-request state the enrollment flows share
	 * (ra/certreq.h), in the request's own allocation ---- */
	struct ra_certreq cr;

	/* ---- per-flow extensions: the state of one flow, defined by it ---- */
	union {
		struct ra_renew_ext renew;	 /* ra/renew.h */
		struct ra_token_ext token;	 /* ra/token_ir.h */
		struct ra_poll_ext poll;	 /* ra/fwd_poll.h */
		struct ra_certconf_ext certconf; /* ra/certconf.h */
		struct ra_nested_ext nested;	 /* ra/downstream.h */
	} ext;
};

/* New request on rw with a reference on cfg and on rw's registry; NULL
 * when out of memory. The caller sets der/len, log and the sink. */
struct ra_req *ra_req_new(struct ra_worker *rw, const struct cfg *cfg,
			  const struct cfg_alias *alias);
/* Free req and everything it owns; NULL ok. Only the answer and drop
 * paths call it. */
void ra_req_free(struct ra_req *req);

/* Record the refusal {bit, text} on req (text copied; the first verdict
 * stands). Returns RA_STEP_REFUSED (ra/pipeline.h) for `return
 * ra_req_refuse(...)` in a step. */
int ra_req_refuse(struct ra_req *req, int bit, const char *text);
/* The same, answered as a rejection inside an rp (rr: decisions about
 * the named certificate, RFC 4210 5.3.10). */
int ra_req_refuse_rp(struct ra_req *req, int bit, const char *text);
/* RA mode: record the upstream's status si (taken: set0; freed when a
 * verdict stands already) to be relayed as received, in an error or, with
 * in_rp, in an rp. Returns RA_STEP_REFUSED. */
int ra_req_relay(struct ra_req *req, CMPGW_STATUSINFO *si, bool in_rp);
/* A verdict (refusal or relay) recorded? */
bool ra_req_refused(const struct ra_req *req);

/* Has req's client gone away (no side effect)? */
bool ra_req_client_gone(const struct ra_req *req);

#endif
