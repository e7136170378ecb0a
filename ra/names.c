/*
 * ra/names.c - text forms of X.509 names and times used in logs, audit
 * rows and store/ columns (ra/ra.h).
 */
#include "ra/ra.h"

#include <time.h>

#include <openssl/bio.h>

void ra_name_str(const X509_NAME *n, char *buf, size_t len)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = 0;
	buf[0] = '\0';
	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0)
		r = BIO_read(b, buf, (int)len - 1);
	buf[r > 0 ? r : 0] = '\0';
	BIO_free(b);
}

long long ra_asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	if (!ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (long long)timegm(&tm);
}
