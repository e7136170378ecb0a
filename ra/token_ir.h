/*
 * ra/token_ir.h - initial registration with a one-time enrollment token
 * (shared-secret PBMAC, RFC 9483 4.1.5): its flow (ra/pipeline.h) and its
 * state on the request. Threads: the owning worker's loop.
 */
#ifndef CMPGW_RA_TOKEN_IR_H
#define CMPGW_RA_TOKEN_IR_H

struct ra_flow;

/* Token state (struct ra_req, ext.token). */
struct ra_token_ext {
	char ref[65]; /* the token reference senderKID names */
};

/* ir protected with PasswordBasedMac on an alias whose auth has "token":
 * look the token up, verify the MAC, POP, sign, consume and commit,
 * answer under the MAC. ra/ir.c jumps here (ra_req_goto). */
extern const struct ra_flow ra_flow_token_ir;

#endif
