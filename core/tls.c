/*
 * core/tls.c - TLS contexts of the configuration (core/tls.h).
 */
#include "core/tls.h"

#include <stdio.h>
#include <string.h>

#include "core/cfg.h"

int tls_cfg_load(struct cfg *c, char *err, size_t len)
{
	for (size_t i = 0; i < c->n_listen; i++)
		if (c->listen[i].tls.cert_file) {
			snprintf(err, len, "listen[%zu].tls: not supported by this build yet", i);
			return RC_CONFIG;
		}
	for (size_t i = 0; i < c->n_aliases; i++)
		if (c->aliases[i].upstream.url &&
		    strncmp(c->aliases[i].upstream.url, "https://", 8) == 0) {
			snprintf(err, len, "aliases[%zu].upstream.url: https not supported yet", i);
			return RC_CONFIG;
		}
	return 0;
}

void tls_cfg_free(struct cfg *c)
{
	(void)c;
}
