/*
 * test/unit/ra/test_renew.c - ra/renew: renewal with an operator
 * certificate this CA issued (kur, p10cr), through ra_submit on the
 * in-memory store, op-dev.pem being the device's active certificate. The
 * kup and what the commit stores, each refusal of the read-only admission
 * (exact bit and text, its audit row, no CA signature, no commit), the
 * request checks before it, database faults and a client gone during the
 * admission.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

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
static const unsigned char tid6[16] = { 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6 };

static void reset(void)
{
	fake_env_must_reset(&env);
}

static int signatures(void)
{
	return fake_env_signatures(&env);
}

static void test_kur(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;
	const struct fake_cert *c;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "kur_opdev.der", &a, &r);
	is_int(r.body, CMP_BODY_KUP, "kur: kup");
	ok(r.has_cert, "kur: a certificate");
	ok(a.continues, "kur: certConf expected");
	is_int(fake_store_calls(env.fs, FAKE_RENEW_ADMIT), 1, "kur: one admission");
	is_int(fake_store_calls(env.fs, FAKE_RENEW_COMMIT), 1, "kur: one commit");
	is_int(signatures(), 1, "kur: one CA signature");
	t = fake_store_txn_find(env.fs, tid6, sizeof(tid6));
	ok(t && t->state == STORE_OUT_ISSUED && strcmp(t->body, "kur") == 0,
	   "kur: transaction issued, body kur");
	ok(t && t->old_cert_id == env.op_dev_id, "kur: renews op-dev.pem");
	c = t ? fake_store_cert_by_id(env.fs, t->cert_id) : NULL;
	ok(c && c->status == STORE_OUT_UNCONFIRMED && c->vendor_id == FAKE_VENDOR_ID &&
		   strcmp(c->device_serial, "FUZZ-0001") == 0,
	   "kur: new certificate unconfirmed, same device");
	ok(fake_store_cert_by_id(env.fs, env.op_dev_id)->status == STORE_OUT_ACTIVE,
	   "kur: the old one stays active until certConf");
	is_int(fake_store_audit_count(env.fs, "issued", "kur (renewal of serial "), 1,
	       "kur: audit issued, renewal of the old serial");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "p10cr_opdev.der", &a, &r);
	is_int(r.body, CMP_BODY_CP, "p10cr signed with the operator certificate: cp");
	is_int(fake_store_calls(env.fs, FAKE_RENEW_COMMIT), 1, "p10cr: one commit");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void refused(const char *what, const char *name, int bit, const char *text,
		    const char *audit_detail)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, name, &a, &r);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(signatures(), 0, "%s: no CA signature", what);
	is_int(fake_store_calls(env.fs, FAKE_RENEW_COMMIT), 0, "%s: no commit", what);
	if (audit_detail)
		is_int(fake_store_audit_count(env.fs, "rejected", audit_detail), 1,
		       "%s: audit rejected \"%s\"", what, audit_detail);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_refusals(void)
{
	reset();
	if (fake_store_cert_set_status(env.fs, env.op_dev_id, STORE_OUT_REVOKED) != 0)
		printf("Bail out! status\n");
	refused("old certificate revoked", "kur_opdev.der", CMP_FAIL_CERT_REVOKED,
		"certificate has been revoked", "kur (renewal): old_revoked");
	reset();
	if (fake_store_cert_set_status(env.fs, env.op_dev_id, STORE_OUT_SUPERSEDED) != 0)
		printf("Bail out! status\n");
	refused("old certificate superseded", "kur_opdev.der", CMP_FAIL_NOT_AUTHORIZED,
		"certificate was superseded by a newer one", "kur (renewal): old_superseded");
	reset();
	if (fake_store_cert_set_status(env.fs, env.op_dev_id, STORE_OUT_UNCONFIRMED) != 0)
		printf("Bail out! status\n");
	refused("old certificate never confirmed", "kur_opdev.der", CMP_FAIL_NOT_AUTHORIZED,
		"certificate was never confirmed", "kur (renewal): old_unconfirmed");
	reset();
	if (fake_store_add_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", FAKE_SERIAL_BLOCKED) != 0)
		printf("Bail out! serial\n");
	refused("device serial blocked", "kur_opdev.der", CMP_FAIL_NOT_AUTHORIZED,
		"device serial is blocked", "kur (renewal): serial_blocked");
	reset();
	struct fake_txn t = { .tid = { (unsigned char *)tid6, sizeof(tid6) },
			      .alias = "3gpp",
			      .state = STORE_OUT_CONFIRMED,
			      .fail_info = -1 };
	if (fake_store_add_txn(env.fs, &t) != 0)
		printf("Bail out! txn\n");
	refused("transactionID in use", "kur_opdev.der", CMP_FAIL_TRANSACTION_ID_IN_USE,
		"transactionID already in use", "kur (renewal): tid_in_use");

	reset();
	refused("kur without oldCertID", "kur_no_oldcertid.der", CMP_FAIL_BAD_REQUEST,
		"oldCertID control missing", NULL);
	is_int(fake_store_calls_total(env.fs), 0, "kur without oldCertID: no store call");
	reset();
	refused("kur signed with a vendor certificate", "kur_vendor.der",
		CMP_FAIL_SIGNER_NOT_TRUSTED,
		"kur must be protected with a certificate issued by this CA", NULL);
	is_int(fake_store_calls_total(env.fs), 0,
	       "kur signed with a vendor certificate: no store call");
}

static void test_faults(void)
{
	static const enum fake_op ops[] = { FAKE_RENEW_ADMIT, FAKE_RENEW_COMMIT };
	static const enum fake_fault faults[] = { FAKE_FAULT_CALL, FAKE_FAULT_CALLBACK };

	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			struct fake_answer a = { 0 };
			struct fake_reply r;
			reset();
			fake_store_fault(env.fs, ops[i], faults[j]);
			fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "kur_opdev.der", &a, &r);
			ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SYSTEM_UNAVAIL &&
				   strcmp(r.text, "service temporarily unavailable") == 0,
			   "%s fault %s: systemUnavail", i ? "renew_commit" : "renew_admit",
			   j ? "in the callback" : "at the call");
			is_int(signatures(), i, "%s fault: %s", i ? "renew_commit" : "renew_admit",
			       i ? "signed before the commit" : "no CA signature");
			is_int(fake_store_n_txn(env.fs), 0, "%s fault: nothing stored",
			       i ? "renew_commit" : "renew_admit");
			fake_reply_clear(&r);
			fake_answer_clear(&a);
		}
}

static void test_client_gone(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r = { 0 };

	reset();
	fake_env_run_gone(&env, "3gpp", RA_CORPUS_DIR, "kur_opdev.der", FAKE_RENEW_ADMIT, &a, &r);
	ok(a.n == 1 && a.what == RA_SINK_DROPPED, "gone during the renewal admission: dropped");
	is_int(signatures(), 0, "gone: no CA signature");
	is_int(fake_store_calls(env.fs, FAKE_RENEW_COMMIT), 0, "gone: no commit");
	is_int(fake_store_n_audit(env.fs), 0, "gone: no audit row");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

int main(void)
{
	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_kur();
	test_refusals();
	test_faults();
	test_client_gone();
	fake_env_close(&env);
	return tap_done();
}
