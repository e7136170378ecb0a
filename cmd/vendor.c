/*
 * cmd/vendor.c - `cmpgw vendor add`, `cmpgw vendor anchor|intermediate add`:
 * the vendor registry (vendors and the CA certificates their devices'
 * certificates chain to).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd/cmd.h"
#include "store/db.h"
#include "store/vendor.h"

// clang-format off
static const struct spec spec_vendor_add = { "vendor add",
	"usage: cmpgw vendor add [--config FILE] [--serial-rule R] [--no-reenroll] NAME\n"
	"  register a vendor\n" COMMON_HELP
	"  --serial-rule R     where the device serial is read: subject_serialnumber\n"
	"                      (default), subject_cn or cert_serial\n"
	"  --no-reenroll       refuse a second vendor-certificate ir of an enrolled serial\n",
	O_SERIAL_RULE | O_NO_REENROLL, 1 };
static const struct spec spec_vendor_cert = { "vendor anchor|intermediate add",
	"usage: cmpgw vendor anchor add [--config FILE] NAME CERT.pem\n"
	"       cmpgw vendor intermediate add [--config FILE] NAME CERT.pem\n"
	"  register a trust anchor / intermediate CA (PEM or DER) of vendor NAME\n"
	COMMON_HELP, 0, 2 };
// clang-format on

static X509 *read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;

	if (!f) {
		fprintf(stderr, "cmpgw: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (!x) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	if (!x)
		fprintf(stderr, "cmpgw: %s: not a PEM or DER certificate\n", path);
	return x;
}

static int vendor_cert_add(struct store_conn *c, const char *vendor, const char *kind,
			   const char *path)
{
	X509 *x = read_cert(path);
	unsigned char *der = NULL, fp[32];
	unsigned int fplen = sizeof(fp);
	char subject[512];
	int64_t vid;
	int rc = 1, len;

	if (!x)
		return 1;
	if (store_vendor_find(c, vendor, &vid) != 0) {
		fprintf(stderr, "cmpgw: unknown vendor \"%s\" (add it with: cmpgw vendor add)\n",
			vendor);
		goto out;
	}
	/* An anchor must be a CA; an intermediate must be one too. */
	if (X509_check_ca(x) == 0) {
		fprintf(stderr, "cmpgw: %s: not a CA certificate\n", path);
		goto out;
	}
	len = i2d_X509(x, &der);
	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	struct tm tm;
	ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	if (len <= 0 || !X509_digest(x, EVP_sha256(), fp, &fplen))
		goto out;
	int r = store_vendor_cert_add(c, vid, kind, der, (size_t)len, fp, subject,
				      (long long)timegm(&tm));
	if (r == RC_EXISTS) {
		printf("%s %s already registered for %s\n", kind, subject, vendor);
		rc = 0;
	} else if (r == 0) {
		printf("registered %s %s for vendor %s\n", kind, subject, vendor);
		rc = 0;
	} else {
		fprintf(stderr, "cmpgw: storing the certificate failed: %s\n", rc_str(r));
	}
out:
	OPENSSL_free(der);
	X509_free(x);
	return rc;
}

int cmd_vendor(int argc, char **argv)
{
	struct opts o;
	struct cmd_db d = { 0 };
	struct store_conn *c = NULL;
	int rc;
	const char *what = argc > 1 ? argv[1] : "";
	bool add = strcmp(what, "add") == 0;
	bool cert = (strcmp(what, "anchor") == 0 || strcmp(what, "intermediate") == 0) &&
		    argc > 2 && strcmp(argv[2], "add") == 0;

	if (cmd_is_help(what) || (!add && argc > 2 && cmd_is_help(argv[2]))) {
		printf("%s%s", spec_vendor_add.usage, spec_vendor_cert.usage);
		return 0;
	}
	if (!add && !cert) {
		fprintf(stderr, "%s%s", spec_vendor_add.usage, spec_vendor_cert.usage);
		return 2;
	}
	/* argv[0] becomes the last command word ("add") */
	rc = add ? cmd_parse_opts(&spec_vendor_add, argc - 1, argv + 1, &o)
		 : cmd_parse_opts(&spec_vendor_cert, argc - 2, argv + 2, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	const char *rule = o.serial_rule ? o.serial_rule : "subject_serialnumber";
	if (strcmp(rule, "subject_serialnumber") && strcmp(rule, "subject_cn") &&
	    strcmp(rule, "cert_serial")) {
		fprintf(stderr,
			"cmpgw vendor add: --serial-rule: unknown rule \"%s\" "
			"(subject_serialnumber, "
			"subject_cn, cert_serial)\n",
			rule);
		return 2;
	}
	rc = cmd_db_open(o.config, &d);
	c = d.conn;
	if (rc == 0 && add) {
		int64_t id;
		int r = store_vendor_add(c, o.pos[0], rule, !o.no_reenroll, &id);
		if (r == RC_EXISTS)
			printf("vendor %s already registered\n", o.pos[0]);
		else if (r == 0)
			printf("registered vendor %s (serial rule %s)\n", o.pos[0], rule);
		else
			rc = 1;
	} else if (rc == 0) {
		rc = vendor_cert_add(c, o.pos[0],
				     strcmp(what, "anchor") == 0 ? "anchor" : "intermediate",
				     o.pos[1]);
	}
	cmd_db_close(&d);
	return rc;
}
