/*
 * cmd/ops.c - the operations listener's routes (cmd/ops.h).
 */
#include "cmd/ops.h"

#include <string.h>

static const char *healthz_path(const struct cfg *cfg)
{
	(void)cfg;
	return "/healthz";
}

/* Alive: the worker's loop runs (it answers this). */
static void healthz(struct http_req *req, void *arg)
{
	static const char body[] = "{\"status\":\"ok\"}\n";

	(void)arg;
	http_reply(req, 200, "application/json", (const unsigned char *)body, strlen(body));
}

// clang-format off
static const struct server_route ops_routes[] = {
	{ healthz_path, false, SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), "GET, HEAD",
	  healthz },
};
// clang-format on

int cmd_ops_setup(struct server_hooks *h)
{
	h->ops_routes = ops_routes;
	h->n_ops_routes = sizeof(ops_routes) / sizeof(ops_routes[0]);
	h->metrics = NULL;
	return 0;
}

void cmd_ops_teardown(struct server_hooks *h)
{
	h->metrics = NULL;
}
