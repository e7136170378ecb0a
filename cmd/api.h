/*
 * cmd/api.h - the admin HTTPS API of `serve` (issue 14; docs/ADMIN.md):
 * the dispatcher of the admin listener (core/server.h admin_dispatch).
 *
 * Every request: authenticated (a client certificate mapped through
 * admin.principals, else a bearer API key verified on the worker's pool
 * without blocking), authorised by one table (route x method -> roles),
 * then answered in JSON; every error is application/problem+json
 * (RFC 9457). Threads: the worker serving the request.
 */
#ifndef CMPGW_CMD_API_H
#define CMPGW_CMD_API_H

#include "core/server.h"

/* server_hooks.admin_dispatch; arg is the worker (w->app a struct
 * ra_worker with its pool). Answers exactly once. */
void cmd_api_dispatch(struct http_req *req, void *arg);
/* server_hooks.admin_stream_match: the requests whose body is streamed
 * (the serial list upload, cmd/api_upload.c). */
bool cmd_api_stream_match(enum http_method m, const char *path);

#endif
