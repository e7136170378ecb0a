/*
 * core/tls.h - TLS contexts of the configuration (OpenSSL), built once per
 * snapshot: one SSL_CTX per TLS listener (listen[].tls, CMP over HTTPS,
 * RFC 9811 3.6) and per https upstream (aliases[].upstream.tls). TLS 1.2
 * and 1.3 only. The contexts are read-only once built and shared by every
 * worker (SSL_new per connection).
 *
 * Threads: tls_cfg_load / tls_cfg_free on the main thread (config load and
 * free).
 */
#ifndef CMPGW_CORE_TLS_H
#define CMPGW_CORE_TLS_H

#include <stddef.h>

#include "core/rc.h"

struct cfg;

/* Build cfg_tls.ctx of every TLS listener and https upstream of c (the
 * finishing pass of cfg_load, after the CA material). 0, or RC_CONFIG with
 * a path-precise message ("listen[0].tls.key: ... does not match the
 * certificate"), RC_NOMEM. */
int tls_cfg_load(struct cfg *c, char *err, size_t len) WUR;

/* Free what tls_cfg_load built (file names are freed by cfg_free). */
void tls_cfg_free(struct cfg *c);

#endif
