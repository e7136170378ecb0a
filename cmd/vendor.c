/*
 * cmd/vendor.c - `cmpgw vendor add|set`, `cmpgw vendor anchor|intermediate
 * add`: the vendor registry (vendors and the CA certificates their devices'
 * certificates chain to). docs/VENDORS.md states the rules these enforce.
 *
 * Exit codes: 0 done (or already so), 1 refused (the message names the
 * reason; nothing was changed), 2 usage error.
 */
#include <errno.h>
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
#include "core/cfg.h"
#include "ra/check.h"
#include "ra/trust.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/vendor.h"

#define CERT_FILE_MAX (1 << 20) /* bytes of one certificate file */
#define CERTS_MAX     64	/* certificates in one file */
#define EXPIRY_WARN_D 90	/* warn when a CA expires within this many days */

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
// clang-format on

enum { V_RULE = 1, V_NO_REENROLL, V_LENIENT, V_STRICT, V_FORCE, V_ALIAS, V_JSON };

struct vopts {
	const char *config, *rule, *alias;
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
		if (c != 'c' && (c < V_RULE || c > V_JSON || !(allow & (1u << c)))) {
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

/* Every PEM block of buf must be a CERTIFICATE; all of them into sk. */
static int read_pem(const char *path, const unsigned char *buf, size_t len, STACK_OF(X509) *sk)
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
			fprintf(stderr, "cmpgw: %s: more than %d certificates\n", path, CERTS_MAX);
			goto out;
		}
		if (strcmp(name, "CERTIFICATE") != 0) {
			fprintf(stderr, "cmpgw: %s: PEM block %d is \"%s\", not a CERTIFICATE\n",
				path, i, name);
			goto out;
		}
		x = d2i_X509(NULL, &p, dlen);
		if (!x || p != data + dlen || !sk_X509_push(sk, x)) {
			X509_free(x);
			fprintf(stderr, "cmpgw: %s: certificate %d does not decode\n", path, i);
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
		fprintf(stderr, "cmpgw: %s: PEM block %d does not decode\n", path,
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

/* The certificates of path: each PEM block, else one DER certificate.
 * NULL after a message. */
static STACK_OF(X509) *read_certs(const char *path)
{
	size_t len = 0;
	unsigned char *buf = read_file(path, &len);
	STACK_OF(X509) *sk = buf ? sk_X509_new_null() : NULL;
	const unsigned char *p = buf;
	X509 *x = NULL;

	if (!sk)
		goto out;
	if (memmem(buf, len, "-----BEGIN ", 11)) {
		if (read_pem(path, buf, len, sk) != 0)
			goto fail;
	} else if ((x = d2i_X509(NULL, &p, (long)len)) && p == buf + len && sk_X509_push(sk, x)) {
		x = NULL;
	}
	if (sk_X509_num(sk) == 0) {
		fprintf(stderr, "cmpgw: %s: not a PEM or DER certificate\n", path);
		goto fail;
	}
	goto out;
fail:
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
out:
	X509_free(x);
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
 * EXPIRY_WARN_D days. 0 or 1 (message printed).
 */
static int check_validity(const char *what, X509 *x, bool force)
{
	int days = 0, secs = 0;
	const char *bad = NULL;

	if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0)
		bad = "is not yet valid";
	else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		bad = "has expired";
	if (bad && !force) {
		fprintf(stderr, "cmpgw: %s %s (register it anyway with --force)\n", what, bad);
		return 1;
	}
	if (bad) {
		fprintf(stderr, "cmpgw: warning: %s %s; registered because of --force\n", what,
			bad);
		return 0;
	}
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) && days < EXPIRY_WARN_D)
		fprintf(stderr, "cmpgw: warning: %s expires in %d day%s\n", what, days,
			days == 1 ? "" : "s");
	return 0;
}

/* The registered certificates of vendor name (anchors into a store,
 * intermediates onto sk) and its strictness. 0 or 1 (message printed). */
static int vendor_trust(struct store_conn *c, const char *name, X509_STORE *anchors,
			STACK_OF(X509) *sk, bool *strict, int *n_anchors)
{
	struct store_vendor *v = NULL;
	size_t n = 0;
	int rc = 1;

	if (store_vendor_load_all(c, &v, &n) != 0) {
		fprintf(stderr, "cmpgw: reading the vendor registry failed\n");
		return 1;
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
		fprintf(stderr, "cmpgw: unknown vendor \"%s\" (add it with: cmpgw vendor add)\n",
			name);
	store_vendor_free_all(v, n);
	return rc;
}

/* One certificate of the file as an anchor: the vendor's root (a trust
 * anchor that is not self-signed never ends a chain: X509_verify_cert
 * looks for its issuer), fit to issue under the vendor's strictness. */
static int anchor_ok(X509 *x, bool strict, bool force, char *why, size_t len)
{
	X509_STORE *one = NULL;
	int rc = RC_PERM;

	if (X509_self_signed(x, 1) != 1) {
		snprintf(
			why, len,
			"not self-signed: a trust anchor is a vendor root CA (register a CA issued "
			"by the root with: cmpgw vendor intermediate add)");
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
 * vendor's strictness; times ignored with --force, which check_validity
 * reported). 0 or 1.
 */
static int check_chains(struct store_conn *c, const char *vendor, const char *kind,
			STACK_OF(X509) *certs, bool force)
{
	X509_STORE *anchors = X509_STORE_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool strict = true, anchor = strcmp(kind, "anchor") == 0;
	int n_anchors = 0, rc = 1;
	char why[256], subject[256];

	if (!anchors || !untrusted ||
	    vendor_trust(c, vendor, anchors, untrusted, &strict, &n_anchors) != 0)
		goto out;
	if (!anchor && n_anchors == 0) {
		fprintf(stderr,
			"cmpgw: vendor %s has no trust anchor: register its anchor first "
			"(cmpgw vendor anchor add)\n",
			vendor);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (!sk_X509_push(untrusted, X509_dup(sk_X509_value(certs, i))))
			goto out;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		int r = anchor ? anchor_ok(x, strict, force, why, sizeof(why))
			       : ra_trust_check_ca(anchors, untrusted, x, strict, force, why,
						   sizeof(why));
		if (r == 0 && !anchor)
			r = ra_trust_check_issuer(anchors, untrusted, x, strict, force, why,
						  sizeof(why));
		if (r == 0)
			continue;
		subject_of(x, subject, sizeof(subject));
		fprintf(stderr, "cmpgw: certificate %d (%s) cannot be an %s of vendor %s: %s%s\n",
			i + 1, subject, kind, vendor, r == RC_NOMEM ? "out of memory" : why,
			strict && strstr(why, "(strict X.509)")
				? " (a legacy vendor PKI: see cmpgw vendor set --lenient)"
				: "");
		goto out;
	}
	rc = 0;
out:
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(anchors);
	return rc;
}

/* Rules 2 and 3: every certificate a CA within its validity. 0 or 1. */
static int check_certs(STACK_OF(X509) *certs, bool force)
{
	char subject[256], what[320];

	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		subject_of(x, subject, sizeof(subject));
		snprintf(what, sizeof(what), "certificate %d (%s)", i + 1, subject);
		if (X509_check_ca(x) == 0) {
			fprintf(stderr, "cmpgw: %s is not a CA certificate\n", what);
			return 1;
		}
		if (check_validity(what, x, force) != 0)
			return 1;
	}
	return 0;
}

/* The audit row of a registry change, naming the OS principal (issue 14);
 * inside the change's transaction. 0 or 1 (message printed). */
static int audit(struct store_conn *c, const char *event, const char *vendor, const char *detail)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX];

	if (store_admin_principal_os(who, sizeof(who)) == 0 &&
	    store_audit_admin(c, who, event, vendor, NULL, NULL, detail) == 0)
		return 0;
	fprintf(stderr, "cmpgw: cannot write the audit row; nothing changed\n");
	return 1;
}

/* The audit detail of added certificates: their subjects, bounded. */
static void added_detail(const char *kind, const char *path, STACK_OF(X509) *certs,
			 const struct store_vcert_add *it, char *buf, size_t len)
{
	size_t off;
	int added = 0;

	for (int i = 0; i < sk_X509_num(certs); i++)
		added += it[i].outcome == STORE_VCERT_ADDED;
	off = (size_t)snprintf(buf, len, "%d %s certificate(s) from %.200s:", added, kind, path);
	for (int i = 0; i < sk_X509_num(certs) && off + 260 < len; i++)
		if (it[i].outcome == STORE_VCERT_ADDED)
			off += (size_t)snprintf(buf + off, len - off, " %s;", it[i].subject);
}

/* What store_vendor_certs_add said, on stdout or stderr. 0 or 1. */
static int report(int r, const char *vendor, const char *kind, STACK_OF(X509) *certs,
		  const struct store_vcert_add *it)
{
	char subject[256];
	int n = sk_X509_num(certs);

	if (r == RC_NOTFOUND) {
		fprintf(stderr, "cmpgw: unknown vendor \"%s\"\n", vendor);
		return 1;
	}
	if (r != 0 && r != RC_EXISTS) {
		fprintf(stderr, "cmpgw: storing the certificates failed: %s\n", rc_str(r));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		subject_of(sk_X509_value(certs, i), subject, sizeof(subject));
		if (r == RC_EXISTS && it[i].outcome == STORE_VCERT_OTHER_VENDOR)
			fprintf(stderr,
				"cmpgw: certificate %d (%s) is already registered for vendor %s, "
				"not %s; nothing registered\n",
				i + 1, subject, it[i].detail, vendor);
		else if (r == 0 && it[i].outcome == STORE_VCERT_EXISTS)
			printf("%s %s already registered for %s%s%s\n", kind, subject, vendor,
			       strcmp(it[i].detail, kind) ? " as " : "",
			       strcmp(it[i].detail, kind) ? it[i].detail : "");
		else if (r == 0)
			printf("registered %s %s for vendor %s\n", kind, subject, vendor);
	}
	return r == 0 ? 0 : 1;
}

static int vendor_cert_add(struct store_conn *c, const char *vendor, const char *kind,
			   const char *path, bool force)
{
	STACK_OF(X509) *certs = read_certs(path);
	struct store_vcert_add it[CERTS_MAX];
	unsigned char *der[CERTS_MAX] = { 0 };
	char subject[CERTS_MAX][256];
	int64_t vid;
	int rc = 1, n = certs ? sk_X509_num(certs) : 0;

	if (!certs)
		return 1;
	if (store_vendor_find(c, vendor, &vid) != 0) {
		fprintf(stderr, "cmpgw: unknown vendor \"%s\" (add it with: cmpgw vendor add)\n",
			vendor);
		goto out;
	}
	if (check_certs(certs, force) != 0 || check_chains(c, vendor, kind, certs, force) != 0)
		goto out;
	memset(it, 0, sizeof(it));
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(certs, i);
		int len = i2d_X509(x, &der[i]);
		struct tm tm;
		subject_of(x, subject[i], sizeof(subject[i]));
		if (len <= 0 || ra_trust_cert_fp(x, it[i].fp) != 0 ||
		    !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
			goto out;
		it[i].der = der[i];
		it[i].derlen = (size_t)len;
		it[i].subject = subject[i];
		it[i].not_after = (int64_t)timegm(&tm);
	}
	if (store_admin_begin(c) != 0) {
		fprintf(stderr, "cmpgw: cannot start a transaction\n");
		goto out;
	}
	rc = report(store_vendor_certs_add(c, vid, kind, it, (size_t)n), vendor, kind, certs, it);
	for (int i = 0; rc == 0 && i < n; i++)
		if (it[i].outcome == STORE_VCERT_ADDED) {
			char detail[STORE_ADMIN_DETAIL_MAX / 2];
			added_detail(kind, path, certs, it, detail, sizeof(detail));
			rc = audit(c,
				   strcmp(kind, "anchor") ? "vendor_intermediate_added"
							  : "vendor_anchor_added",
				   vendor, detail);
			break;
		}
	if (store_admin_end(c, rc == 0) != 0 && rc == 0) {
		fprintf(stderr, "cmpgw: the change did not commit\n");
		rc = 1;
	}
out:
	for (int i = 0; i < n; i++)
		OPENSSL_free(der[i]);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* Run change(c, o) in one transaction with its audit row. */
static int in_tx(struct store_conn *c, const struct vopts *o,
		 int (*change)(struct store_conn *, const struct vopts *))
{
	int rc;

	if (store_admin_begin(c) != 0) {
		fprintf(stderr, "cmpgw: cannot start a transaction\n");
		return 1;
	}
	rc = change(c, o);
	if (store_admin_end(c, rc == 0) != 0 && rc == 0) {
		fprintf(stderr, "cmpgw: the change did not commit\n");
		rc = 1;
	}
	return rc;
}

static int vendor_add(struct store_conn *c, const struct vopts *o)
{
	const char *rule = o->rule ? o->rule : "subject_serialnumber";
	char detail[256];
	int r = store_vendor_add_strict(c, o->pos[0], rule, !o->no_reenroll, !o->lenient, NULL);

	if (r == RC_EXISTS) {
		printf("vendor %s already registered (unchanged)\n", o->pos[0]);
		return 0;
	}
	if (r != 0) {
		fprintf(stderr, "cmpgw: registering vendor %s failed: %s\n", o->pos[0], rc_str(r));
		return 1;
	}
	snprintf(detail, sizeof(detail), "serial rule %s, re-enrollment %s, %s X.509", rule,
		 o->no_reenroll ? "refused" : "allowed", o->lenient ? "lenient" : "strict");
	if (audit(c, "vendor_added", o->pos[0], detail) != 0)
		return 1;
	printf("registered vendor %s (serial rule %s, %s X.509)\n", o->pos[0], rule,
	       o->lenient ? "lenient" : "strict");
	return 0;
}

static int vendor_set(struct store_conn *c, const struct vopts *o)
{
	bool was = true;
	int r = store_vendor_set_strict(c, o->pos[0], o->strict, &was);

	if (r == RC_NOTFOUND) {
		fprintf(stderr, "cmpgw: unknown vendor \"%s\" (add it with: cmpgw vendor add)\n",
			o->pos[0]);
		return 1;
	}
	if (r != 0) {
		fprintf(stderr, "cmpgw: changing vendor %s failed: %s\n", o->pos[0], rc_str(r));
		return 1;
	}
	if (was != o->strict &&
	    audit(c, "vendor_strict_set", o->pos[0], o->strict ? "strict X.509" : "lenient X.509"))
		return 1;
	printf("vendor %s: %s X.509%s\n", o->pos[0], o->strict ? "strict" : "lenient",
	       was == o->strict ? " (unchanged)" : "");
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
	bool anchor = strcmp(what, "anchor") == 0;
	bool cert = (anchor || strcmp(what, "intermediate") == 0) && argc > 2 &&
		    strcmp(argv[2], "add") == 0;

	if (cmd_is_help(what) || (!add && !set && !check && argc > 2 && cmd_is_help(argv[2]))) {
		printf("%s%s%s%s", usage_add, usage_set, usage_cert, usage_check);
		return 0;
	}
	if (!add && !set && !cert && !check) {
		fprintf(stderr, "%s%s%s%s", usage_add, usage_set, usage_cert, usage_check);
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
	else if (add || set)
		rc = in_tx(d.conn, &o, add ? vendor_add : vendor_set);
	else
		rc = vendor_cert_add(d.conn, o.pos[0], anchor ? "anchor" : "intermediate", o.pos[1],
				     o.force);
out:
	cmd_db_close(&d);
	return rc;
}
