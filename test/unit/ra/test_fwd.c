/*
 * test/unit/ra/test_fwd.c - ra/fwd (RA mode: a request forwarded to the
 * upstream CA) on the in-memory store, with alias "ra" whose upstream
 * does not listen (http://127.0.0.1:1/). The admission and its pending
 * row before anything leaves (fwd_begin), its refusals with bit and text
 * (nothing forwarded), the upstream failure answered systemUnavail and
 * recorded on the row (fwd_fail), database faults, what the alias refuses
 * to forward, and a client gone during the admission.
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
static const unsigned char tid1[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

static void reset(void)
{
	fake_env_must_reset(&env);
}

static void test_upstream_down(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;

	reset();
	fake_env_run(&env, "ra", RA_CORPUS_DIR, "ir_dev1.der", &a, &r);
	is_int(a.n, 1, "upstream down: one answer");
	is_int(r.body, CMP_BODY_ERROR, "upstream down: error");
	is_int(r.bit, CMP_FAIL_SYSTEM_UNAVAIL, "upstream down: systemUnavail");
	ok(strcmp(r.text, "upstream CA unavailable") == 0,
	   "upstream down: \"upstream CA unavailable\"");
	if (strcmp(r.text, "upstream CA unavailable") != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_calls(env.fs, FAKE_FWD_BEGIN), 1, "upstream down: admitted once");
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 0, "upstream down: no CA-mode commit");
	is_int(fake_env_log_count(&env, "CA signature"), 0, "upstream down: no CA signature here");
	t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_CLOSED, "upstream down: the pending row closed");
	ok(t && t->fail_info == (1 << CMP_FAIL_SYSTEM_UNAVAIL),
	   "upstream down: failInfo recorded as a bit mask");
	is_int(fake_store_audit_count(env.fs, "forwarded", "ir: to upstream"), 1,
	       "upstream down: audit forwarded");
	is_int(fake_store_audit_count(env.fs, "upstream_failed", NULL), 1,
	       "upstream down: audit upstream_failed");
	is_int(fake_store_pending(env.fs), 0, "upstream down: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void refused(const char *what, const char *name, int bit, const char *text)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	fake_env_run(&env, "ra", RA_CORPUS_DIR, name, &a, &r);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_audit_count(env.fs, "forwarded", NULL), 0, "%s: nothing forwarded", what);
	is_int(fake_store_audit_count(env.fs, "upstream_failed", NULL), 0,
	       "%s: no upstream exchange", what);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_refusals(void)
{
	reset();
	refused("serial unknown", "ir_dev3.der", CMP_FAIL_NOT_AUTHORIZED,
		"device serial is not on the vendor's list");
	is_int(fake_store_audit_count(env.fs, "rejected", "ir: serial_unknown"), 1,
	       "serial unknown: audit rejected");
	reset();
	refused("serial blocked", "ir_dev2.der", CMP_FAIL_NOT_AUTHORIZED,
		"device serial is blocked");
	reset();
	refused("token ir on an RA alias", "ir_pbm.der", CMP_FAIL_BAD_REQUEST,
		"shared-secret (token) requests are not forwarded by this RA alias");
	is_int(fake_store_calls_total(env.fs), 0, "token ir on an RA alias: no store call");
	reset();
	refused("p10cr on an RA alias", "p10cr_opdev.der", CMP_FAIL_BAD_REQUEST,
		"p10cr is not forwarded by this RA alias (use ir, cr or kur)");
	reset();
	fake_store_fault(env.fs, FAKE_FWD_BEGIN, FAKE_FAULT_CALLBACK);
	refused("fwd_begin fault in the callback", "ir_dev1.der", CMP_FAIL_SYSTEM_UNAVAIL,
		"service temporarily unavailable");

	/* fwd_begin refused at the call (no connection within
	 * database.queue_wait_ms): systemUnavail, as every other step that
	 * finds the database unable to take the statement */
	struct fake_answer a = { 0 };
	struct fake_reply r;
	reset();
	fake_store_fault(env.fs, FAKE_FWD_BEGIN, FAKE_FAULT_CALL);
	fake_env_run(&env, "ra", RA_CORPUS_DIR, "ir_dev1.der", &a, &r);
	ok(a.n == 1 && r.body == CMP_BODY_ERROR, "fwd_begin fault at the call: one error answer");
	is_int(r.bit, CMP_FAIL_SYSTEM_UNAVAIL, "fwd_begin fault at the call: systemUnavail");
	ok(strcmp(r.text, "service temporarily unavailable") == 0,
	   "fwd_begin fault at the call: \"service temporarily unavailable\"");
	is_int(fake_store_n_txn(env.fs), 0, "fwd_begin fault at the call: nothing stored");
	is_int(fake_store_audit_count(env.fs, "forwarded", NULL), 0,
	       "fwd_begin fault at the call: nothing forwarded");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_client_gone(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r = { 0 };

	reset();
	fake_env_run_gone(&env, "ra", RA_CORPUS_DIR, "ir_dev1.der", FAKE_FWD_BEGIN, &a, &r);
	ok(a.n == 1 && a.what == RA_SINK_DROPPED, "gone during fwd_begin: dropped once");
	/* issue 10 #9: no forward for nobody; the pending row just begun is
	 * closed at once */
	const struct fake_txn *t = fake_store_txn_find(env.fs, tid1, sizeof(tid1));
	ok(t && t->state == STORE_OUT_CLOSED && t->fail_text &&
		   strcmp(t->fail_text, "client went away before the forward") == 0,
	   "gone during fwd_begin: pending row closed, \"client went away before the forward\"");
	is_int(fake_store_calls(env.fs, FAKE_FWD_FAIL), 1, "gone during fwd_begin: one fwd_fail");
	is_int(fake_store_pending(env.fs), 0, "gone during fwd_begin: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

int main(void)
{
	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_upstream_down();
	test_refusals();
	test_client_gone();
	fake_env_close(&env);
	return tap_done();
}
