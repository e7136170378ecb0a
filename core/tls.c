/*
 * core/tls.c - TLS contexts of the configuration (core/tls.h).
 *
 * Listener (listen[].tls): TLS_server_method, TLS 1.2 (or min_version) to
 * 1.3, no renegotiation, no compression, the server's cipher order,
 * forward-secret AEAD suites only for TLS 1.2; certificate chain from
 * cert (first = leaf), key through core/key.h (a PEM file or a pkcs11:
 * URI); client certificates verified against client_ca when client_auth
 * is optional or require.
 *
 * Upstream (aliases[].upstream.tls): TLS_client_method, same versions, the
 * server certificate verified against tls.trusted only (no system
 * store); the name check and SNI are set per connection by core/httpc.c;
 * an optional client certificate and key.
 *
 * Every refusal names the JSON path and the file.
 */
#include "core/tls.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/cfg.h"
#include "core/file.h"
#include "core/key.h"

/* TLS 1.2 suites of a listener: ECDHE/DHE with AES-GCM or ChaCha20-Poly1305
 * (TLS 1.3 has only such suites). */
#define SERVER_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL"

/* OpenSSL's reason for the newest error on the queue, for a message. */
static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "rejected by OpenSSL";
}

/* Every PEM certificate of path (at least one). NULL with "jp: ..." in err. */
static STACK_OF(X509) *read_certs(const char *path, const char *jp, char *err, size_t len)
{
	char msg[PATH_MAX + 128];
	FILE *fp = file_fopen(path, 0, msg, sizeof(msg));
	STACK_OF(X509) *sk = NULL;
	X509 *x;

	if (!fp) {
		cfg_errf(err, len, jp, "%s", msg);
		return NULL;
	}
	ERR_clear_error();
	if (!(sk = sk_X509_new_null())) {
		fclose(fp);
		cfg_errf(err, len, jp, "out of memory");
		return NULL;
	}
	while ((x = PEM_read_X509(fp, NULL, NULL, NULL)))
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	fclose(fp);
	/* the end of the file shows as "no start line"; anything else is a
	 * broken PEM block */
	unsigned long e = ERR_peek_last_error();
	bool eof = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
	if (sk_X509_num(sk) == 0 || (e && !eof)) {
		if (sk_X509_num(sk) == 0)
			cfg_errf(err, len, jp, "%s: no PEM certificate found", path);
		else
			cfg_errf(err, len, jp, "%s: %s", path, ossl_reason());
		sk_X509_pop_free(sk, X509_free);
		return NULL;
	}
	ERR_clear_error();
	return sk;
}

/* Versions and options both kinds of context share. */
static int base_ctx(SSL_CTX *ctx, int min_version)
{
	if (SSL_CTX_set_min_proto_version(ctx, min_version ? min_version : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
		return RC_CRYPTO;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	return 0;
}

/* cert (leaf then chain) and key into ctx: jp_cert / jp_key name them. */
static int use_cert_key(const struct cfg *c, SSL_CTX *ctx, const struct cfg_tls *t,
			const char *jp_cert, const char *jp_key, char *err, size_t len)
{
	STACK_OF(X509) *certs = read_certs(t->cert_file, jp_cert, err, len);
	EVP_PKEY *key = NULL;
	X509 *leaf;
	int rc = RC_CONFIG;

	if (!certs)
		return RC_CONFIG;
	leaf = sk_X509_value(certs, 0);
	if (SSL_CTX_use_certificate(ctx, leaf) != 1) {
		cfg_errf(err, len, jp_cert, "%s: %s", t->cert_file, ossl_reason());
		goto out;
	}
	for (int i = 1; i < sk_X509_num(certs); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(certs, i)) != 1) {
			cfg_errf(err, len, jp_cert, "%s: chain certificate %d: %s", t->cert_file, i,
				 ossl_reason());
			goto out;
		}
	if (!(key = key_load(c, t->key_file, jp_key, err, len)))
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), key) != 1) {
		cfg_errf(err, len, jp_key, "%s does not match %s", t->key_file, jp_cert);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		cfg_errf(err, len, jp_key, "%s does not match %s (%s)", t->key_file, jp_cert,
			 ossl_reason());
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

/* The anchors of path into ctx's verify store (any of them ends a chain:
 * an intermediate may be the anchor); client_names: also the names a
 * server sends in its CertificateRequest. */
static int use_anchors(SSL_CTX *ctx, const char *path, bool client_names, const char *jp, char *err,
		       size_t len)
{
	STACK_OF(X509) *certs = read_certs(path, jp, err, len);
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	int rc = 0;

	if (!certs)
		return RC_CONFIG;
	for (int i = 0; i < sk_X509_num(certs) && rc == 0; i++) {
		X509 *x = sk_X509_value(certs, i);
		if (X509_STORE_add_cert(st, x) != 1 ||
		    (client_names && SSL_CTX_add_client_CA(ctx, x) != 1))
			rc = cfg_errf(err, len, jp, "%s: certificate %d: %s", path, i,
				      ossl_reason());
	}
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

static const char *client_auth_name(int a)
{
	return a == CFG_CLIENT_AUTH_REQUIRE ? "require" : "optional";
}

/* A server context for t; pre is the JSON path of t ("listen[0].tls",
 * "admin.tls"). */
static int load_server(struct cfg *c, struct cfg_tls *t, const char *pre, char *err, size_t len)
{
	char jp[96], jp_key[96], jp_ca[96], jp_auth[96];
	SSL_CTX *ctx = NULL;
	int rc, mode;

	snprintf(jp, sizeof(jp), "%s.cert", pre);
	snprintf(jp_key, sizeof(jp_key), "%s.key", pre);
	snprintf(jp_ca, sizeof(jp_ca), "%s.client_ca", pre);
	snprintf(jp_auth, sizeof(jp_auth), "%s.client_auth", pre);
	if (!t->cert_file) {
		if (t->key_file)
			return cfg_errf(err, len, jp, "required with %s", jp_key);
		if (t->ca_file)
			return cfg_errf(err, len, jp_ca, "needs %s (TLS is off on this listener)",
					jp);
		if (t->client_auth != CFG_CLIENT_AUTH_NONE)
			return cfg_errf(err, len, jp_auth,
					"\"%s\" needs %s (TLS is off on this listener)",
					client_auth_name(t->client_auth), jp);
		return 0;
	}
	if (!t->key_file)
		return cfg_errf(err, len, jp_key, "required with %s", jp);
	if (t->client_auth != CFG_CLIENT_AUTH_NONE && !t->ca_file)
		return cfg_errf(err, len, jp_auth, "\"%s\" needs client_ca",
				client_auth_name(t->client_auth));
	/* a client_ca nothing uses is a mistake, not a policy: say which */
	if (t->client_auth == CFG_CLIENT_AUTH_NONE && t->ca_file)
		return cfg_errf(err, len, jp_ca,
				"set client_auth to \"optional\" or \"require\" to ask for client "
				"certificates (it is \"none\")");
	if (!(ctx = SSL_CTX_new(TLS_server_method())) || base_ctx(ctx, t->min_version) != 0 ||
	    SSL_CTX_set_cipher_list(ctx, SERVER_CIPHERS) != 1) {
		SSL_CTX_free(ctx);
		return cfg_errf(err, len, jp, "cannot set up TLS: %s", ossl_reason());
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_dh_auto(ctx, 1); /* DHE suites with the built-in groups */
	/* sessions resumed across workers and reloads of one snapshot */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"cmpgw", 5);
	if ((rc = use_cert_key(c, ctx, t, jp, jp_key, err, len)) != 0 ||
	    (t->ca_file && (rc = use_anchors(ctx, t->ca_file, true, jp_ca, err, len)) != 0)) {
		SSL_CTX_free(ctx);
		return rc;
	}
	mode = t->client_auth == CFG_CLIENT_AUTH_NONE ? SSL_VERIFY_NONE
	       : t->client_auth == CFG_CLIENT_AUTH_OPTIONAL
		       ? SSL_VERIFY_PEER
		       : SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	t->ctx = ctx;
	return 0;
}

static int load_upstream(struct cfg *c, size_t i, char *err, size_t len)
{
	struct cfg_upstream *u = &c->aliases[i].upstream;
	struct cfg_tls *t = &u->tls;
	bool https = u->url && strncmp(u->url, "https://", 8) == 0;
	char jp[96], jp_cert[96], jp_key[96];
	SSL_CTX *ctx;
	int rc;

	snprintf(jp_cert, sizeof(jp_cert), "aliases[%zu].upstream.tls.cert", i);
	snprintf(jp_key, sizeof(jp_key), "aliases[%zu].upstream.tls.key", i);
	if (!https) {
		const char *set = t->ca_file	   ? "trusted"
				  : t->cert_file   ? "cert"
				  : t->key_file	   ? "key"
				  : t->server_name ? "server_name"
						   : NULL;
		if (!set)
			return 0;
		snprintf(jp, sizeof(jp), "aliases[%zu].upstream.tls.%s", i, set);
		return cfg_errf(err, len, jp, "applies to an https url only");
	}
	snprintf(jp, sizeof(jp), "aliases[%zu].upstream.tls.trusted", i);
	if (!t->ca_file)
		return cfg_errf(err, len, jp, "required for an https url");
	if (t->cert_file && !t->key_file)
		return cfg_errf(err, len, jp_key, "required with %s", jp_cert);
	if (t->key_file && !t->cert_file)
		return cfg_errf(err, len, jp_cert, "required with %s", jp_key);
	if (t->server_name && !t->server_name[0]) {
		snprintf(jp, sizeof(jp), "aliases[%zu].upstream.tls.server_name", i);
		return cfg_errf(err, len, jp, "must not be empty");
	}
	if (!(ctx = SSL_CTX_new(TLS_client_method())) || base_ctx(ctx, t->min_version) != 0) {
		SSL_CTX_free(ctx);
		return cfg_errf(err, len, jp, "cannot set up TLS: %s", ossl_reason());
	}
	/* only the configured anchors: no default verify paths are loaded */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((rc = use_anchors(ctx, t->ca_file, false, jp, err, len)) != 0 ||
	    (t->cert_file && (rc = use_cert_key(c, ctx, t, jp_cert, jp_key, err, len)) != 0)) {
		SSL_CTX_free(ctx);
		return rc;
	}
	t->ctx = ctx;
	return 0;
}

int tls_cfg_load(struct cfg *c, char *err, size_t len)
{
	int rc;

	char pre[48];

	for (size_t i = 0; i < c->n_listen; i++) {
		snprintf(pre, sizeof(pre), "listen[%zu].tls", i);
		if ((rc = load_server(c, &c->listen[i].tls, pre, err, len)) != 0)
			return rc;
	}
	if (c->admin_port && (rc = load_server(c, &c->admin_tls, "admin.tls", err, len)) != 0)
		return rc;
	for (size_t i = 0; i < c->n_aliases; i++)
		if ((rc = load_upstream(c, i, err, len)) != 0)
			return rc;
	return 0;
}

void tls_cfg_free(struct cfg *c)
{
	for (size_t i = 0; c->listen && i < c->n_listen; i++) {
		SSL_CTX_free(c->listen[i].tls.ctx);
		c->listen[i].tls.ctx = NULL;
	}
	SSL_CTX_free(c->admin_tls.ctx);
	c->admin_tls.ctx = NULL;
	for (size_t i = 0; c->aliases && i < c->n_aliases; i++) {
		SSL_CTX_free(c->aliases[i].upstream.tls.ctx);
		c->aliases[i].upstream.tls.ctx = NULL;
	}
}
