/*
 * policy/serial.h - a vendor's device serial syntax (issue 14): which
 * bytes a serial may hold and how long it may be, checked on every line
 * of a serial list import (docs/SERIALS.md).
 *
 * Serials are compared exactly, byte for byte and case-sensitively, at
 * import and at enrollment alike; nothing here normalises them.
 *
 * Pure functions: no I/O, no shared state; any thread.
 */
#ifndef CMPGW_POLICY_SERIAL_H
#define CMPGW_POLICY_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"

#define POLICY_SERIAL_LEN_DEFAULT 64  /* bytes, when the vendor set none */
#define POLICY_SERIAL_LEN_MAX	  256 /* the largest maximum a vendor may set */
#define POLICY_SERIAL_WHY_MAX	  96  /* a why buffer of this size never truncates */
/* The default character set: printable ASCII without space and without
 * the characters that mean something in a DN string, a CSV file or a
 * glob (RFC 4514 2.4 special characters , = + \ and / *). */
#define POLICY_SERIAL_FORBIDDEN_DEFAULT ",=+/\\*"

/* A syntax: a maximum length and a set of allowed bytes (bit b of
 * allow[b / 8] set: byte b allowed; only 0x21-0x7e can ever be set). */
struct policy_serial_syntax {
	unsigned max_len;
	uint8_t allow[16];
};

/* sx = the default: 64 bytes of 0x21-0x7e without ,=+/\* */
void policy_serial_syntax_default(struct policy_serial_syntax *sx);

/*
 * Set sx's character set from spec: printable ASCII characters (0x21-0x7e)
 * and ranges "a-b" (a <= b); a '-' first or last is literal. "default"
 * restores the default set. Returns 0, or RC_INVAL (sx unchanged) with a
 * reason in why (may be NULL) for an empty spec, a byte outside 0x21-0x7e
 * or a reversed range.
 */
int policy_serial_syntax_set_charset(struct policy_serial_syntax *sx, const char *spec, char *why,
				     size_t whylen) WUR;

/* Set sx's maximum length: 1..POLICY_SERIAL_LEN_MAX, else RC_INVAL. */
int policy_serial_syntax_set_max_len(struct policy_serial_syntax *sx, long max_len) WUR;

/* true if sx allows exactly the default character set */
bool policy_serial_charset_is_default(const struct policy_serial_syntax *sx);

/*
 * Write sx's character set as a canonical spec (ranges of 3 or more
 * bytes as "a-b"; a literal '-' last) into buf, NUL-terminated; a
 * buffer of 200 bytes always suffices. Returns 0 or RC_INVAL if too small.
 */
int policy_serial_charset_str(const struct policy_serial_syntax *sx, char *buf, size_t len) WUR;

/*
 * Check one serial s of n bytes (not NUL-terminated; may hold NUL bytes)
 * against sx. Returns 0, or RC_INVAL with the first reason in why (may
 * be NULL): "empty serial", "N bytes, longer than the maximum of M",
 * "NUL byte at column C", "control byte 0xXX at column C", "whitespace
 * (0xXX) at column C", "non-ASCII byte 0xXX at column C (UTF-8 is not
 * allowed)", "character 'X' at column C is not allowed". Columns count
 * bytes from 1.
 */
int policy_serial_check(const struct policy_serial_syntax *sx, const char *s, size_t n, char *why,
			size_t whylen) WUR;

#endif
