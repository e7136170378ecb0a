/*
 * test/unit/ra/test_answer.c - ra/answer: what the one answer builder
 * puts in an ip/cp and an error, and how it protects them. Through
 * ra_submit on the in-memory store: status accepted or grantedWithMods
 * with its statusString, the certificate for the key asked, caPubs,
 * certReqId, implicitConfirm only when granted (and the sink's continues
 * flag), an error with exactly one failInfo bit and one statusString,
 * a PBMAC-protected answer to a token request, and RA_SINK_FAILED when
 * no response could be built.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "cmp/prot.h"
#include "core/log.h"
#include "ra/answer.h"
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
static X509 *op_root, *ca;

static void reset(void)
{
	fake_env_must_reset(&env);
}

static CMPGW_MSG *seed_msg(const char *name)
{
	return fake_load_msg(RA_CORPUS_DIR, name);
}

static X509 *cert_of(const struct fake_reply *r)
{
	const CMPGW_CERTRESPONSE *cr =
		sk_CMPGW_CERTRESPONSE_value(((CMPGW_MSG *)r->msg)->body->value.ip->response, 0);
	return cr->certifiedKeyPair->certOrEncCert->value.certificate;
}

/* ip for a request: the certificate for the key asked, caPubs, certReqId */
static void certrep(const char *label, const char *name, int body, bool implicit)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *req = seed_msg(name);
	const CMPGW_CERTREQMSG *crm = sk_CMPGW_CERTREQMSG_value(req->body->value.ir, 0);
	const X509_NAME *asked = crm->certReq->certTemplate->subject;
	EVP_PKEY *pub = X509_PUBKEY_get(crm->certReq->certTemplate->publicKey);
	bool modified = asked && X509_NAME_entry_count(asked) > 0;
	X509 *cert;

	reset();
	fake_env_run(&env, label, RA_CORPUS_DIR, name, &a, &r);
	is_int(r.body, body, "%s: body", name);
	if (r.body != body) {
		fake_answer_clear(&a);
		CMPGW_MSG_free(req);
		EVP_PKEY_free(pub);
		return;
	}
	cert = cert_of(&r);
	ok(r.has_cert && cert, "%s: a certificate", name);
	/* the profile's subject (RFC 4514 "CN=${serial},O=${vendor},OU=Devices":
	 * OU first in DER); the device's suggestion is replaced */
	if (modified) {
		is_int(r.status, CMP_STATUS_GRANTED_WITH_MODS, "%s: grantedWithMods", name);
		ok(strcmp(r.text, "subject set by the operator profile") == 0,
		   "%s: \"subject set by the operator profile\"", name);
	} else {
		is_int(r.status, CMP_STATUS_ACCEPTED, "%s: accepted", name);
		ok(r.text[0] == '\0', "%s: no statusString", name);
	}
	is_int(r.bit, -1, "%s: no failInfo", name);
	ok(EVP_PKEY_eq(X509_get0_pubkey(cert), pub) == 1, "%s: for the key asked", name);
	ok(X509_check_issued(ca, cert) == X509_V_OK, "%s: issued by the issuing CA", name);
	char subj[256];
	X509_NAME_oneline(X509_get_subject_name(cert), subj, sizeof(subj));
	ok(strcmp(subj, "/OU=Devices/O=fuzzvendor/CN=FUZZ-0001") == 0,
	   "%s: subject from the profile (%s)", name, subj);
	is_int(r.n_capubs, 1, "%s: caPubs holds one certificate", name);
	ok(r.n_capubs == 1 &&
		   X509_cmp(sk_X509_value(((CMPGW_MSG *)r.msg)->body->value.ip->caPubs, 0),
			    op_root) == 0,
	   "%s: caPubs = the operator root", name);
	is_int(ASN1_INTEGER_get(sk_CMPGW_CERTRESPONSE_value(
					((CMPGW_MSG *)r.msg)->body->value.ip->response, 0)
					->certReqId),
	       0, "%s: certReqId 0", name);
	is_int(r.implicit, implicit, "%s: implicitConfirm %s", name,
	       implicit ? "granted" : "not granted");
	is_int(a.continues, !implicit, "%s: continues %s", name,
	       implicit ? "no (implicitConfirm)" : "yes (certConf)");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
	CMPGW_MSG_free(req);
	EVP_PKEY_free(pub);
}

static void test_certrep(void)
{
	certrep("3gpp", "ir_dev1.der", CMP_BODY_IP, false);
	certrep("3gpp", "ir_openssl.der", CMP_BODY_IP, false);
	certrep("3gpp", "ir_dev1_implicit.der", CMP_BODY_IP, true);
	certrep("strict", "ir_dev1_implicit.der", CMP_BODY_IP, false);
	certrep("3gpp", "cr_dev1.der", CMP_BODY_CP, false);
}

/* An error: status rejection, one failInfo bit, one statusString. */
static void test_error(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	int bits = 0;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_dev2.der", &a, &r);
	const CMPGW_STATUSINFO *si = ((CMPGW_MSG *)r.msg)->body->value.error->pKIStatusInfo;
	for (int b = 0; b <= CMP_FAIL_MAX + 5; b++)
		bits += si->failInfo && ASN1_BIT_STRING_get_bit(si->failInfo, b);
	is_int(r.status, CMP_STATUS_REJECTION, "error: status rejection");
	is_int(bits, 1, "error: exactly one failInfo bit");
	is_int(sk_ASN1_UTF8STRING_num(si->statusString), 1, "error: one statusString");
	ok(!a.continues, "error: the transaction ends");
	ok(cmp_prot_verify_sig(a.der, a.len, r.msg, env.cmp) == 0,
	   "error: signed by the CMP signer");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* RFC 9483 4.1.5: a request MAC-protected with a token gets a MAC-protected
 * answer under the same reference. */
static void test_pbmac(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *m;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm.der", &a, &r);
	m = r.msg;
	is_int(r.body, CMP_BODY_IP, "token ir: ip");
	ok(m && cmp_prot_is_pbmac(m), "token ir: the answer is PBMAC-protected");
	ok(m && cmp_prot_verify_pbmac(a.der, a.len, m, (const unsigned char *)FAKE_TOKEN_SECRET,
				      strlen(FAKE_TOKEN_SECRET), 100000) == 0,
	   "token ir: the MAC verifies with the token secret");
	ok(m && m->header->senderKID && m->header->senderKID->length == 32 &&
		   memcmp(m->header->senderKID->data, FAKE_TOKEN_REF, 32) == 0,
	   "token ir: senderKID = the token reference");
	ok(m && m->extraCerts && sk_X509_num(m->extraCerts) >= 1 &&
		   X509_cmp(sk_X509_value(m->extraCerts, 0), env.cmp) == 0,
	   "token ir: the gateway's chain in extraCerts");
	ok(fake_store_token_find(env.fs, FAKE_TOKEN_REF)->state == FAKE_TOKEN_USED,
	   "token ir: the token is spent");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* No response built: the sink hears RA_SINK_FAILED (HTTP 500), once. */
static void test_failed(void)
{
	struct fake_answer a = { 0 };
	struct ra_req *req = ra_req_new(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"));

	req->sink = &fake_sink;
	req->sink_arg = &a;
	ra_answer_send(req, NULL);
	is_int(a.n, 1, "no response: one delivery");
	is_int(a.what, RA_SINK_FAILED, "no response: RA_SINK_FAILED");
	ok(a.der == NULL && !a.continues, "no response: no bytes");
	fake_answer_clear(&a);
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	op_root = fake_load_cert("op-root.pem");
	ca = fake_load_cert("ca.pem");
	test_certrep();
	test_error();
	test_pbmac();
	test_failed();
	X509_free(op_root);
	X509_free(ca);
	fake_env_close(&env);
	return tap_done();
}
