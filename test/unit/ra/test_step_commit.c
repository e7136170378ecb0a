/*
 * test/unit/ra/test_step_commit.c - ra/step_commit: the commit of a
 * CA-mode ir/cr after signing, through ra_submit on the in-memory store.
 * What it stores (transaction, nonces, certificate facts, key binding),
 * the refusals of a commit that re-checks an admission a concurrent
 * request overtook (exact bit and text, the commit's audit row, nothing
 * stored), the database fault answers, and a client gone during it.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/evp.h>

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
static const unsigned char tid1[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

static int signatures(void)
{
	return fake_env_signatures(&env);
}

static void reset(void)
{
	fake_env_must_reset(&env);
}

static CMPGW_MSG *seed_msg(const char *name)
{
	return fake_load_msg(RA_CORPUS_DIR, name);
}

static bool bytes_are(const struct fake_bytes *b, const unsigned char *p, size_t len)
{
	return b->p && b->len == len && memcmp(b->p, p, len) == 0;
}

/* The rows of an admitted ir: everything a later certConf, renewal,
 * revocation and CRL read. */
static void test_stored(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *req = seed_msg("ir_dev1.der");
	const struct fake_txn *t;
	const struct fake_cert *c;
	struct ra_issued f = { 0 };
	unsigned char fp[32], *dev_der = NULL;
	int dev_len;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_dev1.der", &a, &r);
	is_int(r.body, CMP_BODY_IP, "stored: ip");
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 1, "stored: one commit");
	is_int(fake_store_calls(env.fs, FAKE_RA_IR_COMMIT), 0, "stored: not the downstream RA's");
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t != NULL, "stored: transaction under the request's transactionID");
	if (!t || !req || r.body != CMP_BODY_IP) {
		printf("Bail out! nothing stored\n");
		exit(1);
	}
	const CMPGW_CERTRESPONSE *cr =
		sk_CMPGW_CERTRESPONSE_value(((CMPGW_MSG *)r.msg)->body->value.ip->response, 0);
	X509 *cert = cr->certifiedKeyPair->certOrEncCert->value.certificate;
	const ASN1_OCTET_STRING *rn = ((CMPGW_MSG *)r.msg)->header->senderNonce;

	ok(strcmp(t->alias, "3gpp") == 0 && strcmp(t->body, "ir") == 0, "stored: alias and body");
	ok(t->device_serial && strcmp(t->device_serial, "FUZZ-0001") == 0, "stored: device serial");
	is_int(t->vendor_id, FAKE_VENDOR_ID, "stored: vendor id");
	is_int(t->cert_req_id, 0, "stored: certReqId 0");
	ok(bytes_are(&t->client_nonce, req->header->senderNonce->data,
		     (size_t)req->header->senderNonce->length),
	   "stored: client nonce = the request's senderNonce");
	is_int(t->server_nonce.len, 16, "stored: a 16-byte server nonce");
	ok(rn && bytes_are(&t->server_nonce, rn->data, (size_t)rn->length),
	   "stored: server nonce = the ip's senderNonce (the certConf's recipNonce)");
	ok(ra_trust_cert_fp(env.dev1, fp) == 0 && bytes_are(&t->sender_fp, fp, 32),
	   "stored: sender = SHA-256 of the vendor certificate");
	dev_len = i2d_X509(env.dev1, &dev_der);
	ok(dev_len > 0 && bytes_are(&t->sender_cert, dev_der, (size_t)dev_len),
	   "stored: the vendor certificate");
	OPENSSL_free(dev_der);
	ok(t->revoke_old == cfg_alias_find(env.cfg, "3gpp")->profile->renewal_revokes_old,
	   "stored: revoke_old from the profile");
	ok(ra_issued_facts(cert, &f) == 0 && bytes_are(&t->cert_hash, f.hash, f.hlen),
	   "stored: certHash of the certificate in the ip");
	c = fake_store_cert_by_id(env.fs, t->cert_id);
	ok(c && bytes_are(&c->der, f.der, f.len), "stored: the certificate in the ip");
	ok(c && strcmp(c->issuer, f.issuer) == 0 && strcmp(c->serial_hex, f.serial_hex) == 0,
	   "stored: issuer and serial as text");
	ok(c && memcmp(c->key_fp, f.key_fp, 32) == 0, "stored: the key fingerprint");
	ok(c && c->status == STORE_OUT_UNCONFIRMED && c->vendor_id == FAKE_VENDOR_ID &&
		   strcmp(c->device_serial, "FUZZ-0001") == 0,
	   "stored: unconfirmed, for the device");
	ok(ra_trust_spki_fp(env.dev1, fp) == 0 &&
		   memcmp(fake_store_serial_find(env.fs, FAKE_VENDOR_ID, "FUZZ-0001")->key_fp, fp,
			  32) == 0,
	   "stored: serial bound to the vendor key");
	ra_issued_clear(&f);
	CMPGW_MSG_free(req);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* The admission said ok, a concurrent request changed the rows before the
 * commit: the commit refuses with the admission's answer, after the CA
 * signed (the cost of the race), and stores nothing but its audit row. */
static void raced(const char *what, int bit, const char *text, const char *event,
		  const char *detail)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	size_t n_txn = fake_store_n_txn(env.fs);

	fake_store_force(env.fs, FAKE_ADMIT_IR, STORE_OUT_OK);
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_dev1.der", &a, &r);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	is_int(signatures(), 1, "%s: the CA signed before the commit refused", what);
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 1, "%s: one commit", what);
	is_int(fake_store_n_txn(env.fs), n_txn, "%s: no transaction stored", what);
	is_int(fake_store_n_cert(env.fs), 1, "%s: no certificate stored", what);
	is_int(fake_store_audit_count(env.fs, event, detail), 1, "%s: audit %s", what, event);
	is_int(fake_store_audit_count(env.fs, "issued", NULL), 0, "%s: nothing issued", what);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_races(void)
{
	reset();
	if (fake_store_add_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", FAKE_SERIAL_BLOCKED) != 0)
		printf("Bail out! serial\n");
	raced("blocked meanwhile", CMP_FAIL_NOT_AUTHORIZED, "device serial is blocked", "rejected",
	      "ir: serial_blocked");

	reset();
	if (fake_store_bind_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", env.dev2) != 0)
		printf("Bail out! bind\n");
	raced("bound to another key meanwhile", CMP_FAIL_NOT_AUTHORIZED,
	      "device serial is bound to another vendor key", "clone_suspected", "ir: clone");

	reset();
	struct fake_txn t = { .tid = { (unsigned char *)tid1, sizeof(tid1) },
			      .alias = "3gpp",
			      .body = "ir",
			      .state = STORE_OUT_ISSUED,
			      .fail_info = -1 };
	if (fake_store_add_txn(env.fs, &t) != 0)
		printf("Bail out! txn\n");
	raced("same transactionID committed meanwhile", CMP_FAIL_TRANSACTION_ID_IN_USE,
	      "transactionID already in use", "rejected", "ir: tid_in_use");
}

static void test_db_faults(void)
{
	static const enum fake_fault faults[] = { FAKE_FAULT_CALL, FAKE_FAULT_CALLBACK };
	static const char *const names[] = { "at the call", "in the callback" };

	for (int i = 0; i < 2; i++) {
		struct fake_answer a = { 0 };
		struct fake_reply r;

		reset();
		fake_store_fault(env.fs, FAKE_IR_COMMIT, faults[i]);
		fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_dev1.der", &a, &r);
		is_int(a.n, 1, "commit fault %s: one answer", names[i]);
		ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SYSTEM_UNAVAIL &&
			   strcmp(r.text, "service temporarily unavailable") == 0,
		   "commit fault %s: systemUnavail \"service temporarily unavailable\"", names[i]);
		is_int(fake_store_n_txn(env.fs), 0, "commit fault %s: nothing stored", names[i]);
		is_int(fake_store_audit_count(env.fs, "issued", NULL), 0,
		       "commit fault %s: nothing issued", names[i]);
		fake_reply_clear(&r);
		fake_answer_clear(&a);
	}
}

/* Gone while the commit is in flight: the statement was sent and stays
 * (an unconfirmed certificate the confirm deadline revokes); the answer
 * is dropped, once. */
static void test_client_gone(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r = { 0 };

	reset();
	fake_env_run_gone(&env, "3gpp", RA_CORPUS_DIR, "ir_dev1.der", FAKE_IR_COMMIT, &a, &r);
	is_int(a.n, 1, "gone during the commit: one delivery");
	is_int(a.what, RA_SINK_DROPPED, "gone during the commit: dropped");
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 1,
	       "gone during the commit: committed once");
	ok(fake_store_txn_find(env.fs, tid1, sizeof(tid1)) &&
		   fake_store_txn_find(env.fs, tid1, sizeof(tid1))->state == STORE_OUT_ISSUED,
	   "gone during the commit: transaction left issued (the sweep's business)");
	is_int(fake_store_pending(env.fs), 0, "gone during the commit: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* cr: the same commit, body "cr", answered cp */
static void test_cr(void)
{
	static const unsigned char tid3[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3 };
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "cr_dev1.der", &a, &r);
	is_int(r.body, CMP_BODY_CP, "cr: cp");
	t = fake_store_txn_find(env.fs, tid3, sizeof(tid3));
	ok(t && strcmp(t->body, "cr") == 0, "cr: stored with body cr");
	is_int(fake_store_audit_count(env.fs, "issued", "cr: serial "), 1, "cr: audit issued");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

int main(void)
{
	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_stored();
	test_races();
	test_db_faults();
	test_client_gone();
	test_cr();
	fake_env_close(&env);
	return tap_done();
}
