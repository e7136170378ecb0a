/*
 * test/unit/ra/test_pipeline.c - ra/pipeline: ra_submit and ra_resume on
 * the in-memory store. A body that is not a PKIMessage (HTTP 400, nothing
 * signed, no store call; badDataFormat for an inner message), each
 * PKIHeader rule with its exact bit and text, a body type without a flow,
 * what every answer echoes (transactionID, recipNonce) and how it is
 * protected, and the contract over the whole seed corpus: exactly one
 * delivery, no store callback left.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/pem.h>

#include "cmp/prot.h"
#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

static struct fake_env env;
static EVP_PKEY *dev1_key;

static void reset(void)
{
	fake_env_must_reset(&env);
}

static CMPGW_MSG *seed_msg(const char *name)
{
	return fake_load_msg(RA_CORPUS_DIR, name);
}

/* Submit m (re-signed with the device key when sign) and decode. */
static void submit_msg(CMPGW_MSG *m, bool sign, struct fake_answer *a, struct fake_reply *r)
{
	unsigned char *der = NULL;
	int len;

	if (sign && cmp_prot_sign(m, dev1_key) != 0)
		printf("# re-signing failed\n");
	len = i2d_CMPGW_MSG(m, &der);
	fake_env_submit(&env, "3gpp", der, len > 0 ? (size_t)len : 0, a);
	if (fake_reply_decode(a, r) != 0)
		r->body = 0;
	OPENSSL_free(der);
}

static void test_not_cmp(void)
{
	static const char *const seeds[] = { "broken_empty.der", "broken_garbage.der",
					     "broken_truncated.der" };

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct fake_answer a = { 0 };
		struct fake_reply r;

		reset();
		fake_env_run(&env, "3gpp", RA_CORPUS_DIR, seeds[i], &a, &r);
		is_int(a.n, 1, "%s: one delivery", seeds[i]);
		is_int(a.what, RA_SINK_NOT_CMP, "%s: not CMP (HTTP 400)", seeds[i]);
		ok(a.der == NULL, "%s: nothing signed", seeds[i]);
		is_int(fake_store_calls_total(env.fs), 0, "%s: no store call", seeds[i]);
		is_int(fake_store_n_audit(env.fs), 0, "%s: no audit row", seeds[i]);
		fake_reply_clear(&r);
		fake_answer_clear(&a);
	}
}

/* An inner message of a nested request (RFC 9483 5.2.2.1): the RA that
 * nested it is authenticated, so junk gets a CMP error. */
static void test_inner_not_cmp(void)
{
	struct ra_sink s = fake_sink;
	struct fake_answer a = { 0 };
	struct fake_reply r;
	static const unsigned char junk[] = { 0x30, 0x03, 0x02, 0x01, 0x00 };

	s.inner = true;
	reset();
	ra_submit(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"), junk, sizeof(junk), FAKE_PEER,
		  &s, &a);
	event_base_dispatch(env.base);
	is_int(a.n, 1, "inner junk: one delivery");
	ok(fake_reply_decode(&a, &r) == 0 && r.body == CMP_BODY_ERROR &&
		   r.bit == CMP_FAIL_BAD_DATA_FORMAT &&
		   strcmp(r.text, "request is not a DER PKIMessage") == 0,
	   "inner junk: badDataFormat \"request is not a DER PKIMessage\"");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void set_octets(ASN1_OCTET_STRING **s, size_t len)
{
	unsigned char buf[80];

	memset(buf, 0x5a, sizeof(buf));
	ASN1_OCTET_STRING_free(*s);
	*s = NULL;
	if (len && (*s = ASN1_OCTET_STRING_new()))
		ASN1_OCTET_STRING_set(*s, buf, (int)len);
}

/* One header rule broken on ir_dev1 (re-signed): its verdict, and no
 * store call (checked before anything else). */
static void header_case(const char *what, void (*mutate)(CMPGW_MSG *m), bool sign, int bit,
			const char *text)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *m = seed_msg("ir_dev1.der");

	reset();
	mutate(m);
	submit_msg(m, sign, &a, &r);
	is_int(a.n, 1, "%s: one answer", what);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_calls_total(env.fs), 0, "%s: no store call", what);
	CMPGW_MSG_free(m);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void m_pvno1(CMPGW_MSG *m)
{
	ASN1_INTEGER_set(m->header->pvno, 1);
}
static void m_pvno4(CMPGW_MSG *m)
{
	ASN1_INTEGER_set(m->header->pvno, 4);
}
static void m_no_tid(CMPGW_MSG *m)
{
	set_octets(&m->header->transactionID, 0);
}
static void m_long_tid(CMPGW_MSG *m)
{
	set_octets(&m->header->transactionID, 65);
}
static void m_no_nonce(CMPGW_MSG *m)
{
	set_octets(&m->header->senderNonce, 0);
}
static void m_long_nonce(CMPGW_MSG *m)
{
	set_octets(&m->header->senderNonce, 65);
}
static void m_long_recip(CMPGW_MSG *m)
{
	set_octets(&m->header->recipNonce, 65);
}
static void m_unprotected(CMPGW_MSG *m)
{
	ASN1_BIT_STRING_free(m->protection);
	m->protection = NULL;
}
static void m_many_certs(CMPGW_MSG *m)
{
	for (int i = 0; i < 11; i++)
		if (!X509_up_ref(env.vendor_ca) || !sk_X509_push(m->extraCerts, env.vendor_ca))
			printf("# push failed\n");
}

static void test_header(void)
{
	header_case("pvno 1", m_pvno1, true, CMP_FAIL_UNSUPPORTED_VERSION,
		    "pvno must be 2 (cmp2000) or 3 (cmp2021)");
	header_case("pvno 4", m_pvno4, true, CMP_FAIL_UNSUPPORTED_VERSION,
		    "pvno must be 2 (cmp2000) or 3 (cmp2021)");
	header_case("no transactionID", m_no_tid, true, CMP_FAIL_BAD_REQUEST,
		    "transactionID missing or longer than 64 octets");
	header_case("65-octet transactionID", m_long_tid, true, CMP_FAIL_BAD_REQUEST,
		    "transactionID missing or longer than 64 octets");
	header_case("no senderNonce", m_no_nonce, true, CMP_FAIL_BAD_SENDER_NONCE,
		    "senderNonce missing or longer than 64 octets");
	header_case("65-octet senderNonce", m_long_nonce, true, CMP_FAIL_BAD_SENDER_NONCE,
		    "senderNonce missing or longer than 64 octets");
	header_case("65-octet recipNonce", m_long_recip, true, CMP_FAIL_BAD_RECIPIENT_NONCE,
		    "recipNonce longer than 64 octets");
	header_case("no protection", m_unprotected, false, CMP_FAIL_BAD_MESSAGE_CHECK,
		    "message is not protected");
	header_case("13 extraCerts (limits.max_extra_certs 10)", m_many_certs, true,
		    CMP_FAIL_BAD_REQUEST, "too many certificates in extraCerts");
}

static void test_no_flow(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "pollreq_openssl.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_REQUEST &&
		   strcmp(r.text, "body type pollReq not supported by this alias") == 0,
	   "pollReq on a CA alias: badRequest \"body type pollReq not supported by this alias\"");
	is_int(fake_store_calls_total(env.fs), 0, "pollReq on a CA alias: no store call");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* Every answer: the request's transactionID, its senderNonce as
 * recipNonce, signed by the CMP signer whose chain is in extraCerts. */
static void echoes(const char *name)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *req = seed_msg(name), *rsp;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, name, &a, &r);
	rsp = r.msg;
	ok(rsp != NULL, "%s: answered", name);
	if (!rsp || !req) {
		CMPGW_MSG_free(req);
		fake_answer_clear(&a);
		return;
	}
	ok(ASN1_OCTET_STRING_cmp(rsp->header->transactionID, req->header->transactionID) == 0,
	   "%s: same transactionID", name);
	ok(rsp->header->recipNonce &&
		   ASN1_OCTET_STRING_cmp(rsp->header->recipNonce, req->header->senderNonce) == 0,
	   "%s: recipNonce = the request's senderNonce", name);
	ok(rsp->header->senderNonce && rsp->header->senderNonce->length >= 16,
	   "%s: a senderNonce of 128 bits or more", name);
	ok(rsp->extraCerts && sk_X509_num(rsp->extraCerts) >= 1 &&
		   X509_cmp(sk_X509_value(rsp->extraCerts, 0), env.cmp) == 0,
	   "%s: the CMP signer first in extraCerts", name);
	ok(cmp_prot_verify_sig(a.der, a.len, rsp, env.cmp) == 0, "%s: signature verifies", name);
	CMPGW_MSG_free(req);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_echoes(void)
{
	echoes("ir_dev1.der");	/* an ip */
	echoes("ir_dev3.der");	/* an error after the admission */
	echoes("ir_pvno1.der"); /* an error before any step */
	echoes("genm_openssl.der");
}

/* The contract over every seed: one delivery, whatever the body, and no
 * store callback queued once the loop has run. */
static void test_corpus(void)
{
	DIR *d = opendir(RA_CORPUS_DIR);
	struct dirent *e;
	int n = 0, bad = 0;

	while (d && (e = readdir(d))) {
		struct fake_answer a = { 0 };
		struct fake_reply r;

		if (e->d_name[0] == '.')
			continue;
		if (fake_env_reset(&env, true) != 0)
			break;
		fake_env_run(&env, "3gpp", RA_CORPUS_DIR, e->d_name, &a, &r);
		n++;
		if (a.n != 1 || fake_store_pending(env.fs) != 0 ||
		    (a.what != RA_SINK_ANSWER && a.what != RA_SINK_NOT_CMP) ||
		    (a.what == RA_SINK_ANSWER && r.body == 0)) {
			printf("# %s: %u deliveries, what %d, %zu callbacks left\n", e->d_name, a.n,
			       a.what, fake_store_pending(env.fs));
			bad++;
		}
		fake_reply_clear(&r);
		fake_answer_clear(&a);
	}
	if (d)
		closedir(d);
	ok(n >= 30, "corpus: %d seeds", n);
	is_int(bad, 0, "corpus: one answer each, no callback left");
}

int main(void)
{
	char path[4096];
	FILE *f;

	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/dev-1.key", RA_DATA_DIR);
	if (!(f = fopen(path, "r")) || !(dev1_key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		printf("Bail out! %s\n", path);
		return 1;
	}
	fclose(f);
	test_not_cmp();
	test_inner_not_cmp();
	test_header();
	test_no_flow();
	test_echoes();
	test_corpus();
	EVP_PKEY_free(dev1_key);
	fake_env_close(&env);
	return tap_done();
}
