/*
 * ra/pipeline.h - one pipeline for every CMP request: decode -> check
 * header -> the steps of a flow (authenticate, authorize, POP and key
 * policy, produce, store, answer), each a function with a written
 * contract, listed in a table per body type and mode.
 *
 * A step returns what the driver does next:
 *  RA_STEP_NEXT     passed: run the next step of the table;
 *  RA_STEP_WAIT     an async call was queued whose callback records its
 *                   result (on req or in the flow's state), or a verdict,
 *                   and then calls ra_resume(req) exactly once;
 *  RA_STEP_REFUSED  ra_req_refuse() recorded a verdict: answer it;
 *  RA_STEP_DONE     the step ended the request (answered or dropped): req
 *                   must not be touched again;
 *  RA_STEP_JUMP     ra_req_goto() switched req to another flow: run its
 *                   first step.
 * Threads: the owning worker's loop only.
 */
#ifndef CMPGW_RA_PIPELINE_H
#define CMPGW_RA_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "ra/req.h"

enum ra_step_rc { RA_STEP_NEXT, RA_STEP_WAIT, RA_STEP_REFUSED, RA_STEP_DONE, RA_STEP_JUMP };

typedef int (*ra_step_fn)(struct ra_req *req);

#define RA_FLOW_MAX_STEPS 12

/* A flow: its name (logs) and its steps, NULL-terminated; the last step
 * answers (RA_STEP_DONE). */
struct ra_flow {
	const char *name;
	ra_step_fn steps[RA_FLOW_MAX_STEPS];
};

/*
 * Process one request: der[0..len) is borrowed and must stay valid until
 * sink->deliver has been called (exactly once, possibly before ra_submit
 * returns); cfg gets a reference of the request's own, alias must point
 * into cfg; peer (borrowed, same lifetime as der) names the client in
 * logs; sink and sink_arg are borrowed until deliver.
 */
void ra_submit(struct ra_worker *rw, const struct cfg *cfg, const struct cfg_alias *alias,
	       const unsigned char *der, size_t len, const char *peer, const struct ra_sink *sink,
	       void *sink_arg);

/* The one resume entry point after an async step: drops req if its
 * client went away (ra_answer_gone), answers its verdict (or relayed upstream
 * status, ra_req_relay) if one was recorded, else runs the next step. */
void ra_resume(struct ra_req *req);

/* Switch req to flow (from a step): returns RA_STEP_JUMP. */
int ra_req_goto(struct ra_req *req, const struct ra_flow *flow);

#endif
