/*
 * core/key.h - private keys named by the configuration: a PEM file, or a
 * PKCS#11 object named by a "pkcs11:" URI (RFC 7512), through one small
 * module so that the PKCS#11 route (libp11's engine on Debian 12) can be
 * replaced by a provider later without touching callers.
 *
 * A key from a token is an EVP_PKEY like any other: EVP_DigestSign*,
 * X509_sign_ctx and friends work on it, and its private part never leaves
 * the token. The PIN comes from pkcs11.pin_file or pkcs11.pin_env and is
 * never logged nor put in a message.
 *
 * Threads: key_load on the main thread (config load); the returned keys
 * are used by every worker. A token key survives the token going away:
 * its signatures fail (fast, no round trip) until the token answers again,
 * which the next signature after P11_RETRY_S seconds notices (core/p11.h).
 */
#ifndef CMPGW_CORE_KEY_H
#define CMPGW_CORE_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/rc.h"

struct cfg;

/* True when ref names a PKCS#11 object ("pkcs11:..."). */
bool key_is_pkcs11(const char *ref);

/* Load the private key ref (an absolute PEM path, mode 0600 or stricter,
 * unencrypted; or a pkcs11: URI) named by the config key jp. Returns a new
 * reference, or NULL with "jp: <reason>" in err (never the PIN). */
EVP_PKEY *key_load(const struct cfg *c, const char *ref, const char *jp, char *err, size_t len);

/* Whether k can still sign: one signature over a fixed message (for a
 * token key, a round trip to the token; while the token is lost, no round
 * trip, except once per P11_RETRY_S seconds when this call is the one
 * that re-initialises it, bounded by the module's own timeouts). 0, or
 * RC_UNAVAIL (the token is gone or refuses; the OpenSSL error queue is
 * cleared). Any thread. */
int key_probe(EVP_PKEY *k) WUR;

/* After a failed signature with k: true when the failure is k's token
 * being unavailable (the client gets systemUnavail, RFC 9483 3.6.4,
 * rather than systemFailure); false for file keys and working tokens.
 * Cheap (no round trip). Any thread. */
bool key_unavailable(const EVP_PKEY *k);

#endif
