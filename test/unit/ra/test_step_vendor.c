/*
 * test/unit/ra/test_step_vendor.c - ra/step_vendor (the vendor chain and
 * the device serial) and the bound on unauthenticated audit rows it uses
 * (ra/audit.h), through ra_submit on the in-memory store: signerNotTrusted
 * for a chain to no registered anchor (audited auth_failed, nothing asked
 * of the store) and without a registry; notAuthorized "vendor X is not
 * accepted on alias Y" for a valid chain to a registered vendor the alias
 * does not accept, and for a certificate without serial (audited
 * rejected); req->cr.vendor and req->cr.serial on success.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "ra/audit.h"
#include "ra/pipeline.h"
#include "ra/ra.h"
#include "ra/step_vendor.h"
#include "test/unit/ra/fake_store.h"
#include "test/unit/tap.h"

#ifndef RA_DATA_DIR
#define RA_DATA_DIR "test/fuzz/data/ra"
#endif
#ifndef RA_CORPUS_DIR
#define RA_CORPUS_DIR "test/fuzz/corpus/ra"
#endif

#define NOT_CHAINED "vendor certificate does not chain to a registered vendor trust anchor"

static struct fake_env env;

static void reset(void)
{
	fake_env_must_reset(&env);
}

static void refused(const char *what, const char *name, int bit, const char *text,
		    const char *event)
{
	struct fake_answer a = { 0 };
	struct fake_reply r;

	fake_env_run(&env, "3gpp", RA_CORPUS_DIR, name, &a, &r);
	is_int(a.n, 1, "%s: one answer", what);
	is_int(r.body, CMP_BODY_ERROR, "%s: error", what);
	is_int(r.bit, bit, "%s: failInfo bit", what);
	ok(strcmp(r.text, text) == 0, "%s: \"%s\"", what, text);
	if (strcmp(r.text, text) != 0)
		printf("#   got \"%s\"\n", r.text);
	is_int(fake_store_calls_total(env.fs), 0, "%s: nothing asked of the store", what);
	is_int(fake_store_audit_count(env.fs, event, text), 1, "%s: audit %s", what, event);
	is_int(fake_store_n_audit(env.fs), 1, "%s: one audit row", what);
	fake_reply_clear(&r);
	fake_answer_clear(&a);
}

static void test_refusals(void)
{
	reset();
	refused("self-signed device certificate", "ir_rogue.der", CMP_FAIL_SIGNER_NOT_TRUSTED,
		NOT_CHAINED, "auth_failed");
	reset();
	refused("no serialNumber in the subject", "ir_noserial.der", CMP_FAIL_NOT_AUTHORIZED,
		"vendor certificate carries no usable device serial", "rejected");

	/* the vendor's anchor is no longer registered */
	reset();
	struct fake_store *fs = fake_store_new(env.base);
	if (!fs || fake_store_add_vendor(fs, FAKE_VENDOR_ID, FAKE_VENDOR, NULL, true) != 0 ||
	    fake_worker_reload(env.rw, fs) != 0)
		printf("Bail out! registry\n");
	fake_store_free(fs);
	refused("vendor without anchors", "ir_dev1.der", CMP_FAIL_SIGNER_NOT_TRUSTED, NOT_CHAINED,
		"auth_failed");

	/* a vendor registry that never loaded */
	reset();
	struct ra_trust *t = env.rw->trust;
	env.rw->trust = NULL;
	refused("registry not loaded", "ir_dev1.der", CMP_FAIL_SIGNER_NOT_TRUSTED,
		"vendor registry not loaded", "auth_failed");
	env.rw->trust = t;

	/* a valid chain to a registered vendor the alias does not accept */
	reset();
	struct cfg_alias *al = (struct cfg_alias *)cfg_alias_find(env.cfg, "3gpp");
	char *other[] = { "othervendor" }, **saved = al->vendors;
	size_t saved_n = al->n_vendors;
	al->vendors = other;
	al->n_vendors = 1;
	refused("vendor not accepted on the alias", "ir_dev1.der", CMP_FAIL_NOT_AUTHORIZED,
		"vendor " FAKE_VENDOR " is not accepted on alias 3gpp", "rejected");
	al->vendors = saved;
	al->n_vendors = saved_n;
}

/* Unauthenticated refusals are audited at most
 * limits.audit_unauthenticated_per_minute times per peer and minute (60);
 * the first one over is counted by an audit_suppressed row. */
static void test_audit_bound(void)
{
	int limit = env.cfg->audit_unauth_per_min, answers = 0;

	reset();
	for (int i = 0; i < limit + 5; i++) {
		struct fake_answer a = { 0 };
		struct fake_reply r;
		fake_env_run(&env, "3gpp", RA_CORPUS_DIR, "ir_rogue.der", &a, &r);
		answers += r.body == CMP_BODY_ERROR && r.bit == CMP_FAIL_SIGNER_NOT_TRUSTED;
		fake_reply_clear(&r);
		fake_answer_clear(&a);
	}
	is_int(answers, limit + 5, "audit bound: every request still answered signerNotTrusted");
	is_int(fake_store_audit_count(env.fs, "auth_failed", NULL), limit,
	       "audit bound: %d auth_failed rows per peer and minute", limit);
	is_int(fake_store_audit_count(env.fs, "audit_suppressed", NULL), 1,
	       "audit bound: one audit_suppressed row when the peer goes over");
}

/* The step alone on an authenticated request. */
static void test_direct(void)
{
	char path[4096];
	unsigned char *der;
	const unsigned char *p;
	size_t len;
	struct ra_req *req = ra_req_new(env.rw, env.cfg, cfg_alias_find(env.cfg, "3gpp"));

	reset();
	snprintf(path, sizeof(path), "%s/ir_dev1.der", RA_CORPUS_DIR);
	if (fake_read_file(path, &der, &len) != 0)
		printf("Bail out! %s\n", path);
	p = der;
	req->msg = d2i_CMPGW_MSG(NULL, &p, (long)len);
	req->signer = req->msg ? sk_X509_value(req->msg->extraCerts, 0) : NULL;
	is_int(ra_step_vendor(req), RA_STEP_NEXT, "step: RA_STEP_NEXT");
	ok(req->cr.vendor && strcmp(req->cr.vendor->name, FAKE_VENDOR) == 0 &&
		   req->cr.vendor->id == FAKE_VENDOR_ID,
	   "step: req->cr.vendor is fuzzvendor");
	ok(strcmp(req->cr.serial, "FUZZ-0001") == 0, "step: req->cr.serial from serialNumber");
	ra_req_free(req);
	free(der);
}

int main(void)
{
	log_setup(LOG_ERROR, false, 2);
	if (fake_env_open(&env, RA_DATA_DIR) != 0) {
		printf("Bail out! cannot open %s\n", RA_DATA_DIR);
		return 1;
	}
	test_refusals();
	test_audit_bound();
	test_direct();
	fake_env_close(&env);
	return tap_done();
}
