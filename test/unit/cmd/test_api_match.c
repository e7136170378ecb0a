/*
 * test/unit/cmd/test_api_match.c - route patterns, subject patterns, Allow
 * lists and cursors of the admin API (cmd/api_match.h).
 */
#include <stdio.h>
#include <string.h>

#include "cmd/api_match.h"
#include "core/http.h"
#include "core/server.h"
#include "test/unit/tap.h"

static char param[API_PARAMS_MAX][API_PARAM_MAX + 1];
static int np, vendor;

static bool m(const char *pattern, const char *path)
{
	return api_route_match(pattern, path, param, &np, &vendor);
}

static void routes(void)
{
	char longseg[API_PARAM_MAX + 2];

	ok(m("whoami", "whoami") && np == 0 && vendor == -1, "literal route, no parameters");
	ok(m("vendors", "vendors/"), "one trailing slash is ignored");
	ok(!m("vendors", "vendors//"), "two trailing slashes are not");
	ok(!m("vendors", "vendor"), "a shorter literal does not match");
	ok(!m("vendors", "vendorsx"), "a longer literal does not match");
	ok(!m("vendors/{vendor}", "vendors"), "a missing parameter does not match");
	ok(!m("vendors/{vendor}", "vendors/"), "an empty parameter does not match");
	ok(m("vendors/{vendor}", "vendors/acme") && np == 1 && vendor == 0 &&
		   strcmp(param[0], "acme") == 0,
	   "{vendor} is captured and named");
	ok(m("vendors/{vendor}/serials/{serial}", "vendors/acme/serials/SN-1") && np == 2 &&
		   vendor == 0 && strcmp(param[1], "SN-1") == 0,
	   "two parameters in order");
	ok(!m("vendors/{vendor}/serials/{serial}", "vendors/acme/serials/SN/1"),
	   "a parameter never spans a '/'");
	ok(!m("vendors/{vendor}/serials/{serial}", "vendors/acme/serials"),
	   "a shorter path does not match");
	ok(!m("vendors/{vendor}", "vendors/acme/serials"), "a longer path does not match");
	ok(!m("vendors/{vendor}", "vendors/a b"), "a space is not a parameter byte");
	ok(!m("vendors/{vendor}", "vendors/a\x7f"), "DEL is not a parameter byte");
	ok(!m("vendors/{vendor}", "vendors/\xc3\xa9"), "non-ASCII is not a parameter byte");
	ok(m("certificates/{serial}", "certificates/0A1B") && vendor == -1,
	   "a parameter not named vendor leaves vendor -1");
	memset(longseg, 'x', API_PARAM_MAX);
	longseg[API_PARAM_MAX] = '\0';
	{
		char path[API_PARAM_MAX + 16];
		snprintf(path, sizeof(path), "v/%s", longseg);
		ok(m("v/{x}", path) && strlen(param[0]) == API_PARAM_MAX,
		   "a parameter of API_PARAM_MAX bytes fits");
		longseg[API_PARAM_MAX] = 'x';
		longseg[API_PARAM_MAX + 1] = '\0';
		snprintf(path, sizeof(path), "v/%s", longseg);
		ok(!m("v/{x}", path), "one byte more does not match");
	}
	ok(!m("a/{b}/{c}/{d}/{e}", "a/1/2/3/4"), "more than API_PARAMS_MAX parameters never match");
	ok(m("status", "status") && !m("status", "status.js"), "page routes match exactly");
}

static void globs(void)
{
	ok(api_glob_match("CN=alice,O=Ops", "CN=alice,O=Ops"), "glob: exact");
	ok(!api_glob_match("CN=alice,O=Ops", "CN=Alice,O=Ops"), "glob: case-sensitive");
	ok(api_glob_match("CN=*,O=Ops", "CN=bob,O=Ops"), "glob: a star in the middle");
	ok(api_glob_match("CN=*,O=Ops", "CN=,O=Ops"), "glob: a star matches nothing too");
	ok(!api_glob_match("CN=*,O=Ops", "CN=bob,O=Ops,C=DE"), "glob: the end must match");
	ok(api_glob_match("*", ""), "glob: a lone star matches the empty string");
	ok(api_glob_match("**a*", "xxa"), "glob: several stars");
	ok(!api_glob_match("a", ""), "glob: a literal needs its byte");
	ok(api_glob_match("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaab"), "glob: backtracking");
	ok(!api_glob_match("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaa"),
	   "glob: backtracking to a failure");
}

static void allow(void)
{
	char b[64];

	api_allow_of(SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), b, sizeof(b));
	ok(strcmp(b, "GET, HEAD") == 0, "allow: GET implies HEAD");
	api_allow_of(SERVER_METHOD(HTTP_M_POST), b, sizeof(b));
	ok(strcmp(b, "POST") == 0, "allow: POST");
	api_allow_of(SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_POST) |
			     SERVER_METHOD(HTTP_M_DELETE),
		     b, sizeof(b));
	ok(strcmp(b, "GET, HEAD, POST, DELETE") == 0, "allow: in a fixed order");
	api_allow_of(0, b, sizeof(b));
	ok(strcmp(b, "") == 0, "allow: none");
	api_allow_of(SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_POST), b, 8);
	ok(strlen(b) < 8, "allow: truncated to the buffer");
}

static void cursors(void)
{
	char c[64], k[32];

	api_cursor_encode("acme", c, sizeof(c));
	ok(strcmp(c, "v1.61636d65") == 0, "cursor: v1. + hex");
	ok(api_cursor_decode(c, k, sizeof(k)) && strcmp(k, "acme") == 0, "cursor: round trip");
	api_cursor_encode("2026-12-03 10:00:00+00,42", c, sizeof(c));
	ok(api_cursor_decode(c, k, sizeof(k)) && strcmp(k, "2026-12-03 10:00:00+00,42") == 0,
	   "cursor: a key with spaces and punctuation round-trips");
	ok(!api_cursor_decode("v2.61", k, sizeof(k)), "cursor: another version is refused");
	ok(!api_cursor_decode("v1.", k, sizeof(k)), "cursor: empty is refused");
	ok(!api_cursor_decode("v1.616", k, sizeof(k)), "cursor: odd length is refused");
	ok(!api_cursor_decode("v1.6A", k, sizeof(k)), "cursor: upper-case hex is refused");
	ok(!api_cursor_decode("v1.6g", k, sizeof(k)), "cursor: a non-hex digit is refused");
	ok(!api_cursor_decode("v1.00", k, sizeof(k)), "cursor: a NUL byte is refused");
	ok(!api_cursor_decode("v1.0a", k, sizeof(k)), "cursor: a control byte is refused");
	ok(!api_cursor_decode("v1.ff", k, sizeof(k)), "cursor: a non-ASCII byte is refused");
	ok(!api_cursor_decode("v1.6162636465", k, 5), "cursor: a key as long as out is refused");
	ok(api_cursor_decode("v1.61626364", k, 5) && strcmp(k, "abcd") == 0,
	   "cursor: one byte shorter fits");
	api_cursor_encode("abcdef", c, 8);
	ok(strcmp(c, "v1.6162") == 0, "cursor: encode stops at a whole byte");
}

int main(void)
{
	routes();
	globs();
	allow();
	cursors();
	return tap_done();
}
