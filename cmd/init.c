/*
 * cmd/init.c - `cmpgw init`: a self-contained demo directory.
 *
 * Everything is made with libcrypto (cmd/pki.c), P-256 throughout. The
 * last device is deliberately left off the serial list so the demo shows a
 * rejection as well as enrollments.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cmd/init.h"
#include "cmd/pki.h"

#define VENDOR_ORG  "Acme"
#define MAX_DEVICES 100000

struct init_opts {
	const char *dir;
	bool force;
	int port;
	int ops_port;	/* 0: no ops listener */
	int admin_port; /* 0: no admin API listener */
	int devices;
};

/* A key+certificate pair that signs the next level. */
struct ca {
	EVP_PKEY *key;
	X509 *cert;
};

static void ca_clear(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	ca->key = NULL;
	ca->cert = NULL;
}

// clang-format off
static const char usage_text[] =
	"usage: cmpgw init [--force] [--port N] [--ops-port N] [--admin-port N] [--devices N] DIR\n"
	"  writes a demo operator PKI, vendor PKI, device certificates and\n"
	"  DIR/cmpgw.json; see DIR/README.txt afterwards\n"
	"  -f, --force         overwrite the demo files in a non-empty DIR\n"
	"  -p, --port N        the CMP listener's port on 127.0.0.1 (default 8080)\n"
	"  --ops-port N        the operations listener's port on 127.0.0.1 (/healthz,\n"
	"                      /readyz, /metrics); default port+1, 0 = none\n"
	"  --admin-port N      the admin HTTPS API's port on 127.0.0.1, with a demo TLS\n"
	"                      certificate and an operator client certificate;\n"
	"                      default port+2, 0 = none\n"
	"  -n, --devices N     device certificates to make, 2..100000 (default 5)\n"
	"  -h, --help          this text\n";
// clang-format on

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/* 0 parsed, -1 --help printed, 2 error (message printed) */
static int parse_args(int argc, char **argv, struct init_opts *o)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "ops-port", required_argument, NULL, 'o' },
		{ "admin-port", required_argument, NULL, 'a' },
		{ "devices", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, min, max;

	/* getopt_long directly, not cmd_getopt (cmd/main.c): the unit tests
	 * link this file without main.c */
	*o = (struct init_opts){ .port = 8080, .ops_port = -1, .admin_port = -1, .devices = 5 };
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fp:n:h", longopts, NULL)) != -1) {
		int *dst = c == 'p'   ? &o->port
			   : c == 'o' ? &o->ops_port
			   : c == 'a' ? &o->admin_port
				      : &o->devices;
		if (c == '?' || c == ':') {
			const char *a = argv[optind - 1];
			fprintf(stderr, "cmpgw init: %s \"%.*s\"\n",
				c == ':' ? "missing value for option" : "unknown option",
				(int)strcspn(a, "="), a);
			return usage();
		}
		if (c == 'h') {
			fputs(usage_text, stdout);
			return -1;
		}
		if (c == 'f') {
			o->force = true;
			continue;
		}
		min = c == 'p' ? 1 : c == 'o' || c == 'a' ? 0 : 2;
		max = c == 'n' ? MAX_DEVICES : 65535;
		if (parse_int(optarg, min, max, dst) != 0) {
			fprintf(stderr, "cmpgw init: bad --%s value \"%s\" (%d..%d)\n",
				c == 'p'   ? "port"
				: c == 'o' ? "ops-port"
				: c == 'a' ? "admin-port"
					   : "devices",
				optarg, min, max);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "cmpgw init: %s\n",
			optind == argc ? "DIR is missing" : "one DIR only");
		return usage();
	}
	/* The ops listener next to the CMP one unless told otherwise; none
	 * when there is no next port. */
	if (o->ops_port < 0)
		o->ops_port = o->port < 65535 ? o->port + 1 : 0;
	if (o->ops_port == o->port) {
		fprintf(stderr, "cmpgw init: --ops-port must differ from --port\n");
		return 2;
	}
	/* The admin API two ports up likewise. */
	if (o->admin_port < 0)
		o->admin_port = o->port < 65534 ? o->port + 2 : 0;
	if (o->admin_port && (o->admin_port == o->port || o->admin_port == o->ops_port)) {
		fprintf(stderr,
			"cmpgw init: --admin-port must differ from --port and --ops-port\n");
		return 2;
	}
	o->dir = argv[optind];
	return 0;
}

/* mkdir -p */
static int make_dir(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return (errno = ENAMETOOLONG), -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	if (stat(buf, &st) != 0)
		return -1;
	return S_ISDIR(st.st_mode) ? 0 : ((errno = ENOTDIR), -1);
}

/* 1: has entries, 0: empty or absent, -1: error */
static int dir_nonempty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int found = 0;

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while (!found && (e = readdir(d)) != NULL)
		found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return found;
}

static int prepare_dir(const struct init_opts *o)
{
	static const char *const subs[] = { "pki", "vendor", "devices" };
	char sub[PATH_MAX];
	int ne = dir_nonempty(o->dir);

	if (ne < 0) {
		fprintf(stderr, "cmpgw init: %s: %s\n", o->dir, strerror(errno));
		return 2;
	}
	if (ne && !o->force) {
		fprintf(stderr,
			"cmpgw init: %s is not empty;"
			" use --force to overwrite the demo files in it\n",
			o->dir);
		return 2;
	}
	for (size_t i = 0; i < 3; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", o->dir, subs[i]) >= (int)sizeof(sub) ||
		    make_dir(sub) != 0) {
			fprintf(stderr, "cmpgw init: cannot create %s: %s\n", sub, strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* Write DIR/name.crt and, if key, DIR/name.key. */
static int save(const char *dir, const char *name, X509 *cert, EVP_PKEY *key)
{
	char path[PATH_MAX];

	int n;

	if (cert) {
		n = snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (cmd_pki_write_cert(path, cert) != 0)
			goto fail;
	}
	if (key) {
		n = snprintf(path, sizeof(path), "%s/%s.key", dir, name);
		if (n < 0 || (size_t)n >= sizeof(path)) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		if (cmd_pki_write_key(path, key) != 0)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "cmpgw init: cannot write %s: %s\n", path, strerror(errno));
	return -1;
}

/* Make a key, a certificate for it from spec, signed by issuer (NULL:
 * self-signed), and save both as dir/name.{crt,key}. */
static int make(struct ca *out, const struct cmd_pki_spec *spec, const struct ca *issuer,
		const char *dir, const char *name)
{
	if (!(out->key = cmd_pki_key_new()) ||
	    !(out->cert = cmd_pki_cert_new(spec, out->key, issuer ? issuer->cert : NULL,
					   issuer ? issuer->key : out->key))) {
		fprintf(stderr, "cmpgw init: cannot make %s\n", name);
		return -1;
	}
	return save(dir, name, out->cert, out->key);
}

/* pki/tokens.key: the AES-256-GCM key sealing token secrets (tokens.key_file). */
static int make_token_key(const char *pki)
{
	unsigned char key[32];
	char path[PATH_MAX];
	int rc = -1;

	if (snprintf(path, sizeof(path), "%s/tokens.key", pki) >= (int)sizeof(path))
		return -1;
	if (RAND_priv_bytes(key, sizeof(key)) == 1)
		rc = cmd_pki_write_file(path, key, sizeof(key), 0600);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != 0)
		fprintf(stderr, "cmpgw init: cannot write %s\n", path);
	return rc;
}

static int make_operator(const char *dir)
{
	// clang-format off
	static const struct cmd_pki_spec root = {
		"CN=cmpgw Demo Operator Root CA,O=Demo Operator", 3653, 3600, true, -1,
		"critical,keyCertSign,cRLSign", NULL, NULL};
	static const struct cmd_pki_spec issuing = {
		"CN=cmpgw Demo Issuing CA,O=Demo Operator", 1826, 3600, true, 0,
		"critical,keyCertSign,cRLSign", NULL, NULL};
	static const struct cmd_pki_spec signer = {
		"CN=cmpgw Demo CMP Signer,O=Demo Operator", 730, 3600, false, -1,
		"critical,digitalSignature", "1.3.6.1.5.5.7.3.28" /* id-kp-cmcRA */, NULL};
	// clang-format on
	struct ca r = { 0 }, i = { 0 }, s = { 0 };
	char pki[PATH_MAX];
	int rc = -1;

	snprintf(pki, sizeof(pki), "%s/pki", dir);
	if (make(&r, &root, NULL, pki, "operator-root") == 0 &&
	    make(&i, &issuing, &r, pki, "issuing-ca") == 0 &&
	    make(&s, &signer, &i, pki, "cmp-signer") == 0 && make_token_key(pki) == 0)
		rc = 0;
	ca_clear(&s);
	ca_clear(&i);
	ca_clear(&r);
	return rc;
}

/* The admin API's demo TLS (docs/ADMIN.md): pki/admin-ca (issues both),
 * pki/admin-server for 127.0.0.1 and localhost, pki/admin-operator, the
 * client certificate admin.principals maps to the operator role. */
static int make_admin(const char *dir)
{
	// clang-format off
	static const struct cmd_pki_spec ca = {
		"CN=cmpgw Demo Admin CA,O=Demo Operator", 3653, 3600, true, 0,
		"critical,keyCertSign,cRLSign", NULL, NULL};
	static const struct cmd_pki_spec server = {
		"CN=localhost,O=Demo Operator", 825, 3600, false, -1,
		"critical,digitalSignature", "serverAuth", "IP:127.0.0.1,DNS:localhost"};
	static const struct cmd_pki_spec client = {
		"CN=Demo Operator,O=Demo Operator", 825, 3600, false, -1,
		"critical,digitalSignature", "clientAuth", NULL};
	// clang-format on
	struct ca c = { 0 }, s = { 0 }, o = { 0 };
	char pki[PATH_MAX];
	int rc = -1;

	snprintf(pki, sizeof(pki), "%s/pki", dir);
	if (make(&c, &ca, NULL, pki, "admin-ca") == 0 &&
	    make(&s, &server, &c, pki, "admin-server") == 0 &&
	    make(&o, &client, &c, pki, "admin-operator") == 0)
		rc = 0;
	ca_clear(&o);
	ca_clear(&s);
	ca_clear(&c);
	return rc;
}

/* dev-NNNN.{crt,key} and new-NNNN.key for each device. */
static int make_devices(const char *dir, const struct ca *vendor_ca, int n)
{
	char devdir[PATH_MAX], name[32], serial[32];
	EVP_PKEY *key = NULL, *fresh = NULL;
	X509 *cert = NULL;
	int rc = 0;

	snprintf(devdir, sizeof(devdir), "%s/devices", dir);
	for (int d = 1; d <= n && rc == 0; d++) {
		snprintf(serial, sizeof(serial), "ACME-%04d", d);
		rc = -1;
		if (!(key = cmd_pki_key_new()) || !(fresh = cmd_pki_key_new()) ||
		    !(cert = cmd_pki_device_cert_new(serial, VENDOR_ORG, key, vendor_ca->cert,
						     vendor_ca->key))) {
			fprintf(stderr, "cmpgw init: cannot make device %s\n", serial);
		} else {
			snprintf(name, sizeof(name), "dev-%04d", d);
			if (save(devdir, name, cert, key) == 0) {
				snprintf(name, sizeof(name), "new-%04d", d);
				rc = save(devdir, name, NULL, fresh);
			}
		}
		X509_free(cert);
		EVP_PKEY_free(fresh);
		EVP_PKEY_free(key);
		cert = NULL, fresh = key = NULL;
	}
	return rc;
}

/* The last device is deliberately not listed: its enrollment must fail. */
static int write_serials(const char *dir, int n)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc = -1;

	if (!m)
		return -1;
	for (int d = 1; d < n; d++)
		fprintf(m, "ACME-%04d\n", d);
	if (fclose(m) == 0) {
		snprintf(path, sizeof(path), "%s/vendor/serials.txt", dir);
		rc = cmd_pki_write_file(path, buf, len, 0644) == 0 ? 0 : -1;
		if (rc)
			fprintf(stderr, "cmpgw init: cannot write %s: %s\n", path, strerror(errno));
	}
	free(buf);
	return rc;
}

static int make_vendor(const char *dir, int devices)
{
	// clang-format off
	static const struct cmd_pki_spec root = {"CN=Acme Vendor Root CA,O=Acme", 7305, 3600, true, -1,
						 "critical,keyCertSign,cRLSign", NULL, NULL};
	static const struct cmd_pki_spec ca = {"CN=Acme Vendor Device CA,O=Acme", 3653, 3600, true, 0,
					       "critical,keyCertSign,cRLSign", NULL, NULL};
	// clang-format on
	struct ca r = { 0 }, c = { 0 };
	char vdir[PATH_MAX];
	int rc = -1;

	snprintf(vdir, sizeof(vdir), "%s/vendor", dir);
	if (make(&r, &root, NULL, vdir, "vendor-root") == 0 &&
	    make(&c, &ca, &r, vdir, "vendor-ca") == 0 && make_devices(dir, &c, devices) == 0 &&
	    write_serials(dir, devices) == 0)
		rc = 0;
	ca_clear(&c);
	ca_clear(&r);
	return rc;
}

// clang-format off
static const char config_fmt[] =
	"{\n"
	"  \"log\": { \"level\": \"info\", \"format\": \"text\" },\n"
	"  \"listen\": [ { \"address\": \"127.0.0.1\", \"port\": %1$d } ],\n"
	"  \"workers\": 0,\n"
	"  \"http\": { \"max_body\": 65536, \"timeout_s\": 30 },\n"
	"  \"data_dir\": \"state\",\n"
	"  \"database\": { \"url\": null, \"embedded_user\": \"postgres\", \"pool\": 2 },\n"
	"  \"ca\": {\n"
	"    \"issuing_cert\": \"pki/issuing-ca.crt\",\n"
	"    \"issuing_key\": \"pki/issuing-ca.key\",\n"
	"    \"chain\": [\"pki/operator-root.crt\"],\n"
	"    \"cmp_cert\": \"pki/cmp-signer.crt\",\n"
	"    \"cmp_key\": \"pki/cmp-signer.key\",\n"
	"    \"cmp_chain\": [\"pki/issuing-ca.crt\", \"pki/operator-root.crt\"],\n"
	"    \"root\": \"pki/operator-root.crt\"\n"
	"  },\n"
	"  \"tokens\": { \"key_file\": \"pki/tokens.key\", \"max_iterations\": 100000 },\n"
	"  \"profiles\": {\n"
	"    \"device\": {\n"
	"      \"subject\": \"CN=${serial},O=${vendor},OU=Devices\",\n"
	"      \"san\": [\"dns:${serial}.devices.example.net\"],\n"
	"      \"validity_days\": 365,\n"
	"      \"backdate_s\": 300,\n"
	"      \"key_usage\": [\"digitalSignature\", \"keyAgreement\"],\n"
	"      \"eku\": [\"clientAuth\", \"serverAuth\"],\n"
	"      \"key_algorithms\": [\"P-256\", \"P-384\", \"RSA\", \"Ed25519\"],\n"
	"      \"rsa_min_bits\": 2048,\n"
	"      \"allow_requested_subject\": false,\n"
	"      \"crl_distribution_points\": [\"http://127.0.0.1:%1$d/crl/issuing-ca.crl\"],\n"
	"      \"ca_issuers\": [\"http://127.0.0.1:%1$d/crl/issuing-ca.cer\"]\n"
	"    }\n"
	"  },\n"
	"  \"crl\": { \"path\": \"/crl/issuing-ca.crl\",\n"
	"           \"ca_cert_path\": \"/crl/issuing-ca.cer\" },\n"
	"  \"aliases\": [\n"
	"    { \"label\": \"3gpp\", \"mode\": \"ca\", \"vendors\": [\"acme\"], \"profile\": \"device\",\n"
	"      \"implicit_confirm\": true, \"confirm_deadline_s\": 300, \"message_time_skew_s\": 300,\n"
	"      \"paths\": [\"/pkix/\"] }\n"
	"  ],\n"
	"  \"ops\": { \"address\": \"127.0.0.1\", \"port\": %2$d },\n"
	"%3$s"
	"  \"sweep_interval_s\": 10\n"
	"}\n";

/* The admin listener's section (%1$d: its port), when there is one. */
static const char admin_fmt[] =
	"  \"admin\": { \"address\": \"127.0.0.1\", \"port\": %1$d,\n"
	"    \"tls\": { \"cert\": \"pki/admin-server.crt\", \"key\": \"pki/admin-server.key\",\n"
	"             \"client_ca\": \"pki/admin-ca.crt\" },\n"
	"    \"principals\": [ { \"cert\": \"pki/admin-operator.crt\", \"role\": \"operator\" } ] },\n";
// clang-format on

static int write_text(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (cmd_pki_write_file(path, text, strlen(text), 0644) != 0) {
		fprintf(stderr, "cmpgw init: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int write_config(const char *dir, int port, int ops_port, int admin_port)
{
	char admin[sizeof(admin_fmt) + 16] = "";
	char buf[sizeof(config_fmt) + sizeof(admin) + 4 * 16];

	if (admin_port)
		snprintf(admin, sizeof(admin), admin_fmt, admin_port);
	snprintf(buf, sizeof(buf), config_fmt, port, ops_port, admin);
	return write_text(dir, "cmpgw.json", buf);
}

// clang-format off
static void readme_files(FILE *m, int n, int admin_port)
{
	fprintf(m,
		"cmpgw demo\n"
		"==========\n\n"
		"Made by `cmpgw init`. Everything here is a DEMO: the private keys are\n"
		"unencrypted and were generated on this machine. Do not use them for\n"
		"anything real.\n\n"
		"Files\n"
		"-----\n"
		"cmpgw.json                 the gateway configuration (docs/CONFIG.md)\n"
		"pki/operator-root.crt/.key operator root CA (10 years); clients trust it\n"
		"pki/issuing-ca.crt/.key    issuing CA, signed by the root, pathlen 0;\n"
		"                           signs the operator certificates of devices\n"
		"pki/cmp-signer.crt/.key    signs the gateway's CMP responses\n"
		"                           (end entity, EKU id-kp-cmcRA)\n"
		"pki/tokens.key             key that encrypts enrollment-token secrets\n"
		"                           (tokens.key_file; cmpgw token create)\n"
		"vendor/vendor-root.crt/.key  Acme's vendor root CA; registered in cmpgw\n"
		"                           as the vendor's trust anchor\n"
		"vendor/vendor-ca.crt/.key  Acme's device CA (intermediate) that issued\n"
		"                           the factory certificates below\n"
		"vendor/serials.txt         the serial numbers Acme allows to enroll:\n"
		"                           ACME-0001 .. ACME-%04d\n"
		"devices/dev-NNNN.crt/.key  factory (vendor) certificate and key of\n"
		"                           device NNNN, subject\n"
		"                           \"CN=Acme Router, O=Acme, serialNumber=ACME-NNNN\"\n"
		"devices/new-NNNN.key       the fresh key device NNNN gets certified\n\n"
		"Device ACME-%04d (devices/dev-%04d.*) is deliberately NOT in\n"
		"vendor/serials.txt: its enrollment must be rejected, which shows the\n"
		"serial-list check at work.\n\n",
		n - 1, n, n);
	if (admin_port)
		fprintf(m,
			"The admin HTTPS API (docs/ADMIN.md) listens on 127.0.0.1:%1$d:\n"
			"pki/admin-ca.crt/.key      its demo CA; it issued pki/admin-server (the\n"
			"                           listener's TLS certificate, for 127.0.0.1 and\n"
			"                           localhost) and pki/admin-operator (a client\n"
			"                           certificate with the operator role):\n"
			"  curl --cacert pki/admin-ca.crt --cert pki/admin-operator.crt \\\n"
			"       --key pki/admin-operator.key https://127.0.0.1:%1$d/api/v1/whoami\n"
			"The status page is https://127.0.0.1:%1$d/status (with an API key from\n"
			"`cmpgw apikey create --role operator`, or that client certificate).\n\n",
			admin_port);
}
// clang-format on

// clang-format off
static void readme_steps(FILE *m, const char *d, int port, int n)
{
	fprintf(m,
		"Next steps\n"
		"----------\n"
		"1. Register the vendor, its trust anchor, its intermediate and serials:\n\n"
		"   cmpgw vendor add --config %1$s/cmpgw.json acme\n"
		"   cmpgw vendor anchor add --config %1$s/cmpgw.json acme %1$s/vendor/vendor-root.crt\n"
		"   cmpgw vendor intermediate add --config %1$s/cmpgw.json acme %1$s/vendor/vendor-ca.crt\n"
		"   cmpgw serials import --config %1$s/cmpgw.json acme %1$s/vendor/serials.txt\n\n"
		"2. Start the gateway (embedded PostgreSQL under %1$s/state):\n\n"
		"   cmpgw serve --config %1$s/cmpgw.json\n\n"
		"3. Enroll device ACME-0001 with the stock OpenSSL CMP client: it signs\n"
		"   the ir with its vendor key, sends the vendor CA in extraCerts and\n"
		"   proves possession of the new key:\n\n"
		"   openssl cmp -cmd ir -server 127.0.0.1:%2$d -path .well-known/cmp/p/3gpp \\\n"
		"     -cert %1$s/devices/dev-0001.crt -key %1$s/devices/dev-0001.key \\\n"
		"     -extracerts %1$s/vendor/vendor-ca.crt \\\n"
		"     -newkey %1$s/devices/new-0001.key -subject /CN=ACME-0001 \\\n"
		"     -trusted %1$s/pki/operator-root.crt \\\n"
		"     -certout %1$s/devices/op-0001.crt -chainout %1$s/devices/op-0001-chain.crt \\\n"
		"     -cacertsout %1$s/devices/op-root.crt\n\n"
		"   The legacy path works too: -path pkix/\n"
		"   Inspect the result: openssl x509 -noout -text -in %1$s/devices/op-0001.crt\n\n"
		"4. The same command with dev-%3$04d.crt/.key and new-%3$04d.key (and\n"
		"   -subject /CN=ACME-%3$04d) is rejected: ACME-%3$04d is not on the serial list.\n",
		d, port, n);
}
// clang-format on

static int write_readme(const struct init_opts *o)
{
	char *buf = NULL, *abs = realpath(o->dir, NULL);
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc = -1;

	if (m) {
		readme_files(m, o->devices, o->admin_port);
		readme_steps(m, abs ? abs : o->dir, o->port, o->devices);
		if (fclose(m) == 0)
			rc = write_text(o->dir, "README.txt", buf);
	}
	free(buf);
	free(abs);
	return rc;
}

int cmd_init(int argc, char **argv)
{
	struct init_opts o;
	int rc;

	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc < 0 ? 0 : rc;
	if ((rc = prepare_dir(&o)) != 0)
		return rc;
	if (make_operator(o.dir) != 0 || (o.admin_port && make_admin(o.dir) != 0) ||
	    make_vendor(o.dir, o.devices) != 0 ||
	    write_config(o.dir, o.port, o.ops_port, o.admin_port) != 0 || write_readme(&o) != 0)
		return 1;
	printf("cmpgw init: demo written to %s; next steps in %s/README.txt\n", o.dir, o.dir);
	return 0;
}
