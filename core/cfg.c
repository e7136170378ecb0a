/*
 * core/cfg.c - the configuration snapshot's lifecycle: load (JSON, the key
 * table through cfg_table_apply, then the finishing pass: profile
 * references, CA material, the checks that span keys), references, free,
 * lookups. Calls into the table files (core/cfg_int.h), never the reverse.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/cfg.h"
#include "core/cfg_int.h"
#include "core/file.h"
#include "core/key.h"
#include "core/tls.h"

/* ---- PEM files ---- */

static FILE *open_pem(const char *path, bool secret, const char *jp, char *err, size_t len)
{
	char msg[PATH_MAX + 128];
	FILE *fp = file_fopen(path, secret ? FILE_PRIVATE : 0, msg, sizeof(msg));

	if (!fp)
		cfg_errf(err, len, jp, "%s", msg);
	return fp;
}

/* All certificates in path (at least one); max_one: exactly one. */
static STACK_OF(X509) *load_certs(const char *path, bool max_one, const char *jp, char *err,
				  size_t len)
{
	STACK_OF(X509) *sk = NULL;
	FILE *fp = open_pem(path, false, jp, err, len);
	X509 *x = NULL;

	if (!fp)
		return NULL;
	if (!(sk = sk_X509_new_null()))
		goto fail;
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x))
			goto fail;
	x = NULL;
	if (sk_X509_num(sk) == 0) {
		cfg_errf(err, len, jp, "%s: no PEM certificate found", path);
		goto fail;
	}
	if (max_one && sk_X509_num(sk) > 1) {
		cfg_errf(err, len, jp, "%s: holds %d certificates, expected one", path,
			 sk_X509_num(sk));
		goto fail;
	}
	ERR_clear_error(); /* the read that hit end of file */
	fclose(fp);
	return sk;
fail:
	if (!err[0])
		cfg_errf(err, len, jp, "%s: out of memory", path);
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	fclose(fp);
	return NULL;
}

static X509 *load_cert(const char *path, const char *jp, char *err, size_t len)
{
	STACK_OF(X509) *sk = load_certs(path, true, jp, err, len);
	X509 *x = sk ? sk_X509_pop(sk) : NULL;

	sk_X509_free(sk);
	return x;
}

static int push_file(STACK_OF(X509) *to, const char *path, const char *jp, char *err, size_t len)
{
	STACK_OF(X509) *sk = load_certs(path, false, jp, err, len);
	int rc = sk ? 0 : RC_CONFIG;

	while (sk && sk_X509_num(sk) > 0) {
		X509 *x = sk_X509_shift(sk);
		if (!sk_X509_push(to, x)) {
			X509_free(x);
			rc = RC_NOMEM;
			break;
		}
	}
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

static int push1(STACK_OF(X509) *to, X509 *x)
{
	if (!X509_up_ref(x))
		return RC_CRYPTO;
	if (!sk_X509_push(to, x)) {
		X509_free(x);
		return RC_NOMEM;
	}
	return 0;
}

/* ---- the CA material ---- */

static int load_issuing(struct cfg *c, char *err, size_t len)
{
	const struct cfg_ca_files *f = &c->ca_files;
	char jp[64];
	int rc;

	if (!(c->ca_cert = load_cert(f->issuing_cert, "ca.issuing_cert", err, len)) ||
	    (!c->admin_only &&
	     !(c->ca_key = key_load(c, f->issuing_key, "ca.issuing_key", err, len))))
		return RC_CONFIG;
	if (!(X509_get_extension_flags(c->ca_cert) & EXFLAG_CA) ||
	    !(X509_get_key_usage(c->ca_cert) & KU_KEY_CERT_SIGN))
		return cfg_errf(
			err, len, "ca.issuing_cert",
			"%s: not a CA certificate (needs basicConstraints CA:TRUE and keyUsage "
			"keyCertSign)",
			f->issuing_cert);
	if (c->ca_key && EVP_PKEY_eq(X509_get0_pubkey(c->ca_cert), c->ca_key) != 1)
		return cfg_errf(err, len, "ca.issuing_key",
				"%s: does not match the certificate in ca.issuing_cert",
				f->issuing_key);
	if (!(c->ca_chain = sk_X509_new_null()))
		return RC_NOMEM;
	for (size_t i = 0; i < f->n_chain; i++) {
		snprintf(jp, sizeof(jp), "ca.chain[%zu]", i);
		if ((rc = push_file(c->ca_chain, f->chain[i], jp, err, len)) != 0)
			return rc;
	}
	if (f->root && !(c->root_cert = load_cert(f->root, "ca.root", err, len)))
		return RC_CONFIG;
	return 0;
}

static int load_cmp(struct cfg *c, char *err, size_t len)
{
	const struct cfg_ca_files *f = &c->ca_files;
	char jp[64];
	int rc;

	if (!f->cmp_cert != !f->cmp_key)
		return cfg_errf(err, len, f->cmp_cert ? "ca.cmp_key" : "ca.cmp_cert",
				"required when %s is set",
				f->cmp_cert ? "ca.cmp_cert" : "ca.cmp_key");
	if (!f->cmp_cert) {
		if (!X509_up_ref(c->ca_cert) || (c->ca_key && !EVP_PKEY_up_ref(c->ca_key)))
			return RC_CRYPTO;
		c->cmp_cert = c->ca_cert;
		c->cmp_key = c->ca_key;
	} else if (!(c->cmp_cert = load_cert(f->cmp_cert, "ca.cmp_cert", err, len)) ||
		   (!c->admin_only &&
		    !(c->cmp_key = key_load(c, f->cmp_key, "ca.cmp_key", err, len)))) {
		return RC_CONFIG;
	} else if (c->cmp_key && EVP_PKEY_eq(X509_get0_pubkey(c->cmp_cert), c->cmp_key) != 1) {
		return cfg_errf(err, len, "ca.cmp_key",
				"%s: does not match the certificate in ca.cmp_cert", f->cmp_key);
	}
	if (!(c->cmp_chain = sk_X509_new_null()) || (rc = push1(c->cmp_chain, c->cmp_cert)) != 0)
		return RC_NOMEM;
	if (f->has_cmp_chain) {
		for (size_t i = 0; i < f->n_cmp_chain; i++) {
			snprintf(jp, sizeof(jp), "ca.cmp_chain[%zu]", i);
			if ((rc = push_file(c->cmp_chain, f->cmp_chain[i], jp, err, len)) != 0)
				return rc;
		}
		return 0;
	}
	if (c->cmp_cert != c->ca_cert && (rc = push1(c->cmp_chain, c->ca_cert)) != 0)
		return rc;
	for (int i = 0; i < sk_X509_num(c->ca_chain); i++)
		if ((rc = push1(c->cmp_chain, sk_X509_value(c->ca_chain, i))) != 0)
			return rc;
	return 0;
}

/* ---- load ---- */

static char *dir_of(const char *path)
{
	char *real = realpath(path, NULL), *slash;

	if (!real)
		return NULL;
	slash = strrchr(real, '/');
	if (slash == real)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	return real;
}

/* aliases[].revokers certificates, and the crl keys that depend on others. */
static int load_revocation(struct cfg *c, char *err, size_t len)
{
	char jp[64];
	int rc;

	for (size_t i = 0; i < c->n_aliases; i++) {
		struct cfg_alias *a = &c->aliases[i];
		if (!(a->revokers = sk_X509_new_null()))
			return RC_NOMEM;
		for (size_t k = 0; k < a->n_revoker_files; k++) {
			snprintf(jp, sizeof(jp), "aliases[%zu].revokers[%zu]", i, k);
			if ((rc = push_file(a->revokers, a->revoker_files[k], jp, err, len)) != 0)
				return rc;
		}
		for (size_t k = 0; c->crl_path && k < a->n_paths; k++)
			if (strcmp(a->paths[k], c->crl_path) == 0)
				return cfg_errf(err, len, "crl.path",
						"\"%s\" is already used by aliases[%zu].paths[%zu]",
						c->crl_path, i, k);
		for (size_t k = 0; c->ca_cert_path && k < a->n_paths; k++)
			if (strcmp(a->paths[k], c->ca_cert_path) == 0)
				return cfg_errf(err, len, "crl.ca_cert_path",
						"\"%s\" is already used by aliases[%zu].paths[%zu]",
						c->ca_cert_path, i, k);
	}
	if (c->crl_path && c->ca_cert_path && strcmp(c->crl_path, c->ca_cert_path) == 0)
		return cfg_errf(err, len, "crl.ca_cert_path", "\"%s\" is already crl.path",
				c->ca_cert_path);
	if (c->crl_refresh_before_s >= c->crl_validity_s)
		return cfg_errf(err, len, "crl.refresh_before_s",
				"must be below crl.validity_s (%d)", c->crl_validity_s);
	return 0;
}

/* The PBMAC secret of aliases[].upstream.secret_file: its first line. */
static int load_secret(struct cfg_upstream *u, const char *jp, char *err, size_t len)
{
	char line[1024], msg[PATH_MAX + 128];
	int rc = RC_CONFIG;

	if (file_read_private_line(u->secret_file, line, sizeof(line), msg, sizeof(msg)) != 0) {
		cfg_errf(err, len, jp, "%s", msg);
	} else {
		u->secret_len = strlen(line);
		rc = (u->secret = OPENSSL_memdup(line, u->secret_len)) ? 0 : RC_NOMEM;
	}
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

/* aliases[].upstream of mode "ra" aliases (RFC 9483 5.2): URL, anchors,
 * and exactly one of cert+key or secret_file. */
static int load_upstream(struct cfg *c, size_t i, char *err, size_t len)
{
	struct cfg_upstream *u = &c->aliases[i].upstream;
	char jp[96];
	int rc;

	snprintf(jp, sizeof(jp), "aliases[%zu].upstream", i);
	if (c->aliases[i].mode != CFG_MODE_RA)
		return u->url ? cfg_errf(err, len, jp, "only allowed with mode \"ra\"") : 0;
	if (!u->url || !((strncmp(u->url, "http://", 7) == 0 && u->url[7]) ||
			 (strncmp(u->url, "https://", 8) == 0 && u->url[8])))
		return cfg_errf(err, len, jp,
				"url: required in mode \"ra\", as http[s]://host[:port]/path");
	if (u->n_trusted_files == 0)
		return cfg_errf(err, len, jp, "trusted: required in mode \"ra\"");
	if (!(u->trusted = sk_X509_new_null()))
		return RC_NOMEM;
	for (size_t k = 0; k < u->n_trusted_files; k++) {
		snprintf(jp, sizeof(jp), "aliases[%zu].upstream.trusted[%zu]", i, k);
		if ((rc = push_file(u->trusted, u->trusted_files[k], jp, err, len)) != 0)
			return rc;
	}
	if (u->n_signer_files > 0 && u->secret_file) {
		snprintf(jp, sizeof(jp), "aliases[%zu].upstream.signer", i);
		return cfg_errf(err, len, jp,
				"applies to signature protection only, not secret_file");
	}
	if (u->n_signer_files > 0 && !(u->signers = sk_X509_new_null()))
		return RC_NOMEM;
	for (size_t k = 0; k < u->n_signer_files; k++) {
		snprintf(jp, sizeof(jp), "aliases[%zu].upstream.signer[%zu]", i, k);
		if ((rc = push_file(u->signers, u->signer_files[k], jp, err, len)) != 0)
			return rc;
	}
	snprintf(jp, sizeof(jp), "aliases[%zu].upstream", i);
	if (!u->secret_file == !u->cert_file || !u->cert_file != !u->key_file)
		return cfg_errf(err, len, jp, "needs either cert and key, or secret_file");
	if (u->secret_file)
		return c->admin_only ? 0 : load_secret(u, jp, err, len);
	if (!(u->cert = load_cert(u->cert_file, jp, err, len)) ||
	    (!c->admin_only && !(u->key = key_load(c, u->key_file, jp, err, len))))
		return RC_CONFIG;
	if (u->key && EVP_PKEY_eq(X509_get0_pubkey(u->cert), u->key) != 1)
		return cfg_errf(err, len, jp, "key: %s does not match the certificate",
				u->key_file);
	return 0;
}

/* aliases[].ras: exactly one of cert or issuer per entry, CA mode only. */
static int load_ras(struct cfg_alias *a, size_t i, char *err, size_t len)
{
	char jp[96];

	for (size_t k = 0; k < a->n_ras; k++) {
		struct cfg_ra *r = &a->ras[k];
		snprintf(jp, sizeof(jp), "aliases[%zu].ras[%zu]", i, k);
		if (a->mode != CFG_MODE_CA)
			return cfg_errf(err, len, jp, "only allowed with mode \"ca\"");
		if (!r->cert_file == !r->issuer_file)
			return cfg_errf(err, len, jp, "needs exactly one of cert or issuer");
		if (r->cert_file && (r->subject || r->eku))
			return cfg_errf(err, len, jp,
					"subject and eku apply to issuer entries only");
		if (r->cert_file && !(r->cert = load_cert(r->cert_file, jp, err, len)))
			return RC_CONFIG;
		if (r->issuer_file && !(r->issuer = load_cert(r->issuer_file, jp, err, len)))
			return RC_CONFIG;
		if (r->eku && !(r->eku_obj = OBJ_txt2obj(r->eku, 1)))
			return RC_NOMEM;
	}
	return 0;
}

/* Two listeners clash on one port when either binds every address. */
static bool ports_clash(const char *a1, int p1, const char *a2, int p2)
{
	return p1 == p2 &&
	       (strcmp(a1, a2) == 0 || strcmp(a1, "0.0.0.0") == 0 || strcmp(a1, "::") == 0 ||
		strcmp(a2, "0.0.0.0") == 0 || strcmp(a2, "::") == 0);
}

/* admin.*: TLS mandatory with a port, no clash with listen or ops, the
 * principals' certificates loaded. */
static int load_admin(struct cfg *c, char *err, size_t len)
{
	char jp[48];

	if (c->admin_port) {
		if (!c->admin_tls.cert_file)
			return cfg_errf(err, len, "admin.tls.cert",
					"required when admin.port is set (the admin API is "
					"HTTPS only)");
		if (!c->admin_tls.key_file)
			return cfg_errf(err, len, "admin.tls.key",
					"required when admin.port is set (the admin API is "
					"HTTPS only)");
		for (size_t k = 0; k < c->n_listen; k++)
			if (ports_clash(c->listen[k].address, c->listen[k].port, c->admin_address,
					c->admin_port))
				return cfg_errf(err, len, "admin.port",
						"%d is also listen[%zu]'s port", c->admin_port, k);
		if (c->ops_port &&
		    ports_clash(c->ops_address, c->ops_port, c->admin_address, c->admin_port))
			return cfg_errf(err, len, "admin.port", "%d is also ops.port",
					c->admin_port);
	}
	/* client certificates are asked for, never required: a client
	 * without one may present an API key */
	c->admin_tls.client_auth =
		c->admin_tls.ca_file ? CFG_CLIENT_AUTH_OPTIONAL : CFG_CLIENT_AUTH_NONE;
	for (size_t k = 0; k < c->n_principals; k++) {
		struct cfg_principal *p = &c->principals[k];
		snprintf(jp, sizeof(jp), "admin.principals[%zu]", k);
		if (!p->cert_file == !p->issuer_file)
			return cfg_errf(err, len, jp, "needs exactly one of cert or issuer");
		if (p->cert_file && p->subject)
			return cfg_errf(err, len, jp, "subject applies to issuer entries only");
		if (p->issuer_file && !p->subject)
			return cfg_errf(err, len, jp, "subject is required with issuer");
		if (p->cert_file && !(p->cert = load_cert(p->cert_file, jp, err, len)))
			return RC_CONFIG;
		if (p->issuer_file && !(p->issuer = load_cert(p->issuer_file, jp, err, len)))
			return RC_CONFIG;
	}
	if (c->n_principals && !c->admin_tls.ca_file)
		return cfg_errf(err, len, "admin.principals",
				"needs admin.tls.client_ca (no client certificate is asked for "
				"without it)");
	return 0;
}

/* aliases[].profile names a profile: resolved once every key is applied,
 * so that the order of keys in the file never matters. */
static int resolve_profiles(struct cfg *c, char *err, size_t len)
{
	for (size_t i = 0; i < c->n_aliases; i++) {
		struct cfg_alias *a = &c->aliases[i];
		char jp[48];
		if ((a->profile = cfg_profile_find(c, a->profile_name)))
			continue;
		snprintf(jp, sizeof(jp), "aliases[%zu].profile", i);
		return cfg_errf(err, len, jp, "unknown profile \"%s\"", a->profile_name);
	}
	return 0;
}

/* One TLS certificate file of an admin load: parsed, nothing kept. */
static int check_certs(const char *path, const char *what, size_t i, const char *key, char *err,
		       size_t len)
{
	char jp[96];
	STACK_OF(X509) *sk;

	if (!path)
		return 0;
	snprintf(jp, sizeof(jp), "%s[%zu].%s", what, i, key);
	if (!(sk = load_certs(path, false, jp, err, len)))
		return RC_CONFIG;
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

/* Admin load: the TLS certificates parse; the key and the SSL_CTX (which
 * needs the key) are left to tls_cfg_load in `check` and serve. */
static int tls_certs_check(struct cfg *c, char *err, size_t len)
{
	int rc;

	for (size_t i = 0; i < c->n_listen; i++)
		if ((rc = check_certs(c->listen[i].tls.cert_file, "listen", i, "tls.cert", err,
				      len)) != 0 ||
		    (rc = check_certs(c->listen[i].tls.ca_file, "listen", i, "tls.client_ca", err,
				      len)) != 0)
			return rc;
	for (size_t i = 0; i < c->n_aliases; i++)
		if ((rc = check_certs(c->aliases[i].upstream.tls.cert_file, "aliases", i,
				      "upstream.tls.cert", err, len)) != 0 ||
		    (rc = check_certs(c->aliases[i].upstream.tls.ca_file, "aliases", i,
				      "upstream.tls.trusted", err, len)) != 0)
			return rc;
	return 0;
}

static int finish(struct cfg *c, char *err, size_t len)
{
	const char *env = getenv("CMPGW_DATABASE_URL");
	int rc;

	if ((rc = resolve_profiles(c, err, len)) != 0)
		return rc;
	if (env && env[0]) {
		free(c->db_url);
		if (!(c->db_url = strdup(env)))
			return RC_NOMEM;
	}
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		c->workers = n < 1 ? 1 : n > 256 ? 256 : (int)n;
	}
	for (size_t i = 1; i < c->n_listen; i++)
		for (size_t k = 0; k < i; k++)
			if (c->listen[i].port == c->listen[k].port &&
			    strcmp(c->listen[i].address, c->listen[k].address) == 0) {
				char jp[32];
				snprintf(jp, sizeof(jp), "listen[%zu]", i);
				return cfg_errf(err, len, jp, "duplicates listen[%zu]", k);
			}
	for (size_t k = 0; c->ops_port && k < c->n_listen; k++)
		if (c->listen[k].port == c->ops_port &&
		    (strcmp(c->listen[k].address, c->ops_address) == 0 ||
		     strcmp(c->listen[k].address, "0.0.0.0") == 0 ||
		     strcmp(c->listen[k].address, "::") == 0 ||
		     strcmp(c->ops_address, "0.0.0.0") == 0 || strcmp(c->ops_address, "::") == 0))
			return cfg_errf(err, len, "ops.port", "%d is also listen[%zu]'s port",
					c->ops_port, k);
	if ((rc = load_admin(c, err, len)) != 0)
		return rc;
	if ((rc = load_issuing(c, err, len)) != 0 || (rc = load_cmp(c, err, len)) != 0 ||
	    (rc = load_revocation(c, err, len)) != 0)
		return rc;
	for (size_t i = 0; i < c->n_aliases; i++)
		if ((rc = load_upstream(c, i, err, len)) != 0 ||
		    (rc = load_ras(&c->aliases[i], i, err, len)) != 0)
			return rc;
	return c->admin_only ? tls_certs_check(c, err, len) : tls_cfg_load(c, err, len);
}

int cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen)
{
	return cfg_load_flags(path, 0, out, errbuf, errlen);
}

int cfg_load_flags(const char *path, unsigned flags, struct cfg **out, char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t *root = NULL;
	struct cfg *c = NULL;
	int rc = RC_NOMEM;

	*out = NULL;
	if (errlen)
		errbuf[0] = '\0';
	if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
		if (jerr.line < 1) {
			snprintf(errbuf, errlen, "%s: %s", path, jerr.text);
			return RC_IO;
		}
		snprintf(errbuf, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return RC_CONFIG;
	}
	if (!(c = calloc(1, sizeof(*c))))
		goto out;
	c->refs = 1;
	c->load_flags = flags;
	c->admin_only = (flags & CFG_LOAD_ADMIN) != 0;
	if (!(c->path = strdup(path)) || !(c->base_dir = dir_of(path)))
		goto out;
	if ((rc = cfg_table_apply(c, root, errbuf, errlen)) != 0 ||
	    (rc = finish(c, errbuf, errlen)) != 0)
		goto out;
	*out = c;
	c = NULL;
out:
	if (rc == RC_NOMEM && errlen)
		snprintf(errbuf, errlen, "%s: out of memory", path);
	else if (rc && errlen && !errbuf[0])
		snprintf(errbuf, errlen, "%s: %s", path, rc_str(rc));
	if (rc)
		rc = rc == RC_NOMEM ? rc : RC_CONFIG;
	cfg_free(c);
	json_decref(root);
	return rc;
}

struct cfg *cfg_get1(struct cfg *cfg)
{
	if (cfg)
		__atomic_fetch_add(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_tls(struct cfg_tls *t)
{
	free(t->cert_file);
	free(t->key_file);
	free(t->ca_file);
	free(t->server_name);
}

static void free_files(struct cfg_ca_files *f)
{
	free(f->issuing_cert);
	free(f->issuing_key);
	free_strs(f->chain, f->n_chain);
	free(f->cmp_cert);
	free(f->cmp_key);
	free_strs(f->cmp_chain, f->n_cmp_chain);
	free(f->root);
}

static void free_policy(struct cfg *c)
{
	for (size_t i = 0; c->profiles && i < c->n_profiles; i++) {
		struct cfg_profile *p = &c->profiles[i];
		free(p->name);
		free(p->subject);
		free_strs(p->san, p->n_san);
		free_strs(p->eku, p->n_eku);
		free_strs(p->crl_dp, p->n_crl_dp);
		free_strs(p->ca_issuers, p->n_ca_issuers);
		free_strs(p->ocsp, p->n_ocsp);
	}
	free(c->profiles);
	for (size_t i = 0; c->aliases && i < c->n_aliases; i++) {
		struct cfg_alias *a = &c->aliases[i];
		free(a->label);
		free(a->profile_name);
		free_strs(a->vendors, a->n_vendors);
		free_strs(a->paths, a->n_paths);
		free_strs(a->revoker_files, a->n_revoker_files);
		sk_X509_pop_free(a->revokers, X509_free);
		free(a->upstream.url);
		free_strs(a->upstream.trusted_files, a->upstream.n_trusted_files);
		free_strs(a->upstream.signer_files, a->upstream.n_signer_files);
		free(a->upstream.cert_file);
		free(a->upstream.key_file);
		free(a->upstream.secret_file);
		free_tls(&a->upstream.tls);
		sk_X509_pop_free(a->upstream.trusted, X509_free);
		sk_X509_pop_free(a->upstream.signers, X509_free);
		X509_free(a->upstream.cert);
		EVP_PKEY_free(a->upstream.key);
		OPENSSL_clear_free(a->upstream.secret, a->upstream.secret_len);
		for (size_t k = 0; a->ras && k < a->n_ras; k++) {
			struct cfg_ra *r = &a->ras[k];
			free(r->cert_file);
			free(r->issuer_file);
			free(r->subject);
			free(r->eku);
			free(r->vendor);
			X509_free(r->cert);
			X509_free(r->issuer);
			ASN1_OBJECT_free(r->eku_obj);
		}
		free(a->ras);
	}
	free(c->aliases);
}

void cfg_free(struct cfg *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(c->path);
	free(c->base_dir);
	tls_cfg_free(c); /* before the file names and listeners it reads */
	for (size_t i = 0; c->listen && i < c->n_listen; i++) {
		free(c->listen[i].address);
		free_tls(&c->listen[i].tls);
	}
	free(c->listen);
	free(c->ops_address);
	free(c->admin_address);
	free_tls(&c->admin_tls);
	for (size_t i = 0; c->principals && i < c->n_principals; i++) {
		struct cfg_principal *p = &c->principals[i];
		free(p->cert_file);
		free(p->issuer_file);
		free(p->subject);
		free(p->role);
		X509_free(p->cert);
		X509_free(p->issuer);
	}
	free(c->principals);
	free(c->p11_module);
	free(c->p11_pin_file);
	free(c->p11_pin_env);
	if (c->db_url)
		OPENSSL_clear_free(c->db_url, strlen(c->db_url));
	free(c->data_dir);
	free(c->db_embedded_user);
	free(c->crl_path);
	free(c->ca_cert_path);
	X509_free(c->ca_cert);
	EVP_PKEY_free(c->ca_key);
	sk_X509_pop_free(c->ca_chain, X509_free);
	X509_free(c->cmp_cert);
	EVP_PKEY_free(c->cmp_key);
	sk_X509_pop_free(c->cmp_chain, X509_free);
	X509_free(c->root_cert);
	free_policy(c);
	free_files(&c->ca_files);
	OPENSSL_cleanse(c->token_key, sizeof(c->token_key));
	free(c);
}

const struct cfg_alias *cfg_alias_find(const struct cfg *cfg, const char *label)
{
	for (size_t i = 0; label && i < cfg->n_aliases; i++)
		if (cfg->aliases[i].label && strcmp(cfg->aliases[i].label, label) == 0)
			return &cfg->aliases[i];
	return NULL;
}

const struct cfg_profile *cfg_profile_find(const struct cfg *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->n_profiles; i++)
		if (cfg->profiles[i].name && strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	return NULL;
}
