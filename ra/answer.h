/*
 * ra/answer.h - the one place where a request's answer is built from its
 * outcome, protected, encoded and handed to its sink.
 *
 * A verdict {bit, statusString} (ra_req_refuse) becomes a CMP error
 * message; a result becomes ip/cp/kup (ra_answer_certrep) or whatever
 * response the flow built (ra_answer_send). Internal faults are answered
 * systemFailure "internal error" (or systemUnavail where the database is
 * down) by the step that met them, the detail going to the log only.
 * Every answer is counted in the metrics (core/metrics.h) and written to
 * the access log (log.access) just before its delivery.
 * Every function here but ra_answer_note ends the request: req is freed
 * on return.
 * Threads: the owning worker's loop only.
 */
#ifndef CMPGW_RA_ANSWER_H
#define CMPGW_RA_ANSWER_H

#include "cmp/asn1.h"
#include "ra/req.h"

/* Protect (signed with the CMP key, or PBMAC under req->cr.mac_secret),
 * encode and deliver rsp (consumed; NULL: building it failed, the sink
 * gets RA_SINK_FAILED). */
void ra_answer_send(struct ra_req *req, CMPGW_MSG *rsp);
/* Answer req's verdict as an error message (RFC 4210 5.3.21), or in an rp
 * (in_rp); a relayed upstream status (RA mode) exactly as received. */
void ra_answer_verdict(struct ra_req *req);
/* ip/cp/kup for req->cr.cert (status accepted, or grantedWithMods when the
 * profile replaced req->cr.asked or capped notAfter), with caPubs and
 * implicitConfirm as granted; RA mode with req->cr.waiting: status waiting
 * and no certificate (the device polls). */
void ra_answer_certrep(struct ra_req *req);
/* rp (RFC 4210 5.3.10) with one status and the CertId of the certificate
 * the rr names: accepted, or a rejection with fail_bit and text. */
void ra_answer_rp(struct ra_req *req, int status, int fail_bit, const char *text);
/* The last step of the certificate flows: ra_answer_certrep (RA_STEP_DONE). */
int ra_step_answer_certrep(struct ra_req *req);

/* Count a request that ends without a CMP answer (core/metrics.h) and
 * write its access-log line (log.access): what is RA_SINK_NOT_CMP (HTTP
 * 400), RA_SINK_DROPPED (the client left, 499) or RA_SINK_BUSY (503).
 * The caller delivers and frees req as before; answers built here
 * (ra_answer_send) are counted by it already. */
void ra_answer_note(const struct ra_req *req, enum ra_sink_what what);

/* Call at every resume point of an async step before signing, forwarding
 * or committing: true when the client (of req, or of the nested request
 * it belongs to) has disconnected; req is then counted as dropped,
 * delivered as RA_SINK_DROPPED and freed, and must not be touched again. */
bool ra_answer_gone(struct ra_req *req);

/* Record {fail_bit, text} and answer it at once (where the pipeline has no
 * flow yet, or a flow's last step found it cannot answer). */
void ra_req_fail(struct ra_req *req, int fail_bit, const char *text);
/* = ra_answer_send */
void ra_req_answer(struct ra_req *req, CMPGW_MSG *rsp);

#endif
