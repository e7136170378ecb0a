/*
 * cmd/serials.h - the serial list import that `cmpgw serials import` and
 * the admin API's upload (cmd/api_upload.c) both run: the same line
 * reading, syntax checks, store calls, figures and audit row
 * (docs/SERIALS.md).
 *
 * Blocking (a store_conn of its own); the CLI's thread or an API job's.
 */
#ifndef CMPGW_CMD_SERIALS_H
#define CMPGW_CMD_SERIALS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/serial.h"
#include "store/serial.h"

struct store_conn;

#define CMD_SERIALS_REFUSED_SHOW 100 /* refused lines listed; then "and N more" */

struct cmd_serials_opts {
	bool blocked;	   /* import as blocked (else allowed) */
	bool skip_invalid; /* import the valid lines even if some are refused */
	bool csv;	   /* text/csv: the first field of each line; a header "serial" skipped */
	long max_lines;	   /* more lines: RC_TOOBIG, nothing imported; 0: no limit */
	const char *label; /* what was imported, in the audit row ("file x.txt") */
	const char *principal;	 /* the audit row's; NULL: the OS user (CLI) */
	const atomic_bool *stop; /* either true (may be NULL): give up, roll back */
	const atomic_bool *abort;
};

struct cmd_serials_result {
	long lines;	   /* lines read */
	long serial_lines; /* lines holding a serial */
	long refused;	   /* of them refused by the syntax */
	int nrefusals;	   /* the first CMD_SERIALS_REFUSED_SHOW, in order */
	struct {
		long line;
		char why[POLICY_SERIAL_WHY_MAX];
	} refusals[CMD_SERIALS_REFUSED_SHOW];
	struct store_serial_counts k; /* set when the merge ran */
	char err[600];		      /* why it failed (RC_DB, RC_IO, ...) */
};

/*
 * Import the serials read from in for vendor name (id vid) as o says.
 * Returns 0 (committed with its audit row "serials_imported"); RC_INVAL
 * (refused lines and not skip_invalid: nothing imported, audit row
 * "serials_import_refused"); RC_TOOBIG (more than o->max_lines lines:
 * nothing imported); RC_CANCELLED (stop or abort: rolled back); RC_IO (a
 * read error: rolled back); RC_DB (rolled back). res->err says why for
 * the last three.
 */
int cmd_serials_import(struct store_conn *c, const char *name, int64_t vid, FILE *in,
		       const struct cmd_serials_opts *o, struct cmd_serials_result *res) WUR;

#endif
