/*
 * cmd/serials.c - `cmpgw serials import` (a vendor's device serial list,
 * checked line by line against the vendor's serial syntax, imported all
 * or nothing with a report) and `cmpgw serials syntax` (that syntax).
 * docs/SERIALS.md is the user's documentation of both.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/cmd.h"
#include "cmd/serials.h"
#include "policy/serial.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/serial.h"
#include "store/vendor.h"

// clang-format off
static const char usage_import[] =
	"usage: cmpgw serials import [--config FILE] [--blocked] [--skip-invalid] NAME FILE|-\n"
	"  import device serials of vendor NAME, one per line (- reads stdin); all or\n"
	"  nothing: one refused line refuses the whole file (see docs/SERIALS.md)\n"
	COMMON_HELP
	"  --blocked           import them as blocked instead of allowed\n"
	"  --skip-invalid      import the valid lines even if some are refused\n";
static const char usage_syntax[] =
	"usage: cmpgw serials syntax [--config FILE] [--max-len N] [--allow CHARS] NAME\n"
	"  show or set the serial syntax of vendor NAME (checked at import)\n"
	COMMON_HELP
	"  --max-len N         longest serial in bytes, 1..256 (default 64)\n"
	"  --allow CHARS       the allowed characters: printable ASCII and ranges such\n"
	"                      as 0-9A-F; \"default\": printable ASCII without space\n"
	"                      and , = + / \\ *\n";
// clang-format on

struct sopts {
	const char *config, *max_len, *allow;
	bool blocked, skip_invalid;
	const char *pos[2];
	int npos;
};

/* argv[0]: the sub-word. 0 parsed, -1 help printed, 2 error printed. */
static int parse(int argc, char **argv, bool import, struct sopts *o)
{
	static const struct option import_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "blocked", no_argument, NULL, 'b' },
		{ "skip-invalid", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option syntax_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "max-len", required_argument, NULL, 'm' },
		{ "allow", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = import ? "serials import" : "serials syntax";
	const char *usage = import ? usage_import : usage_syntax;
	int want = import ? 2 : 1, c;

	memset(o, 0, sizeof(*o));
	cmd_getopt_reset();
	while ((c = cmd_getopt(cmd, argc, argv, ":c:h", import ? import_opts : syntax_opts)) !=
	       -1) {
		if (c == '?')
			return 2;
		if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		}
		if (c == 'c')
			o->config = optarg;
		else if (c == 'b')
			o->blocked = true;
		else if (c == 's')
			o->skip_invalid = true;
		else if (c == 'm')
			o->max_len = optarg;
		else
			o->allow = optarg;
	}
	for (; optind < argc && o->npos < 2; optind++)
		o->pos[o->npos++] = argv[optind];
	if (optind < argc || o->npos != want) {
		fprintf(stderr, "cmpgw %s: expected %s\n%s", cmd, import ? "NAME FILE|-" : "NAME",
			usage);
		return 2;
	}
	o->config = cmd_config(cmd, o->config);
	return o->config ? 0 : 2;
}

/* The vendor's syntax from the database into sx. 0 or 1 (printed). */
static int load_syntax(struct store_conn *c, int64_t vid, const char *name,
		       struct policy_serial_syntax *sx)
{
	char spec[256], err[256] = "", why[POLICY_SERIAL_WHY_MAX] = "";
	int max_len = 0;

	policy_serial_syntax_default(sx);
	if (store_serial_syntax_get(c, vid, &max_len, spec, sizeof(spec), err, sizeof(err)) != 0 ||
	    policy_serial_syntax_set_max_len(sx, max_len) != 0 ||
	    (spec[0] && policy_serial_syntax_set_charset(sx, spec, why, sizeof(why)) != 0)) {
		fprintf(stderr, "cmpgw: vendor \"%s\": cannot load its serial syntax: %s%s\n", name,
			err, why);
		return 1;
	}
	return 0;
}

/* The audit row of a syntax change (issue 14: every admin change names
 * its principal). 0 or 1 (printed). */
static int syntax_audit(struct store_conn *c, const char *name,
			const struct policy_serial_syntax *sx, const char *spec)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX], detail[300];

	snprintf(detail, sizeof(detail), "max-len %u, allow %s", sx->max_len,
		 policy_serial_charset_is_default(sx) ? "default" : spec);
	if (store_admin_principal_os(who, sizeof(who)) != 0 ||
	    store_audit_admin(c, who, "serial_syntax_set", name, NULL, NULL, detail) != 0) {
		fprintf(stderr, "cmpgw serials syntax: changed, but the audit row failed\n");
		return 1;
	}
	return 0;
}

static int syntax_run(struct store_conn *c, const struct sopts *o, int64_t vid)
{
	struct policy_serial_syntax sx;
	char why[POLICY_SERIAL_WHY_MAX] = "", err[256] = "", spec[200];
	long max_len = 0;
	char *end = NULL;

	if (load_syntax(c, vid, o->pos[0], &sx) != 0)
		return 1;
	if (o->max_len) {
		errno = 0;
		max_len = strtol(o->max_len, &end, 10);
		if (errno || !*o->max_len || *end ||
		    policy_serial_syntax_set_max_len(&sx, max_len)) {
			fprintf(stderr, "cmpgw serials syntax: --max-len: \"%s\" is not 1..%d\n",
				o->max_len, POLICY_SERIAL_LEN_MAX);
			return 2;
		}
	}
	if (o->allow && policy_serial_syntax_set_charset(&sx, o->allow, why, sizeof(why)) != 0) {
		fprintf(stderr, "cmpgw serials syntax: --allow: %s\n", why);
		return 2;
	}
	if (policy_serial_charset_str(&sx, spec, sizeof(spec)) != 0)
		return 1;
	if ((o->max_len || o->allow) &&
	    store_serial_syntax_set(c, vid, (int)max_len,
				    !o->allow				    ? NULL
				    : policy_serial_charset_is_default(&sx) ? ""
									    : spec,
				    err, sizeof(err)) != 0) {
		fprintf(stderr, "cmpgw serials syntax: %s\n", err[0] ? err : "update failed");
		return 1;
	}
	if ((o->max_len || o->allow) && syntax_audit(c, o->pos[0], &sx, spec) != 0)
		return 1;
	printf("vendor %s: serials of 1..%u bytes, allowed characters: %s\n", o->pos[0], sx.max_len,
	       policy_serial_charset_is_default(&sx) ? "default" : spec);
	return 0;
}

/* One import's reading state. */
struct reader {
	FILE *in;
	const struct cmd_serials_opts *o;
	struct cmd_serials_result *res;
	size_t len;			     /* bytes of the current line (may exceed buf) */
	bool header_done;		     /* csv: the first serial line was looked at */
	char buf[POLICY_SERIAL_LEN_MAX + 8]; /* the first bytes of it */
	char field[POLICY_SERIAL_LEN_MAX + 8];
};

static bool given_up(const struct cmd_serials_opts *o)
{
	return (o->stop && atomic_load(o->stop)) || (o->abort && atomic_load(o->abort));
}

/* Next line without its '\n' (and without one trailing CR). 1: a line,
 * 0: end of input, RC_IO: read error (res->err), RC_TOOBIG: past
 * max_lines, RC_CANCELLED: given up. Bounded: bytes past buf are
 * counted, not kept. */
static int next_line(struct reader *rd)
{
	struct cmd_serials_result *res = rd->res;
	int ch, last = EOF;

	rd->len = 0;
	while ((ch = getc_unlocked(rd->in)) != EOF && ch != '\n') {
		if (rd->len < sizeof(rd->buf))
			rd->buf[rd->len] = (char)ch;
		rd->len++;
		last = ch;
	}
	if (ferror(rd->in)) {
		if (given_up(rd->o))
			return RC_CANCELLED;
		snprintf(res->err, sizeof(res->err), "read error after line %ld: %s", res->lines,
			 strerror(errno));
		return RC_IO;
	}
	if (ch == EOF && rd->len == 0)
		return 0;
	if (rd->o->max_lines > 0 && res->lines >= rd->o->max_lines) {
		snprintf(res->err, sizeof(res->err), "more than %ld lines", rd->o->max_lines);
		return RC_TOOBIG;
	}
	res->lines++;
	if ((res->lines & 0xffff) == 0 && given_up(rd->o))
		return RC_CANCELLED;
	/* Windows line ends */
	if (last == '\r')
		rd->len--;
	return 1;
}

static void refuse(struct reader *rd, const char *why)
{
	struct cmd_serials_result *res = rd->res;

	if (res->nrefusals < CMD_SERIALS_REFUSED_SHOW) {
		res->refusals[res->nrefusals].line = res->lines;
		snprintf(res->refusals[res->nrefusals].why, sizeof(res->refusals[0].why), "%s",
			 why);
		res->nrefusals++;
	}
	res->refused++;
}

/*
 * text/csv (docs/SERIALS.md): the serial is the first field of the line
 * (up to the first ',', or a "quoted" field with "" for a quote, RFC
 * 4180). *s, *n: the field (in rd->field when unquoted from a quoted one).
 * false: the field does not parse (why).
 */
static bool csv_field(struct reader *rd, const char **s, size_t *n, char *why, size_t whylen)
{
	size_t have = *n < sizeof(rd->buf) ? *n : sizeof(rd->buf), o = 0, i;
	const char *p = *s;
	const char *comma;

	if (have == 0 || p[0] != '"') {
		comma = memchr(p, ',', have);
		if (comma)
			*n = (size_t)(comma - p);
		return true;
	}
	for (i = 1; i < have; i++) {
		if (p[i] == '"' && i + 1 < have && p[i + 1] == '"') {
			i++;
		} else if (p[i] == '"') {
			break;
		}
		if (o < sizeof(rd->field))
			rd->field[o] = p[i];
		o++;
	}
	if (i >= have || (i + 1 < have && p[i + 1] != ',') || (i + 1 == have && have < *n)) {
		snprintf(why, whylen,
			 "a quoted field must end with its quote, then ',' or the line end");
		return false;
	}
	*s = rd->field;
	*n = o;
	return true;
}

/*
 * Read every line; the valid serials go to im (all of them with
 * skip_invalid, else only until the first refusal: the rest is still
 * read, to report every refused line). 0, or a negative code (res->err).
 */
static int read_all(struct reader *rd, const struct policy_serial_syntax *sx,
		    struct store_serial_import *im, const char *err)
{
	struct cmd_serials_result *res = rd->res;
	char why[POLICY_SERIAL_WHY_MAX];
	int got;

	while ((got = next_line(rd)) == 1) {
		const char *s = rd->buf;
		size_t n = rd->len;
		/* a UTF-8 byte order mark from a spreadsheet export */
		if (res->lines == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3, n -= 3;
		if (n == 0 || s[0] == '#')
			continue;
		if (rd->o->csv && !csv_field(rd, &s, &n, why, sizeof(why))) {
			res->serial_lines++;
			refuse(rd, why);
			continue;
		}
		/* an optional header line naming the column */
		if (rd->o->csv && !rd->header_done) {
			rd->header_done = true;
			if (n == 6 && strncasecmp(s, "serial", 6) == 0)
				continue;
		}
		res->serial_lines++;
		if (n > sx->max_len) {
			snprintf(why, sizeof(why), "%zu bytes, longer than the maximum of %u", n,
				 sx->max_len);
			refuse(rd, why);
			continue;
		}
		if (policy_serial_check(sx, s, n, why, sizeof(why)) != 0) {
			refuse(rd, why);
			continue;
		}
		if ((res->refused == 0 || rd->o->skip_invalid) &&
		    store_serial_import_add(im, res->lines, s, n) != 0) {
			snprintf(res->err, sizeof(res->err), "import failed: %s", err);
			return RC_DB;
		}
	}
	return got;
}

/* The audit row of an import (issue 14: every admin change names its
 * principal, the OS user for the CLI). A merged import (k set) writes it
 * in its own transaction, so the row and the change commit together; a
 * refused one after the rollback. 0 or -1. */
static int import_audit(struct store_conn *c, const char *name, const struct cmd_serials_opts *o,
			const struct store_serial_counts *k, const struct cmd_serials_result *res)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX], detail[STORE_ADMIN_DETAIL_MAX];
	const char *state = o->blocked ? "blocked" : "allowed";

	if (o->principal)
		snprintf(who, sizeof(who), "%s", o->principal);
	else if (store_admin_principal_os(who, sizeof(who)) != 0)
		return -1;
	if (k)
		snprintf(detail, sizeof(detail),
			 "%.205s as %s: %ld new, %ld changed, %ld unchanged, %ld refused, %ld "
			 "duplicate(s)",
			 o->label, state, k->inserted, k->changed, k->unchanged, res->refused,
			 k->duplicates);
	else
		snprintf(detail, sizeof(detail),
			 "%.205s as %s: nothing imported, %ld of %ld serial line(s) refused",
			 o->label, state, res->refused, res->serial_lines);
	if (store_audit_admin(c, who, k ? "serials_imported" : "serials_import_refused", name, NULL,
			      NULL, detail) != 0)
		return -1;
	return 0;
}

/* The vendor's syntax from the database into sx. 0 or RC_DB (err). */
static int import_syntax(struct store_conn *c, int64_t vid, struct policy_serial_syntax *sx,
			 char *err, size_t len)
{
	char spec[256], db[256] = "", why[POLICY_SERIAL_WHY_MAX] = "";
	int max_len = 0;

	policy_serial_syntax_default(sx);
	if (store_serial_syntax_get(c, vid, &max_len, spec, sizeof(spec), db, sizeof(db)) != 0 ||
	    policy_serial_syntax_set_max_len(sx, max_len) != 0 ||
	    (spec[0] && policy_serial_syntax_set_charset(sx, spec, why, sizeof(why)) != 0)) {
		snprintf(err, len, "cannot load its serial syntax: %s%s", db, why);
		return RC_DB;
	}
	return 0;
}

int cmd_serials_import(struct store_conn *c, const char *name, int64_t vid, FILE *in,
		       const struct cmd_serials_opts *o, struct cmd_serials_result *res)
{
	struct policy_serial_syntax sx;
	struct store_serial_import *im = NULL;
	struct reader *rd = NULL;
	char err[512] = "";
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = import_syntax(c, vid, &sx, res->err, sizeof(res->err))) != 0)
		return rc;
	if (!(rd = calloc(1, sizeof(*rd)))) {
		snprintf(res->err, sizeof(res->err), "out of memory");
		return RC_NOMEM;
	}
	rd->in = in;
	rd->o = o;
	rd->res = res;
	if ((rc = store_serial_import_begin(c, vid, o->blocked, &im, err, sizeof(err))) != 0) {
		snprintf(res->err, sizeof(res->err), "import failed: %s", err);
		goto out;
	}
	if ((rc = read_all(rd, &sx, im, err)) != 0)
		goto out;
	if (res->refused && !o->skip_invalid) {
		store_serial_import_free(im);
		im = NULL;
		(void)import_audit(c, name, o, NULL, res);
		rc = RC_INVAL;
		goto out;
	}
	/* a client cut off at the very end of its body: nothing yet */
	if (given_up(o)) {
		snprintf(res->err, sizeof(res->err), "given up before the merge");
		rc = RC_CANCELLED;
		goto out;
	}
	if ((rc = store_serial_import_merge(im, &res->k)) != 0) {
		snprintf(res->err, sizeof(res->err), "import failed, nothing imported: %s", err);
		goto out;
	}
	if (import_audit(c, name, o, &res->k, res) != 0) {
		snprintf(res->err, sizeof(res->err),
			 "import failed, nothing imported: cannot write the audit row");
		rc = RC_DB;
		goto out;
	}
	if (given_up(o)) {
		snprintf(res->err, sizeof(res->err), "given up before the commit");
		rc = RC_CANCELLED;
		goto out;
	}
	if ((rc = store_serial_import_commit(im)) != 0)
		snprintf(res->err, sizeof(res->err), "import failed, nothing imported: %s", err);
out:
	store_serial_import_free(im);
	free(rd);
	return rc;
}

/* Duplicates and serials that differ only in case: stderr notes. */
static void report_notes(const char *label, const struct store_serial_counts *k, bool blocked)
{
	for (int i = 0; i < k->ndup; i++)
		fprintf(stderr, "%s: line %ld: duplicate of line %ld (%s), counted once\n", label,
			k->dup[i].line, k->dup[i].first, k->dup[i].serial);
	if (k->duplicates > k->ndup)
		fprintf(stderr, "%s: and %ld more duplicate line(s)\n", label,
			k->duplicates - k->ndup);
	for (int i = 0; i < k->ncase; i++)
		fprintf(stderr,
			"%s: warning: lines %ld and %ld differ only in letter case: imported as "
			"different serials (serials are case-sensitive)\n",
			label, k->casepair[i].line, k->casepair[i].other);
	if (k->case_groups > k->ncase)
		fprintf(stderr, "%s: warning: and %ld more serial(s) differing only in case\n",
			label, k->case_groups - k->ncase);
	if (!blocked && k->kept_blocked)
		fprintf(stderr,
			"%s: note: %ld listed serial(s) are blocked and stay blocked (an allowed "
			"import never unblocks)\n",
			label, k->kept_blocked);
}

static int import_run(struct store_conn *c, const char *name, int64_t vid, FILE *in,
		      const char *label, bool blocked, bool skip_invalid)
{
	struct cmd_serials_result *res = calloc(1, sizeof(*res));
	char what[300];
	struct cmd_serials_opts o = { .blocked = blocked,
				      .skip_invalid = skip_invalid,
				      .label = what };
	const char *state = blocked ? "blocked" : "allowed";
	int rc;

	if (!res) {
		fprintf(stderr, "cmpgw: out of memory\n");
		return 1;
	}
	snprintf(what, sizeof(what), "file %.200s", label);
	rc = cmd_serials_import(c, name, vid, in, &o, res);
	for (int i = 0; i < res->nrefusals; i++)
		fprintf(stderr, "%s: line %ld: %s\n", label, res->refusals[i].line,
			res->refusals[i].why);
	if (res->refused > res->nrefusals && (rc == 0 || rc == RC_INVAL))
		fprintf(stderr, "%s: and %ld more refused line(s)\n", label,
			res->refused - res->nrefusals);
	if (rc == RC_INVAL) {
		fprintf(stderr,
			"%s: nothing imported for vendor %s: %ld of %ld serial line(s) refused "
			"(fix them, or import the %ld valid one(s) with --skip-invalid)\n",
			label, name, res->refused, res->serial_lines,
			res->serial_lines - res->refused);
	} else if (rc != 0 && strncmp(res->err, "cannot load", 11) == 0) {
		fprintf(stderr, "cmpgw: vendor \"%s\": %s\n", name, res->err);
	} else if (rc != 0) {
		fprintf(stderr, "cmpgw: %s: %s\n", label, res->err);
	} else {
		report_notes(label, &res->k, blocked);
		printf("%s: imported for vendor %s as %s: %ld new, %ld changed, %ld unchanged, "
		       "%ld refused%s, %ld duplicate(s)\n",
		       label, name, state, res->k.inserted, res->k.changed, res->k.unchanged,
		       res->refused, res->refused ? " (skipped)" : "", res->k.duplicates);
	}
	free(res);
	return rc == 0 ? 0 : 1;
}

int cmd_serials(int argc, char **argv)
{
	struct sopts o;
	struct cmd_db d = { 0 };
	FILE *in = NULL;
	bool import;
	int64_t vid;
	int rc;

	if (argc >= 2 && cmd_is_help(argv[1])) {
		printf("%s%s", usage_import, usage_syntax);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "import") != 0 && strcmp(argv[1], "syntax") != 0)) {
		fprintf(stderr, "%s%s", usage_import, usage_syntax);
		return 2;
	}
	import = strcmp(argv[1], "import") == 0;
	rc = parse(argc - 1, argv + 1, import, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (import) {
		in = strcmp(o.pos[1], "-") == 0 ? stdin : fopen(o.pos[1], "r");
		if (!in) {
			fprintf(stderr, "cmpgw: %s: %s\n", o.pos[1], strerror(errno));
			return 1;
		}
	}
	rc = cmd_db_open(o.config, &d);
	if (rc == 0 && store_vendor_find(d.conn, o.pos[0], &vid) != 0) {
		fprintf(stderr, "cmpgw: unknown vendor \"%s\"\n", o.pos[0]);
		rc = 1;
	}
	if (rc == 0 && import)
		rc = import_run(d.conn, o.pos[0], vid, in, in == stdin ? "<stdin>" : o.pos[1],
				o.blocked, o.skip_invalid);
	else if (rc == 0)
		rc = syntax_run(d.conn, &o, vid);
	if (in && in != stdin)
		fclose(in);
	cmd_db_close(&d);
	return rc;
}
