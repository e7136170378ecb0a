/*
 * policy/serial.c - a vendor's device serial syntax (see serial.h).
 */
#include <stdio.h>
#include <string.h>

#include "policy/serial.h"

#define WHY(...) (why && whylen ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

static void allow_set(uint8_t *allow, unsigned b)
{
	allow[b / 8] |= (uint8_t)(1u << (b % 8));
}

static bool allowed(const uint8_t *allow, unsigned char b)
{
	return b < 128 && (allow[b / 8] >> (b % 8)) & 1u;
}

static void charset_default(uint8_t *allow)
{
	memset(allow, 0, 16);
	for (unsigned b = 0x21; b <= 0x7e; b++)
		if (!strchr(POLICY_SERIAL_FORBIDDEN_DEFAULT, (int)b))
			allow_set(allow, b);
}

void policy_serial_syntax_default(struct policy_serial_syntax *sx)
{
	sx->max_len = POLICY_SERIAL_LEN_DEFAULT;
	charset_default(sx->allow);
}

int policy_serial_syntax_set_charset(struct policy_serial_syntax *sx, const char *spec, char *why,
				     size_t whylen)
{
	uint8_t allow[16] = { 0 };
	size_t n = spec ? strlen(spec) : 0;

	if (n == 0) {
		WHY("empty character set");
		return RC_INVAL;
	}
	if (strcmp(spec, "default") == 0) {
		charset_default(sx->allow);
		return RC_OK;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char a = (unsigned char)spec[i], b = a;
		if (a < 0x21 || a > 0x7e) {
			WHY("byte 0x%02x at position %zu: only printable ASCII without space "
			    "(0x21-0x7e) can be allowed",
			    a, i + 1);
			return RC_INVAL;
		}
		if (i + 2 < n && spec[i + 1] == '-') {
			b = (unsigned char)spec[i + 2];
			if (b < 0x21 || b > 0x7e || b < a) {
				WHY("range \"%c-%c\" at position %zu is not ascending printable "
				    "ASCII",
				    a, b >= 0x21 && b <= 0x7e ? b : '?', i + 1);
				return RC_INVAL;
			}
			i += 2;
		}
		for (unsigned c = a; c <= b; c++)
			allow_set(allow, c);
	}
	memcpy(sx->allow, allow, sizeof(allow));
	return RC_OK;
}

int policy_serial_syntax_set_max_len(struct policy_serial_syntax *sx, long max_len)
{
	if (max_len < 1 || max_len > POLICY_SERIAL_LEN_MAX)
		return RC_INVAL;
	sx->max_len = (unsigned)max_len;
	return RC_OK;
}

bool policy_serial_charset_is_default(const struct policy_serial_syntax *sx)
{
	uint8_t def[16];

	charset_default(def);
	return memcmp(def, sx->allow, sizeof(def)) == 0;
}

int policy_serial_charset_str(const struct policy_serial_syntax *sx, char *buf, size_t len)
{
	size_t o = 0;
	bool dash = allowed(sx->allow, '-');

	for (unsigned a = 0x21; a <= 0x7e; a++) {
		unsigned b = a;
		if (!allowed(sx->allow, (unsigned char)a) || a == '-')
			continue;
		while (b + 1 <= 0x7e && b + 1 != '-' && allowed(sx->allow, (unsigned char)(b + 1)))
			b++;
		if (o + 4 > len)
			return RC_INVAL;
		buf[o++] = (char)a;
		if (b >= a + 2) {
			buf[o++] = '-';
			buf[o++] = (char)b;
		} else if (b == a + 1) {
			buf[o++] = (char)b;
		}
		a = b;
	}
	if (o + 2 > len)
		return RC_INVAL;
	if (dash)
		buf[o++] = '-';
	buf[o] = '\0';
	return RC_OK;
}

int policy_serial_check(const struct policy_serial_syntax *sx, const char *s, size_t n, char *why,
			size_t whylen)
{
	if (n == 0) {
		WHY("empty serial");
		return RC_INVAL;
	}
	if (n > sx->max_len) {
		WHY("%zu bytes, longer than the maximum of %u", n, sx->max_len);
		return RC_INVAL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)s[i];
		if (allowed(sx->allow, b))
			continue;
		if (b == 0)
			WHY("NUL byte at column %zu", i + 1);
		else if (b == ' ' || (b >= '\t' && b <= '\r'))
			WHY("whitespace (0x%02x) at column %zu", b, i + 1);
		else if (b < 0x20 || b == 0x7f)
			WHY("control byte 0x%02x at column %zu", b, i + 1);
		else if (b > 0x7f)
			WHY("non-ASCII byte 0x%02x at column %zu (UTF-8 is not allowed)", b, i + 1);
		else
			WHY("character '%c' at column %zu is not allowed", b, i + 1);
		return RC_INVAL;
	}
	return RC_OK;
}
