/*
 * ra/token.h - one-time enrollment tokens: making a reference and a secret,
 * and keeping the secret encrypted at rest.
 *
 * PasswordBasedMac (RFC 4210 5.1.3.1) derives its key from the secret with
 * a salt and iteration count the client picks, so the server needs the
 * secret itself: it is sealed with AES-256-GCM under the operator's token
 * key (tokens.key_file), the reference as additional data so that a sealed
 * secret copied to another row does not open. Sealed form:
 *   0x01 || nonce (12) || ciphertext || tag (16)
 *
 * Pure functions over their arguments: any thread. Secrets returned are
 * OPENSSL_malloc'd; free them with OPENSSL_clear_free.
 */
#ifndef CMPGW_RA_TOKEN_H
#define CMPGW_RA_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

#define RA_TOKEN_REF_LEN      32 /* 16 random bytes, lower-case hex */
#define RA_TOKEN_SECRET_LEN   24 /* 18 random bytes (144 bits), base64url */
#define RA_TOKEN_KEY_LEN      32
#define RA_TOKEN_IDENTITY_MAX 128

/*
 * New random reference and secret, NUL-terminated and printable (ready for
 * `openssl cmp -ref REF -secret pass:SECRET`). Returns 0 or RC_CRYPTO
 * (no randomness); on failure both are wiped.
 */
int ra_token_generate(char ref[RA_TOKEN_REF_LEN + 1], char secret[RA_TOKEN_SECRET_LEN + 1]) WUR;

/* A reference as a client may send it in senderKID: 1..64 bytes of
 * [A-Za-z0-9._-]. */
bool ra_token_ref_ok(const unsigned char *p, size_t len);

/* A device identity an operator gives a token (CLI or admin API): it
 * becomes ${serial} in a subject, so 1..RA_TOKEN_IDENTITY_MAX bytes and
 * no control character. */
bool ra_token_identity_ok(const char *s);

/*
 * Seal secret[0..len) under key with additional data ref. *out is
 * OPENSSL_malloc'd (caller frees), *outlen its length. Returns 0, RC_INVAL
 * (NULL or empty arguments), RC_CRYPTO, RC_NOMEM.
 */
int ra_token_seal(const unsigned char key[RA_TOKEN_KEY_LEN], const char *ref,
		  const unsigned char *secret, size_t len, unsigned char **out, size_t *outlen) WUR;

/*
 * Open a sealed secret. *secret is OPENSSL_malloc'd (free with
 * OPENSSL_clear_free(*secret, *len)). Returns 0; RC_DECODE if blob is not
 * a sealed secret of ours; RC_CRYPTO if it does not authenticate (wrong
 * key, tampered, or sealed for another ref); RC_INVAL, RC_NOMEM.
 */
int ra_token_open(const unsigned char key[RA_TOKEN_KEY_LEN], const char *ref,
		  const unsigned char *blob, size_t bloblen, unsigned char **secret,
		  size_t *len) WUR;

/* "1h", "30m", "86400s", "2d" or plain seconds -> seconds (1..10 years);
 * -1 if malformed or out of range. */
long ra_token_ttl_parse(const char *s);

#endif
