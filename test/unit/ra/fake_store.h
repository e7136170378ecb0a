/*
 * test/unit/ra/fake_store.h - an in-memory store_ops (store/ops.h) for
 * tests and fuzzers of ra/: the rows the SQL functions of store/functions/
 * read and write (vendors, serials, transactions, certificates, tokens,
 * CRLs, audit), with the same verdicts in the same order for what the
 * engine can observe.
 *
 * Semantics follow the SQL, NULLs included: a transaction seeded without
 * a sender fingerprint, server nonce or certReqId (fake_txn fields empty /
 * cert_req_id < 0) passes those certConf checks, as `NULL <> x` does in
 * cmpgw_certconf. Not modelled: row locks (one thread), timestamps beyond
 * "expired" flags, the confirm deadline (sweep revokes every issued
 * transaction marked deadline_passed).
 *
 * Contract kept from store/ops.h: a call that returns 0 calls back exactly
 * once, later, from the event loop (a zero timeout on base), never before
 * it returns; a non-zero return means no callback. Each operation can be
 * made to fail (fake_store_fault): at the call (RC_DB returned, no
 * callback) or in the callback (rc RC_DB, nothing changed). Calls are
 * counted per operation, also failed ones.
 *
 * Threads: the thread that runs base.
 */
#ifndef CMPGW_TEST_FAKE_STORE_H
#define CMPGW_TEST_FAKE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <openssl/x509.h>

#include "cmp/asn1.h"
#include "store/ops.h"

struct event_base;

/* One per store_ops entry (call counters and faults). */
enum fake_op {
	FAKE_NUP,
	FAKE_ADMIT_IR,
	FAKE_ADMIT_RA_IR,
	FAKE_IR_COMMIT,
	FAKE_RA_IR_COMMIT,
	FAKE_TXN_GET,
	FAKE_CONFIRM,
	FAKE_CERTCONF,
	FAKE_SWEEP,
	FAKE_AUDIT,
	FAKE_VENDORS,
	FAKE_RENEW_LOOKUP,
	FAKE_RENEW_ADMIT,
	FAKE_RENEW_COMMIT,
	FAKE_REVOKE,
	FAKE_CRL_CURRENT,
	FAKE_CRL_ROWS,
	FAKE_CRL_STORE,
	FAKE_TOKEN_GET,
	FAKE_TOKEN_IR_COMMIT,
	FAKE_FWD_BEGIN,
	FAKE_FWD_BEGIN_RENEW,
	FAKE_FWD_DONE,
	FAKE_FWD_FAIL,
	FAKE_FWD_GET,
	FAKE_FWD_SWEEP,
	FAKE_OP_COUNT
};

enum fake_fault {
	FAKE_FAULT_NONE,
	FAKE_FAULT_CALL,     /* the call returns RC_DB: no callback */
	FAKE_FAULT_CALLBACK, /* the callback gets rc RC_DB; nothing changed */
};

enum fake_serial_state { FAKE_SERIAL_ALLOWED, FAKE_SERIAL_ENROLLED, FAKE_SERIAL_BLOCKED };

struct fake_serial {
	int64_t vendor_id;
	char *serial;
	enum fake_serial_state state;
	bool bound; /* key_fp holds the vendor key it is bound to */
	unsigned char key_fp[32];
};

/* A byte string owned by the fake; p NULL = SQL NULL. */
struct fake_bytes {
	unsigned char *p;
	size_t len;
};

struct fake_cert {
	int64_t id;
	char *issuer, *serial_hex, *subject, *alias, *device_serial; /* device_serial may be NULL */
	struct fake_bytes der;
	unsigned char key_fp[32];
	enum store_outcome status; /* STORE_OUT_UNCONFIRMED, _ACTIVE, _REVOKED, _SUPERSEDED */
	int64_t vendor_id;	   /* 0: none */
	int reason;		   /* revocation reason, -1 none */
};

struct fake_txn {
	struct fake_bytes tid;
	char *alias, *body, *device_serial, *token_ref, *fail_text;
	enum store_outcome state; /* PENDING, ISSUED, CONFIRMED, REJECTED, CLOSED, REVOKED */
	struct fake_bytes sender_fp, sender_cert, server_nonce, client_nonce, cert_hash,
		upstream_nonce;
	long cert_req_id;			 /* < 0: NULL */
	int64_t cert_id, old_cert_id, vendor_id; /* 0: none */
	bool implicit, revoke_old, deadline_passed;
	int fail_info; /* -1 none */
};

enum fake_token_state { FAKE_TOKEN_ACTIVE, FAKE_TOKEN_USED, FAKE_TOKEN_REVOKED };

struct fake_token {
	char *ref, *alias, *identity;
	struct fake_bytes secret_enc;
	enum fake_token_state state;
	bool expired;
};

struct fake_audit {
	char *event, *alias, *tid_hex, *vendor, *serial, *peer, *detail; /* NULL when not given */
};

struct fake_store;

/* The table to put in struct ra_worker (ops) with the fake as db. */
extern const struct store_ops fake_store_ops;

/* New empty store whose callbacks run on base; NULL on OOM. */
struct fake_store *fake_store_new(struct event_base *base);
/* Free it; callbacks still queued are dropped without being called. */
void fake_store_free(struct fake_store *fs);

/* ---- seeding (0 or RC_NOMEM / RC_INVAL) ---- */
/* kind: "anchor" or "intermediate" */
int fake_store_add_vendor(struct fake_store *fs, int64_t id, const char *name, const char *rule,
			  bool allow_reenroll) WUR;
int fake_store_add_vendor_cert(struct fake_store *fs, int64_t vendor_id, const char *kind,
			       X509 *x) WUR;
int fake_store_add_serial(struct fake_store *fs, int64_t vendor_id, const char *serial,
			  enum fake_serial_state state) WUR;
/* Change a vendor's re-enrollment rule (then fake_worker_reload: the
 * worker reads it from its trust cache). */
int fake_store_vendor_reenroll(struct fake_store *fs, int64_t id, bool allow) WUR;
/* Bind a serial to the vendor key of cert x (SHA-256 of its SPKI). */
int fake_store_bind_serial(struct fake_store *fs, int64_t vendor_id, const char *serial,
			   X509 *x) WUR;
/* An issued certificate (issuer, serial, key fingerprint from x); its id
 * in *id when id is not NULL. */
int fake_store_add_cert(struct fake_store *fs, X509 *x, enum store_outcome status,
			int64_t vendor_id, const char *device_serial, const char *alias,
			int64_t *id) WUR;
/* Change the status of certificate id (revocation reason 1 for revoked). */
int fake_store_cert_set_status(struct fake_store *fs, int64_t id, enum store_outcome status) WUR;
/* A transaction row as given (copied; tid required). */
int fake_store_add_txn(struct fake_store *fs, const struct fake_txn *t) WUR;
int fake_store_add_token(struct fake_store *fs, const char *ref, const char *alias,
			 const char *identity, const unsigned char *sealed, size_t sealed_len,
			 enum fake_token_state state, bool expired) WUR;
/* Change token ref: its state, expiry and (alias not NULL) its alias. */
int fake_store_token_set(struct fake_store *fs, const char *ref, enum fake_token_state state,
			 bool expired, const char *alias) WUR;
/* A transaction every unknown transactionID resolves to (a copy with that
 * tid is inserted at the first lookup by txn_get, confirm, certconf,
 * fwd_get): lets a fuzzer reach the certConf/pollReq paths with requests
 * whose transactionID it cannot know. NULL: none. */
int fake_store_set_txn_template(struct fake_store *fs, const struct fake_txn *t) WUR;

/* ---- faults and inspection ---- */
void fake_store_fault(struct fake_store *fs, enum fake_op op, enum fake_fault f);
/* Make op (an admission: admit_ir, admit_ra_ir) answer st whatever the
 * rows say, as when a concurrent request changes them between the
 * read-only admission and the commit; STORE_OUT_COUNT: off. */
void fake_store_force(struct fake_store *fs, enum fake_op op, enum store_outcome st);
/* Call fn(arg, op) at every call, after it is counted and before it is
 * carried out (a test can make the client go away there); NULL: none. */
void fake_store_on_call(struct fake_store *fs, void (*fn)(void *arg, enum fake_op op), void *arg);
/* Connections "up" (nup); default 1. */
void fake_store_set_nup(struct fake_store *fs, int n);
/* Calls made to op (failed ones included). */
unsigned fake_store_calls(const struct fake_store *fs, enum fake_op op);
/* Total calls of every op but nup and audit. */
unsigned fake_store_calls_total(const struct fake_store *fs);
/* Callbacks queued and not yet run. */
size_t fake_store_pending(const struct fake_store *fs);

size_t fake_store_n_audit(const struct fake_store *fs);
const struct fake_audit *fake_store_audit_at(const struct fake_store *fs, size_t i);
/* Number of audit rows with this event (and, when detail_part is not
 * NULL, whose detail contains it). */
size_t fake_store_audit_count(const struct fake_store *fs, const char *event,
			      const char *detail_part);

size_t fake_store_n_txn(const struct fake_store *fs);
const struct fake_txn *fake_store_txn_at(const struct fake_store *fs, size_t i);
const struct fake_txn *fake_store_txn_find(const struct fake_store *fs, const unsigned char *tid,
					   size_t len);
size_t fake_store_n_cert(const struct fake_store *fs);
const struct fake_cert *fake_store_cert_at(const struct fake_store *fs, size_t i);
const struct fake_cert *fake_store_cert_by_id(const struct fake_store *fs, int64_t id);
const struct fake_serial *fake_store_serial_find(const struct fake_store *fs, int64_t vendor_id,
						 const char *serial);
const struct fake_token *fake_store_token_find(const struct fake_store *fs, const char *ref);
size_t fake_store_n_crl(const struct fake_store *fs);

/* ---- a worker of ra/ on the fake (tests and fuzzers) ---- */

struct cfg;
struct ra_worker;
struct ra_trust;
struct ra_sink;

/* Load dir/cmpgw.json (test/fuzz/data/ra/): the files of dir are copied
 * to a private temporary directory first, keys with mode 0600 (git keeps
 * no such mode; core/file.c refuses group-readable keys). 0 or an rc with
 * the reason on stderr. */
int fake_cfg_load(const char *dir, struct cfg **out) WUR;

/* The vendor registry of fs as a trust cache (what ra/worker.c builds
 * from store_ops.vendors); NULL on error. */
struct ra_trust *fake_store_trust(const struct fake_store *fs);

/* A struct ra_worker on base and cfg (a reference is taken) whose store is
 * fs, with the trust cache of fs, a certificate cache, the unauthenticated
 * work bounds and a CRL publisher without timers: what ra_worker_init sets
 * up, minus PostgreSQL and the housekeeping timers. NULL on error. */
struct ra_worker *fake_worker_new(struct event_base *base, struct cfg *cfg, struct fake_store *fs);
void fake_worker_free(struct ra_worker *rw);
/* Replace rw's trust cache with the registry of fs now. */
int fake_worker_reload(struct ra_worker *rw, const struct fake_store *fs) WUR;

/* An answer sink (ra/req.h) that records what it gets: pass &fake_sink and
 * a struct fake_answer as its argument. Set gone to make the client go
 * away. der is a copy (free with fake_answer_clear). */
struct fake_answer {
	unsigned n; /* deliveries (must end at exactly 1) */
	int what;   /* enum ra_sink_what of the last one */
	unsigned char *der;
	size_t len;
	bool continues;
	bool gone;
};
extern const struct ra_sink fake_sink;
void fake_answer_clear(struct fake_answer *a);

/* ---- the fixed environment of test/fuzz/data/ra/ ---- */

/* What test/fuzz/make_ra_data.sh made: alias "3gpp" (CA mode, vendor
 * certificates and tokens, implicitConfirm granted when asked) and
 * "strict" (vendor certificates only, no implicitConfirm); vendor
 * "fuzzvendor". */
#define FAKE_VENDOR_ID	  1
#define FAKE_VENDOR	  "fuzzvendor"
#define FAKE_TOKEN_REF	  "00112233445566778899aabbccddeeff"
#define FAKE_TOKEN_SECRET "fuzz-token-secret-000001"
#define FAKE_PEER	  "192.0.2.1:4711"

struct fake_reply;

struct fake_env {
	struct event_base *base;
	struct cfg *cfg;
	struct fake_store *fs; /* the store of the request in progress (rw->db) */
	struct ra_worker *rw;
	X509 *vendor_root, *vendor_ca, *op_dev, *dev1, *dev2, *cmp;
	int64_t op_dev_id;     /* op-dev.pem's row in fs */
	unsigned char *sealed; /* the token secret sealed with the config's key */
	size_t sealed_len;
	unsigned char op_dev_hash[64]; /* certHash of op-dev.pem */
	unsigned op_dev_hlen;
	FILE *log; /* fake_env_capture_log */
	long log_mark;
	/* fake_env_run_gone: when the client goes away, and whose */
	enum fake_op gone_at;
	struct fake_answer *gone_a;
};

/* Load dir (cfg, certificates), make the base and a worker on a seeded
 * store (fake_env_reset). 0 or an rc (reason on stderr). */
int fake_env_open(struct fake_env *e, const char *dir) WUR;
void fake_env_close(struct fake_env *e);
/* A fresh store for the next request: serials FUZZ-0001 allowed and
 * FUZZ-0002 blocked, op-dev.pem active for FUZZ-0001 on "3gpp", the token
 * active on "3gpp", and, with txn_template, a template transaction issued
 * for op-dev.pem with no sender, nonce or certReqId (fake_store.h). The
 * worker's trust cache and unauthenticated-work bounds are renewed too. */
int fake_env_reset(struct fake_env *e, bool txn_template) WUR;
/* ra_submit der on alias label as FAKE_PEER, then run the loop until it
 * has nothing left; a is cleared first. */
void fake_env_submit(struct fake_env *e, const char *label, const unsigned char *der, size_t len,
		     struct fake_answer *a);
/* Send the gateway's log (info level) to a temporary file, so that tests
 * can count lines (the "CA signature" line of ra_issue). 0 or RC_IO. */
int fake_env_capture_log(struct fake_env *e) WUR;
/* Forget the lines logged so far (fake_env_reset does it too). */
void fake_env_log_mark(struct fake_env *e);
/* Lines containing needle logged since the mark. */
int fake_env_log_count(struct fake_env *e, const char *needle);
/* ir/cr/...: fake_env_submit the file dir/name and decode the answer into
 * r (r->body 0 when there is no decodable answer); the file must exist. */
void fake_env_run(struct fake_env *e, const char *label, const char *dir, const char *name,
		  struct fake_answer *a, struct fake_reply *r);
/* fake_env_reset(e, false), or a TAP "Bail out!" and exit(1). */
void fake_env_must_reset(struct fake_env *e);
/* "CA signature" lines (ra_issue) logged since the mark; marks again. */
int fake_env_signatures(struct fake_env *e);
/* fake_env_run, but the client goes away (a->gone) when the request first
 * calls the store for op at; the call hook is removed afterwards. */
void fake_env_run_gone(struct fake_env *e, const char *label, const char *dir, const char *name,
		       enum fake_op at, struct fake_answer *a, struct fake_reply *r);
/* The PKIMessage in dir/name, decoded (caller frees); aborts if unreadable. */
CMPGW_MSG *fake_load_msg(const char *dir, const char *name);
/* The PEM private key / first PEM certificate in RA_DATA_DIR/file (the
 * test data of test/fuzz/data/ra; caller frees); a TAP "Bail out!" and
 * exit(1) if unreadable. */
EVP_PKEY *fake_load_key(const char *file);
X509 *fake_load_cert(const char *file);
/* Read a whole file (malloc'd into *der); 0 or RC_IO. */
int fake_read_file(const char *path, unsigned char **der, size_t *len) WUR;

/* The answer decoded: body type, the first PKIStatusInfo's status, its
 * first failInfo bit (-1 none) and its statusString joined; whether a
 * certificate came, implicitConfirm was granted, caPubs count. */
struct fake_reply {
	int body;
	long status;
	int bit;
	char text[512];
	bool has_cert, implicit;
	int n_capubs;
	void *msg; /* CMPGW_MSG *, owned: fake_reply_clear */
};
/* 0, or -1 when a is not exactly one DER PKIMessage answer. */
int fake_reply_decode(const struct fake_answer *a, struct fake_reply *r);
void fake_reply_clear(struct fake_reply *r);

#endif
