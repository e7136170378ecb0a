/*
 * test/unit/ra/test_downstream.c - ra/downstream: requests of a downstream
 * RA (RFC 9483 5.2) on alias "3gpp" (ras: ra.pem, ra_identity subject_cn),
 * through ra_submit on the in-memory store. An RA-signed ir (the RA's
 * admission and commit, the identity from the template's CN), its
 * refusals, and nested batches (RFC 9483 5.2.2.1): each inner message
 * answered in order inside one nested answer, nesting refused where the
 * alias has no RA, a client gone while the inner requests run (nothing
 * signed or written inside).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

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
static const unsigned char tid1[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
static const unsigned char tid9[16] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };

static void reset(void)
{
	fake_env_must_reset(&env);
}

static void test_ra_ir(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;
	const struct fake_cert *c;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_ra.der", &a, &r);
	is_int(r.body, CMP_BODY_IP, "RA ir: ip");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_RA_IR), 1, "RA ir: the RA's admission");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 0, "RA ir: not the vendor admission");
	is_int(fake_store_calls(env.fs, FAKE_RA_IR_COMMIT), 1, "RA ir: the RA's commit");
	t = fake_store_txn_find(env.fs, tid9, sizeof(tid9));
	c = t ? fake_store_cert_by_id(env.fs, t->cert_id) : NULL;
	ok(t && t->device_serial && strcmp(t->device_serial, "FUZZ-0009") == 0,
	   "RA ir: identity = the template's CN");
	ok(c && c->vendor_id == 0, "RA ir: no vendor (the RA entry names none)");
	is_int(fake_store_audit_count(env.fs, "issued", "ir (downstream RA): serial "), 1,
	       "RA ir: audit issued (downstream RA)");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_ra_nosubject.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_BAD_CERT_TEMPLATE &&
		   strcmp(r.text, "certTemplate subject has no usable CN (device identity)") == 0,
	   "RA ir without subject: badCertTemplate \"certTemplate subject has no usable CN (device "
	   "identity)\"");
	is_int(fake_store_calls_total(env.fs), 0, "RA ir without subject: no store call");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	reset();
	fake_store_fault(env.fs, FAKE_ADMIT_RA_IR, FAKE_FAULT_CALLBACK);
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_ra.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SYSTEM_UNAVAIL &&
		   strcmp(r.text, "service temporarily unavailable") == 0,
	   "RA ir, database fault: systemUnavail");
	is_int(fake_store_calls(env.fs, FAKE_RA_IR_COMMIT), 0, "RA ir, database fault: no commit");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	reset();
	struct fake_txn tx = { .tid = { (unsigned char *)tid9, sizeof(tid9) },
			       .alias = "3gpp",
			       .state = STORE_OUT_CONFIRMED,
			       .fail_info = -1 };
	if (fake_store_add_txn(env.fs, &tx) != 0)
		printf("Bail out! txn\n");
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_ra.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_TRANSACTION_ID_IN_USE,
	   "RA ir, transactionID in use: transactionIdInUse");
	is_int(fake_store_audit_count(env.fs, "rejected", "ir (downstream RA): tid_in_use"), 1,
	       "RA ir, transactionID in use: audit rejected (downstream RA)");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_nested(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	CMPGW_MSG *m, *in;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "nested_ir.der", &a, &r);
	m = r.msg;
	is_int(r.body, CMP_BODY_NESTED, "nested: a nested answer");
	ok(m && sk_CMPGW_MSG_num(m->body->value.nested) == 1, "nested: one inner answer");
	in = m && sk_CMPGW_MSG_num(m->body->value.nested) == 1
		     ? sk_CMPGW_MSG_value(m->body->value.nested, 0)
		     : NULL;
	ok(in && in->body->type == CMP_BODY_IP, "nested: the inner answer is an ip");
	ok(in && in->header->transactionID->length == 16 &&
		   memcmp(in->header->transactionID->data, tid1, 16) == 0,
	   "nested: for the inner request's transactionID");
	ok(m && cmp_prot_verify_sig(a.der, a.len, m, env.cmp) == 0, "nested: the batch is signed");
	ok(fake_store_txn_find(env.fs, tid1, sizeof(tid1)) != NULL,
	   "nested: the inner ir was committed");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 1,
	       "nested: the inner device request goes through the vendor admission");
	is_int(fake_store_pending(env.fs), 0, "nested: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	reset();
	fake_env_run(&env, "strict", RA_CORPUS_DIR, "nested_ir.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_NOT_AUTHORIZED &&
		   strcmp(r.text, "this alias accepts no downstream RA") == 0,
	   "nested on an alias without RAs: notAuthorized \"this alias accepts no downstream RA\"");
	is_int(fake_store_calls_total(env.fs), 0, "nested on an alias without RAs: no store call");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* The RA's connection closes while its inner requests wait for the
 * database: one drop for the batch, nothing signed or written inside. */
static void test_nested_gone(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r = { 0 };

	reset();
	fake_env_log_mark(&env);
	fake_env_run_gone(&env, "3gpp", RA_CORPUS_DIR, "nested_ir.der", FAKE_ADMIT_IR, &a, &r);
	/* Exactly one delivery, and it is a drop: nothing signed for an RA
	 * that left */
	is_int(a.n, 1, "nested, RA gone: one delivery for the batch");
	is_int(a.what, RA_SINK_DROPPED, "nested, RA gone: dropped");
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 0, "nested, RA gone: no inner commit");
	is_int(fake_env_log_count(&env, "CA signature"), 0, "nested, RA gone: no CA signature");
	is_int(fake_store_pending(env.fs), 0, "nested, RA gone: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

int main(void)
{
	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_ra_ir();
	test_nested();
	test_nested_gone();
	fake_env_close(&env);
	return tap_done();
}
