/*
 * cmd/api_match.h - the pure string functions of the admin API
 * (cmd/api.c): route patterns, principal subject patterns, Allow lists,
 * list cursors. No I/O, no allocation; unit-tested by
 * test/unit/cmd/test_api_match.c. Any thread.
 */
#ifndef CMPGW_CMD_API_MATCH_H
#define CMPGW_CMD_API_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#define API_PARAMS_MAX 3
#define API_PARAM_MAX  256 /* bytes of one path parameter */

/* A subject pattern of admin.principals: '*' matches any run of
 * characters (none included), everything else itself, case-sensitively.
 * Linear in practice (backtracks to the last star only). */
bool api_glob_match(const char *pat, const char *s);

/* path (no leading '/', one trailing '/' ignored) against a route pattern
 * ("vendors/{vendor}/serials/{serial}": literal segments and {name}
 * placeholders, each a whole segment). A placeholder takes 1..
 * API_PARAM_MAX printable ASCII bytes (0x21..0x7e; never '/', never an
 * empty segment). On a match, param[0..*np) get the placeholders in order
 * and *vendor the index of the one named {vendor} (-1: none); on no match
 * they hold nothing useful. */
bool api_route_match(const char *pattern, const char *path,
		     char param[API_PARAMS_MAX][API_PARAM_MAX + 1], int *np, int *vendor);

/* The Allow header value for a set of SERVER_METHOD bits, e.g. "GET, HEAD,
 * POST" (GET implies HEAD); "" for none. Truncated to len-1 bytes. */
void api_allow_of(unsigned methods, char *out, size_t len);

/* Opaque list cursor "v1." + lower-case hex of key (printable ASCII,
 * 0x20..0x7e), and back: decode is false for anything encode never
 * produced (other prefix, odd length, upper-case or non-hex digits, a
 * byte outside that range, a key of len bytes or more). encode truncates
 * at a whole byte when out is too small. */
void api_cursor_encode(const char *key, char *out, size_t len);
bool api_cursor_decode(const char *c, char *out, size_t len);

#endif
