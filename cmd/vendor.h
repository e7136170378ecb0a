/*
 * cmd/vendor.h - the vendor registry's changes, shared by the CLI
 * (cmd/vendor.c: `cmpgw vendor ...`) and the admin API
 * (cmd/api_anchors.c, cmd/api_serials.c), so that both run the same
 * checks (docs/VENDORS.md) and write the same audit rows.
 *
 * Blocking: a CLI process or an admin API job thread (its own
 * store_conn), never a worker loop.
 */
#ifndef CMPGW_CMD_VENDOR_H
#define CMPGW_CMD_VENDOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "core/rc.h"

struct store_conn;
struct store_vsub;

#define CMD_VENDOR_CERTS_MAX 64 /* certificates in one file or PEM text */

/* Where the registry's messages go: level CMD_NOTE_INFO (the CLI's stdout),
 * CMD_NOTE_WARN, CMD_NOTE_REFUSED (the reason nothing changed). cli: the
 * messages may suggest CLI options (--force, cmpgw vendor set). */
enum { CMD_NOTE_INFO, CMD_NOTE_WARN, CMD_NOTE_REFUSED };
struct cmd_vnote {
	void (*fn)(void *arg, int level, const char *msg);
	void *arg;
	bool cli;
};

/* Every PEM CERTIFICATE block of buf (all must decode: all or none), or
 * the one DER certificate buf is. what names buf in messages. NULL after
 * a refusal note. */
STACK_OF(X509) *cmd_vendor_certs_parse(const char *what, const unsigned char *buf, size_t len,
				       const struct cmd_vnote *n);

/*
 * Register certs as kind ("anchor" | "intermediate") of vendor by
 * principal, in the caller's transaction (store_admin_begin/end): the
 * checks of docs/VENDORS.md (CA, validity unless force, an anchor
 * self-signed, an intermediate chaining to the vendor's registered
 * anchors, fit to issue under the vendor's strictness, not registered for
 * another vendor), the rows, and the audit row (source names where the
 * certificates came from). 0 (registered or already so), RC_PERM
 * (refused: noted), RC_NOTFOUND (no such vendor), RC_DB/RC_NOMEM (noted).
 * A running gateway reloads the registry on the rows' notification
 * (migration 014).
 */
int cmd_vendor_certs_register(struct store_conn *c, const char *principal, const char *vendor,
			      const char *kind, STACK_OF(X509) *certs, bool force,
			      const char *source, const struct cmd_vnote *n);

/*
 * Submit one certificate as kind for vendor by principal (admin API):
 * the same checks as registration (validity without force), then a
 * pending submission and its audit row, in one transaction. Nothing is
 * trusted until an operator approves it. *id gets the submission's id.
 * 0, RC_PERM (refused: noted), RC_EXISTS (already registered or pending:
 * noted), RC_NOTFOUND, RC_INVAL (not exactly one certificate: noted),
 * RC_DB.
 */
int cmd_vendor_submit(struct store_conn *c, const char *principal, const char *vendor,
		      const char *kind, STACK_OF(X509) *certs, int64_t *id,
		      const struct cmd_vnote *n);

/*
 * Decide pending submission id (only_vendor non-NULL: it must be that
 * vendor's) by principal: "approved" registers it through
 * cmd_vendor_certs_register (every check again, now) and marks it, one
 * transaction; "rejected" (reason required) and "withdrawn" mark it. Each
 * writes an audit row. *out (may be NULL) gets the submission as decided
 * (store_vendor_sub_clear). 0, RC_NOTFOUND, RC_EXISTS (no longer pending:
 * noted with its state), RC_PERM (a check refused it: noted; it stays
 * pending), RC_DB.
 */
int cmd_vendor_decide(struct store_conn *c, const char *principal, int64_t id,
		      const char *only_vendor, const char *state, const char *reason,
		      struct store_vsub *out, const struct cmd_vnote *n);

/* Create vendor name (rule NULL: subject_serialnumber) by principal, with
 * its audit row, in one transaction. 0, RC_EXISTS, RC_INVAL, RC_DB. */
int cmd_vendor_create(struct store_conn *c, const char *principal, const char *name,
		      const char *rule, bool allow_reenroll, bool strict);

/* Set vendor name's strictness by principal (audit row when it changes),
 * one transaction; *was the previous value. 0, RC_NOTFOUND, RC_DB. */
int cmd_vendor_set_strict(struct store_conn *c, const char *principal, const char *name,
			  bool strict, bool *was);

#endif
