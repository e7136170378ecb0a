/*
 * test/unit/ra/test_step_admit.c - ra/step_admit: the read-only admission
 * of an ir/cr before the CA signs, driven through ra_submit with the seed
 * requests of test/fuzz/corpus/ra/ on the in-memory store. For each
 * refusal: the exact PKIFailureInfo bit and statusString, the audit row
 * the commit would have written, and no CA signature and no commit; the
 * database fault answers; a client gone during the admission; the
 * implicitConfirm decision; and ra_step_admit_refuse's table.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/log.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/step_admit.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

static struct fake_env env;

static int signatures(void)
{
	return fake_env_signatures(&env);
}

static void seed(const char *name, unsigned char **der, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", RA_CORPUS_DIR, name);
	if (fake_read_file(path, der, len) != 0) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
}

static void reset(void)
{
	fake_env_must_reset(&env);
}

static void run(const char *label, const char *name, struct fake_answer *a, struct fake_reply *r)
{
	fake_env_run(&env, label, RA_CORPUS_DIR, name, a, r);
}

/* A refused ir: one error answer with bit and text, no CA signature, no
 * commit, and the audit row event/detail (NULL: none at all). */
static void refused(const char *what, const char *name, int bit, const char *text,
		    const char *event, const char *detail)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	run("3gpp", name, &a, &r);
	is_int(a.n, 1, "%s: exactly one answer", what);
	is_int(r.body, CMP_BODY_ERROR, "%s: an error message", what);
	is_int(r.status, CMP_STATUS_REJECTION, "%s: status rejection", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: statusString \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 1, "%s: admission asked once", what);
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 0, "%s: no commit", what);
	is_int(signatures(), 0, "%s: no CA signature", what);
	is_int(fake_store_n_cert(env.fs), 1, "%s: no certificate stored", what);
	if (event) {
		is_int(fake_store_audit_count(env.fs, event, detail), 1, "%s: audit %s \"%s\"",
		       what, event, detail);
		is_int(fake_store_n_audit(env.fs), 1, "%s: that audit row only", what);
	} else {
		is_int(fake_store_n_audit(env.fs), 0, "%s: no audit row", what);
	}
	ok(!a.continues, "%s: the transaction ends", what);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_admitted(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;
	static const unsigned char tid[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	const struct fake_txn *t;
	const struct fake_serial *s;

	reset();
	run("3gpp", "ir_dev1.der", &a, &r);
	is_int(r.body, CMP_BODY_IP, "admitted: ip");
	ok(r.status == CMP_STATUS_ACCEPTED || r.status == CMP_STATUS_GRANTED_WITH_MODS,
	   "admitted: accepted (%ld)", r.status);
	ok(r.has_cert, "admitted: the certificate");
	ok(!r.implicit, "admitted: no implicitConfirm (not asked)");
	ok(a.continues, "admitted: the client's transaction goes on (certConf)");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_IR), 1, "admitted: one admission");
	is_int(fake_store_calls(env.fs, FAKE_ADMIT_RA_IR), 0, "admitted: not a downstream RA's");
	is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 1, "admitted: one commit");
	is_int(signatures(), 1, "admitted: one CA signature");
	t = fake_store_txn_find(env.fs, tid, sizeof(tid));
	ok(t && t->state == STORE_OUT_ISSUED, "admitted: transaction issued, awaiting certConf");
	ok(t && fake_store_cert_by_id(env.fs, t->cert_id) &&
		   fake_store_cert_by_id(env.fs, t->cert_id)->status == STORE_OUT_UNCONFIRMED,
	   "admitted: certificate unconfirmed");
	s = fake_store_serial_find(env.fs, FAKE_VENDOR_ID, "FUZZ-0001");
	ok(s && s->bound && s->state == FAKE_SERIAL_ALLOWED,
	   "admitted: serial bound to the vendor key, enrolled only at certConf");
	is_int(fake_store_audit_count(env.fs, "issued", "ir: serial "), 1,
	       "admitted: audit issued");
	is_int(fake_store_pending(env.fs), 0, "admitted: no callback left");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_refusals(void)
{
	static const unsigned char tid[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

	reset();
	refused("serial unknown", "ir_dev3.der", CMP_FAIL_NOT_AUTHORIZED,
		"device serial is not on the vendor's list", "rejected", "ir: serial_unknown");
	reset();
	refused("serial blocked", "ir_dev2.der", CMP_FAIL_NOT_AUTHORIZED,
		"device serial is blocked", "rejected", "ir: serial_blocked");

	reset();
	if (fake_store_bind_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", env.dev2) != 0)
		printf("Bail out! bind\n");
	refused("clone", "ir_dev1.der", CMP_FAIL_NOT_AUTHORIZED,
		"device serial is bound to another vendor key", "clone_suspected", "ir: clone");

	reset();
	if (fake_store_add_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", FAKE_SERIAL_ENROLLED) ||
	    fake_store_vendor_reenroll(env.fs, FAKE_VENDOR_ID, false) ||
	    fake_worker_reload(env.rw, env.fs))
		printf("Bail out! reenroll\n");
	refused("re-enrollment denied", "ir_dev1.der", CMP_FAIL_NOT_AUTHORIZED,
		"device already enrolled; re-enrollment not allowed for this vendor", "rejected",
		"ir: reenroll_denied");

	reset();
	struct fake_txn t = { .tid = { (unsigned char *)tid, sizeof(tid) },
			      .alias = "3gpp",
			      .body = "ir",
			      .state = STORE_OUT_CONFIRMED,
			      .cert_req_id = 0,
			      .fail_info = -1 };
	if (fake_store_add_txn(env.fs, &t) != 0)
		printf("Bail out! txn\n");
	refused("transactionID in use", "ir_dev1.der", CMP_FAIL_TRANSACTION_ID_IN_USE,
		"transactionID already in use", "rejected", "ir: tid_in_use");
}

static void test_reenroll_allowed(void)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	reset();
	if (fake_store_add_serial(env.fs, FAKE_VENDOR_ID, "FUZZ-0001", FAKE_SERIAL_ENROLLED) != 0)
		printf("Bail out! serial\n");
	run("3gpp", "ir_dev1.der", &a, &r);
	is_int(r.body, CMP_BODY_IP, "enrolled serial, vendor allows re-enrollment: ip");
	is_int(signatures(), 1, "re-enrollment: one CA signature");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_db_faults(void)
{
	static const enum fake_fault faults[] = { FAKE_FAULT_CALL, FAKE_FAULT_CALLBACK };
	static const char *const names[] = { "at the call", "in the callback" };

	for (int i = 0; i < 2; i++) {
		char what[64];
		snprintf(what, sizeof(what), "database fault %s", names[i]);
		reset();
		fake_store_fault(env.fs, FAKE_ADMIT_IR, faults[i]);
		refused(what, "ir_dev1.der", CMP_FAIL_SYSTEM_UNAVAIL,
			"service temporarily unavailable", NULL, NULL);
	}
}

static void go_away(void *arg, enum fake_op op)
{
	if (op == FAKE_ADMIT_IR)
		((struct fake_answer *)arg)->gone = true;
}

/* The client disconnects while the admission is in flight: the request
 * is dropped at the resume point; nothing signed, nothing written, not
 * even the refusal's audit row. */
static void test_client_gone(void)
{
	static const char *const seeds[] = { "ir_dev1.der", "ir_dev3.der" };

	for (int i = 0; i < 2; i++) {
		struct fake_answer a = { 0 };
		unsigned char *der;
		size_t len;

		reset();
		seed(seeds[i], &der, &len);
		fake_store_on_call(env.fs, go_away, &a);
		ra_submit(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"), der, len, FAKE_PEER,
			  &fake_sink, &a);
		is_int(a.n, 0, "%s, client gone: no answer before the callback", seeds[i]);
		event_base_dispatch(env.base);
		is_int(a.n, 1, "%s, client gone: one delivery", seeds[i]);
		is_int(a.what, RA_SINK_DROPPED, "%s, client gone: dropped", seeds[i]);
		is_int(fake_store_calls(env.fs, FAKE_IR_COMMIT), 0, "%s, client gone: no commit",
		       seeds[i]);
		is_int(signatures(), 0, "%s, client gone: no CA signature", seeds[i]);
		is_int(fake_store_n_audit(env.fs), 0, "%s, client gone: no audit row", seeds[i]);
		is_int(fake_store_n_txn(env.fs), 0, "%s, client gone: no transaction", seeds[i]);
		free(der);
		fake_answer_clear(&a);
	}
}

/* implicitConfirm: granted on an alias that allows it, when asked */
static void test_implicit(void)
{
	static const unsigned char tid[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2 };
	struct fake_answer a = { 0 };
	struct fake_reply r;
	const struct fake_txn *t;

	reset();
	run("3gpp", "ir_dev1_implicit.der", &a, &r);
	ok(r.body == CMP_BODY_IP && r.implicit, "implicitConfirm asked and allowed: granted");
	ok(!a.continues, "implicitConfirm: the transaction ends with the ip");
	t = fake_store_txn_find(env.fs, tid, sizeof(tid));
	ok(t && t->state == STORE_OUT_CONFIRMED && t->implicit,
	   "implicitConfirm: transaction stored confirmed");
	ok(t && fake_store_cert_by_id(env.fs, t->cert_id) &&
		   fake_store_cert_by_id(env.fs, t->cert_id)->status == STORE_OUT_ACTIVE,
	   "implicitConfirm: certificate active at once");
	ok(fake_store_serial_find(env.fs, FAKE_VENDOR_ID, "FUZZ-0001")->state ==
		   FAKE_SERIAL_ENROLLED,
	   "implicitConfirm: serial enrolled");
	fake_reply_clear(&r);
	fake_answer_clear(&a);

	reset();
	run("strict", "ir_dev1_implicit.der", &a, &r);
	ok(r.body == CMP_BODY_IP && !r.implicit, "implicitConfirm asked, alias does not allow it");
	ok(a.continues, "not granted: certConf expected");
	t = fake_store_txn_find(env.fs, tid, sizeof(tid));
	ok(t && t->state == STORE_OUT_ISSUED && !t->implicit, "not granted: transaction issued");
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

/* ra_step_admit_refuse: the answer to each outcome of admission/commit */
static void test_refuse_table(void)
{
	static const struct {
		enum store_outcome st;
		int bit;
		const char *text;
	} cases[] = {
		{ STORE_OUT_SERIAL_UNKNOWN, CMP_FAIL_NOT_AUTHORIZED,
		  "device serial is not on the vendor's list" },
		{ STORE_OUT_SERIAL_BLOCKED, CMP_FAIL_NOT_AUTHORIZED, "device serial is blocked" },
		{ STORE_OUT_CLONE, CMP_FAIL_NOT_AUTHORIZED,
		  "device serial is bound to another vendor key" },
		{ STORE_OUT_REENROLL_DENIED, CMP_FAIL_NOT_AUTHORIZED,
		  "device already enrolled; re-enrollment not allowed for this vendor" },
		{ STORE_OUT_TID_IN_USE, CMP_FAIL_TRANSACTION_ID_IN_USE,
		  "transactionID already in use" },
		/* renewal outcomes share the table (ra/renew.c, ra/fwd.c) */
		{ STORE_OUT_OLD_UNKNOWN, CMP_FAIL_SIGNER_NOT_TRUSTED,
		  "certificate not known to this CA" },
		{ STORE_OUT_OLD_REVOKED, CMP_FAIL_CERT_REVOKED, "certificate has been revoked" },
		{ STORE_OUT_OLD_SUPERSEDED, CMP_FAIL_NOT_AUTHORIZED,
		  "certificate was superseded by a newer one" },
		{ STORE_OUT_OLD_UNCONFIRMED, CMP_FAIL_NOT_AUTHORIZED,
		  "certificate was never confirmed" },
		{ STORE_OUT_OTHER, CMP_FAIL_SYSTEM_FAILURE, "internal error" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ra_req *req = ra_req_new(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"));
		int rc = ra_step_admit_refuse(req, cases[i].st);
		is_int(rc, RA_STEP_REFUSED, "refuse %s: RA_STEP_REFUSED",
		       store_outcome_name(cases[i].st));
		ok(req->verdict.bit == cases[i].bit &&
			   strcmp(req->verdict.text, cases[i].text) == 0,
		   "refuse %s: {%d, \"%s\"}", store_outcome_name(cases[i].st), cases[i].bit,
		   cases[i].text);
		ra_req_free(req);
	}
	/* an RA-mode alias names its own store of renewable certificates */
	struct ra_req *req = ra_req_new(env.rw, env.cfg, cfg_alias_find(env.cfg, "ra"));
	ra_step_admit_refuse(req, STORE_OUT_OLD_UNKNOWN);
	ok(req->verdict.bit == CMP_FAIL_SIGNER_NOT_TRUSTED &&
		   strcmp(req->verdict.text, "certificate not obtained through this RA alias") == 0,
	   "refuse old_unknown on an RA alias: {20, \"certificate not obtained through this RA "
	   "alias\"}");
	ra_req_free(req);
}

int main(void)
{
	if (fake_env_open(&env, RA_DATA_DIR) != 0 || fake_env_capture_log(&env) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_admitted();
	test_refusals();
	test_reenroll_allowed();
	test_db_faults();
	test_client_gone();
	test_implicit();
	test_refuse_table();
	fake_env_close(&env);
	return tap_done();
}
