/*
 * ra/handler.c - from an HTTP request to the pipeline and back: the
 * transport checks (RFC 6712 3.x: path -> alias, method, content type)
 * and the HTTP answer sink; everything CMP is in ra/pipeline.c.
 */
#include "ra/ra.h"

#include <string.h>
#include <strings.h>

#include "core/metrics.h"
#include "ra/pipeline.h"

#define CMP_CONTENT_TYPE "application/pkixcmp"
#define WELL_KNOWN	 "/.well-known/cmp"

/* The HTTP answer sink (ra/req.h): arg is the struct http_req. */
static void http_deliver(void *arg, enum ra_sink_what what, const unsigned char *der, size_t len,
			 bool continues)
{
	struct http_req *hr = arg;

	switch (what) {
	case RA_SINK_ANSWER:
		if (continues)
			http_req_set_continues(hr);
		http_reply(hr, 200, CMP_CONTENT_TYPE, der, len);
		break;
	case RA_SINK_NOT_CMP:
		http_reply(hr, 400, NULL, NULL, 0);
		break;
	case RA_SINK_DROPPED:
		http_reply(hr, HTTP_DROPPED, NULL, NULL, 0);
		break;
	case RA_SINK_BUSY:
		http_reply(hr, 503, NULL, NULL, 0);
		break;
	case RA_SINK_FAILED:
	default:
		http_reply(hr, 500, NULL, NULL, 0);
		break;
	}
}

static bool http_gone(void *arg)
{
	return http_req_cancelled(arg);
}

static const struct ra_sink http_sink = { http_deliver, http_gone, false };

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

void ra_dispatch(struct http_req *hr, void *arg)
{
	struct worker *w = arg;
	struct ra_worker *rw = w->app;
	const struct cfg_alias *alias;
	const unsigned char *body;
	size_t len;

	int refused = 0;

	alias = resolve_alias(w->cfg, http_req_path(hr));
	if (!alias)
		refused = 404;
	else if (http_req_method(hr) != HTTP_M_POST)
		refused = 405;
	else if (!content_type_ok(http_req_content_type(hr)))
		refused = 415;
	if (refused) {
		metrics_http_refused(w->metrics, refused);
		http_reply(hr, refused, NULL, NULL, 0);
		return;
	}
	body = http_req_body(hr, &len);
	ra_submit(rw, w->cfg, alias, body, len, http_req_peer(hr), &http_sink, hr);
}
