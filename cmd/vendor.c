/*
 * cmd/vendor.c - `cmpgw vendor add|set`, `cmpgw vendor anchor|intermediate
 * add`: the vendor registry (vendors and the CA certificates their devices'
 * certificates chain to). docs/VENDORS.md states the rules these enforce.
 *
 * Exit codes: 0 done (or already so), 1 refused (the message names the
 * reason; nothing was changed), 2 usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd/cmd.h"
#include "cmd/vendor.h"
#include "core/cfg.h"
#include "ra/check.h"
#include "ra/trust.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/vendor.h"

#define CERT_FILE_MAX	  (1 << 20) /* bytes of one certificate file */
#define CERT_FILE_MAX_STR "1048576"
#define CERTS_MAX	  CMD_VENDOR_CERTS_MAX /* certificates in one file */
#define EXPIRY_WARN_D	  90		       /* warn when a CA expires within this many days */

// clang-format off
static const char usage_add[] =
	"usage: cmpgw vendor add [--config FILE] [--serial-rule R] [--no-reenroll] [--lenient] NAME\n"
	"  register a vendor\n" COMMON_HELP
	"  --serial-rule R     where the device serial is read: subject_serialnumber\n"
	"                      (default), subject_cn or cert_serial\n"
	"  --no-reenroll       refuse a second vendor-certificate ir of an enrolled serial\n"
	"  --lenient           validate its chains without strict X.509 (legacy vendor\n"
	"                      PKIs; see docs/VENDORS.md)\n";
static const char usage_set[] =
	"usage: cmpgw vendor set [--config FILE] --strict|--lenient NAME\n"
	"  change how the chains of vendor NAME are validated (docs/VENDORS.md)\n"
	COMMON_HELP
	"  --strict            strict X.509 (the default of a new vendor)\n"
	"  --lenient           without strict X.509: signatures, validity, CA flags and\n"
	"                      path length are still checked\n";
static const char usage_cert[] =
	"usage: cmpgw vendor anchor add [--config FILE] [--force] NAME CERTS.pem\n"
	"       cmpgw vendor intermediate add [--config FILE] [--force] NAME CERTS.pem\n"
	"  register the trust anchors / intermediate CAs of vendor NAME: every\n"
	"  certificate of the PEM file (or the one of a DER file), all or none\n"
	COMMON_HELP
	"  --force             register certificates that are expired or not yet valid\n";
static const char usage_check[] =
	"usage: cmpgw vendor check [--config FILE] [--json] --alias A CHAIN.pem [REQUEST.der]\n"
	"  factory dry run: every check an enrollment on alias A runs on the vendor\n"
	"  certificate (the first of CHAIN.pem, sent with the others as extraCerts)\n"
	"  and, if given, on the signed ir or cr the device sends (DER);\n"
	"  issues and changes nothing but one audit row; exit 0 all pass, 1 a check fails\n"
	COMMON_HELP
	"  --alias A           the alias the devices will enroll on\n"
	"  --json              the report as JSON\n";
static const char usage_sub[] =
	"usage: cmpgw vendor submissions [--config FILE] [--vendor V] [--state S]\n"
	"       cmpgw vendor approve [--config FILE] ID\n"
	"       cmpgw vendor reject [--config FILE] --reason R ID\n"
	"  CA certificates vendors submitted through the admin API (newest first;\n"
	"  S: pending, approved, rejected, withdrawn); approve registers submission\n"
	"  ID after checking it again as vendor anchor|intermediate add does;\n"
	"  reject refuses it with reason R (docs/VENDORS.md)\n"
	COMMON_HELP
	"  --vendor V          only vendor V's\n"
	"  --state S           only those in state S\n"
	"  --reason R          why it is rejected (shown to the vendor; up to 1024 bytes)\n";
// clang-format on

enum {
	V_RULE = 1,
	V_NO_REENROLL,
	V_LENIENT,
	V_STRICT,
	V_FORCE,
	V_ALIAS,
	V_JSON,
	V_VENDOR,
	V_STATE,
	V_REASON
};

struct vopts {
	const char *config, *rule, *alias, *vendor, *state, *reason;
	bool no_reenroll, lenient, strict, force, json;
	const char *pos[2];
	int npos;
};

/* argv[0] the last command word. allow: the V_* bits the command takes.
 * 0 parsed, -1 help printed, 2 message printed. */
static int parse(const char *cmd, const char *usage, unsigned allow, int npos, int npos_max,
		 int argc, char **argv, struct vopts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "serial-rule", required_argument, NULL, V_RULE },
		{ "no-reenroll", no_argument, NULL, V_NO_REENROLL },
		{ "lenient", no_argument, NULL, V_LENIENT },
		{ "strict", no_argument, NULL, V_STRICT },
		{ "force", no_argument, NULL, V_FORCE },
		{ "alias", required_argument, NULL, V_ALIAS },
		{ "json", no_argument, NULL, V_JSON },
		{ "vendor", required_argument, NULL, V_VENDOR },
		{ "state", required_argument, NULL, V_STATE },
		{ "reason", required_argument, NULL, V_REASON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	cmd_getopt_reset();
	while ((c = cmd_getopt(cmd, argc, argv, ":c:h", longopts)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		}
		if (c == '?')
			return 2;
		if (c != 'c' && (c < V_RULE || c > V_REASON || !(allow & (1u << c)))) {
			fprintf(stderr, "cmpgw %s: unknown option \"%s\" (try: cmpgw %s --help)\n",
				cmd, argv[optind - 1], cmd);
			return 2;
		}
		o->config = c == 'c' ? optarg : o->config;
		o->rule = c == V_RULE ? optarg : o->rule;
		o->no_reenroll |= c == V_NO_REENROLL;
		o->lenient |= c == V_LENIENT;
		o->strict |= c == V_STRICT;
		o->force |= c == V_FORCE;
		o->alias = c == V_ALIAS ? optarg : o->alias;
		o->json |= c == V_JSON;
		o->vendor = c == V_VENDOR ? optarg : o->vendor;
		o->state = c == V_STATE ? optarg : o->state;
		o->reason = c == V_REASON ? optarg : o->reason;
	}
	o->npos = argc - optind;
	if (o->npos < npos || o->npos > npos_max) {
		fprintf(stderr, "cmpgw %s: %s\n%s", cmd,
			o->npos > npos_max ? "too many arguments" : "missing arguments", usage);
		return 2;
	}
	for (int i = 0; i < o->npos; i++)
		o->pos[i] = argv[optind + i];
	o->config = cmd_config(cmd, o->config);
	return o->config ? 0 : 2;
}

/* The file's bytes (at most CERT_FILE_MAX; caller frees) or NULL after a
 * message. */
static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0;

	if (!f) {
		fprintf(stderr, "cmpgw: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(CERT_FILE_MAX + 1);
	if (buf)
		n = fread(buf, 1, CERT_FILE_MAX + 1, f);
	if (!buf || ferror(f))
		fprintf(stderr, "cmpgw: %s: cannot read\n", path);
	else if (n > CERT_FILE_MAX)
		fprintf(stderr, "cmpgw: %s: larger than %d bytes\n", path, CERT_FILE_MAX);
	else if (n == 0)
		fprintf(stderr, "cmpgw: %s: empty file\n", path);
	else
		*len = n;
	fclose(f);
	if (buf && *len == 0) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

static void note(const struct cmd_vnote *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(const struct cmd_vnote *n, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n->fn(n->arg, level, msg);
}

/* The CLI's sink: results on stdout, warnings and refusals on stderr. */
static void cli_note(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level == CMD_NOTE_INFO)
		printf("%s\n", msg);
	else
		fprintf(stderr, "cmpgw: %s%s\n", level == CMD_NOTE_WARN ? "warning: " : "", msg);
}

static const struct cmd_vnote cli = { cli_note, NULL, true };

/* Every PEM block of buf must be a CERTIFICATE; all of them into sk. */
static int read_pem(const char *what, const unsigned char *buf, size_t len, STACK_OF(X509) *sk,
		    const struct cmd_vnote *nt)
{
	BIO *b = BIO_new_mem_buf(buf, (int)len);
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	long dlen = 0;
	int rc = 1;

	while (b && PEM_read_bio(b, &name, &header, &data, &dlen) == 1) {
		int i = sk_X509_num(sk) + 1;
		const unsigned char *p = data;
		X509 *x = NULL;
		if (i > CERTS_MAX) {
			note(nt, CMD_NOTE_REFUSED, "%s: more than %d certificates", what,
			     CERTS_MAX);
			goto out;
		}
		if (strcmp(name, "CERTIFICATE") != 0) {
			note(nt, CMD_NOTE_REFUSED,
			     "%s: PEM block %d is \"%.64s\", not a CERTIFICATE", what, i, name);
			goto out;
		}
		x = d2i_X509(NULL, &p, dlen);
		if (!x || p != data + dlen || !sk_X509_push(sk, x)) {
			X509_free(x);
			note(nt, CMD_NOTE_REFUSED, "%s: certificate %d does not decode", what, i);
			goto out;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	/* the end of the blocks reads as "no start line"; anything else is a
	 * block that does not decode, never a silent end of the file */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
		note(nt, CMD_NOTE_REFUSED, "%s: PEM block %d does not decode", what,
		     sk_X509_num(sk) + 1);
		goto out;
	}
	rc = 0;
out:
	ERR_clear_error();
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	return rc;
}

STACK_OF(X509) *cmd_vendor_certs_parse(const char *what, const unsigned char *buf, size_t len,
				       const struct cmd_vnote *n)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	const unsigned char *p = buf;
	X509 *x = NULL;

	if (!sk || len > CERT_FILE_MAX) {
		note(n, CMD_NOTE_REFUSED, "%s: %s", what,
		     sk ? "larger than " CERT_FILE_MAX_STR " bytes" : "out of memory");
		goto fail;
	}
	if (memmem(buf, len, "-----BEGIN ", 11)) {
		if (read_pem(what, buf, len, sk, n) != 0)
			goto fail;
	} else if ((x = d2i_X509(NULL, &p, (long)len)) && p == buf + len && sk_X509_push(sk, x)) {
		x = NULL;
	}
	if (sk_X509_num(sk) == 0) {
		note(n, CMD_NOTE_REFUSED, "%s: not a PEM or DER certificate", what);
		goto fail;
	}
	X509_free(x);
	return sk;
fail:
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	return NULL;
}

/* The certificates of path: each PEM block, else one DER certificate.
 * NULL after a message. */
static STACK_OF(X509) *read_certs(const char *path)
{
	size_t len = 0;
	unsigned char *buf = read_file(path, &len);
	STACK_OF(X509) *sk = buf ? cmd_vendor_certs_parse(path, buf, len, &cli) : NULL;

	free(buf);
	return sk;
}

static void subject_of(X509 *x, char *buf, size_t len)
{
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len);
}

/*
 * The validity rule of docs/VENDORS.md: refused when expired or not yet
 * valid unless force (then a warning), warned about when it expires within
 * EXPIRY_WARN_D days. 0 or 1 (noted).
 */
static int check_validity(const char *what, X509 *x, bool force, const struct cmd_vnote *n)
{
	int days = 0, secs = 0;
	const char *bad = NULL;

	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		bad = "is not yet valid";
	else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		bad = "has expired";
	if (bad && !force) {
		note(n, CMD_NOTE_REFUSED, "%s %s%s", what, bad,
		     n->cli ? " (register it anyway with --force)" : "");
		return 1;
	}
	if (bad) {
		note(n, CMD_NOTE_WARN, "%s %s; registered because of --force", what, bad);
		return 0;
	}
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) && days < EXPIRY_WARN_D)
		note(n, CMD_NOTE_WARN, "%s expires in %d day%s", what, days, days == 1 ? "" : "s");
	return 0;
}

/* The registered certificates of vendor name (anchors into a store,
 * intermediates onto sk) and its strictness. 0, RC_NOTFOUND or RC_DB
 * (noted). */
static int vendor_trust(struct store_conn *c, const char *name, X509_STORE *anchors,
			STACK_OF(X509) *sk, bool *strict, int *n_anchors,
			const struct cmd_vnote *nt)
{
	struct store_vendor *v = NULL;
	size_t n = 0;
	int rc = RC_NOTFOUND;

	if (store_vendor_load_all(c, &v, &n) != 0) {
		note(nt, CMD_NOTE_REFUSED, "reading the vendor registry failed");
		return RC_DB;
	}
	*n_anchors = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, name) != 0)
			continue;
		*strict = v[i].x509_strict;
		for (size_t k = 0; k < v[i].n_certs; k++) {
			const unsigned char *p = v[i].certs[k].der;
			X509 *x = d2i_X509(NULL, &p, (long)v[i].certs[k].derlen);
			bool anchor = strcmp(v[i].certs[k].kind, "anchor") == 0;
			if (!x)
				continue;
			if (anchor) {
				*n_anchors += X509_STORE_add_cert(anchors, x) == 1;
				X509_free(x);
			} else if (!sk_X509_push(sk, x)) {
				X509_free(x);
			}
		}
		rc = 0;
	}
	if (rc)
		note(nt, CMD_NOTE_REFUSED, "unknown vendor \"%s\"%s", name,
		     nt->cli ? " (add it with: cmpgw vendor add)" : "");
	store_vendor_free_all(v, n);
	return rc;
}

/* One certificate of the file as an anchor: the vendor's root (a trust
 * anchor that is not self-signed never ends a chain: X509_verify_cert
 * looks for its issuer), fit to issue under the vendor's strictness. */
static int anchor_ok(X509 *x, bool strict, bool force, bool cli, char *why, size_t len)
{
	X509_STORE *one = NULL;
	int rc = RC_PERM;

	if (X509_self_signed(x, 1) != 1) {
		snprintf(why, len,
			 "not self-signed: a trust anchor is a vendor root CA (register a CA "
			 "issued by the root %s)",
			 cli ? "with: cmpgw vendor intermediate add" : "as an intermediate");
		return rc;
	}
	if ((one = X509_STORE_new()) && X509_STORE_add_cert(one, x))
		rc = ra_trust_check_issuer(one, NULL, x, strict, force, why, len);
	X509_STORE_free(one);
	return rc;
}

/*
 * Rule 4 of docs/VENDORS.md and the enrollment checks ahead of time: each
 * anchor is a self-signed root fit to issue, each intermediate chains to an
 * anchor of the vendor (through its registered intermediates or others of
 * the file) and is fit to issue, validated as an enrollment would (the
 * vendor's strictness; times ignored with force, which check_validity
 * reported). 0, RC_PERM, RC_NOTFOUND, RC_DB, RC_NOMEM (noted).
 */
static int check_chains(struct store_conn *c, const char *vendor, const char *kind,
			STACK_OF(X509) *certs, bool force, const struct cmd_vnote *n)
{
	X509_STORE *anchors = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool strict = true, anchor = strcmp(kind, "anchor") == 0;
	int n_anchors = 0, rc = RC_NOMEM;
	char why[256], subject[256];

	if (!anchors || !untrusted)
		goto out;
	if ((rc = vendor_trust(c, vendor, anchors, untrusted, &strict, &n_anchors, n)) != 0)
		goto out;
	rc = RC_PERM;
	if (!anchor && n_anchors == 0) {
		note(n, CMD_NOTE_REFUSED,
		     "vendor %s has no trust anchor: register its anchor first%s", vendor,
		     n->cli ? " (cmpgw vendor anchor add)" : "");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (!sk_X509_push(untrusted, X509_dup(sk_X509_value(certs, i)))) {
			rc = RC_NOMEM;
			goto out;
		}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int r = anchor ? anchor_ok(x, strict, force, n->cli, why, sizeof(why))
			       : ra_trust_check_ca(anchors, untrusted, x, strict, force, why,
						   sizeof(why));
		if (r == 0 && !anchor)
			r = ra_trust_check_issuer(anchors, untrusted, x, strict, force, why,
						  sizeof(why));
		if (r == 0)
			continue;
		subject_of(x, subject, sizeof(subject));
		note(n, CMD_NOTE_REFUSED, "certificate %d (%s) cannot be an %s of vendor %s: %s%s",
		     i + 1, subject, kind, vendor, r == RC_NOMEM ? "out of memory" : why,
		     strict && strstr(why, "(strict X.509)")
			     ? (n->cli ? " (a legacy vendor PKI: see cmpgw vendor set --lenient)"
				       : " (a legacy vendor PKI: an operator may make the vendor "
					 "lenient)")
			     : "");
		rc = r == RC_NOMEM ? RC_NOMEM : RC_PERM;
		goto out;
	}
	rc = 0;
out:
	if (rc == RC_NOMEM)
		note(n, CMD_NOTE_REFUSED, "out of memory");
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(anchors);
	return rc;
}

/* Rules 2 and 3: every certificate a CA within its validity. 0 or 1. */
static int check_certs(STACK_OF(X509) *certs, bool force, const struct cmd_vnote *n)
{
	char subject[256], what[320];

	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		subject_of(x, subject, sizeof(subject));
		snprintf(what, sizeof(what), "certificate %d (%s)", i + 1, subject);
		if (X509_check_ca(x) == 0) {
			note(n, CMD_NOTE_REFUSED, "%s is not a CA certificate", what);
			return 1;
		}
		if (check_validity(what, x, force, n) != 0)
			return 1;
	}
	return 0;
}

/* The audit row of a registry change naming principal (issue 14), inside
 * the change's transaction. 0 or RC_DB (noted). */
static int audit(struct store_conn *c, const char *principal, const char *event, const char *vendor,
		 const char *detail, const struct cmd_vnote *n)
{
	if (store_audit_admin(c, principal, event, vendor, NULL, NULL, detail) == 0)
		return 0;
	note(n, CMD_NOTE_REFUSED, "cannot write the audit row; nothing changed");
	return RC_DB;
}

/* The CLI's principal (os:<user>) into who; 1 after a message. */
static int os_principal(char who[STORE_ADMIN_PRINCIPAL_MAX])
{
	if (store_admin_principal_os(who, STORE_ADMIN_PRINCIPAL_MAX) == 0)
		return 0;
	fprintf(stderr, "cmpgw: cannot name the OS user for the audit row; nothing changed\n");
	return 1;
}

/* The audit detail of added certificates: their subjects, bounded. */
static void added_detail(const char *kind, const char *source, STACK_OF(X509) *certs,
			 const struct store_vcert_add *it, char *buf, size_t len)
{
	size_t off;
	int added = 0;

	for (int i = 0; i < sk_X509_num(certs); i++)
		added += it[i].outcome == STORE_VCERT_ADDED;
	off = (size_t)snprintf(buf, len, "%d %s certificate(s) from %.200s:", added, kind, source);
	for (int i = 0; i < sk_X509_num(certs) && off + 260 < len; i++)
		if (it[i].outcome == STORE_VCERT_ADDED)
			off += (size_t)snprintf(buf + off, len - off, " %s;", it[i].subject);
}

/* What store_vendor_certs_add said, noted. 0, RC_PERM, RC_NOTFOUND, RC_DB. */
static int report(int r, const char *vendor, const char *kind, STACK_OF(X509) *certs,
		  const struct store_vcert_add *it, const struct cmd_vnote *nt)
{
	char subject[256];
	int n = sk_X509_num(certs);

	if (r == RC_NOTFOUND) {
		note(nt, CMD_NOTE_REFUSED, "unknown vendor \"%s\"", vendor);
		return RC_NOTFOUND;
	}
	if (r != 0 && r != RC_EXISTS) {
		note(nt, CMD_NOTE_REFUSED, "storing the certificates failed: %s", rc_str(r));
		return RC_DB;
	}
	for (int i = 0; i < n; i++) {
		subject_of(sk_X509_value(certs, i), subject, sizeof(subject));
		if (r == RC_EXISTS && it[i].outcome == STORE_VCERT_OTHER_VENDOR)
			note(nt, CMD_NOTE_REFUSED,
			     "certificate %d (%s) is already registered for vendor %s, not %s; "
			     "nothing registered",
			     i + 1, subject, it[i].detail, vendor);
		else if (r == 0 && it[i].outcome == STORE_VCERT_EXISTS)
			note(nt, CMD_NOTE_INFO, "%s %s already registered for %s%s%s", kind,
			     subject, vendor, strcmp(it[i].detail, kind) ? " as " : "",
			     strcmp(it[i].detail, kind) ? it[i].detail : "");
		else if (r == 0)
			note(nt, CMD_NOTE_INFO, "registered %s %s for vendor %s", kind, subject,
			     vendor);
	}
	return r == 0 ? 0 : RC_PERM;
}

/* The rows of certs for store_vendor_certs_add (der[] owned by the caller,
 * subject[] the display names). 0 or RC_NOMEM. */
static int cert_items(STACK_OF(X509) *certs, struct store_vcert_add *it, unsigned char **der,
		      char (*subject)[256])
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int len = i2d_X509(x, &der[i]);
		struct tm tm;
		subject_of(x, subject[i], sizeof(subject[i]));
		if (len <= 0 || ra_trust_cert_fp(x, it[i].fp) != 0 ||
		    !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
			return RC_NOMEM;
		it[i].der = der[i];
		it[i].derlen = (size_t)len;
		it[i].subject = subject[i];
		it[i].not_after = (int64_t)timegm(&tm);
	}
	return 0;
}

int cmd_vendor_certs_register(struct store_conn *c, const char *principal, const char *vendor,
			      const char *kind, STACK_OF(X509) *certs, bool force,
			      const char *source, const struct cmd_vnote *nt)
{
	struct store_vcert_add it[CERTS_MAX];
	unsigned char *der[CERTS_MAX] = { 0 };
	char subject[CERTS_MAX][256];
	int64_t vid;
	int rc, n = sk_X509_num(certs);

	if (n < 1 || n > CERTS_MAX)
		return RC_INVAL;
	if ((rc = store_vendor_find(c, vendor, &vid)) != 0) {
		note(nt, CMD_NOTE_REFUSED, "unknown vendor \"%s\"%s", vendor,
		     nt->cli ? " (add it with: cmpgw vendor add)" : "");
		return rc == RC_NOTFOUND ? RC_NOTFOUND : RC_DB;
	}
	if (check_certs(certs, force, nt) != 0)
		return RC_PERM;
	if ((rc = check_chains(c, vendor, kind, certs, force, nt)) != 0)
		return rc;
	memset(it, 0, sizeof(it));
	if ((rc = cert_items(certs, it, der, subject)) != 0) {
		note(nt, CMD_NOTE_REFUSED, "out of memory");
		goto out;
	}
	rc = report(store_vendor_certs_add(c, vid, kind, it, (size_t)n), vendor, kind, certs, it,
		    nt);
	for (int i = 0; rc == 0 && i < n; i++)
		if (it[i].outcome == STORE_VCERT_ADDED) {
			char detail[STORE_ADMIN_DETAIL_MAX / 2];
			added_detail(kind, source, certs, it, detail, sizeof(detail));
			rc = audit(c, principal,
				   strcmp(kind, "anchor") ? "vendor_intermediate_added"
							  : "vendor_anchor_added",
				   vendor, detail, nt);
			break;
		}
out:
	for (int i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	return rc;
}

static int vendor_cert_add(struct store_conn *c, const char *vendor, const char *kind,
			   const char *path, bool force)
{
	STACK_OF(X509) *certs = NULL;
	char who[STORE_ADMIN_PRINCIPAL_MAX];
	int rc = 1;

	if (os_principal(who) != 0 || !(certs = read_certs(path)))
		return 1;
	if (store_admin_begin(c) != 0) {
		fprintf(stderr, "cmpgw: cannot start a transaction\n");
		goto out;
	}
	rc = cmd_vendor_certs_register(c, who, vendor, kind, certs, force, path, &cli) ? 1 : 0;
	if (store_admin_end(c, rc == 0) != 0 && rc == 0) {
		fprintf(stderr, "cmpgw: the change did not commit\n");
		rc = 1;
	}
out:
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* Run change in one transaction (store_admin_begin/end): 0 or its code. */
static int in_tx(struct store_conn *c, int (*change)(struct store_conn *, void *), void *arg)
{
	int rc;

	if (store_admin_begin(c) != 0)
		return RC_DB;
	rc = change(c, arg);
	if (store_admin_end(c, rc == 0) != 0 && rc == 0)
		rc = RC_DB;
	return rc;
}

struct create_args {
	const char *principal, *name, *rule;
	bool allow_reenroll, strict, was;
};

static int create_tx(struct store_conn *c, void *arg)
{
	struct create_args *a = arg;
	char detail[256];
	int r = store_vendor_add_strict(c, a->name, a->rule, a->allow_reenroll, a->strict, NULL);

	if (r != 0)
		return r;
	snprintf(detail, sizeof(detail), "serial rule %s, re-enrollment %s, %s X.509", a->rule,
		 a->allow_reenroll ? "allowed" : "refused", a->strict ? "strict" : "lenient");
	return store_audit_admin(c, a->principal, "vendor_added", a->name, NULL, NULL, detail)
		       ? RC_DB
		       : 0;
}

int cmd_vendor_create(struct store_conn *c, const char *principal, const char *name,
		      const char *rule, bool allow_reenroll, bool strict)
{
	struct create_args a = { principal,	 name,	 rule ? rule : "subject_serialnumber",
				 allow_reenroll, strict, false };

	return in_tx(c, create_tx, &a);
}

static int strict_tx(struct store_conn *c, void *arg)
{
	struct create_args *a = arg;
	int r = store_vendor_set_strict(c, a->name, a->strict, &a->was);

	if (r != 0 || a->was == a->strict)
		return r;
	return store_audit_admin(c, a->principal, "vendor_strict_set", a->name, NULL, NULL,
				 a->strict ? "strict X.509" : "lenient X.509")
		       ? RC_DB
		       : 0;
}

int cmd_vendor_set_strict(struct store_conn *c, const char *principal, const char *name,
			  bool strict, bool *was)
{
	struct create_args a = { principal, name, NULL, true, strict, true };
	int rc = in_tx(c, strict_tx, &a);

	*was = a.was;
	return rc;
}

static int vendor_add(struct store_conn *c, const struct vopts *o)
{
	const char *rule = o->rule ? o->rule : "subject_serialnumber";
	char who[STORE_ADMIN_PRINCIPAL_MAX];
	int r;

	if (os_principal(who) != 0)
		return 1;
	r = cmd_vendor_create(c, who, o->pos[0], rule, !o->no_reenroll, !o->lenient);
	if (r == RC_EXISTS) {
		printf("vendor %s already registered (unchanged)\n", o->pos[0]);
		return 0;
	}
	if (r != 0) {
		fprintf(stderr, "cmpgw: registering vendor %s failed: %s\n", o->pos[0], rc_str(r));
		return 1;
	}
	printf("registered vendor %s (serial rule %s, %s X.509)\n", o->pos[0], rule,
	       o->lenient ? "lenient" : "strict");
	return 0;
}

static int vendor_set(struct store_conn *c, const struct vopts *o)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX];
	bool was = true;
	int r;

	if (os_principal(who) != 0)
		return 1;
	r = cmd_vendor_set_strict(c, who, o->pos[0], o->strict, &was);
	if (r == RC_NOTFOUND) {
		fprintf(stderr, "cmpgw: unknown vendor \"%s\" (add it with: cmpgw vendor add)\n",
			o->pos[0]);
		return 1;
	}
	if (r != 0) {
		fprintf(stderr, "cmpgw: changing vendor %s failed: %s\n", o->pos[0], rc_str(r));
		return 1;
	}
	printf("vendor %s: %s X.509%s\n", o->pos[0], o->strict ? "strict" : "lenient",
	       was == o->strict ? " (unchanged)" : "");
	return 0;
}

/* ---- submissions: a vendor submits, an operator approves ---- */

struct submit_args {
	const char *principal, *vendor, *kind;
	STACK_OF(X509) *certs;
	const struct cmd_vnote *n;
	int64_t id;
};

static int submit_tx(struct store_conn *c, void *arg)
{
	struct submit_args *a = arg;
	struct store_vcert_add it[1];
	unsigned char *der[1] = { NULL };
	char subject[1][256], other[128], detail[512];
	int64_t vid;
	int rc;

	memset(it, 0, sizeof(it));
	if ((rc = store_vendor_find(c, a->vendor, &vid)) != 0)
		return rc == RC_NOTFOUND ? RC_NOTFOUND : RC_DB;
	if (check_certs(a->certs, false, a->n) != 0)
		return RC_PERM;
	if ((rc = check_chains(c, a->vendor, a->kind, a->certs, false, a->n)) != 0)
		return rc;
	if ((rc = cert_items(a->certs, it, der, subject)) != 0)
		goto out;
	rc = store_vendor_sub_add(c, vid, a->kind, it[0].der, it[0].derlen, it[0].fp, subject[0],
				  it[0].not_after, a->principal, &a->id, other);
	if (rc == RC_EXISTS) {
		if (strncmp(other, "vendor:", 7) == 0)
			note(a->n, CMD_NOTE_REFUSED,
			     "the certificate (%s) is already registered for vendor %s, not %s",
			     subject[0], other + 7, a->vendor);
		else if (strncmp(other, "registered:", 11) == 0)
			note(a->n, CMD_NOTE_REFUSED,
			     "the certificate (%s) is already registered for vendor %s as %s",
			     subject[0], a->vendor, other + 11);
		else
			note(a->n, CMD_NOTE_REFUSED,
			     "the certificate (%s) already awaits approval as submission %s",
			     subject[0], other + 8);
		/* another vendor's certificate is a refusal of the certificate */
		rc = strncmp(other, "vendor:", 7) == 0 ? RC_PERM : RC_EXISTS;
		goto out;
	}
	if (rc == RC_INVAL)
		note(a->n, CMD_NOTE_REFUSED, "the certificate (%s) is larger than 65536 bytes",
		     subject[0]);
	if (rc != 0)
		goto out;
	snprintf(detail, sizeof(detail), "submission %" PRId64 ": %s %.256s", a->id, a->kind,
		 subject[0]);
	rc = audit(c, a->principal, "vendor_cert_submitted", a->vendor, detail, a->n);
out:
	OPENSSL_free(der[0]);
	return rc;
}

int cmd_vendor_submit(struct store_conn *c, const char *principal, const char *vendor,
		      const char *kind, STACK_OF(X509) *certs, int64_t *id,
		      const struct cmd_vnote *n)
{
	struct submit_args a = { principal, vendor, kind, certs, n, 0 };
	int rc;

	if (sk_X509_num(certs) != 1) {
		note(n, CMD_NOTE_REFUSED,
		     "a submission is one certificate; this holds %d (submit each on its own)",
		     sk_X509_num(certs));
		return RC_INVAL;
	}
	rc = in_tx(c, submit_tx, &a);
	*id = a.id;
	return rc;
}

struct decide_args {
	const char *principal, *only_vendor, *state, *reason;
	int64_t id;
	struct store_vsub *sub;
	const struct cmd_vnote *n;
};

static int decide_tx(struct store_conn *c, void *arg)
{
	struct decide_args *a = arg;
	STACK_OF(X509) *certs = NULL;
	char detail[STORE_ADMIN_DETAIL_MAX], source[64];
	int rc = store_vendor_sub_get(c, a->id, a->only_vendor, a->sub);

	if (rc == RC_NOTFOUND)
		note(a->n, CMD_NOTE_REFUSED, "no submission %" PRId64, a->id);
	if (rc != 0)
		return rc;
	if (strcmp(a->sub->state, "pending") != 0) {
		note(a->n, CMD_NOTE_REFUSED, "submission %" PRId64 " is %s, no longer pending",
		     a->id, a->sub->state);
		return RC_EXISTS;
	}
	if (strcmp(a->state, "approved") == 0) {
		snprintf(source, sizeof(source), "submission %" PRId64, a->id);
		if (!(certs = cmd_vendor_certs_parse(source, a->sub->der, a->sub->derlen, a->n)))
			return RC_PERM;
		rc = cmd_vendor_certs_register(c, a->principal, a->sub->vendor, a->sub->kind, certs,
					       false, source, a->n);
		sk_X509_pop_free(certs, X509_free);
		if (rc != 0)
			return rc;
	}
	rc = store_vendor_sub_decide(c, a->id, a->state, a->principal, a->reason);
	if (rc == RC_EXISTS) /* a concurrent decision committed first */
		note(a->n, CMD_NOTE_REFUSED,
		     "submission %" PRId64 " was decided meanwhile, no "
		     "longer pending",
		     a->id);
	if (rc != 0)
		return rc;
	snprintf(detail, sizeof(detail),
		 "submission %" PRId64 " (%.16s %.256s, by %.256s)%.2s%.1024s", a->id, a->sub->kind,
		 a->sub->subject, a->sub->submitted_by, a->reason ? ": " : "",
		 a->reason ? a->reason : "");
	rc = audit(c, a->principal,
		   strcmp(a->state, "approved") == 0   ? "vendor_cert_approved"
		   : strcmp(a->state, "rejected") == 0 ? "vendor_cert_rejected"
						       : "vendor_cert_withdrawn",
		   a->sub->vendor, detail, a->n);
	if (rc == 0) { /* what it is now, for the caller's answer */
		store_vendor_sub_clear(a->sub);
		rc = store_vendor_sub_get(c, a->id, NULL, a->sub);
	}
	return rc;
}

int cmd_vendor_decide(struct store_conn *c, const char *principal, int64_t id,
		      const char *only_vendor, const char *state, const char *reason,
		      struct store_vsub *out, const struct cmd_vnote *n)
{
	struct store_vsub sub;
	struct decide_args a = { principal, only_vendor, state, reason, id, &sub, n };
	int rc;

	memset(&sub, 0, sizeof(sub));
	rc = in_tx(c, decide_tx, &a);
	if (rc == RC_DB)
		note(n, CMD_NOTE_REFUSED, "the database failed; nothing changed");
	if (rc == 0 && out)
		*out = sub;
	else
		store_vendor_sub_clear(&sub);
	return rc;
}

/* `cmpgw vendor submissions [--vendor V] [--state S]`: newest first. */
static int vendor_submissions(struct store_conn *c, const struct vopts *o)
{
	struct store_vsub *s = NULL;
	size_t n = 0;

	if (store_vendor_sub_list(c, o->vendor, o->state, 0, 1000, &s, &n) != 0) {
		fprintf(stderr, "cmpgw: reading the submissions failed\n");
		return 1;
	}
	if (n == 0)
		printf("no submissions\n");
	for (size_t i = 0; i < n; i++) {
		printf("%" PRId64 "  %-9s  %s %s  %s\n    sha256 %s, expires %s\n"
		       "    submitted by %s at %s\n",
		       s[i].id, s[i].state, s[i].vendor, s[i].kind, s[i].subject, s[i].fp_hex,
		       s[i].not_after, s[i].submitted_by, s[i].submitted_at);
		if (s[i].decided_by[0])
			printf("    %s by %s at %s%s%s\n", s[i].state, s[i].decided_by,
			       s[i].decided_at, s[i].reason[0] ? ": " : "", s[i].reason);
	}
	store_vendor_sub_free_all(s, n);
	return 0;
}

/* `cmpgw vendor approve ID`, `cmpgw vendor reject --reason R ID`. */
static int vendor_decide(struct store_conn *c, const struct vopts *o, bool approve)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX], *end;
	struct store_vsub sub;
	long long id = strtoll(o->pos[0], &end, 10);
	int rc;

	if (!*o->pos[0] || *end || id < 1) {
		fprintf(stderr,
			"cmpgw vendor %s: ID must be a submission number (cmpgw vendor "
			"submissions)\n",
			approve ? "approve" : "reject");
		return 2;
	}
	if (os_principal(who) != 0)
		return 1;
	rc = cmd_vendor_decide(c, who, (int64_t)id, NULL, approve ? "approved" : "rejected",
			       approve ? NULL : o->reason, &sub, &cli);
	if (rc != 0)
		return 1;
	printf("submission %lld %s: %s %s of vendor %s\n", id, sub.state, sub.kind, sub.subject,
	       sub.vendor);
	store_vendor_sub_clear(&sub);
	return 0;
}

static void check_print(const struct ra_check *r, const char *alias, bool json)
{
	bool pass = ra_check_passed(r);

	if (json) {
		json_t *doc = ra_check_json(r, alias);
		char *txt = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (txt)
			printf("%s\n", txt);
		free(txt);
		json_decref(doc);
		return;
	}
	printf("vendor check on alias %s: %s\n", alias, pass ? "PASS" : "FAIL");
	for (size_t i = 0; i < r->n; i++)
		printf("  %-4s  %-13s  %s\n", r->s[i].pass ? "ok" : "FAIL", r->s[i].check,
		       r->s[i].detail);
}

/* `cmpgw vendor check`: 0 every check passed, 1 one failed, 2 usage.
 * ra_check_run is the dry run the admin API runs too (cmd/api_check.c). */
static int vendor_check(struct cmd_db *d, const struct vopts *o)
{
	struct ra_check_input in = { .alias = cfg_alias_find(d->cfg, o->alias) };
	struct ra_check *r = calloc(1, sizeof(*r));
	unsigned char *req = NULL;
	char who[STORE_ADMIN_PRINCIPAL_MAX];
	int rc = 1, r2;

	if (!in.alias) {
		fprintf(stderr,
			"cmpgw vendor check: --alias: no alias \"%s\" in the configuration\n",
			o->alias);
		rc = 2;
		goto out;
	}
	if (!r || !(in.certs = read_certs(o->pos[0])))
		goto out;
	if (o->pos[1] && !(in.req = req = read_file(o->pos[1], &in.reqlen)))
		goto out;
	if ((r2 = ra_check_run(d->conn, &in, r)) != 0) {
		fprintf(stderr, "cmpgw: the dry run failed: %s\n",
			r2 == RC_DB ? "reading the vendor registry failed" : rc_str(r2));
		goto out;
	}
	rc = ra_check_passed(r) ? 0 : 1;
	if (store_admin_principal_os(who, sizeof(who)) != 0 ||
	    ra_check_audit(d->conn, who, r, in.alias->label, o->pos[0]) != 0) {
		fprintf(stderr, "cmpgw: cannot write the audit row of the dry run\n");
		rc = 1;
		goto out;
	}
	check_print(r, in.alias->label, o->json);
out:
	ra_check_release(r);
	sk_X509_pop_free(in.certs, X509_free);
	free(req);
	free(r);
	return rc;
}

static bool rule_ok(const char *rule)
{
	return !strcmp(rule, "subject_serialnumber") || !strcmp(rule, "subject_cn") ||
	       !strcmp(rule, "cert_serial");
}

/* Parse the command's arguments; 0, or the exit code (-1: help shown). */
static int parse_cmd(const char *what, bool cert, int argc, char **argv, struct vopts *o)
{
	int rc;

	if (cert) /* argv[0] becomes the last command word ("add") */
		return parse("vendor anchor|intermediate add", usage_cert, 1u << V_FORCE, 2, 2,
			     argc - 2, argv + 2, o);
	if (strcmp(what, "check") == 0) {
		rc = parse("vendor check", usage_check, 1u << V_ALIAS | 1u << V_JSON, 1, 2,
			   argc - 1, argv + 1, o);
		if (rc == 0 && !o->alias) {
			fprintf(stderr, "cmpgw vendor check: --alias is required\n%s", usage_check);
			rc = 2;
		}
		return rc;
	}
	if (strcmp(what, "submissions") == 0) {
		rc = parse("vendor submissions", usage_sub, 1u << V_VENDOR | 1u << V_STATE, 0, 0,
			   argc - 1, argv + 1, o);
		if (rc == 0 && o->state && strcmp(o->state, "pending") &&
		    strcmp(o->state, "approved") && strcmp(o->state, "rejected") &&
		    strcmp(o->state, "withdrawn")) {
			fprintf(stderr,
				"cmpgw vendor submissions: --state: unknown state \"%s\" (pending, "
				"approved, rejected, withdrawn)\n",
				o->state);
			rc = 2;
		}
		return rc;
	}
	if (strcmp(what, "approve") == 0 || strcmp(what, "reject") == 0) {
		bool rej = what[0] == 'r';
		rc = parse(rej ? "vendor reject" : "vendor approve", usage_sub,
			   rej ? 1u << V_REASON : 0, 1, 1, argc - 1, argv + 1, o);
		if (rc == 0 && rej && (!o->reason || !*o->reason || strlen(o->reason) > 1024)) {
			fprintf(stderr,
				"cmpgw vendor reject: --reason R is required (1..1024 "
				"bytes)\n%s",
				usage_sub);
			rc = 2;
		}
		return rc;
	}
	if (strcmp(what, "set") == 0) {
		rc = parse("vendor set", usage_set, 1u << V_STRICT | 1u << V_LENIENT, 1, 1,
			   argc - 1, argv + 1, o);
		if (rc == 0 && o->strict == o->lenient) {
			fprintf(stderr,
				"cmpgw vendor set: give exactly one of --strict, --lenient\n%s",
				usage_set);
			rc = 2;
		}
		return rc;
	}
	rc = parse("vendor add", usage_add, 1u << V_RULE | 1u << V_NO_REENROLL | 1u << V_LENIENT, 1,
		   1, argc - 1, argv + 1, o);
	if (rc == 0 && o->rule && !rule_ok(o->rule)) {
		fprintf(stderr,
			"cmpgw vendor add: --serial-rule: unknown rule \"%s\" "
			"(subject_serialnumber, subject_cn, cert_serial)\n",
			o->rule);
		rc = 2;
	}
	return rc;
}

int cmd_vendor(int argc, char **argv)
{
	struct vopts o;
	struct cmd_db d = { 0 };
	int rc;
	const char *what = argc > 1 ? argv[1] : "";
	bool add = strcmp(what, "add") == 0, set = strcmp(what, "set") == 0;
	bool check = strcmp(what, "check") == 0;
	bool subs = strcmp(what, "submissions") == 0, approve = strcmp(what, "approve") == 0,
	     reject = strcmp(what, "reject") == 0;
	bool anchor = strcmp(what, "anchor") == 0;
	bool cert = (anchor || strcmp(what, "intermediate") == 0) && argc > 2 &&
		    strcmp(argv[2], "add") == 0;

	if (cmd_is_help(what) || (!add && !set && !check && !subs && !approve && !reject &&
				  argc > 2 && cmd_is_help(argv[2]))) {
		printf("%s%s%s%s%s", usage_add, usage_set, usage_cert, usage_check, usage_sub);
		return 0;
	}
	if (!add && !set && !cert && !check && !subs && !approve && !reject) {
		fprintf(stderr, "%s%s%s%s%s", usage_add, usage_set, usage_cert, usage_check,
			usage_sub);
		return 2;
	}
	rc = parse_cmd(what, cert, argc, argv, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = cmd_db_open(o.config, &d);
	if (rc != 0)
		goto out;
	if (check)
		rc = vendor_check(&d, &o);
	else if (subs)
		rc = vendor_submissions(d.conn, &o);
	else if (approve || reject)
		rc = vendor_decide(d.conn, &o, approve);
	else if (add || set)
		rc = add ? vendor_add(d.conn, &o) : vendor_set(d.conn, &o);
	else
		rc = vendor_cert_add(d.conn, o.pos[0], anchor ? "anchor" : "intermediate", o.pos[1],
				     o.force);
out:
	cmd_db_close(&d);
	return rc;
}
