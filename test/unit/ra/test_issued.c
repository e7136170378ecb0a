/*
 * test/unit/ra/test_issued.c - ra/issued: the facts every commit stores
 * about a certificate (ra_issued_facts), whether a certificate is one of
 * this CA's (ra_issued_by_ca), and the produce step's refusal when the
 * profile cannot build a valid name for the identity (ra_step_sign:
 * badCertTemplate with the profile's reason, nothing committed).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/pem.h>

#include "cmp/prot.h"
#include "core/log.h"
#include "ra/issued.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/trust.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

static struct fake_env env;

static void test_facts(void)
{
	struct ra_issued f, zero;
	unsigned char fp[32], h[32], *der = NULL;
	unsigned int hl = 0;
	int len = i2d_X509(env.op_dev, &der);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(env.op_dev), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;

	is_int(ra_issued_facts(env.op_dev, &f), 0, "facts of op-dev.pem");
	ok(len > 0 && f.len == (size_t)len && memcmp(f.der, der, f.len) == 0, "facts: the DER");
	ok(strcmp(f.issuer, "CN=fuzz issuing CA,O=cmpgw fuzz operator") == 0,
	   "facts: issuer as RFC 2253 text (%s)", f.issuer);
	ok(strcmp(f.subject, "OU=Devices,O=fuzzvendor,CN=FUZZ-0001") == 0,
	   "facts: subject as RFC 2253 text (%s)", f.subject);
	ok(hex && f.serial_hex && strcmp(f.serial_hex, hex) == 0, "facts: serial, upper-case hex");
	ok(ra_trust_spki_fp(env.op_dev, fp) == 0 && memcmp(f.key_fp, fp, 32) == 0,
	   "facts: SHA-256 of the SubjectPublicKeyInfo");
	/* RFC 4210 5.3.18: certHash with the signature's digest (ecdsa-with-SHA256) */
	ok(X509_digest(env.op_dev, EVP_sha256(), h, &hl) && f.hlen == 32 &&
		   memcmp(f.hash, h, 32) == 0,
	   "facts: certHash = SHA-256 of the DER");
	ok(f.not_after > f.not_before && f.not_before > 1700000000,
	   "facts: validity as epoch seconds");
	ra_issued_clear(&f);
	ok(f.der == NULL && f.serial_hex == NULL, "clear: freed and zeroed");
	memset(&zero, 0, sizeof(zero));
	ra_issued_clear(&zero);
	ok(1, "clear: a zeroed struct is fine");
	OPENSSL_free(hex);
	BN_free(bn);
	OPENSSL_free(der);
}

static void test_by_ca(void)
{
	ok(ra_issued_by_ca(env.cfg, env.op_dev), "op-dev.pem was issued by this CA");
	ok(!ra_issued_by_ca(env.cfg, env.dev1), "a vendor certificate was not");
}

/* An RA's request whose identity makes an invalid dNSName for the
 * profile's SAN template: badCertTemplate naming it, no commit. */
static void test_sign_refused(void)
{
	char path[4096];
	unsigned char *der, *out = NULL, *tbs = NULL, sig[256];
	const unsigned char *p;
	size_t len, siglen = sizeof(sig);
	EVP_PKEY *newkey = fake_load_key("new.key"), *rakey = fake_load_key("ra.key");
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *m;
	int n;

	snprintf(path, sizeof(path), "%s/ir_ra.der", RA_CORPUS_DIR);
	if (fake_read_file(path, &der, &len) != 0) {
		printf("Bail out! %s\n", path);
		exit(1);
	}
	p = der;
	m = d2i_CMPGW_MSG(NULL, &p, (long)len);
	free(der);
	CMPGW_CERTREQMSG *crm = sk_CMPGW_CERTREQMSG_value(m->body->value.ir, 0);
	X509_NAME *subj = X509_NAME_new();
	X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)"bad name!", -1,
				   -1, 0);
	X509_NAME_free(crm->certReq->certTemplate->subject);
	crm->certReq->certTemplate->subject = subj;
	/* the POP covers the template: sign it again with the new key */
	n = i2d_CMPGW_CERTREQ(crm->certReq, &tbs);
	if (n <= 0 || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, newkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, tbs, (size_t)n) != 1 ||
	    !ASN1_BIT_STRING_set(crm->popo->value.signature->signature, sig, (int)siglen))
		printf("# POP failed\n");
	crm->popo->value.signature->signature->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	crm->popo->value.signature->signature->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if (cmp_prot_sign(m, rakey) != 0 || (n = i2d_CMPGW_MSG(m, &out)) <= 0)
		printf("# signing failed\n");
	if (fake_env_reset(&env, false) != 0)
		printf("Bail out! reset\n");
	fake_env_submit(&env, "3gpp", out, n > 0 ? (size_t)n : 0, &a);
	if (fake_reply_decode(&a, &r) != 0)
		r.body = 0;
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_CERT_TEMPLATE,
	   "identity not a host name: badCertTemplate");
	ok(strstr(r.text, "bad name!") != NULL && strstr(r.text, "dNSName") != NULL,
	   "the statusString names the refused dNSName (%s)", r.text);
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_RA_IR), 1, "admitted before the profile ran");
	is_int(fake_store_calls(env.fs, FAKE_RA_IR_COMMIT), 0, "no commit");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
	OPENSSL_free(out);
	OPENSSL_free(tbs);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(newkey);
	EVP_PKEY_free(rakey);
	CMPGW_MSG_free(m);
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_facts();
	test_by_ca();
	test_sign_refused();
	fake_env_close(&env);
	return tap_done();
}
