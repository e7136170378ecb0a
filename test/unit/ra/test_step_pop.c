/*
 * test/unit/ra/test_step_pop.c - ra/step_pop: proof-of-possession and the
 * profile's key policy for the single CertReqMsg, through ra_submit on
 * the in-memory store with ir_dev1 mutated (new template key and POP made
 * here, message re-signed by the device key). Each refusal's bit and
 * statusString, its audit row, and that it comes before the admission
 * (nothing asked of the store, no CA signature).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>

#include "cmp/prot.h"
#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/step_pop.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

static struct fake_env env;
static EVP_PKEY *dev1_key, *mutate_key;

static void reset(void)
{
	fake_env_must_reset(&env);
}

static CMPGW_MSG *seed_msg(const char *name)
{
	return fake_load_msg(RA_CORPUS_DIR, name);
}

static CMPGW_CERTREQMSG *crm_of(CMPGW_MSG *m)
{
	return sk_CMPGW_CERTREQMSG_value(m->body->value.ir, 0);
}

static void check(const char *what, CMPGW_MSG *m, int bit, const char *text)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	unsigned char *der = NULL;
	int n;

	reset();
	if (cmp_prot_sign(m, dev1_key) != 0)
		printf("# re-signing failed\n");
	n = i2d_CMPGW_MSG(m, &der);
	fake_env_submit(&env, "3gpp", der, n > 0 ? (size_t)n : 0, &a);
	if (fake_reply_decode(&a, &r) != 0)
		r.body = 0;
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_calls_total(env.fs), 0, "%s: refused before the admission", what);
	is_int(fake_env_log_count(&env, "CA signature"), 0, "%s: no CA signature", what);
	is_int(fake_store_audit_count(env.fs, "rejected", text), 1, "%s: audit rejected", what);
	CMPGW_MSG_free(m);
	OPENSSL_free(der);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* Put key's public key in the template and sign the POP with it. */
static void new_key(CMPGW_MSG *m, EVP_PKEY *key)
{
	CMPGW_CERTREQMSG *crm = crm_of(m);
	CMPGW_POPOSIGNINGKEY *sk = crm->popo->value.signature;
	unsigned char *tbs = NULL, sig[1024];
	size_t siglen = sizeof(sig);
	int n, nid = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? NID_sha256WithRSAEncryption
							       : NID_ecdsa_with_SHA256;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	X509_PUBKEY_set(&crm->certReq->certTemplate->publicKey, key);
	n = i2d_CMPGW_CERTREQ(crm->certReq, &tbs);
	if (n <= 0 || !md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, tbs, (size_t)n) != 1)
		printf("# POP signing failed\n");
	X509_ALGOR_set0(sk->algorithmIdentifier, OBJ_nid2obj(nid),
			nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF, NULL);
	ASN1_BIT_STRING_set(sk->signature, sig, (int)siglen);
	sk->signature->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sk->signature->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	EVP_MD_CTX_free(md);
	OPENSSL_free(tbs);
}

static void test_refusals(void)
{
	CMPGW_MSG *m;
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_bad_pop.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_POP &&
		   strcmp(r.text, "proof-of-possession signature does not verify") == 0,
	   "wrong POP signature: badPOP \"proof-of-possession signature does not verify\"");
	is_int(fake_store_calls_total(env.fs), 0,
	       "wrong POP signature: nothing asked of the store");
	is_int(fake_store_audit_count(env.fs, "rejected",
				      "proof-of-possession signature does not verify"),
	       1, "wrong POP signature: audit rejected");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	m = seed_msg("ir_dev1.der");
	CMPGW_POPO_free(crm_of(m)->popo);
	crm_of(m)->popo = NULL;
	check("no POP", m, CMP_FAIL_BAD_POP, "proof-of-possession missing");

	m = seed_msg("ir_dev1.der");
	X509_PUBKEY_free(crm_of(m)->certReq->certTemplate->publicKey);
	crm_of(m)->certReq->certTemplate->publicKey = NULL;
	check("no publicKey", m, CMP_FAIL_BAD_CERT_TEMPLATE, "certTemplate carries no publicKey");

	m = seed_msg("ir_dev1.der");
	CMPGW_POPO_free(crm_of(m)->popo);
	crm_of(m)->popo = CMPGW_POPO_new();
	crm_of(m)->popo->type = CMPGW_POPO_RAVERIFIED;
	crm_of(m)->popo->value.raVerified = ASN1_NULL_new();
	check("raVerified from a device", m, CMP_FAIL_BAD_POP,
	      "raVerified proof-of-possession is not accepted from an end entity");

	mutate_key = EVP_EC_gen("P-521");
	m = seed_msg("ir_dev1.der");
	new_key(m, mutate_key);
	check("P-521 key (profile: P-256, P-384, RSA, Ed25519)", m, CMP_FAIL_BAD_ALG,
	      "EC curve not allowed by the profile");
	EVP_PKEY_free(mutate_key);

	mutate_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	m = seed_msg("ir_dev1.der");
	new_key(m, mutate_key);
	check("RSA-1024 key (profile: 2048 at least)", m, CMP_FAIL_BAD_ALG,
	      "RSA key too short for the profile");
	EVP_PKEY_free(mutate_key);
}

/* A POP made here for an accepted key passes (the mutation is sound). */
static void test_new_key_accepted(void)
{
	CMPGW_MSG *m = seed_msg("ir_dev1.der");
	struct fake_answer a = { 0 };
	struct fake_reply r;
	unsigned char *der = NULL;
	int n;

	reset();
	mutate_key = EVP_EC_gen("P-384");
	new_key(m, mutate_key);
	if (cmp_prot_sign(m, dev1_key) != 0)
		printf("# re-signing failed\n");
	n = i2d_CMPGW_MSG(m, &der);
	fake_env_submit(&env, "3gpp", der, n > 0 ? (size_t)n : 0, &a);
	ok(fake_reply_decode(&a, &r) == 0 && r.body == CMP_BODY_IP && r.has_cert,
	   "P-384 key with its POP: ip");
	EVP_PKEY_free(mutate_key);
	CMPGW_MSG_free(m);
	OPENSSL_free(der);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* ra_step_pop_check alone: the template key comes back. */
static void test_direct(void)
{
	CMPGW_MSG *m = seed_msg("ir_dev1.der");
	struct ra_req *req = ra_req_new(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"));
	EVP_PKEY *pub = NULL;
	const char *why = NULL;

	is_int(ra_step_pop_check(req, crm_of(m), &pub, &why), -1, "check: a good POP passes");
	ok(pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC, "check: the template's EC key");
	EVP_PKEY_free(pub);
	ra_req_free(req);
	CMPGW_MSG_free(m);
}

int main(void)
{
	char path[4096];
	FILE *f;

	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0) {
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
	test_new_key_accepted();
	test_direct();
	EVP_PKEY_free(dev1_key);
	fake_env_close(&env);
	return tap_done();
}
