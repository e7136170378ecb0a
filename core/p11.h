/*
 * core/p11.h - private keys in PKCS#11 tokens (RFC 7512 "pkcs11:" URIs)
 * through libp11's OpenSSL engine. The only module of cmpgw that uses the
 * ENGINE API (deprecated in OpenSSL 3.0, but the route Debian 12 packages:
 * libengine-pkcs11-openssl); pkcs11-provider can replace this file without
 * touching its callers (core/key.c only).
 *
 * What the callers get is a "front" EVP_PKEY: the token key's public half
 * with a signing method that forwards to the token key of the moment. When
 * the token stops answering (a signature fails), the front key fails fast
 * and the next signature after P11_RETRY_S seconds, on the thread that
 * signs, re-initialises the PKCS#11 module (C_Finalize, C_Initialize: a
 * network HSM's client library reconnects only then), logs in again and
 * finds the keys again by their URIs. The keys held by every config
 * snapshot keep working across that: they never point into the engine.
 *
 * One engine per process (libp11 keeps one PKCS#11 context per engine and
 * a module may be initialised once per process), created by the first
 * p11_key_load and freed at exit (atexit). That process-wide object is the
 * one mutable global of cmpgw, forced by the ENGINE API: the engine is
 * found through OpenSSL's process-wide engine machinery anyway, and
 * key_load (called by cfg_load on the main thread) has no process object
 * to hang it on.
 */
#ifndef CMPGW_CORE_P11_H
#define CMPGW_CORE_P11_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "core/rc.h"

/* Seconds between two attempts to re-initialise a lost token. */
#define P11_RETRY_S 1

/* Where the module and the PIN come from (pkcs11.module, pin_file,
 * pin_env); borrowed for the call. */
struct p11_src {
	const char *module;
	const char *pin_file;
	const char *pin_env;
};

/* Load the private key uri (starts with "pkcs11:"). Returns a new front
 * key (RSA or EC; its public half is the token's), or NULL with the reason
 * in err ("<uri>: no private key object matches", "<uri>: no token
 * labelled \"x\" (tokens present: ...)", "<uri>: the token
 * refused the PIN (CKR_PIN_INCORRECT)", ...; never the PIN). The first call
 * fixes the module for the process: a later one naming another module is
 * refused. Main thread (config load, reload). */
EVP_PKEY *p11_key_load(const struct p11_src *src, const char *uri, char *err, size_t len);

/* True when k is a front key of this module. Any thread. */
bool p11_key_is(const EVP_PKEY *k);

/* Whether k's token answers right now, without a round trip: false while a
 * lost token waits for its next re-initialisation. Any thread. */
bool p11_key_up(const EVP_PKEY *k);

#endif
