/*
 * test/unit/core/test_cfg.c - cfg_load on the `cmpgw init` demo and on
 * broken variants of it (exact messages), aliases[].profile resolution, and
 * the docs/CONFIG.md key list (path in argv[1]), the admin load that reads
 * no private key (issue 14). dn_parse: test_dn.c.
 */
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cmd/init.h"
#include "core/cfg.h"
#include "test/unit/tap.h"

static char dir[PATH_MAX]; /* realpath of the demo directory */
static json_t *base;	   /* its cmpgw.json */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int make_demo(void)
{
	char tmpl[] = "/tmp/cmpgw-test-cfg-XXXXXX", path[PATH_MAX + 32];
	char *argv[] = { "init", "--devices", "2", tmpl, NULL };

	int out = dup(1), null = open("/dev/null", O_WRONLY), rc;

	/* cmd_init's "demo written" line is not TAP */
	fflush(stdout);
	dup2(null, 1);
	rc = mkdtemp(tmpl) ? cmd_init(4, argv) : -1;
	fflush(stdout);
	dup2(out, 1);
	close(out);
	close(null);
	if (rc != 0 || !realpath(tmpl, dir))
		return -1;
	snprintf(path, sizeof(path), "%s/cmpgw.json", dir);
	return (base = json_load_file(path, 0, NULL)) ? 0 : -1;
}

/* Write j (or text) as dir/t.json and load it; *err gets the message. */
static int load_text(const char *text, char *err, size_t len, struct cfg **out)
{
	char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/t.json", dir);
	if (!(f = fopen(path, "w")))
		return RC_IO;
	fputs(text, f);
	fclose(f);
	return cfg_load(path, out, err, len);
}

/* Load base with mutate applied; compare the error with want. */
static void expect(const char *want, void (*mutate)(json_t *), const char *what)
{
	json_t *j = json_deep_copy(base);
	char err[1024] = "", *text;
	struct cfg *c = NULL;
	int rc;

	mutate(j);
	text = json_dumps(j, 0);
	rc = load_text(text, err, sizeof(err), &c);
	ok(rc == RC_CONFIG && c == NULL && strcmp(err, want) == 0, "%s", what);
	if (strcmp(err, want) != 0)
		printf("#   got  \"%s\"\n#   want \"%s\"\n", err, want);
	free(text);
	json_decref(j);
	cfg_free(c);
}

#define ALIAS0(j)  json_array_get(json_object_get((j), "aliases"), 0)
#define PROFILE(j) json_object_get(json_object_get((j), "profiles"), "device")

static void m_unknown_root(json_t *j)
{
	json_object_set(j, "lissten", json_object_get(j, "listen"));
}
static void m_unknown_nested(json_t *j)
{
	json_object_set_new(json_object_get(j, "log"), "lvl", json_true());
}
static void m_bad_type(json_t *j)
{
	json_object_set_new(json_object_get(j, "http"), "max_body", json_string("64k"));
}
static void m_bad_port(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "listen"), 0), "port",
			    json_integer(70000));
}
static void m_bad_profile(json_t *j)
{
	json_object_set_new(ALIAS0(j), "profile", json_string("x"));
}
static void m_dup_label(json_t *j)
{
	json_t *a = json_deep_copy(ALIAS0(j));
	json_object_set_new(a, "paths", json_array());
	json_array_append_new(json_object_get(j, "aliases"), a);
}
static void m_dup_path(json_t *j)
{
	json_t *a = json_deep_copy(ALIAS0(j));
	json_object_set_new(a, "label", json_string("other"));
	json_array_append_new(json_object_get(j, "aliases"), a);
}
static void m_wk_path(json_t *j)
{
	json_array_set_new(json_object_get(ALIAS0(j), "paths"), 0,
			   json_string("/.well-known/cmp/x"));
}
static void m_ra(json_t *j)
{
	json_object_set_new(ALIAS0(j), "mode", json_string("ra"));
}
static void m_up_on_ca(json_t *j)
{
	json_object_set_new(ALIAS0(j), "upstream",
			    json_pack("{s:s}", "url", "http://127.0.0.1:1/"));
}
static void m_up_style(json_t *j)
{
	m_ra(j);
	json_object_set_new(ALIAS0(j), "upstream", json_pack("{s:s}", "style", "relay"));
}
static void m_up_trusted(json_t *j)
{
	m_ra(j);
	json_object_set_new(ALIAS0(j), "upstream",
			    json_pack("{s:s}", "url", "http://127.0.0.1:1/"));
}
static void m_key_perm(json_t *j)
{
	json_object_set_new(json_object_get(j, "ca"), "issuing_key", json_string("pki/open.key"));
}
static void m_key_mismatch(json_t *j)
{
	json_object_set_new(json_object_get(j, "ca"), "issuing_key",
			    json_string("pki/cmp-signer.key"));
}
static void m_placeholder(json_t *j)
{
	json_object_set_new(PROFILE(j), "subject", json_string("CN=${serial},O=${vendr}"));
}
static void m_ku(json_t *j)
{
	json_array_append_new(json_object_get(PROFILE(j), "key_usage"), json_string("foo"));
}
static void m_missing(json_t *j)
{
	json_object_del(j, "data_dir");
}
static void m_not_ca(json_t *j)
{
	json_t *ca = json_object_get(j, "ca");
	json_object_set_new(ca, "issuing_cert", json_string("pki/cmp-signer.crt"));
	json_object_set_new(ca, "issuing_key", json_string("pki/cmp-signer.key"));
}
static void m_eku(json_t *j)
{
	json_array_append_new(json_object_get(PROFILE(j), "eku"), json_string("1.2.x"));
}
static void m_address(json_t *j)
{
	json_object_set_new(json_array_get(json_object_get(j, "listen"), 0), "address",
			    json_string("localhost"));
}
static void m_no_listen(json_t *j)
{
	json_object_set_new(j, "listen", json_array());
}
static void m_url_both(json_t *j)
{
	json_t *db = json_object_get(j, "database");
	json_object_set_new(db, "url", json_string("postgresql:///x"));
	json_object_set_new(db, "url_file", json_string("db.url"));
}
static void m_cmp_key_only(json_t *j)
{
	json_object_del(json_object_get(j, "ca"), "cmp_cert");
}

static void test_errors(void)
{
	char want[PATH_MAX + 256], src[PATH_MAX + 32], dst[PATH_MAX + 32], cmd[3 * PATH_MAX + 128];

	expect("(root): unknown key \"lissten\"", m_unknown_root, "unknown key at the root");
	expect("log: unknown key \"lvl\"", m_unknown_nested, "unknown nested key");
	expect("http.max_body: must be an integer 1024..16777216", m_bad_type, "bad type");
	expect("listen[0].port: must be an integer 1..65535", m_bad_port, "bad port");
	expect("aliases[0].profile: unknown profile \"x\"", m_bad_profile, "unknown profile");
	expect("aliases[1].label: duplicate label \"3gpp\" (also aliases[0])", m_dup_label,
	       "duplicate label");
	expect("aliases[1].paths[0]: \"/pkix/\" is already used by aliases[0].paths[0]", m_dup_path,
	       "duplicate path");
	expect("aliases[0].paths[0]: \"/.well-known/cmp/x\" is under /.well-known/cmp, which is "
	       "reserved",
	       m_wk_path, "path under .well-known");
	expect("aliases[0].upstream: url: required in mode \"ra\", as http[s]://host[:port]/path",
	       m_ra, "ra mode needs an upstream url");
	expect("aliases[0].upstream: only allowed with mode \"ra\"", m_up_on_ca,
	       "upstream on a ca alias");
	expect("aliases[0].upstream.style: must be \"reprotect\" or \"nested\"", m_up_style,
	       "upstream style");
	expect("aliases[0].upstream: trusted: required in mode \"ra\"", m_up_trusted,
	       "upstream anchors required");
	expect("profiles.device.subject: unknown placeholder \"${vendr}\" (allowed: ${serial}, "
	       "${vendor})",
	       m_placeholder, "bad placeholder");
	expect("profiles.device.key_usage[2]: unknown key usage \"foo\"", m_ku,
	       "unknown key usage");
	expect("profiles.device.eku[2]: unknown extended key usage \"1.2.x\"", m_eku, "bad eku");
	expect("data_dir: required key is missing", m_missing, "missing required key");
	expect("listen[0].address: \"localhost\" is not an IPv4 or IPv6 address", m_address,
	       "bad address");
	expect("listen: must be an array of 1..16 objects", m_no_listen, "empty listen");
	expect("ca.cmp_cert: required when ca.cmp_key is set", m_cmp_key_only,
	       "cmp_key without cmp_cert");
	expect("database.url_file: cannot be used together with database.url", m_url_both,
	       "url and url_file are exclusive");

	snprintf(src, sizeof(src), "%s/pki/issuing-ca.key", dir);
	snprintf(dst, sizeof(dst), "%s/pki/open.key", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 0644 '%s'", src, dst, dst);
	ok(system(cmd) == 0, "made a 0644 key");
	snprintf(want, sizeof(want),
		 "ca.issuing_key: %s: permissions 0644 allow group/other access (need 0600 or "
		 "stricter)",
		 dst);
	expect(want, m_key_perm, "key file 0644");
	snprintf(want, sizeof(want),
		 "ca.issuing_key: %s/pki/cmp-signer.key: does not match the certificate in "
		 "ca.issuing_cert",
		 dir);
	expect(want, m_key_mismatch, "key does not match cert");
	snprintf(want, sizeof(want),
		 "ca.issuing_cert: %s/pki/cmp-signer.crt: not a CA certificate (needs "
		 "basicConstraints CA:TRUE "
		 "and keyUsage keyCertSign)",
		 dir);
	expect(want, m_not_ca, "issuing cert is not a CA");
}

static void test_syntax(void)
{
	char err[1024], want[PATH_MAX + 128];
	struct cfg *c = NULL;

	int rc = load_text("{\n  \"log\": {\n    \"level\": \"info\",,\n  }\n}\n", err, sizeof(err),
			   &c);
	snprintf(want, sizeof(want), "%s/t.json:3:21: string or '}' expected near ','", dir);
	ok(rc == RC_CONFIG && strcmp(err, want) == 0, "JSON syntax error with line:column");
	if (strcmp(err, want) != 0)
		printf("#   got  \"%s\"\n", err);
	rc = load_text("{\"workers\": 1, \"workers\": 2}", err, sizeof(err), &c);
	snprintf(want, sizeof(want), "%s/t.json:1:28: duplicate object key near '2'", dir);
	ok(rc == RC_CONFIG && strncmp(err, want, strlen(dir) + 7) == 0 &&
		   strstr(err, "duplicate object key"),
	   "duplicate key rejected: %s", err);
	rc = cfg_load("/nonexistent/cmpgw.json", &c, err, sizeof(err));
	ok(rc == RC_IO && strstr(err, "/nonexistent/cmpgw.json") == err, "missing file: %s", err);
}

static void test_valid(void)
{
	char path[PATH_MAX + 32], err[1024] = "";
	struct cfg *c = NULL;

	snprintf(path, sizeof(path), "%s/cmpgw.json", dir);
	int rc = cfg_load(path, &c, err, sizeof(err));
	ok(rc == 0 && c, "demo config loads: %s", err);
	if (!c)
		return;
	ok(strcmp(c->base_dir, dir) == 0, "base_dir is the config's directory");
	ok(c->workers >= 1, "workers resolved to %d", c->workers);
	is_int(c->n_listen, 1, "one listener");
	is_int(c->listen[0].port, 8080, "port");
	is_int(c->http_max_body, 65536, "max_body");
	ok(c->db_url == NULL, "embedded database");
	snprintf(path, sizeof(path), "%s/state", dir);
	ok(strcmp(c->data_dir, path) == 0, "data_dir resolved");
	ok(c->cmp_cert != c->ca_cert, "separate CMP signer");
	is_int(sk_X509_num(c->ca_chain), 1, "chain has the root");
	is_int(sk_X509_num(c->cmp_chain), 3, "cmp_chain: signer, issuing, root");
	ok(sk_X509_value(c->cmp_chain, 0) == c->cmp_cert, "cmp_chain starts with cmp_cert");
	ok(c->root_cert != NULL, "root for caPubs");
	const struct cfg_alias *a = cfg_alias_find(c, "3gpp");
	const struct cfg_profile *p = cfg_profile_find(c, "device");
	ok(a && p && a->profile == p, "alias 3gpp uses profile device");
	ok(a && a->implicit_confirm && a->n_paths == 1 && strcmp(a->paths[0], "/pkix/") == 0,
	   "alias fields");
	ok(cfg_alias_find(c, "nope") == NULL, "unknown alias");
	ok(p && p->key_usage == (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT), "key usage bits");
	ok(p && p->n_eku == 2 && strcmp(p->eku[0], "1.3.6.1.5.5.7.3.2") == 0, "eku as OIDs");
	ok(p && p->key_algs == (CFG_KEY_P256 | CFG_KEY_P384 | CFG_KEY_RSA | CFG_KEY_ED25519),
	   "key algs");
	ok(cfg_get1(c) == c && c->refs == 2, "get1 counts");
	cfg_free(c);
	ok(c->refs == 1, "free drops one reference");
	cfg_free(c);
}

static void m_minimal(json_t *j)
{
	json_t *ca = json_object_get(j, "ca");
	json_object_del(ca, "cmp_cert");
	json_object_del(ca, "cmp_key");
	json_object_del(ca, "cmp_chain");
	json_object_del(ca, "root");
	json_object_del(j, "log");
	json_object_del(j, "http");
	json_object_del(j, "database");
	json_object_del(j, "workers");
	json_object_del(j, "sweep_interval_s");
	json_object_del(PROFILE(j), "key_usage");
	json_object_del(ALIAS0(j), "implicit_confirm");
}

static void test_defaults(void)
{
	json_t *j = json_deep_copy(base);
	char err[1024] = "", *text;
	struct cfg *c = NULL;

	m_minimal(j);
	text = json_dumps(j, 0);
	setenv("CMPGW_DATABASE_URL", "postgresql://u@h/db", 1);
	int rc = load_text(text, err, sizeof(err), &c);
	unsetenv("CMPGW_DATABASE_URL");
	ok(rc == 0 && c, "minimal config loads: %s", err);
	if (c) {
		ok(c->cmp_cert == c->ca_cert && c->cmp_key == c->ca_key,
		   "cmp signer defaults to the CA");
		is_int(sk_X509_num(c->cmp_chain), 2, "default cmp_chain: issuing, root");
		ok(c->log_level == 2 && !c->log_json, "log defaults");
		ok(c->http_timeout_s == 30 && c->db_pool == 2 && c->sweep_interval_s == 10,
		   "int defaults");
		ok(c->db_url && strcmp(c->db_url, "postgresql://u@h/db") == 0,
		   "env overrides database.url");
		ok(strcmp(c->db_embedded_user, "postgres") == 0, "embedded_user default");
		ok(c->profiles[0].key_usage == KU_DIGITAL_SIGNATURE, "key_usage default");
		ok(!c->aliases[0].implicit_confirm && c->aliases[0].confirm_deadline_s == 300,
		   "alias defaults");
	}
	cfg_free(c);
	free(text);
	json_decref(j);
}

/* aliases[].profile is resolved after every key is applied: the order of
 * the keys in the file does not matter, and the error names the alias. */
static void test_profile_ref(void)
{
	json_t *aliases = json_object_get(base, "aliases"), *rest = json_deep_copy(base), *a2;
	char err[1024] = "", *head = NULL, *tail = NULL, *text = NULL;
	struct cfg *c = NULL;
	int rc;

	/* "aliases" first in the text, "profiles" after it */
	json_object_del(rest, "aliases");
	head = json_dumps(aliases, 0);
	tail = json_dumps(rest, 0);
	if (head && tail && asprintf(&text, "{\"aliases\": %s, %s", head, tail + 1) > 0) {
		rc = load_text(text, err, sizeof(err), &c);
		ok(rc == 0 && c && c->n_aliases == 1 && c->aliases[0].profile &&
			   c->aliases[0].profile == cfg_profile_find(c, "device"),
		   "aliases before profiles in the file: %s", err);
		cfg_free(c);
		c = NULL;
	}
	free(text);
	free(head);
	free(tail);
	json_decref(rest);

	rest = json_deep_copy(base);
	a2 = json_deep_copy(ALIAS0(rest));
	json_object_set_new(a2, "label", json_string("second"));
	json_object_set_new(a2, "paths", json_array());
	json_object_set_new(a2, "profile", json_string("zz"));
	json_array_append_new(json_object_get(rest, "aliases"), a2);
	text = json_dumps(rest, 0);
	rc = load_text(text, err, sizeof(err), &c);
	ok(rc == RC_CONFIG && !c && strcmp(err, "aliases[1].profile: unknown profile \"zz\"") == 0,
	   "unknown profile of the second alias: %s", err);
	free(text);
	json_decref(rest);
}

/* Every `path` in the first column of a table row of docs/CONFIG.md. */
static void test_docs(const char *md)
{
	FILE *f = fopen(md, "r");
	char line[2048], *seen[256];
	size_t n = 0, matched = 0;
	struct cfg_doc d;
	bool extra = false;

	ok(f != NULL, "open %s", md);
	if (!f)
		return;
	while (n < 256 && fgets(line, sizeof(line), f)) {
		char *s = line, *e;
		if (strncmp(s, "| `", 3) != 0 || !(e = strchr(s + 3, '`')))
			continue;
		*e = '\0';
		seen[n++] = strdup(s + 3);
	}
	fclose(f);
	for (size_t i = 0; cfg_doc_key(i, &d); i++) {
		size_t k = 0;
		while (k < n && strcmp(seen[k], d.path) != 0)
			k++;
		if (k < n)
			matched++;
		else
			printf("#   not documented: %s\n", d.path);
	}
	for (size_t k = 0; k < n; k++) {
		size_t i = 0;
		while (cfg_doc_key(i, &d) && strcmp(seen[k], d.path) != 0)
			i++;
		if (!cfg_doc_key(i, &d)) {
			printf("#   documented but not a key: %s\n", seen[k]);
			extra = true;
		}
		free(seen[k]);
	}
	size_t total = 0;
	while (cfg_doc_key(total, &d))
		total++;
	ok(matched == total && !extra && n == total, "docs/CONFIG.md lists exactly the %zu keys",
	   total);
}

/* Write base with mutate applied as dir/t.json and load it with flags. */
static int load_flags(void (*mutate)(json_t *), unsigned flags, struct cfg **c, char *err,
		      size_t len)
{
	char path[PATH_MAX + 32];
	json_t *j = json_deep_copy(base);
	int rc;

	snprintf(path, sizeof(path), "%s/t.json", dir);
	if (mutate)
		mutate(j);
	rc = json_dump_file(j, path, 0) == 0 ? cfg_load_flags(path, flags, c, err, len) : RC_IO;
	json_decref(j);
	return rc;
}

static void m_keys_gone(json_t *j)
{
	json_t *ca = json_object_get(j, "ca");
	json_object_set_new(ca, "issuing_key", json_string("pki/missing-issuing.key"));
	json_object_set_new(ca, "cmp_key", json_string("pki/open.key")); /* 0644 */
	json_object_set_new(json_object_get(j, "tokens"), "key_file",
			    json_string("pki/missing-tokens.key"));
}
static void m_p11_key(json_t *j)
{
	json_object_set_new(json_object_get(j, "ca"), "issuing_key",
			    json_string("pkcs11:token=none;object=ca;type=private"));
	json_object_set_new(json_object_get(j, "pkcs11"), "module",
			    json_string("/nonexistent/libp11-module.so"));
}

/* Issue 14: an admin load reads no private key, secret or PIN and opens no
 * token, but checks everything else (certificates included). */
static void test_admin(void)
{
	char err[1024] = "", want[PATH_MAX + 128];
	struct cfg *full = NULL, *adm = NULL, *tok = NULL, *c = NULL;
	int rc;

	rc = load_flags(NULL, 0, &full, err, sizeof(err));
	ok(rc == 0 && full && !full->admin_only && full->ca_key && full->cmp_key,
	   "full load has the keys: %s", err);
	rc = load_flags(NULL, CFG_LOAD_ADMIN, &adm, err, sizeof(err));
	ok(rc == 0 && adm && adm->admin_only, "admin load: %s", err);
	if (adm && full) {
		ok(!adm->ca_key && !adm->cmp_key, "admin load: no CA or CMP private key");
		ok(adm->ca_cert && X509_cmp(adm->ca_cert, full->ca_cert) == 0 &&
			   sk_X509_num(adm->cmp_chain) == 3,
		   "admin load: certificates loaded");
		ok(adm->has_token_key && CRYPTO_memcmp(adm->token_key, full->token_key, 32) != 0,
		   "admin load: tokens configured, but not the real token key");
	}
	rc = load_flags(NULL, CFG_LOAD_ADMIN | CFG_LOAD_TOKEN_KEY, &tok, err, sizeof(err));
	ok(rc == 0 && tok && full && !tok->ca_key &&
		   CRYPTO_memcmp(tok->token_key, full->token_key, 32) == 0,
	   "admin + token key: the token key, no CA key: %s", err);
	err[0] = '\0';
	rc = load_flags(m_keys_gone, CFG_LOAD_ADMIN, &c, err, sizeof(err));
	ok(rc == 0 && c, "admin load: missing and 0644 key files are not read: %s", err);
	cfg_free(c);
	c = NULL;
	rc = load_flags(m_keys_gone, 0, &c, err, sizeof(err));
	ok(rc == RC_CONFIG && !c && strncmp(err, "tokens.key_file: ", 17) == 0,
	   "full load fails naming the first unreadable key: %s", err);
	rc = load_flags(m_keys_gone, CFG_LOAD_ADMIN | CFG_LOAD_TOKEN_KEY, &c, err, sizeof(err));
	ok(rc == RC_CONFIG && !c && strncmp(err, "tokens.key_file: ", 17) == 0,
	   "token key wanted: fails naming tokens.key_file: %s", err);
	err[0] = '\0';
	rc = load_flags(m_p11_key, CFG_LOAD_ADMIN, &c, err, sizeof(err));
	ok(rc == 0 && c && !c->ca_key, "admin load: pkcs11 module and token never opened: %s", err);
	cfg_free(c);
	c = NULL;
	rc = load_flags(m_not_ca, CFG_LOAD_ADMIN, &c, err, sizeof(err));
	snprintf(want, sizeof(want),
		 "ca.issuing_cert: %s/pki/cmp-signer.crt: not a CA certificate (needs "
		 "basicConstraints CA:TRUE and keyUsage keyCertSign)",
		 dir);
	ok(rc == RC_CONFIG && strcmp(err, want) == 0, "admin load still checks certificates: %s",
	   err);
	cfg_free(full);
	cfg_free(adm);
	cfg_free(tok);
}

int main(int argc, char **argv)
{
	ok(make_demo() == 0, "cmpgw init made a demo in %s", dir);
	if (!base)
		return tap_done();
	test_valid();
	test_defaults();
	test_errors();
	test_syntax();
	test_profile_ref();
	test_admin();
	if (argc > 1)
		test_docs(argv[1]);
	json_decref(base);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
