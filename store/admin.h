/*
 * store/admin.h - audit rows for admin changes, naming their principal
 * (issue 14, migration 018).
 *
 * Every admin change (CLI or, later, admin API) writes one audit row whose
 * principal column names who made it: "os:<user>" for the CLI on the
 * gateway host, "apikey:<key id>" or "cert:<subject>" for the admin API.
 * Device traffic leaves principal NULL.
 *
 * Blocking calls on a store_conn: CLI (or admin API worker) thread only.
 */
#ifndef CMPGW_STORE_ADMIN_H
#define CMPGW_STORE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

struct store_conn;

/* Longest principal, detail and event stored (longer input: RC_INVAL). */
#define STORE_ADMIN_PRINCIPAL_MAX 512
#define STORE_ADMIN_DETAIL_MAX	  2048
#define STORE_ADMIN_EVENT_MAX	  64

/*
 * The CLI's principal: "os:<user>" for the effective uid (getpwuid, or
 * "os:uid=<n>" when it has no passwd entry), with " (sudo by <name>)"
 * appended when SUDO_USER is set and names someone else. SUDO_USER is
 * only a note (the caller's environment can set it), never an identity.
 * Writes a NUL-terminated string into buf. Returns 0, or RC_INVAL when
 * buf is too small. Any thread (getpwuid_r).
 */
int store_admin_principal_os(char *buf, size_t len) WUR;

/*
 * Insert one audit row: event (e.g. "vendor_added"), principal (required,
 * e.g. from store_admin_principal_os), and the optional context columns
 * vendor, device_serial, alias and detail (NULL leaves them NULL).
 * Strings are copied by libpq; nothing is kept. Never put a secret in
 * detail. Returns 0, RC_INVAL (NULL conn/event/principal, empty event or
 * a string over its limit above), or RC_DB.
 */
int store_audit_admin(struct store_conn *c, const char *principal, const char *event,
		      const char *vendor, const char *device_serial, const char *alias,
		      const char *detail) WUR;

/*
 * Group an admin change and its audit row into one transaction on c:
 * store_admin_begin, the change(s), store_audit_admin, then
 * store_admin_end(c, true) to commit or (c, false) to roll back (a
 * failed statement aborts the transaction: roll back then). 0 or RC_DB.
 */
int store_admin_begin(struct store_conn *c) WUR;
int store_admin_end(struct store_conn *c, bool commit) WUR;

#endif
