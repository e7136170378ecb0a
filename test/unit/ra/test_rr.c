/*
 * test/unit/ra/test_rr.c - ra/rr (revocation request, a whole handler of
 * the pipeline) on the in-memory store: a device revokes its own
 * operator certificate (rp accepted, row revoked with the reason asked,
 * audit, the CRL regenerated and stored), the rejections in the rp with
 * their bit and text, and the database fault answer.
 */
#include <stdlib.h>
#include <string.h>

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

static void reset(void)
{
	fake_env_must_reset(&env);
}

static void test_revoked(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_cert *c;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "rr_openssl.der", &a, &r);
	is_int(r.body, CMP_BODY_RP, "rr: rp");
	is_int(r.status, CMP_STATUS_ACCEPTED, "rr: accepted");
	is_int(fake_store_calls(env.fs, FAKE_REVOKE), 1, "rr: one revocation");
	c = fake_store_cert_by_id(env.fs, env.op_dev_id);
	ok(c->status == STORE_OUT_REVOKED && c->reason == 1,
	   "rr: op-dev.pem revoked, keyCompromise as asked");
	is_int(fake_store_audit_count(env.fs, "revoked", "reason 1"), 1, "rr: audit revoked");
	is_int(fake_store_calls(env.fs, FAKE_CRL_STORE), 1, "rr: the next CRL is built and stored");
	is_int(fake_store_n_crl(env.fs), 1, "rr: one CRL stored");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void rejected(const char *what, int bit, const char *text)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "rr_openssl.der", &a, &r);
	ok(r.body == CMP_BODY_RP || r.body == CMP_BODY_ERROR, "%s: rp or error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_n_crl(env.fs), 0, "%s: no CRL", what);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_rejected(void)
{
	reset();
	if (fake_store_cert_set_status(env.fs, env.op_dev_id, STORE_OUT_REVOKED) != 0)
		printf("Bail out! status\n");
	rejected("already revoked", CMP_FAIL_CERT_REVOKED, "certificate is already revoked");

	reset();
	fake_store_fault(env.fs, FAKE_REVOKE, FAKE_FAULT_CALLBACK);
	rejected("database fault", CMP_FAIL_SYSTEM_UNAVAIL, "service temporarily unavailable");
	ok(fake_store_cert_by_id(env.fs, env.op_dev_id)->status == STORE_OUT_ACTIVE,
	   "database fault: still active");
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_revoked();
	test_rejected();
	fake_env_close(&env);
	return tap_done();
}
