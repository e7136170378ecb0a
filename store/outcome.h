/*
 * store/outcome.h - every outcome a store/ query reports, as one C enum.
 *
 * The SQL functions answer with status text ("ok", "serial_unknown",
 * "tid_in_use", ...) and tables hold state text ("pending", "active",
 * ...). store/ maps that text to this enum in exactly one place
 * (store_outcome_parse), so nothing outside store/ compares status
 * strings. The SQL texts themselves do not change; a text this table does
 * not know becomes STORE_OUT_OTHER (and is logged by store/).
 * Threads: any (pure functions over static tables).
 */
#ifndef CMPGW_STORE_OUTCOME_H
#define CMPGW_STORE_OUTCOME_H

#include <stddef.h>

enum store_outcome {
	STORE_OUT_OK = 0, /* "ok" (also: a usable token) */
	/* admission and commit refusals (migrations 002, 007, 011, 012) */
	STORE_OUT_SERIAL_UNKNOWN,
	STORE_OUT_SERIAL_BLOCKED,
	STORE_OUT_CLONE,
	STORE_OUT_REENROLL_DENIED,
	STORE_OUT_TID_IN_USE,
	/* renewal (004, 009, 011) */
	STORE_OUT_OLD_UNKNOWN,
	STORE_OUT_OLD_REVOKED,
	STORE_OUT_OLD_SUPERSEDED,
	STORE_OUT_OLD_UNCONFIRMED,
	/* certConf (008): refusals, and "slow" = take the two-step path */
	STORE_OUT_SLOW,
	STORE_OUT_NOT_SENDER,
	STORE_OUT_BAD_SIGNATURE,
	STORE_OUT_BAD_NONCE,
	STORE_OUT_BAD_CERT_REQ_ID,
	STORE_OUT_BAD_CERT_HASH,
	/* revocation and CRL (003) */
	STORE_OUT_RELEASED,
	STORE_OUT_NOT_HOLDER,
	STORE_OUT_NOT_ON_HOLD,
	STORE_OUT_CONFLICT,
	/* RA mode (006) */
	STORE_OUT_DUPLICATE,
	STORE_OUT_GONE,
	/* tokens (005) */
	STORE_OUT_USED,
	STORE_OUT_ALIAS,
	/* shared words: a status, a transaction state or a certificate status */
	STORE_OUT_UNKNOWN,
	STORE_OUT_EXPIRED,
	STORE_OUT_REVOKED,
	/* transaction states (transactions.state) */
	STORE_OUT_PENDING,
	STORE_OUT_ISSUED,
	STORE_OUT_CONFIRMED,
	STORE_OUT_REJECTED,
	STORE_OUT_CLOSED,
	/* certificate statuses (certificates.status) */
	STORE_OUT_UNCONFIRMED,
	STORE_OUT_ACTIVE,
	STORE_OUT_SUPERSEDED,
	STORE_OUT_OTHER, /* a text not in the table (logged where it was read) */
	STORE_OUT_COUNT
};

/* The SQL text of o ("ok", "serial_unknown", ...; "other" for
 * STORE_OUT_OTHER, "?" out of range): static, for logs and audit details. */
const char *store_outcome_name(enum store_outcome o);

/* text (NUL-terminated, may be NULL) -> outcome; STORE_OUT_OTHER when the
 * text is not one of the names above. Internal to store/ in spirit: the
 * callbacks hand ra/ the enum, not the text. */
enum store_outcome store_outcome_parse(const char *text);
/* The same for len bytes of text (binary-format columns). */
enum store_outcome store_outcome_parse_n(const char *text, size_t len);

/* Callback of a statement that answers one status (rc RC_OK, RC_DB or
 * RC_CANCELLED; st meaningful only when rc == 0). */
typedef void (*store_outcome_cb)(void *arg, int rc, enum store_outcome st);
/* Callback of a statement that answers a count (the sweeps). */
typedef void (*store_count_cb)(void *arg, int rc, long n);

#endif
