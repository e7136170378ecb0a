/*
 * cmd/ops.h - what `serve` answers on the operations listener
 * (cfg->ops_port): GET /metrics, /healthz, /readyz (core/server.h
 * ops_routes), and the process's metrics object.
 *
 * Threads: cmd_ops_setup / cmd_ops_teardown on the main thread around
 * server_run; the route handlers on the worker serving the request.
 */
#ifndef CMPGW_CMD_OPS_H
#define CMPGW_CMD_OPS_H

#include "core/server.h"

/* Fill h->ops_routes, h->n_ops_routes and h->metrics (a new
 * struct metrics). 0 or RC_NOMEM. */
int cmd_ops_setup(struct server_hooks *h);
/* Free what cmd_ops_setup made (after server_run returned). */
void cmd_ops_teardown(struct server_hooks *h);

#endif
