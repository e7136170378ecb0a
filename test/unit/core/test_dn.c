/*
 * test/unit/core/test_dn.c - dn_parse: a table of good names with the
 * exact result (DER order as OpenSSL's one-line form, RDN set numbers and
 * string types) and of names that must be refused.
 */
#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/dn.h"
#include "test/unit/tap.h"

struct good {
	const char *in;
	const char *oneline; /* X509_NAME_oneline: "/A=x/B=y", DER order */
	const char *enc;     /* per attribute "<set>:<P|U|I>": Printable, UTF8, IA5 */
	const char *what;
};

// clang-format off
static const struct good goods[] = {
	{ "CN=a,O=b", "/O=b/CN=a", "0U 1U", "RFC 4514 form is last-first" },
	{ "/CN=a/O=b", "/CN=a/O=b", "0U 1U", "slash form is in order" },
	{ "CN=Acme Router, O=Acme, serialNumber=ACME-0001",
	  "/serialNumber=ACME-0001/O=Acme/CN=Acme Router", "0P 1U 2U", "spaces after commas; serialNumber Printable" },
	{ "CN=a\\,b,O=x\\2Cy", "/O=x,y/CN=a,b", "0U 1U", "escaped comma and hex pair" },
	{ "cn=a,c=DE", "/C=DE/CN=a", "0P 1U", "case-insensitive types; C Printable" },
	{ "commonName=long,2.5.4.10=dotted", "/O=dotted/CN=long", "0U 1U", "long names and dotted OIDs" },
	{ "CN=a+serialNumber=1,O=b", "/O=b/CN=a+serialNumber=1", "0U 1U 1P", "multi-valued RDN" },
	{ "/CN=a+OU=b/O=c", "/CN=a+OU=b/O=c", "0U 0U 1U", "multi-valued RDN, slash form" },
	{ "serialNumber=${serial},O=${vendor}", "/O=${vendor}/serialNumber=${serial}", "0U 1U",
	  "placeholders kept as UTF8String where Printable refuses '$'" },
	{ "C=${x}", "/C=${x}", "0U", "placeholder longer than a country code" },
	{ "  CN  =  a  ", "/CN=a", "0U", "spaces around type and value dropped" },
	{ "CN=a\\ ", "/CN=a ", "0U", "escaped trailing space kept" },
	{ "CN=a=b", "/CN=a=b", "0U", "'=' inside a value" },
	{ "O=a/b", "/O=a\\/b", "0U", "'/' inside a comma-form value" },
	{ "/O=a,b", "/O=a,b", "0U", "',' inside a slash-form value" },
	{ "CN=\\41\\42", "/CN=AB", "0U", "hex escapes" },
	{ "CN=\xc3\xa4", "/CN=\\xC3\\xA4", "0U", "UTF-8 value" },
	{ "DC=example,DC=net,emailAddress=a@b", "/emailAddress=a@b/DC=net/DC=example", "0I 1I 2I",
	  "IA5String types" },
};

static const char *const bads[] = {
	"", "CN", "=a", "CN=", "CN=a,", ",CN=a", "CN=a++O=b", "CN=a\\", "/", "/CN=a/",
	"XX=a", "C=DEU", "C=D E", "CN=\\e4", "C=${x}\xff", "CN=${a}\xc3",
	"2.5..410=a", "2.5.4.=a", "2.5.4.3x=a", "2..5=a",
};
// clang-format on

/* "<set><P|U|I>" per attribute, space-separated */
static void encodings(const X509_NAME *n, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < X509_NAME_entry_count(n) && o + 4 < len; i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
		int t = ASN1_STRING_type(X509_NAME_ENTRY_get_data(e));
		char c = t == V_ASN1_PRINTABLESTRING ? 'P'
			 : t == V_ASN1_UTF8STRING    ? 'U'
			 : t == V_ASN1_IA5STRING     ? 'I'
						     : '?';
		o += (size_t)snprintf(out + o, len - o, "%s%d%c", i ? " " : "",
				      X509_NAME_ENTRY_set(e), c);
	}
}

static void test_good(const struct good *g)
{
	X509_NAME *n = dn_parse(g->in);
	unsigned char *der = NULL;
	char line[512] = "(null)", enc[128] = "";
	int dlen = 0;

	if (n) {
		X509_NAME_oneline(n, line, sizeof(line));
		encodings(n, enc, sizeof(enc));
		dlen = i2d_X509_NAME(n, &der);
	}
	ok(n && strcmp(line, g->oneline) == 0 && strcmp(enc, g->enc) == 0 && dlen > 0, "%s: %s",
	   g->what, g->in);
	if (!n || strcmp(line, g->oneline) != 0 || strcmp(enc, g->enc) != 0)
		printf("#   got \"%s\" [%s], want \"%s\" [%s]\n", line, enc, g->oneline, g->enc);
	OPENSSL_free(der);
	X509_NAME_free(n);
}

static void test_limits(void)
{
	char *s = malloc(70 * 6 + 2048);
	size_t o = 0;
	X509_NAME *n;

	/* 64 attributes parse, 65 do not */
	for (int i = 0; i < 64; i++)
		o += (size_t)sprintf(s + o, "%sCN=%d", i ? "," : "", i);
	n = dn_parse(s);
	ok(n && X509_NAME_entry_count(n) == 64, "64 attributes");
	X509_NAME_free(n);
	sprintf(s + o, ",CN=x");
	ok(dn_parse(s) == NULL, "65 attributes refused");
	/* a value of 1023 bytes parses, 1024 do not (a type without an
	 * upper bound in OpenSSL's string table: CN's is 64) */
	o = (size_t)sprintf(s, "1.3.6.1.4.1.99999.1=");
	memset(s + o, 'v', 1023);
	s[o + 1023] = '\0';
	n = dn_parse(s);
	ok(n != NULL, "1023-byte value");
	X509_NAME_free(n);
	s[o + 1023] = 'v';
	s[o + 1024] = '\0';
	ok(dn_parse(s) == NULL, "1024-byte value refused");
	memset(s + 3, 'v', 65);
	memcpy(s, "CN=", 3);
	s[3 + 65] = '\0';
	ok(dn_parse(s) == NULL, "CN over its upper bound (64) refused");
	ok(dn_parse(NULL) == NULL, "NULL refused");
	free(s);
	ERR_clear_error();
}

int main(void)
{
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
		test_good(&goods[i]);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		X509_NAME *n = dn_parse(bads[i]);
		ok(n == NULL, "refused: \"%s\"", bads[i]);
		X509_NAME_free(n);
	}
	ERR_clear_error();
	test_limits();
	return tap_done();
}
