/*
 * test/fuzz/fuzz_dn.c - libFuzzer target for dn_parse (core/dn.h), the
 * parser of the subject templates in the config and of `cmpgw init`'s
 * names. The input is the text (NUL-terminated copy). Nothing may crash or
 * leak; a parsed name must have 1..64 attributes and a DER encoding; and
 * printed as RFC 2253 (the comma form dn_parse reads, last RDN first) it
 * must parse again to the same DER. Any of these failing aborts. Not
 * round-tripped: names with an attribute type OpenSSL has no name for (a
 * dotted OID: RFC 2253 output gives its value as "#<DER hex>", which
 * dn_parse does not read) and names OpenSSL cannot print.
 *
 * Built with clang -fsanitize=fuzzer; without a fuzzing engine, main()
 * below replays the files named on the command line (the seed corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "core/dn.h"

/* The RFC 2253 text of n (caller frees), NULL if OpenSSL cannot print it */
static char *print_2253(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *data;
	long len;

	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0 &&
	    (len = BIO_get_mem_data(b, &data)) >= 0 && (out = malloc((size_t)len + 1))) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(b);
	return out;
}

static void round_trip(const X509_NAME *n)
{
	unsigned char *der = NULL, *der2 = NULL;
	char *text;
	X509_NAME *again;
	int len, len2;

	for (int i = 0; i < X509_NAME_entry_count(n); i++)
		if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, i))) == NID_undef)
			return;
	if (!(text = print_2253(n)))
		return;
	if (!(again = dn_parse(text))) {
		fprintf(stderr, "printed name \"%s\" does not parse again\n", text);
		abort();
	}
	len = i2d_X509_NAME(n, &der);
	len2 = i2d_X509_NAME(again, &der2);
	if (len <= 0 || len != len2 || memcmp(der, der2, (size_t)len) != 0) {
		fprintf(stderr, "\"%s\" parses to a different name\n", text);
		abort();
	}
	OPENSSL_free(der);
	OPENSSL_free(der2);
	X509_NAME_free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	X509_NAME *n;

	if (size > 8192 || !(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if ((n = dn_parse(s)) != NULL) {
		unsigned char *der = NULL;
		if (X509_NAME_entry_count(n) < 1 || X509_NAME_entry_count(n) > 64 ||
		    i2d_X509_NAME(n, &der) <= 0) {
			fprintf(stderr, "\"%s\" parses to a name that cannot be encoded\n", s);
			abort();
		}
		OPENSSL_free(der);
		round_trip(n);
	}
	X509_NAME_free(n);
	free(s);
	ERR_clear_error();
	return 0;
}

#ifndef CMPGW_FUZZING_ENGINE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char buf[8192];
		size_t n;

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
#endif
