/*
 * cmd/cert.c - `cmpgw cert revoke` and `cmpgw crl`: revocation and CRL
 * publication from the command line, with the same SQL functions and CRL
 * builder the gateway uses (store/revoke.h, policy/crl.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "cmd/cmd.h"
#include "cmd/pki.h"
#include "core/cfg.h"
#include "policy/crl.h"
#include "ra/ra.h"
#include "store/outcome.h"
#include "store/revoke.h"

struct cert_opts {
	const char *config, *serial, *reason, *out;
};

// clang-format off
static const char usage_revoke[] =
	"usage: cmpgw cert revoke [--config FILE] --serial HEX [--reason R]\n"
	"  revoke a certificate of the issuing CA and regenerate the CRL\n"
	"  -c, --config FILE   the configuration file (default: $CMPGW_CONFIG)\n"
	"  --serial HEX        its serial number (1A2B, 0x1a2b or 1a:2b)\n"
	"  --reason R          unspecified (default) keyCompromise cACompromise\n"
	"                      affiliationChanged superseded cessationOfOperation\n"
	"                      certificateHold removeFromCRL privilegeWithdrawn\n"
	"                      aACompromise; removeFromCRL releases a hold\n"
	"  -h, --help          this text\n";
static const char usage_crl[] =
	"usage: cmpgw crl [--config FILE] [--out FILE]\n"
	"  write the issuing CA's current CRL (DER), regenerated first if stale\n"
	"  -c, --config FILE   the configuration file (default: $CMPGW_CONFIG)\n"
	"  --out FILE          write it there (mode 0644) instead of stdout\n"
	"  -h, --help          this text\n";
// clang-format on

/* argv[0]: the last command word. 0 parsed, -1 help printed, 2 error. */
static int parse(int argc, char **argv, struct cert_opts *o, bool revoke)
{
	static const struct option revoke_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "serial", required_argument, NULL, 's' },
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option crl_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = revoke ? "cert revoke" : "crl";
	int c;

	memset(o, 0, sizeof(*o));
	cmd_getopt_reset();
	while ((c = cmd_getopt(cmd, argc, argv, ":c:h", revoke ? revoke_opts : crl_opts)) != -1) {
		if (c == '?')
			return 2;
		if (c == 'h') {
			fputs(revoke ? usage_revoke : usage_crl, stdout);
			return -1;
		}
		*(c == 'c'   ? &o->config
		  : c == 's' ? &o->serial
		  : c == 'r' ? &o->reason
			     : &o->out) = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "cmpgw %s: unexpected argument \"%s\"\n%s", cmd, argv[optind],
			revoke ? usage_revoke : usage_crl);
		return 2;
	}
	o->config = cmd_config(cmd, o->config);
	return o->config ? 0 : 2;
}

/* "0x01:ab" / "1AB" -> "1AB" as BN_bn2hex writes it (the stored form). */
static char *serial_canon(const char *in)
{
	char buf[130];
	size_t o = 0;
	BIGNUM *bn = NULL;
	char *hex = NULL;

	if (strncmp(in, "0x", 2) == 0 || strncmp(in, "0X", 2) == 0)
		in += 2;
	for (; *in && o + 1 < sizeof(buf); in++)
		if (*in != ':')
			buf[o++] = *in;
	buf[o] = '\0';
	if (*in || o == 0 || strspn(buf, "0123456789abcdefABCDEF") != o ||
	    BN_hex2bn(&bn, buf) != (int)o)
		goto out;
	hex = BN_bn2hex(bn);
out:
	BN_free(bn);
	return hex;
}

struct sync_state {
	int rc;
	enum store_outcome status;
	struct store_crl_current cur;
	unsigned char *der; /* copy of the stored CRL */
	size_t der_len;
	X509_CRL *built;
	const struct cfg *cfg;
	long long next;
	char fp[64];
};

static void on_status(void *arg, int rc, enum store_outcome status)
{
	struct sync_state *s = arg;
	s->rc = rc;
	s->status = status;
}

static void on_current(void *arg, int rc, const struct store_crl_current *cur)
{
	struct sync_state *s = arg;
	s->rc = rc;
	if (rc != 0)
		return;
	s->cur = *cur;
	s->cur.der.p = NULL;
	if (cur->der.len && (s->der = OPENSSL_memdup(cur->der.p, cur->der.len)))
		s->der_len = cur->der.len;
}

static void on_rows(void *arg, int rc, const char *fp, const struct store_crl_row *rows, size_t n)
{
	struct sync_state *s = arg;
	struct policy_crl_entry *e = n ? calloc(n, sizeof(*e)) : NULL;

	s->rc = rc != 0 ? rc : (n && !e) ? RC_NOMEM : 0;
	if (s->rc != 0)
		goto out;
	snprintf(s->fp, sizeof(s->fp), "%s", fp);
	for (size_t i = 0; i < n; i++) {
		e[i].serial_hex = rows[i].serial_hex;
		e[i].revoked_at = rows[i].revoked_at;
		e[i].reason = rows[i].reason;
	}
	s->rc = policy_crl_build(s->cfg->ca_cert, s->cfg->ca_key, e, n, s->next, time(NULL),
				 s->cfg->crl_validity_s, &s->built);
out:
	free(e);
}

/* The current CRL into s->der, regenerated (and published) when stale. */
static int crl_current(struct cmd_db *d, struct sync_state *s)
{
	char issuer[512];
	unsigned char *der = NULL;
	int len, rc;

	s->cfg = d->cfg;
	ra_name_str(X509_get_subject_name(d->cfg->ca_cert), issuer, sizeof(issuer));
	for (int attempt = 0; attempt < 3; attempt++) {
		OPENSSL_free(s->der);
		s->der = NULL;
		rc = store_revoke_crl_current_sync(d->conn, issuer, d->cfg->crl_refresh_before_s,
						   on_current, s);
		if (rc != 0 || s->rc != 0)
			return RC_DB;
		if (!s->cur.stale && s->der)
			return 0;
		s->next = s->cur.number + 1;
		if (store_revoke_crl_rows_sync(d->conn, issuer, on_rows, s) != 0 || s->rc != 0)
			return s->rc ? s->rc : RC_DB;
		len = i2d_X509_CRL(s->built, &der);
		X509_CRL_free(s->built);
		s->built = NULL;
		if (len <= 0)
			return RC_CRYPTO;
		struct store_crl_new nc = { issuer,
					    s->fp,
					    s->next,
					    (long long)time(NULL),
					    (long long)time(NULL) + d->cfg->crl_validity_s,
					    { der, (size_t)len } };
		rc = store_revoke_crl_store_sync(d->conn, &nc, on_status, s);
		if (rc == 0 && s->rc == 0 && s->status == STORE_OUT_OK) {
			OPENSSL_free(s->der);
			s->der = der;
			s->der_len = (size_t)len;
			return 0;
		}
		OPENSSL_free(der);
		der = NULL;
		if (rc != 0 || s->rc != 0)
			return RC_DB;
	}
	return RC_DB;
}

static int revoke(struct cmd_db *d, const char *serial, int reason)
{
	struct sync_state s = { 0 };
	char issuer[512];

	ra_name_str(X509_get_subject_name(d->cfg->ca_cert), issuer, sizeof(issuer));
	struct store_revoke r = { .issuer = issuer,
				  .serial_hex = serial,
				  .alias = NULL,
				  .peer = "cli",
				  .by = "cli",
				  .reason = reason };
	if (store_revoke_cert_sync(d->conn, &r, on_status, &s) != 0 || s.rc != 0) {
		fprintf(stderr, "cmpgw: database error\n");
		return 1;
	}
	if (s.status == STORE_OUT_UNKNOWN) {
		fprintf(stderr, "cmpgw: no certificate with serial %s was issued by %s\n", serial,
			issuer);
		return 1;
	}
	if (s.status == STORE_OUT_REVOKED) {
		fprintf(stderr, "cmpgw: certificate %s is already revoked\n", serial);
		return 1;
	}
	if (s.status == STORE_OUT_NOT_ON_HOLD) {
		fprintf(stderr, "cmpgw: certificate %s is not on hold (certificateHold)\n", serial);
		return 1;
	}
	if (s.status != STORE_OUT_OK && s.status != STORE_OUT_RELEASED) {
		fprintf(stderr, "cmpgw: revocation of %s refused (%s)\n", serial,
			store_outcome_name(s.status));
		return 1;
	}
	printf("certificate %s %s (%s)\n", serial,
	       s.status == STORE_OUT_RELEASED ? "released from hold" : "revoked",
	       policy_crl_reason_name(reason));
	if (crl_current(d, &s) != 0)
		fprintf(stderr, "cmpgw: warning: the CRL was not regenerated now; the gateway "
				"will regenerate it on the next request\n");
	OPENSSL_free(s.der);
	return 0;
}

int cmd_cert(int argc, char **argv)
{
	struct cert_opts o;
	struct cmd_db d;
	char *serial = NULL;
	int rc, reason = POLICY_CRL_REASON_UNSPECIFIED;

	if (argc >= 2 && cmd_is_help(argv[1])) {
		fputs(usage_revoke, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "revoke") != 0) {
		fputs(usage_revoke, stderr);
		return 2;
	}
	if ((rc = parse(argc - 1, argv + 1, &o, true)) != 0)
		return rc < 0 ? 0 : rc;
	if (!o.serial || !(serial = serial_canon(o.serial))) {
		fprintf(stderr, "cmpgw cert revoke: --serial HEX is required (hexadecimal, e.g. "
				"1A2B or 1a:2b)\n");
		return 2;
	}
	if (o.reason && (reason = policy_crl_reason_parse(o.reason)) < 0) {
		fprintf(stderr,
			"cmpgw cert revoke: unknown --reason \"%s\" (unspecified keyCompromise "
			"cACompromise affiliationChanged superseded cessationOfOperation "
			"certificateHold removeFromCRL privilegeWithdrawn aACompromise)\n",
			o.reason);
		OPENSSL_free(serial);
		return 2;
	}
	rc = cmd_db_open(o.config, &d);
	if (rc == 0)
		rc = revoke(&d, serial, reason);
	cmd_db_close(&d);
	OPENSSL_free(serial);
	return rc;
}

int cmd_crl(int argc, char **argv)
{
	struct cert_opts o;
	struct sync_state s = { 0 };
	struct cmd_db d;
	int rc = parse(argc, argv, &o, false);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = cmd_db_open(o.config, &d);
	if (rc == 0 && crl_current(&d, &s) != 0) {
		fprintf(stderr, "cmpgw: the CRL could not be read or generated\n");
		rc = 1;
	}
	if (rc == 0 && o.out && cmd_pki_write_file(o.out, s.der, s.der_len, 0644) != 0) {
		fprintf(stderr, "cmpgw: %s: cannot write\n", o.out);
		rc = 1;
	} else if (rc == 0 && !o.out && fwrite(s.der, 1, s.der_len, stdout) != s.der_len) {
		rc = 1;
	}
	OPENSSL_free(s.der);
	cmd_db_close(&d);
	return rc;
}
