/*
 * test/unit/ra/test_step_protect.c - ra/step_protect: the signature
 * protection of a request by the first extraCerts certificate, through
 * ra_submit on the in-memory store, with ir_dev1 mutated and re-signed by
 * the device key. Each refusal's bit and statusString, that nothing is
 * asked of the store, and that only a token attempt on an alias without
 * tokens is audited; ra_step_protect_check sets req->signer.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "cmp/prot.h"
#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/step_protect.h"
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

static CMPGW_MSG *seed_msg(const char *name, unsigned char **der, size_t *len)
{
	char path[4096];
	const unsigned char *p;
	CMPGW_MSG *m;

	snprintf(path, sizeof(path), "%s/%s", RA_CORPUS_DIR, name);
	if (fake_read_file(path, der, len) != 0) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	p = *der;
	m = d2i_CMPGW_MSG(NULL, &p, (long)*len);
	return m;
}

static void refused(const char *what, const char *label, void (*mutate)(CMPGW_MSG *m), bool sign,
		    int bit, const char *text, const char *audit_event)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	unsigned char *der = NULL, *orig;
	size_t len;
	CMPGW_MSG *m = seed_msg("ir_dev1.der", &orig, &len);
	int n;

	reset();
	mutate(m);
	if (sign && cmp_prot_sign(m, dev1_key) != 0)
		printf("# re-signing failed\n");
	n = i2d_CMPGW_MSG(m, &der);
	fake_env_submit(&env, label, der, n > 0 ? (size_t)n : 0, &a);
	if (fake_reply_decode(&a, &r) != 0)
		r.body = 0;
	is_int(a.n, 1, "%s: one answer", what);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_calls_total(env.fs), 0, "%s: nothing asked of the store", what);
	if (audit_event)
		is_int(fake_store_audit_count(env.fs, audit_event, text), 1, "%s: audit %s", what,
		       audit_event);
	else
		is_int(fake_store_n_audit(env.fs), 0, "%s: no audit row", what);
	CMPGW_MSG_free(m);
	OPENSSL_free(der);
	free(orig);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void m_flip(CMPGW_MSG *m)
{
	m->protection->data[m->protection->length / 2] ^= 0x10;
}
static void m_kid(CMPGW_MSG *m)
{
	ASN1_OCTET_STRING_free(m->header->senderKID);
	m->header->senderKID = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(m->header->senderKID, (const unsigned char *)"01234567890123456789",
			      20);
}
static void m_no_extracerts(CMPGW_MSG *m)
{
	sk_X509_pop_free(m->extraCerts, X509_free);
	m->extraCerts = NULL;
}
static void m_sender(CMPGW_MSG *m)
{
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"someone else", -1,
				   -1, 0);
	GENERAL_NAME_free(m->header->sender);
	m->header->sender = GENERAL_NAME_new();
	m->header->sender->type = GEN_DIRNAME;
	m->header->sender->d.directoryName = n;
}
static void m_alg(CMPGW_MSG *m)
{
	/* md5WithRSAEncryption: not an algorithm we accept */
	X509_ALGOR_set0(m->header->protectionAlg, OBJ_nid2obj(NID_md5WithRSAEncryption),
			V_ASN1_NULL, NULL);
}

static void test_refusals(void)
{
	refused("protection altered", "3gpp", m_flip, false, CMP_FAIL_BAD_MESSAGE_CHECK,
		"protection signature does not verify", NULL);
	refused("senderKID of another key", "3gpp", m_kid, true, CMP_FAIL_BAD_MESSAGE_CHECK,
		"senderKID does not match the first extraCerts certificate", NULL);
	refused("no extraCerts", "3gpp", m_no_extracerts, true, CMP_FAIL_BAD_MESSAGE_CHECK,
		"protecting certificate missing: it must be the first of extraCerts", NULL);
	refused("sender is not the signer", "3gpp", m_sender, true, CMP_FAIL_BAD_MESSAGE_CHECK,
		"sender does not match the subject of the protecting certificate", NULL);
	refused("unsupported protectionAlg", "3gpp", m_alg, false, CMP_FAIL_BAD_ALG,
		"protection algorithm not supported", NULL);
}

/* A PBMAC ir where the alias takes no tokens: wrongIntegrity, audited
 * (bounded) as token_rejected. */
static void test_pbmac_without_tokens(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset();
	fake_env_run(&env, "strict", RA_CORPUS_DIR, "ir_pbm.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_WRONG_INTEGRITY &&
		   strcmp(r.text,
			  "this alias requires signature protection with the vendor certificate") ==
			   0,
	   "PBMAC ir on an alias without tokens: wrongIntegrity");
	is_int(fake_store_audit_count(env.fs, "token_rejected", NULL), 1,
	       "PBMAC ir on an alias without tokens: audited token_rejected");
	is_int(fake_store_calls_total(env.fs), 0, "PBMAC ir without tokens: no store call");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* The check alone: the signer is the first extraCerts certificate. */
static void test_check_direct(void)
{
	unsigned char *der;
	size_t len;
	struct ra_req *req = ra_req_new(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"));
	const char *why = NULL;

	req->msg = seed_msg("ir_dev1.der", &der, &len);
	req->der = der;
	req->len = len;
	is_int(ra_step_protect_check(req, &why), -1, "check: a good signature passes");
	ok(req->signer && X509_cmp(req->signer, env.dev1) == 0, "check: signer = dev-1.pem");
	is_int(ra_step_protect(req), RA_STEP_NEXT, "step: RA_STEP_NEXT");
	is_int(req->verdict.bit, -1, "step: no verdict recorded");
	ra_req_free(req);
	free(der);
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
	test_refusals();
	test_pbmac_without_tokens();
	test_check_direct();
	EVP_PKEY_free(dev1_key);
	fake_env_close(&env);
	return tap_done();
}
