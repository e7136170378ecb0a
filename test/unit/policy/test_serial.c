/* Unit tests for policy/serial.c: the default syntax and its edges (empty,
 * 64/65 bytes, UTF-8, control bytes, NUL, each forbidden character), the
 * character set spec and its canonical form, the maximum length. */
#include <string.h>

#include "policy/serial.h"
#include "test/unit/tap.h"

static char why[POLICY_SERIAL_WHY_MAX];

static int check(const struct policy_serial_syntax *sx, const char *s, size_t n)
{
	why[0] = '\0';
	return policy_serial_check(sx, s, n, why, sizeof(why));
}

#define is_why(want, name)                                                                         \
	do {                                                                                       \
		ok(strcmp(why, want) == 0, "%s: \"%s\"", name, want);                              \
		if (strcmp(why, want) != 0)                                                        \
			printf("#   got \"%s\"\n", why);                                           \
	} while (0)

static void test_default(void)
{
	struct policy_serial_syntax sx;
	char s[300];

	policy_serial_syntax_default(&sx);
	is_int(sx.max_len, 64, "default maximum 64 bytes");
	ok(policy_serial_charset_is_default(&sx), "default charset is the default");
	is_int(check(&sx, "ACME-0001", 9), RC_OK, "ACME-0001 passes");
	is_int(check(&sx, "a!\"#$%&'()-.:;<>?@[]^_`{|}~", 27), RC_OK, "all allowed punctuation");
	is_int(check(&sx, "", 0), RC_INVAL, "empty refused");
	is_why("empty serial", "empty");
	memset(s, 'A', sizeof(s));
	is_int(check(&sx, s, 64), RC_OK, "64 bytes pass");
	is_int(check(&sx, s, 65), RC_INVAL, "65 bytes refused");
	is_why("65 bytes, longer than the maximum of 64", "65 bytes");
	is_int(check(&sx, "AB\0C", 4), RC_INVAL, "NUL refused");
	is_why("NUL byte at column 3", "NUL");
	is_int(check(&sx, "A\x1b[0m", 5), RC_INVAL, "ESC refused");
	is_why("control byte 0x1b at column 2", "ESC");
	is_int(check(&sx, "A\x7f", 2), RC_INVAL, "DEL refused");
	is_why("control byte 0x7f at column 2", "DEL");
	is_int(check(&sx, "A B", 3), RC_INVAL, "space refused");
	is_why("whitespace (0x20) at column 2", "space");
	is_int(check(&sx, "AB\t", 3), RC_INVAL, "tab refused");
	is_why("whitespace (0x09) at column 3", "tab");
	is_int(check(&sx, "AB\r", 3), RC_INVAL, "CR refused");
	is_int(check(&sx, "Gr\xc3\xbc\xc3\x9f", 6), RC_INVAL, "UTF-8 refused");
	is_why("non-ASCII byte 0xc3 at column 3 (UTF-8 is not allowed)", "UTF-8");
	is_int(check(&sx, "\xff", 1), RC_INVAL, "0xff refused");
	for (const char *f = POLICY_SERIAL_FORBIDDEN_DEFAULT; *f; f++) {
		char in[4] = { 'x', *f, 'y', 0 }, want[64];
		is_int(check(&sx, in, 3), RC_INVAL, "'%c' refused", *f);
		snprintf(want, sizeof(want), "character '%c' at column 2 is not allowed", *f);
		is_why(want, "forbidden character");
	}
	is_int(policy_serial_check(&sx, "A B", 3, NULL, 0), RC_INVAL, "why may be NULL");
}

static void test_charset(void)
{
	struct policy_serial_syntax sx;
	char buf[200], w[POLICY_SERIAL_WHY_MAX];

	policy_serial_syntax_default(&sx);
	is_int(policy_serial_syntax_set_charset(&sx, "0-9A-F", w, sizeof(w)), RC_OK, "hex charset");
	is_int(check(&sx, "00FF", 4), RC_OK, "hex serial passes");
	is_int(check(&sx, "00ff", 4), RC_INVAL, "lower case refused by an upper-case charset");
	is_why("character 'f' at column 3 is not allowed", "lower case");
	is_int(policy_serial_charset_str(&sx, buf, sizeof(buf)), RC_OK, "canonical form");
	ok(strcmp(buf, "0-9A-F") == 0, "canonical form 0-9A-F (%s)", buf);
	is_int(policy_serial_syntax_set_charset(&sx, "-A", w, sizeof(w)), RC_OK, "leading '-'");
	is_int(check(&sx, "A-A", 3), RC_OK, "'-' literal when first");
	is_int(policy_serial_syntax_set_charset(&sx, "AB-", w, sizeof(w)), RC_OK, "trailing '-'");
	is_int(check(&sx, "-B", 2), RC_OK, "'-' literal when last");
	is_int(policy_serial_charset_str(&sx, buf, sizeof(buf)), RC_OK, "canonical form");
	ok(strcmp(buf, "AB-") == 0, "canonical form AB- (%s)", buf);
	is_int(policy_serial_syntax_set_charset(&sx, "!-~", w, sizeof(w)), RC_OK, "all printable");
	is_int(check(&sx, "42,O=Operator,CN=*", 18), RC_OK, "',' '=' '*' allowed by !-~");
	is_int(check(&sx, "a b", 3), RC_INVAL, "space never allowed");
	is_int(policy_serial_charset_str(&sx, buf, sizeof(buf)), RC_OK, "canonical form");
	ok(strcmp(buf, "!-,.-~-") == 0, "canonical form !-,.-~- (%s)", buf);
	is_int(policy_serial_syntax_set_charset(&sx, buf, w, sizeof(w)), RC_OK, "round trip");
	is_int(check(&sx, "-", 1), RC_OK, "round trip keeps '-'");
	is_int(policy_serial_syntax_set_charset(&sx, "default", w, sizeof(w)), RC_OK, "default");
	ok(policy_serial_charset_is_default(&sx), "\"default\" restores the default");
	is_int(policy_serial_charset_str(&sx, buf, sizeof(buf)), RC_OK, "default canonical");
	is_int(policy_serial_syntax_set_charset(&sx, buf, w, sizeof(w)), RC_OK, "default round");
	ok(policy_serial_charset_is_default(&sx), "default round trip (%s)", buf);
	is_int(policy_serial_charset_str(&sx, buf, 3), RC_INVAL, "small buffer refused");

	is_int(policy_serial_syntax_set_charset(&sx, "", w, sizeof(w)), RC_INVAL, "empty spec");
	ok(strcmp(w, "empty character set") == 0, "empty spec: %s", w);
	is_int(policy_serial_syntax_set_charset(&sx, "A B", w, sizeof(w)), RC_INVAL, "space");
	ok(strcmp(w, "byte 0x20 at position 2: only printable ASCII without space (0x21-0x7e) "
		     "can be allowed") == 0,
	   "space in spec: %s", w);
	is_int(policy_serial_syntax_set_charset(&sx, "Z-A", w, sizeof(w)), RC_INVAL, "reversed");
	ok(strcmp(w, "range \"Z-A\" at position 1 is not ascending printable ASCII") == 0,
	   "reversed range: %s", w);
	is_int(policy_serial_syntax_set_charset(&sx, "\xc3\xbc", w, sizeof(w)), RC_INVAL, "UTF-8");
	ok(policy_serial_charset_is_default(&sx), "a refused spec leaves the set unchanged");
}

static void test_max_len(void)
{
	struct policy_serial_syntax sx;
	char s[POLICY_SERIAL_LEN_MAX + 1];

	memset(s, '7', sizeof(s));
	policy_serial_syntax_default(&sx);
	is_int(policy_serial_syntax_set_max_len(&sx, 0), RC_INVAL, "max 0 refused");
	is_int(policy_serial_syntax_set_max_len(&sx, POLICY_SERIAL_LEN_MAX + 1), RC_INVAL,
	       "max 257 refused");
	is_int(sx.max_len, 64, "refused max leaves 64");
	is_int(policy_serial_syntax_set_max_len(&sx, 1), RC_OK, "max 1");
	is_int(check(&sx, s, 1), RC_OK, "1 byte passes with max 1");
	is_int(check(&sx, s, 2), RC_INVAL, "2 bytes refused with max 1");
	is_int(policy_serial_syntax_set_max_len(&sx, POLICY_SERIAL_LEN_MAX), RC_OK, "max 256");
	is_int(check(&sx, s, POLICY_SERIAL_LEN_MAX), RC_OK, "256 bytes pass with max 256");
	is_int(check(&sx, s, POLICY_SERIAL_LEN_MAX + 1), RC_INVAL, "257 refused");
	is_why("257 bytes, longer than the maximum of 256", "257 bytes");
}

int main(void)
{
	test_default();
	test_charset();
	test_max_len();
	return tap_done();
}
