/*
 * test/unit/ra/test_certconf.c - ra/certconf (certConf, a whole handler
 * of the pipeline): an ir on the in-memory store, then the device's
 * certConf built here from the ip and signed by its vendor key. Accept
 * and reject with the rows they change, the idempotent repeat, each
 * refusal's bit and statusString (store verdicts and the handler's own
 * checks), the transaction revoked by the confirm-deadline sweep, the
 * database fault answers and a client gone during the statement.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/pem.h>

#include "cmp/build.h"
#include "cmp/prot.h"
#include "core/log.h"
#include "ra/issued.h"
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
static EVP_PKEY *dev1_key, *dev2_key;
static const unsigned char tid1[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

/* What the ip gave the device. */
struct issued {
	unsigned char nonce[64];
	int nonce_len;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned hlen;
};

static CMPGW_MSG *seed_msg(const char *name)
{
	return fake_load_msg(RA_CORPUS_DIR, name);
}

/* A fresh store, ir_dev1 enrolled (ip, awaiting certConf): *is gets the
 * ip's senderNonce and the certificate's hash. */
static void enroll(struct issued *is)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	struct ra_issued f;

	memset(is, 0, sizeof(*is));
	fake_env_must_reset(&env);
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_dev1.der", &a, &r);
	if (r.body != CMP_BODY_IP) {
		printf("Bail out! no ip\n");
		exit(1);
	}
	CMPGW_MSG *ip = r.msg;
	const CMPGW_CERTRESPONSE *cr = sk_CMPGW_CERTRESPONSE_value(ip->body->value.ip->response, 0);
	is->nonce_len = ip->header->senderNonce->length;
	memcpy(is->nonce, ip->header->senderNonce->data, (size_t)is->nonce_len);
	if (ra_issued_facts(cr->certifiedKeyPair->certOrEncCert->value.certificate, &f) != 0) {
		printf("Bail out! facts\n");
		exit(1);
	}
	memcpy(is->hash, f.hash, f.hlen);
	is->hlen = f.hlen;
	ra_issued_clear(&f);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

enum variant { CC_ACCEPT, CC_REJECT, CC_BAD_NONCE, CC_BAD_HASH, CC_BAD_CRID, CC_TWO, CC_DEV2 };

/* The certConf a device sends after is (header of ir_dev1 with a new
 * senderNonce and recipNonce), in variant v; DER in *der. */
static size_t certconf(const struct issued *is, enum variant v, unsigned char **der)
{
	static const unsigned char my_nonce[16] = {
		0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77,
		0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77, 0x77
	};
	CMPGW_MSG *m = seed_msg(v == CC_DEV2 ? "ir_dev2.der" : "ir_dev1.der");
	CMPGW_CERTSTATUS *cs = CMPGW_CERTSTATUS_new();
	unsigned char nonce[64];
	int n;

	memcpy(nonce, is->nonce, (size_t)is->nonce_len);
	if (v == CC_BAD_NONCE)
		nonce[0] ^= 1;
	if (v == CC_DEV2) /* dev-2's request, with dev-1's transactionID */
		ASN1_OCTET_STRING_set(m->header->transactionID, tid1, sizeof(tid1));
	ASN1_OCTET_STRING_set(m->header->senderNonce, my_nonce, sizeof(my_nonce));
	m->header->recipNonce = ASN1_OCTET_STRING_new();
	ASN1_OCTET_STRING_set(m->header->recipNonce, nonce, is->nonce_len);
	sk_CMPGW_ITAV_pop_free(m->header->generalInfo, CMPGW_ITAV_free);
	m->header->generalInfo = NULL;
	CMPGW_BODY_free(m->body);
	m->body = CMPGW_BODY_new();
	m->body->type = CMP_BODY_CERTCONF;
	m->body->value.certConf = sk_CMPGW_CERTSTATUS_new_null();
	ASN1_OCTET_STRING_set(cs->certHash, is->hash, (int)is->hlen);
	if (v == CC_BAD_HASH)
		cs->certHash->data[0] ^= 1;
	ASN1_INTEGER_set(cs->certReqId, v == CC_BAD_CRID ? 1 : 0);
	if (v == CC_REJECT)
		cs->statusInfo = cmp_build_statusinfo(
			CMP_STATUS_REJECTION, CMP_FAIL_BAD_CERT_TEMPLATE, "not the name we wanted");
	sk_CMPGW_CERTSTATUS_push(m->body->value.certConf, cs);
	if (v == CC_TWO)
		sk_CMPGW_CERTSTATUS_push(m->body->value.certConf,
					 ASN1_item_dup(ASN1_ITEM_rptr(CMPGW_CERTSTATUS), cs));
	if (cmp_prot_sign(m, v == CC_DEV2 ? dev2_key : dev1_key) != 0)
		printf("# signing failed\n");
	*der = NULL;
	n = i2d_CMPGW_MSG(m, der);
	CMPGW_MSG_free(m);
	return n > 0 ? (size_t)n : 0;
}

static void send_cc(const struct issued *is, enum variant v, struct fake_answer *a,
		    struct fake_reply *r)
{
	unsigned char *der;
	size_t len = certconf(is, v, &der);

	fake_env_submit(&env, "3gpp", der, len, a);
	if (fake_reply_decode(a, r) != 0)
		r->body = 0;
	OPENSSL_free(der);
}

static const struct fake_cert *issued_cert(void)
{
	const struct fake_txn *t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	return t ? fake_store_cert_by_id(env.fs, t->cert_id) : NULL;
}

static enum store_outcome txn_state(void)
{
	const struct fake_txn *t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	return t ? t->state : STORE_OUT_OTHER;
}

static void test_accept(void)
{
	struct issued is;
	struct fake_answer a = { 0 };
	struct fake_reply r;

	enroll(&is);
	send_cc(&is, CC_ACCEPT, &a, &r);
	is_int(r.body, CMP_BODY_PKICONF, "accept: pkiConf");
	ok(!a.continues, "accept: the transaction ends");
	is_int(fake_store_calls(env.fs, FAKE_CERTCONF), 1, "accept: one certConf statement");
	is_int(txn_state(), STORE_OUT_CONFIRMED, "accept: transaction confirmed");
	ok(issued_cert() && issued_cert()->status == STORE_OUT_ACTIVE,
	   "accept: certificate active");
	ok(fake_store_serial_find(env.fs, FAKE_VENDOR_ID, "FUZZ-0001")->state ==
		   FAKE_SERIAL_ENROLLED,
	   "accept: serial enrolled");
	is_int(fake_store_audit_count(env.fs, "confirmed", "accepted by client"), 1,
	       "accept: audit confirmed");
	ok(fake_store_cert_by_id(env.fs, env.op_dev_id)->status == STORE_OUT_REVOKED &&
		   fake_store_cert_by_id(env.fs, env.op_dev_id)->reason == 4,
	   "accept: the device's previous certificate revoked, superseded (renewal_revokes_old)");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	/* RFC 4210 5.3.18 / DESIGN.md: a repeated certConf gets the same pkiConf */
	send_cc(&is, CC_ACCEPT, &a, &r);
	is_int(r.body, CMP_BODY_PKICONF, "repeated certConf: the same pkiConf");
	is_int(txn_state(), STORE_OUT_CONFIRMED, "repeated certConf: still confirmed");
	is_int(fake_store_audit_count(env.fs, "confirmed", NULL), 1,
	       "repeated certConf: no second audit row");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_reject(void)
{
	struct issued is;
	struct fake_answer a = { 0 };
	struct fake_reply r;

	enroll(&is);
	send_cc(&is, CC_REJECT, &a, &r);
	is_int(r.body, CMP_BODY_PKICONF, "reject: pkiConf");
	is_int(txn_state(), STORE_OUT_REJECTED, "reject: transaction rejected");
	ok(issued_cert() && issued_cert()->status == STORE_OUT_REVOKED &&
		   issued_cert()->reason == 0,
	   "reject: certificate revoked, reason unspecified");
	is_int(fake_store_audit_count(env.fs, "rejected_by_client", NULL), 1,
	       "reject: audit rejected_by_client");
	ok(fake_store_cert_by_id(env.fs, env.op_dev_id)->status == STORE_OUT_ACTIVE,
	   "reject: the previous certificate stays active");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void refused(const char *what, enum variant v, int bit, const char *text)
{
	struct issued is;
	struct fake_answer a = { 0 };
	struct fake_reply r;

	enroll(&is);
	send_cc(&is, v, &a, &r);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(txn_state(), STORE_OUT_ISSUED, "%s: transaction still issued", what);
	ok(issued_cert() && issued_cert()->status == STORE_OUT_UNCONFIRMED,
	   "%s: certificate still unconfirmed", what);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_refusals(void)
{
	refused("wrong recipNonce", CC_BAD_NONCE, CMP_FAIL_BAD_RECIPIENT_NONCE,
		"recipNonce does not match the senderNonce of the response");
	refused("wrong certHash", CC_BAD_HASH, CMP_FAIL_BAD_CERT_ID,
		"certHash does not match the issued certificate");
	refused("wrong certReqId", CC_BAD_CRID, CMP_FAIL_BAD_CERT_ID,
		"certReqId does not match the request");
	refused("two CertStatus", CC_TWO, CMP_FAIL_BAD_REQUEST,
		"certConf must carry exactly one CertStatus");
	refused("signed by another device", CC_DEV2, CMP_FAIL_NOT_AUTHORIZED,
		"certConf not protected by the sender of the request");
}

static void test_unknown(void)
{
	struct issued is;
	struct fake_answer a = { 0 };
	struct fake_reply r;
	unsigned char *der;
	size_t len;

	enroll(&is);
	len = certconf(&is, CC_ACCEPT, &der);
	if (fake_env_reset(&env, false) != 0) /* the transaction is gone */
		printf("Bail out! reset\n");
	fake_env_submit(&env, "3gpp", der, len, &a);
	ok(fake_reply_decode(&a, &r) == 0 && r.body == CMP_BODY_ERROR &&
		   r.bit == CMP_FAIL_BAD_REQUEST && strcmp(r.text, "unknown transactionID") == 0,
	   "unknown transaction: badRequest \"unknown transactionID\"");
	OPENSSL_free(der);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void on_count(void *arg, int rc, long n)
{
	*(long *)arg = rc == 0 ? n : -1;
}

/* Past the confirm deadline the sweep revoked it: the late certConf is
 * told so. */
static void test_deadline(void)
{
	struct issued is;
	struct fake_answer a = { 0 };
	struct fake_reply r;
	long n = -2;

	enroll(&is);
	((struct fake_txn *)fake_store_txn_find(env.fs, tid1, sizeof(tid1)))->deadline_passed =
		true;
	if (fake_store_ops.sweep(env.fs, on_count, &n) != 0)
		printf("# sweep not queued\n");
	event_base_dispatch(env.base);
	is_int(n, 1, "deadline: the sweep revoked one");
	send_cc(&is, CC_ACCEPT, &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_REQUEST &&
		   strcmp(r.text, "confirmation deadline passed; the certificate was revoked") == 0,
	   "deadline: badRequest \"confirmation deadline passed; the certificate was revoked\"");
	ok(issued_cert() && issued_cert()->status == STORE_OUT_REVOKED,
	   "deadline: certificate stays revoked");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_db_faults(void)
{
	static const enum fake_fault faults[] = { FAKE_FAULT_CALL, FAKE_FAULT_CALLBACK };
	static const char *const names[] = { "at the call", "in the callback" };

	for (int i = 0; i < 2; i++) {
		struct issued is;
		struct fake_answer a = { 0 };
		struct fake_reply r;

		enroll(&is);
		fake_store_fault(env.fs, FAKE_CERTCONF, faults[i]);
		send_cc(&is, CC_ACCEPT, &a, &r);
		ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SYSTEM_UNAVAIL &&
			   strcmp(r.text, "service temporarily unavailable") == 0,
		   "database fault %s: systemUnavail", names[i]);
		is_int(txn_state(), STORE_OUT_ISSUED, "database fault %s: nothing changed",
		       names[i]);
		fake_reply_clear(&r);
		fake_answer_clear(&a);
	}
}

static void go_away(void *arg, enum fake_op op)
{
	if (op == FAKE_CERTCONF)
		((struct fake_answer *)arg)->gone = true;
}

static void test_client_gone(void)
{
	struct issued is;
	struct fake_answer a = { 0 };
	unsigned char *der;
	size_t len;

	enroll(&is);
	len = certconf(&is, CC_ACCEPT, &der);
	fake_store_on_call(env.fs, go_away, &a);
	ra_submit(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"), der, len, FAKE_PEER, &fake_sink,
		  &a);
	event_base_dispatch(env.base);
	is_int(a.n, 1, "gone during certConf: one delivery");
	is_int(a.what, RA_SINK_DROPPED, "gone during certConf: dropped");
	is_int(fake_store_pending(env.fs), 0, "gone during certConf: no callback left");
	OPENSSL_free(der);
	fake_answer_clear(&a);
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	dev1_key = fake_load_key("dev-1.key");
	dev2_key = fake_load_key("dev-2.key");
	test_accept();
	test_reject();
	test_refusals();
	test_unknown();
	test_deadline();
	test_db_faults();
	test_client_gone();
	EVP_PKEY_free(dev1_key);
	EVP_PKEY_free(dev2_key);
	fake_env_close(&env);
	return tap_done();
}
