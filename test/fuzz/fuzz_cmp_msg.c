/*
 * test/fuzz/fuzz_cmp_msg.c - libFuzzer target for the cmp/ decoders: a
 * PKIMessage is decoded, re-encoded, its ProtectedPart cut from the raw
 * bytes, its protection checked (signature with the first extraCert,
 * PBMAC with a fixed secret) and the POP of every CertReqMsg verified.
 * Nothing may crash or leak whatever the input.
 *
 * It is also a differential test of the decoder the gateway uses,
 * cmp_asn1_msg_decode with a certificate cache (cmp/certcache.h), against
 * plain d2i_CMPGW_MSG: both must accept the same inputs (the cached one
 * refuses trailing bytes) and give messages with the same encoding, on a
 * cache miss and again on a hit; any difference aborts. The cache lives
 * across inputs, as a worker's does, so evictions and hits on certificates
 * from earlier inputs are exercised too.
 *
 * Built with clang -fsanitize=fuzzer; without a fuzzing engine, main()
 * below replays the files named on the command line (the seed corpus).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmp/asn1.h"
#include "cmp/certcache.h"
#include "cmp/pop.h"
#include "cmp/prot.h"

static void check_reqs(const CMPGW_MSG *m)
{
	const STACK_OF(CMPGW_CERTREQMSG) *reqs = NULL;

	switch (m->body->type) {
	case CMP_BODY_IR:
	case CMP_BODY_CR:
	case CMP_BODY_KUR:
		reqs = m->body->value.ir;
		break;
	default:
		return;
	}
	for (int i = 0; i < sk_CMPGW_CERTREQMSG_num(reqs) && i < 8; i++) {
		EVP_PKEY *pk = NULL;

		if (cmp_pop_verify(sk_CMPGW_CERTREQMSG_value(reqs, i), &pk) == 0)
			EVP_PKEY_free(pk);
	}
}

/* Encoding of m (caller frees), NULL with *len 0 if m is NULL or fails */
static unsigned char *encode(const CMPGW_MSG *m, int *len)
{
	unsigned char *der = NULL;

	*len = m != NULL ? i2d_CMPGW_MSG(m, &der) : 0;
	return *len > 0 ? der : NULL;
}

/* The cached decoder must agree with plain d2i on data (see the top). */
static void check_cached_decode(const uint8_t *data, size_t size, const CMPGW_MSG *plain,
				bool whole)
{
	static struct cmp_certcache *cache;
	unsigned char *want = NULL;
	int wlen = 0;

	if (cache == NULL && (cache = cmp_certcache_new()) == NULL)
		abort();
	if (whole)
		want = encode(plain, &wlen);
	for (int pass = 0; pass < 2; pass++) {
		CMPGW_MSG *m = cmp_asn1_msg_decode(data, size, cache);
		unsigned char *got;
		int glen;

		if ((m != NULL) != (plain != NULL && whole)) {
			fprintf(stderr, "cached decode %s where d2i %s\n",
				m ? "accepted" : "refused",
				plain && whole ? "accepted" : "refused");
			abort();
		}
		got = encode(m, &glen);
		if (glen != wlen || (glen > 0 && memcmp(got, want, (size_t)glen) != 0)) {
			fprintf(stderr, "cached decode encodes differently (pass %d)\n", pass);
			abort();
		}
		OPENSSL_free(got);
		CMPGW_MSG_free(m);
	}
	OPENSSL_free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	unsigned char *der = NULL, *part = NULL;
	size_t partlen = 0;
	CMPGW_MSG *m;
	int rc;

	if (size > 65536)
		return 0;
	m = d2i_CMPGW_MSG(NULL, &p, (long)size);
	check_cached_decode(data, size, m, p == data + size);
	if (cmp_prot_part_der(data, size, &part, &partlen) == 0)
		OPENSSL_free(part);
	if (m == NULL)
		return 0;
	if (i2d_CMPGW_MSG(m, &der) > 0)
		OPENSSL_free(der);
	if (cmp_prot_is_pbmac(m))
		rc = cmp_prot_verify_pbmac(data, size, m, (const unsigned char *)"fuzz", 4, 1000);
	else if (sk_X509_num(m->extraCerts) > 0)
		rc = cmp_prot_verify_sig(data, size, m, sk_X509_value(m->extraCerts, 0));
	else
		rc = 0;
	(void)rc;
	check_reqs(m);
	(void)cmp_asn1_body_name(m->body->type);
	CMPGW_MSG_free(m);
	return 0;
}

#ifndef CMPGW_FUZZING_ENGINE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		unsigned char buf[65536];
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
