/*
 * cmd/api_match.c - route patterns, subject patterns, Allow lists and
 * cursors of the admin API (cmd/api_match.h).
 */
#include "cmd/api_match.h"

#include <stdio.h>
#include <string.h>

#include "core/http.h"
#include "core/server.h"

bool api_glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s) {
		if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (*pat == *s) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return !*pat;
}

/* One segment (n bytes at s) against one of a pattern (pn bytes at pat). */
static bool seg_match(const char *pat, size_t pn, const char *s, size_t n,
		      char param[API_PARAMS_MAX][API_PARAM_MAX + 1], int *np, int *vendor)
{
	if (pn >= 2 && pat[0] == '{' && pat[pn - 1] == '}') {
		if (n < 1 || n > API_PARAM_MAX || *np >= API_PARAMS_MAX)
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
				return false;
		memcpy(param[*np], s, n);
		param[*np][n] = '\0';
		if (pn == 8 && memcmp(pat, "{vendor}", 8) == 0)
			*vendor = *np;
		(*np)++;
		return true;
	}
	return pn == n && memcmp(pat, s, n) == 0;
}

bool api_route_match(const char *pattern, const char *path,
		     char param[API_PARAMS_MAX][API_PARAM_MAX + 1], int *np, int *vendor)
{
	const char *p = pattern, *s = path;
	size_t sl = strlen(path);

	*np = 0;
	*vendor = -1;
	if (sl > 1 && path[sl - 1] == '/')
		sl--;
	for (;;) {
		const char *pe = strchr(p, '/'), *se = memchr(s, '/', sl - (size_t)(s - path));
		size_t pn = pe ? (size_t)(pe - p) : strlen(p);
		size_t n = se ? (size_t)(se - s) : sl - (size_t)(s - path);

		if (!seg_match(p, pn, s, n, param, np, vendor))
			return false;
		if (!pe || !se)
			return !pe && !se;
		p = pe + 1;
		s = se + 1;
	}
}

void api_allow_of(unsigned methods, char *out, size_t len)
{
	static const struct {
		enum http_method m;
		const char *name;
	} names[] = { { HTTP_M_GET, "GET, HEAD" },
		      { HTTP_M_POST, "POST" },
		      { HTTP_M_PUT, "PUT" },
		      { HTTP_M_PATCH, "PATCH" },
		      { HTTP_M_DELETE, "DELETE" } };
	size_t o = 0;

	if (!len)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int k;
		if (!(methods & SERVER_METHOD(names[i].m)) || o >= len)
			continue;
		k = snprintf(out + o, len - o, "%s%s", o ? ", " : "", names[i].name);
		o = k < 0 ? o : o + (size_t)k;
	}
}

void api_cursor_encode(const char *key, char *out, size_t len)
{
	size_t o;

	if (len < 4) {
		if (len)
			out[0] = '\0';
		return;
	}
	o = (size_t)snprintf(out, len, "v1.");
	for (const unsigned char *p = (const unsigned char *)key; *p && o + 3 <= len; p++)
		o += (size_t)snprintf(out + o, len - o, "%02x", *p);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool api_cursor_decode(const char *c, char *out, size_t len)
{
	size_t n = strlen(c), k = 0;

	if (n < 5 || strncmp(c, "v1.", 3) != 0 || (n - 3) % 2 || (n - 3) / 2 >= len)
		return false;
	for (size_t i = 3; i < n; i += 2) {
		int hi = hexval(c[i]), lo = hexval(c[i + 1]);
		if (hi < 0 || lo < 0 || hi * 16 + lo < 0x20 || hi * 16 + lo > 0x7e)
			return false;
		out[k++] = (char)(hi * 16 + lo);
	}
	out[k] = '\0';
	return true;
}
