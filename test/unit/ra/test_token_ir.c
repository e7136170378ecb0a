/*
 * test/unit/ra/test_token_ir.c - ra/token_ir: an ir MAC-protected with a
 * one-time token (RFC 9483 4.1.5), through ra_submit on the in-memory
 * store. The enrollment and the rows it writes (token spent, transaction
 * bound to the token), each refusal with its bit, statusString and
 * token_rejected audit row (unknown, used, expired, revoked, other alias,
 * wrong secret, transactionID in use), the bound on failed MAC checks, a
 * token spent by a concurrent request between lookup and commit, database
 * faults and a client gone during the lookup.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "ra/audit.h"
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
static const unsigned char tid8[16] = { 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8 };

static void reset(void)
{
	fake_env_must_reset(&env);
}

static int signatures(void)
{
	return fake_env_signatures(&env);
}

static void test_enrolled(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;
	const struct fake_cert *c;

	reset();
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm.der", &a, &r);
	is_int(r.body, CMP_BODY_IP, "token ir: ip");
	is_int(fake_store_calls(env.fs, FAKE_TOKEN_GET), 1, "token ir: one lookup");
	is_int(fake_store_calls(env.fs, FAKE_TOKEN_IR_COMMIT), 1, "token ir: one commit");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 0, "token ir: no vendor admission");
	is_int(signatures(), 1, "token ir: one CA signature");
	ok(fake_store_token_find(env.fs, FAKE_TOKEN_REF)->state == FAKE_TOKEN_USED,
	   "token ir: token spent");
	t = fake_store_txn_find(env.fs, tid8, sizeof(tid8));
	ok(t && t->token_ref && strcmp(t->token_ref, FAKE_TOKEN_REF) == 0,
	   "token ir: transaction bound to the token (its certConf is MAC-checked)");
	c = t ? fake_store_cert_by_id(env.fs, t->cert_id) : NULL;
	ok(c && c->vendor_id == 0 && strcmp(c->device_serial, "token-device-1") == 0,
	   "token ir: certificate for the token's identity, no vendor");
	is_int(fake_store_audit_count(env.fs, "issued", "ir: token " FAKE_TOKEN_REF ": serial "), 1,
	       "token ir: audit issued");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void refused(const char *what, const char *name, int bit, const char *text,
		    const char *detail)
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
	is_int(fake_store_calls(env.fs, FAKE_TOKEN_IR_COMMIT), 0, "%s: no commit", what);
	if (detail)
		is_int(fake_store_audit_count(env.fs, "token_rejected", detail), 1,
		       "%s: audit token_rejected \"%s\"", what, detail);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void token_state(enum fake_token_state st, bool expired, const char *alias)
{
	reset();
	if (fake_store_token_set(env.fs, FAKE_TOKEN_REF, st, expired, alias) != 0)
		printf("Bail out! token\n");
}

static void test_refusals(void)
{
	/* a store without the token */
	reset();
	struct fake_store *fs = fake_store_new(env.base);
	fake_store_free(env.fs);
	env.fs = fs;
	env.rw->db = fs;
	refused("unknown reference", "ir_pbm.der", CMP_FAIL_BAD_MESSAGE_CHECK,
		"unknown token reference", "ir: token " FAKE_TOKEN_REF ": unknown reference");

	token_state(FAKE_TOKEN_USED, false, NULL);
	refused("used", "ir_pbm.der", CMP_FAIL_NOT_AUTHORIZED, "token already used",
		"ir: token " FAKE_TOKEN_REF ": used");
	token_state(FAKE_TOKEN_ACTIVE, true, NULL);
	refused("expired", "ir_pbm.der", CMP_FAIL_NOT_AUTHORIZED, "token expired",
		"ir: token " FAKE_TOKEN_REF ": expired");
	token_state(FAKE_TOKEN_REVOKED, false, NULL);
	refused("revoked", "ir_pbm.der", CMP_FAIL_NOT_AUTHORIZED, "token revoked",
		"ir: token " FAKE_TOKEN_REF ": revoked");
	token_state(FAKE_TOKEN_ACTIVE, false, "elsewhere");
	refused("bound to another alias", "ir_pbm.der", CMP_FAIL_NOT_AUTHORIZED,
		"token not valid for this alias", "ir: token " FAKE_TOKEN_REF ": alias");

	reset();
	refused("wrong secret", "ir_pbm_wrong_secret.der", CMP_FAIL_BAD_MESSAGE_CHECK,
		"MAC protection does not verify with the token named by senderKID",
		"MAC protection does not verify");
	ok(fake_store_token_find(env.fs, FAKE_TOKEN_REF)->state == FAKE_TOKEN_ACTIVE,
	   "wrong secret: token not spent");

	reset();
	struct fake_txn t = { .tid = { (unsigned char *)tid8, sizeof(tid8) },
			      .alias = "3gpp",
			      .state = STORE_OUT_CONFIRMED,
			      .fail_info = -1 };
	if (fake_store_add_txn(env.fs, &t) != 0)
		printf("Bail out! txn\n");
	refused("transactionID in use", "ir_pbm.der", CMP_FAIL_TRANSACTION_ID_IN_USE,
		"transactionID already in use", "ir: token " FAKE_TOKEN_REF ": tid_in_use");
}

/* limits.mac_failures_per_minute failed checks for a peer: refused before
 * any key derivation for the rest of the minute */
static void test_mac_bound(void)
{
	int limit = env.cfg->mac_fail_per_min, bad = 0;
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset();
	for (int i = 0; i < limit; i++) {
		fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm_wrong_secret.der", &a, &r);
		bad += r.bit == CMP_FAIL_BAD_MESSAGE_CHECK;
		fake_reply_clear(&r);
		fake_answer_clear(&a);
	}
	is_int(bad, limit, "MAC bound: %d failed checks answered badMessageCheck", limit);
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_NOT_AUTHORIZED &&
		   strcmp(r.text, RA_UNAUTH_TOO_MANY_MAC) == 0,
	   "MAC bound: then even the right secret is refused notAuthorized \"%s\"",
	   RA_UNAUTH_TOO_MANY_MAC);
	ok(fake_store_token_find(env.fs, FAKE_TOKEN_REF)->state == FAKE_TOKEN_ACTIVE,
	   "MAC bound: token not spent");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void spend(void *arg, enum fake_op op)
{
	(void)arg;
	if (op == FAKE_TOKEN_IR_COMMIT &&
	    fake_store_token_set(env.fs, FAKE_TOKEN_REF, FAKE_TOKEN_USED, false, NULL) != 0)
		printf("# spend\n");
}

/* Spent by a concurrent request between the lookup and the commit: the
 * commit refuses (after the CA signed), audited, nothing stored. */
static void test_race(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset();
	fake_store_on_call(env.fs, spend, NULL);
	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm.der", &a, &r);
	ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_NOT_AUTHORIZED &&
		   strcmp(r.text, "token already used") == 0,
	   "spent meanwhile: notAuthorized \"token already used\"");
	is_int(signatures(), 1, "spent meanwhile: the CA had signed");
	is_int(fake_store_n_txn(env.fs), 0, "spent meanwhile: no transaction");
	is_int(fake_store_audit_count(env.fs, "token_rejected",
				      "ir: token " FAKE_TOKEN_REF ": used"),
	       1, "spent meanwhile: the commit's audit row");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_faults(void)
{
	static const enum fake_op ops[] = { FAKE_TOKEN_GET, FAKE_TOKEN_IR_COMMIT };

	for (int i = 0; i < 2; i++)
		for (int f = FAKE_FAULT_CALL; f <= FAKE_FAULT_CALLBACK; f++) {
			struct fake_answer a = { 0 };
			struct fake_reply r;
			reset();
			fake_store_fault(env.fs, ops[i], (enum fake_fault)f);
			fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm.der", &a, &r);
			ok(r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SYSTEM_UNAVAIL &&
				   strcmp(r.text, "service temporarily unavailable") == 0,
			   "%s fault %s: systemUnavail", i ? "token_ir_commit" : "token_get",
			   f == FAKE_FAULT_CALL ? "at the call" : "in the callback");
			ok(fake_store_token_find(env.fs, FAKE_TOKEN_REF)->state ==
				   FAKE_TOKEN_ACTIVE,
			   "%s fault: token not spent", i ? "token_ir_commit" : "token_get");
			signatures();
			fake_reply_clear(&r);
			fake_answer_clear(&a);
		}
}

static void test_client_gone(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r = { 0 };

	reset();
	fake_env_run_gone(&env, "3gpp", RA_CORPUS_DIR, "ir_pbm.der", FAKE_TOKEN_GET, &a, &r);
	ok(a.n == 1 && a.what == RA_SINK_DROPPED, "gone during the token lookup: dropped");
	is_int(signatures(), 0, "gone: no CA signature");
	is_int(fake_store_calls(env.fs, FAKE_TOKEN_IR_COMMIT), 0, "gone: no commit");
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
	test_enrolled();
	test_refusals();
	test_mac_bound();
	test_race();
	test_faults();
	test_client_gone();
	fake_env_close(&env);
	return tap_done();
}
