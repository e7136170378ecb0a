/*
 * store/outcome.c - the one mapping from SQL status text to
 * enum store_outcome.
 */
#include "store/outcome.h"

#include <string.h>

static const char *const names[STORE_OUT_COUNT] = {
	[STORE_OUT_OK] = "ok",
	[STORE_OUT_SERIAL_UNKNOWN] = "serial_unknown",
	[STORE_OUT_SERIAL_BLOCKED] = "serial_blocked",
	[STORE_OUT_CLONE] = "clone",
	[STORE_OUT_REENROLL_DENIED] = "reenroll_denied",
	[STORE_OUT_TID_IN_USE] = "tid_in_use",
	[STORE_OUT_OLD_UNKNOWN] = "old_unknown",
	[STORE_OUT_OLD_REVOKED] = "old_revoked",
	[STORE_OUT_OLD_SUPERSEDED] = "old_superseded",
	[STORE_OUT_OLD_UNCONFIRMED] = "old_unconfirmed",
	[STORE_OUT_SLOW] = "slow",
	[STORE_OUT_NOT_SENDER] = "not_sender",
	[STORE_OUT_BAD_SIGNATURE] = "bad_signature",
	[STORE_OUT_BAD_NONCE] = "bad_nonce",
	[STORE_OUT_BAD_CERT_REQ_ID] = "bad_cert_req_id",
	[STORE_OUT_BAD_CERT_HASH] = "bad_cert_hash",
	[STORE_OUT_RELEASED] = "released",
	[STORE_OUT_NOT_HOLDER] = "not_holder",
	[STORE_OUT_NOT_ON_HOLD] = "not_on_hold",
	[STORE_OUT_CONFLICT] = "conflict",
	[STORE_OUT_DUPLICATE] = "duplicate",
	[STORE_OUT_GONE] = "gone",
	[STORE_OUT_USED] = "used",
	[STORE_OUT_ALIAS] = "alias",
	[STORE_OUT_UNKNOWN] = "unknown",
	[STORE_OUT_EXPIRED] = "expired",
	[STORE_OUT_REVOKED] = "revoked",
	[STORE_OUT_PENDING] = "pending",
	[STORE_OUT_ISSUED] = "issued",
	[STORE_OUT_CONFIRMED] = "confirmed",
	[STORE_OUT_REJECTED] = "rejected",
	[STORE_OUT_CLOSED] = "closed",
	[STORE_OUT_UNCONFIRMED] = "unconfirmed",
	[STORE_OUT_ACTIVE] = "active",
	[STORE_OUT_SUPERSEDED] = "superseded",
	[STORE_OUT_OTHER] = "other",
};

const char *store_outcome_name(enum store_outcome o)
{
	return (unsigned)o < STORE_OUT_COUNT ? names[o] : "?";
}

enum store_outcome store_outcome_parse_n(const char *text, size_t len)
{
	if (!text)
		return STORE_OUT_OTHER;
	/* "ok" first: the answer of almost every call on the hot path */
	for (int i = 0; i < STORE_OUT_OTHER; i++)
		if (strncmp(names[i], text, len) == 0 && names[i][len] == '\0')
			return (enum store_outcome)i;
	return STORE_OUT_OTHER;
}

enum store_outcome store_outcome_parse(const char *text)
{
	return text ? store_outcome_parse_n(text, strlen(text)) : STORE_OUT_OTHER;
}
