/*
 * test/unit/core/test_init.c - `cmpgw init` writes a demo whose files have
 * the right modes, whose chains verify, and whose cmpgw.json loads cleanly
 * with cfg_load. (Lives under core/ because cmd/ has no unit test folder.)
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cmd/init.h"
#include "cmd/pki.h"
#include "core/cfg.h"
#include "test/unit/tap.h"

static char dir[PATH_MAX];

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* cmd_init with its stdout/stderr lines kept out of the TAP stream */
static int run_init(int argc, char **argv)
{
	int out = dup(1), err = dup(2), null = open("/dev/null", O_WRONLY), rc;

	fflush(stdout);
	dup2(null, 1);
	dup2(null, 2);
	rc = cmd_init(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(err, 2);
	close(out);
	close(err);
	close(null);
	return rc;
}

static int mode_of(const char *rel)
{
	char p[PATH_MAX + 64];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static X509 *cert(const char *rel)
{
	char p[PATH_MAX + 64];
	FILE *f;
	X509 *x = NULL;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if ((f = fopen(p, "r")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	return x;
}

/* Does leaf verify up to root through the untrusted intermediate? */
static bool verifies(const char *leaf, const char *mid, const char *root)
{
	X509 *l = cert(leaf), *m = cert(mid), *r = cert(root);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *un = sk_X509_new_null();
	bool good = false;

	if (l && m && r && st && ctx && un && X509_STORE_add_cert(st, r) && sk_X509_push(un, m)) {
		m = NULL; /* owned by un */
		good = X509_STORE_CTX_init(ctx, st, l, un) && X509_verify_cert(ctx) == 1;
	}
	sk_X509_pop_free(un, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(r);
	X509_free(m);
	X509_free(l);
	return good;
}

static void test_files(void)
{
	ok(mode_of("pki/operator-root.key") == 0600 && mode_of("pki/issuing-ca.key") == 0600 &&
		   mode_of("pki/cmp-signer.key") == 0600 &&
		   mode_of("vendor/vendor-root.key") == 0600 &&
		   mode_of("vendor/vendor-ca.key") == 0600 &&
		   mode_of("devices/dev-0003.key") == 0600 &&
		   mode_of("devices/new-0003.key") == 0600,
	   "keys are 0600");
	ok(mode_of("pki/operator-root.crt") == 0644 && mode_of("devices/dev-0001.crt") == 0644 &&
		   mode_of("cmpgw.json") == 0644 && mode_of("README.txt") == 0644,
	   "other files are 0644");
	ok(mode_of("devices/dev-0004.crt") < 0, "only --devices 3 devices");
	ok(verifies("pki/cmp-signer.crt", "pki/issuing-ca.crt", "pki/operator-root.crt"),
	   "CMP signer verifies to the operator root");
	ok(verifies("devices/dev-0002.crt", "vendor/vendor-ca.crt", "vendor/vendor-root.crt"),
	   "device cert verifies to the vendor root");
	ok(!verifies("devices/dev-0002.crt", "pki/issuing-ca.crt", "pki/operator-root.crt"),
	   "device cert does not verify to the operator root");

	X509 *d = cert("devices/dev-0003.crt"), *s = cert("pki/cmp-signer.crt");
	char subj[256] = "";
	if (d)
		X509_NAME_oneline(X509_get_subject_name(d), subj, sizeof(subj));
	ok(strstr(subj, "serialNumber=ACME-0003") && strstr(subj, "CN=Acme Router"),
	   "device subject %s", subj);
	ok(d && X509_get0_authority_key_id(d) && X509_get0_subject_key_id(d),
	   "device has AKI and SKI");
	ok(d && ASN1_STRING_type(X509_get0_serialNumber(d)) == V_ASN1_INTEGER &&
		   ASN1_STRING_length(X509_get0_serialNumber(d)) >= 8,
	   "serial is positive, 64 bits or more");
	ok(s && (X509_get_extension_flags(s) & EXFLAG_XKUSAGE) &&
		   X509_get_extended_key_usage(s) != UINT32_MAX,
	   "CMP signer has an EKU");
	X509_free(s);
	X509_free(d);

	char p[PATH_MAX + 64], buf[256] = "";
	snprintf(p, sizeof(p), "%s/vendor/serials.txt", dir);
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	ok(strcmp(buf, "ACME-0001\nACME-0002\n") == 0, "serial list leaves the last device out");
}

static void test_config(void)
{
	char p[PATH_MAX + 64], err[1024] = "";
	struct cfg *c = NULL;

	snprintf(p, sizeof(p), "%s/cmpgw.json", dir);
	ok(cfg_load(p, &c, err, sizeof(err)) == 0 && c, "cmpgw.json loads: %s", err);
	ok(c && c->listen[0].port == 18080, "--port is in the config");
	ok(c && c->ops_port == 18081 && strcmp(c->ops_address, "127.0.0.1") == 0,
	   "the ops listener is on 127.0.0.1, --port + 1");
	ok(c && cfg_alias_find(c, "3gpp") && c->aliases[0].n_vendors == 1 &&
		   strcmp(c->aliases[0].vendors[0], "acme") == 0,
	   "alias 3gpp for vendor acme");
	cfg_free(c);
}

/* The admin API's demo TLS: a server certificate for 127.0.0.1 issued by
 * pki/admin-ca, an operator client certificate mapped in the config. */
static void test_admin(int want_port)
{
	char p[PATH_MAX + 64], err[1024] = "";
	struct cfg *c = NULL;
	X509 *ca = NULL, *srv = NULL, *op = NULL;
	FILE *f;

	snprintf(p, sizeof(p), "%s/cmpgw.json", dir);
	ok(cfg_load(p, &c, err, sizeof(err)) == 0 && c, "cmpgw.json loads: %s", err);
	if (!want_port) {
		ok(c && c->admin_port == 0 && c->n_principals == 0,
		   "--admin-port 0: no admin listener");
		cfg_free(c);
		return;
	}
	ok(c && c->admin_port == want_port && strcmp(c->admin_address, "127.0.0.1") == 0,
	   "the admin listener is on 127.0.0.1:%d", want_port);
	ok(c && c->n_principals == 1 && strcmp(c->principals[0].role, "operator") == 0 &&
		   c->principals[0].cert,
	   "one principal: the operator's client certificate");
	ok(mode_of("pki/admin-server.key") == 0600 && mode_of("pki/admin-operator.key") == 0600 &&
		   mode_of("pki/admin-ca.key") == 0600,
	   "the admin keys are 0600");
#define LOAD(var, name)                                                                            \
	snprintf(p, sizeof(p), "%s/pki/" name, dir);                                               \
	if ((f = fopen(p, "r"))) {                                                                 \
		var = PEM_read_X509(f, NULL, NULL, NULL);                                          \
		fclose(f);                                                                         \
	}
	LOAD(ca, "admin-ca.crt");
	LOAD(srv, "admin-server.crt");
	LOAD(op, "admin-operator.crt");
#undef LOAD
	ok(ca && srv && X509_check_issued(ca, srv) == X509_V_OK &&
		   X509_verify(srv, X509_get0_pubkey(ca)) == 1,
	   "admin-server is issued by admin-ca");
	ok(srv && X509_check_ip_asc(srv, "127.0.0.1", 0) == 1 &&
		   X509_check_host(srv, "localhost", 0, 0, NULL) == 1,
	   "admin-server names 127.0.0.1 and localhost");
	ok(srv && (X509_get_extended_key_usage(srv) & XKU_SSL_SERVER),
	   "admin-server has EKU serverAuth");
	ok(op && ca && X509_check_issued(ca, op) == X509_V_OK &&
		   (X509_get_extended_key_usage(op) & XKU_SSL_CLIENT) && c &&
		   c->n_principals == 1 && X509_cmp(c->principals[0].cert, op) == 0,
	   "admin-operator is a clientAuth certificate of admin-ca, the one mapped");
	X509_free(ca);
	X509_free(srv);
	X509_free(op);
	cfg_free(c);
}

int main(void)
{
	char tmpl[] = "/tmp/cmpgw-test-init-XXXXXX";
	char *argv[] = { "init", "--port", "18080", "--devices", "3", tmpl, NULL };
	char *again[] = { "init", tmpl, NULL };
	char *force[] = { "init", "--force", "--port", "18080", "--devices", "3", tmpl, NULL };
	char *bad[] = { "init", "--port", "0", tmpl, NULL };
	char *same[] = { "init", "--port", "18080", "--ops-port=18080", tmpl, NULL };
	char *help[] = { "init", "--help", NULL };
	char *clash[] = { "init", "--port", "18080", "--admin-port", "18081", tmpl, NULL };
	char *noadmin[] = { "init", "--force", "--admin-port=0", "--port", "18080", tmpl, NULL };
	char *admin[] = {
		"init", "--force", "--port", "18080", "--admin-port", "18443", tmpl, NULL
	};

	ok(mkdtemp(tmpl) != NULL, "temp dir");
	ok(realpath(tmpl, dir) != NULL, "realpath");
	is_int(run_init(4, bad), 2, "bad --port is a usage error");
	is_int(run_init(1, again), 2, "missing DIR is a usage error");
	is_int(run_init(5, same), 2, "--ops-port equal to --port is a usage error");
	is_int(run_init(2, help), 0, "--help exits 0");
	is_int(run_init(6, clash), 2, "--admin-port equal to the ops port is a usage error");
	is_int(run_init(6, argv), 0, "init into an empty dir");
	test_files();
	test_config();
	is_int(run_init(2, again), 2, "non-empty dir refused without --force");
	test_admin(18082);
	is_int(run_init(7, force), 0, "--force overwrites");
	test_config();
	is_int(run_init(6, noadmin), 0, "--admin-port 0");
	test_admin(0);
	is_int(run_init(7, admin), 0, "--admin-port 18443");
	test_admin(18443);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
