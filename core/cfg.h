/*
 * core/cfg.h - the one JSON configuration file (jansson), validated at start.
 *
 * cfg_load() parses, validates and loads every referenced file (certificates,
 * keys) into an immutable, refcounted snapshot. Any error is reported as one
 * path-precise message ("aliases[1].profile: unknown profile \"x\"") in
 * errbuf and RC_CONFIG is returned; the CLI exits 2 on it.
 *
 * Relative file paths in the config are resolved against the directory of
 * the config file. Private key files must not be group/world accessible
 * (mode & 077 == 0), else RC_CONFIG with the path in the message.
 *
 * The module is core/cfg.c (this header's lifecycle functions) and the key
 * table, core/cfg_table.c + core/cfg_keys_*.c (cfg_doc_*); see core/cfg_int.h.
 *
 * Threads: cfg_load/cfg_free on the main thread; a loaded snapshot is
 * read-only and may be shared by every worker (cfg_get1 / cfg_free).
 */
#ifndef CMPGW_CORE_CFG_H
#define CMPGW_CORE_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "core/dn.h"
#include "core/rc.h"

/* Allowed subject key types, bitmask for cfg_profile.key_algs */
enum cfg_keyalg {
	CFG_KEY_P256 = 1u << 0,
	CFG_KEY_P384 = 1u << 1,
	CFG_KEY_P521 = 1u << 2,
	CFG_KEY_RSA = 1u << 3, /* with rsa_min_bits */
	CFG_KEY_ED25519 = 1u << 4,
	CFG_KEY_ED448 = 1u << 5,
};

/* TLS of a listener (listen[].tls, RFC 9811 3.6) or of an https upstream
 * (aliases[].upstream.tls). File names are resolved at load; ctx is the
 * SSL_CTX built from them by core/tls.c in the finishing pass (NULL when
 * TLS is off), owned by the snapshot and shared read-only by the workers. */
enum cfg_client_auth {
	CFG_CLIENT_AUTH_NONE = 0,
	CFG_CLIENT_AUTH_OPTIONAL,
	CFG_CLIENT_AUTH_REQUIRE
};

struct cfg_tls {
	char *cert_file;   /* PEM: certificate then chain; NULL = TLS off (listener) */
	char *key_file;	   /* PEM file (mode 0600) or a pkcs11: URI */
	char *ca_file;	   /* listener: client_ca; upstream: trusted (server anchors) */
	char *server_name; /* upstream: name checked in the server certificate; NULL = URL host */
	int client_auth;   /* enum cfg_client_auth (listener only) */
	int min_version;   /* TLS1_2_VERSION or TLS1_3_VERSION */
	void *ctx;	   /* SSL_CTX *, loaded */
};

struct cfg_listen {
	char *address; /* "127.0.0.1", "::", "0.0.0.0" */
	int port;
	struct cfg_tls tls; /* tls.cert_file NULL = plain HTTP */
};

struct cfg_profile {
	char *name;
	/* Subject template, OpenSSL one-line slash form or RFC 4514 comma form
	 * with placeholders ${serial} ${vendor} (e.g. "CN=${serial},O=${vendor}"). */
	char *subject;
	char **san; /* "dns:${serial}.dev.example", "uri:urn:dev:${serial}", "ip:..", "email:.." */
	size_t n_san;
	int validity_days;  /* 1..36500 */
	int backdate_s;	    /* notBefore = now - backdate_s, default 300 */
	unsigned key_usage; /* X509v3 KU_* bits (openssl/x509v3.h) */
	char **eku;	    /* OIDs in dotted form (names are converted at load) */
	size_t n_eku;
	unsigned key_algs;	      /* enum cfg_keyalg bits */
	int rsa_min_bits;	      /* default 2048 */
	bool allow_requested_subject; /* use the device's suggested subject */
	/* On confirmation of a device's new certificate (re-enrollment with
	 * the vendor certificate, renewal by ir/cr/kur/p10cr), revoke its
	 * previous one with reason superseded (default true); false only marks
	 * it superseded and lets it run to expiry. */
	bool renewal_revokes_old;
	/* Status pointers put in every certificate (RFC 5280 4.2.1.13,
	 * 4.2.2.1): absolute http/https/ldap URIs, validated at load. */
	char **crl_dp; /* cRLDistributionPoints fullName URIs */
	size_t n_crl_dp;
	char **ca_issuers; /* authorityInfoAccess caIssuers URIs */
	size_t n_ca_issuers;
	char **ocsp; /* authorityInfoAccess OCSP URIs */
	size_t n_ocsp;
};

enum cfg_mode { CFG_MODE_CA = 0, CFG_MODE_RA = 1 };

/* Authentication methods an alias accepts, bitmask for cfg_alias.auth */
enum cfg_auth {
	CFG_AUTH_VENDOR_CERT = 1u << 0, /* ir signed with a vendor certificate */
	CFG_AUTH_TOKEN = 1u << 1,	/* ir MAC-protected with a one-time token */
};

/* RA mode (aliases[].upstream): the CA requests are forwarded to over CMP.
 * Files are resolved at load; the material below them is loaded and
 * checked by cfg.c (never NULL for an alias in mode "ra"). */
enum cfg_fwd_style { CFG_FWD_REPROTECT = 0, CFG_FWD_NESTED = 1 };

struct cfg_upstream {
	char *url;	      /* "http://host:port/path", NULL = none */
	char **trusted_files; /* PEM anchors for the upstream's protection */
	size_t n_trusted_files;
	char **signer_files; /* PEM: the certificates the upstream protects with */
	size_t n_signer_files;
	char *cert_file, *key_file; /* the RA's CMP signing certificate + key */
	char *secret_file;	    /* or a PBMAC shared secret (0600) */
	int style;		    /* enum cfg_fwd_style */
	int timeout_s;		    /* whole upstream exchange, default 30 */
	int wait_after_s;	    /* then the device gets "waiting", default 5 */
	bool extra_vendor;	    /* reprotect: vendor chain in extraCerts */
	struct cfg_tls tls;	    /* for an https:// url */
	/* loaded */
	STACK_OF(X509) *trusted;
	STACK_OF(X509) *signers; /* pinned; NULL when signer_files is empty */
	X509 *cert;
	EVP_PKEY *key;
	unsigned char *secret; /* cleansed on free */
	size_t secret_len;
};

/* aliases[].ras[]: a downstream RA allowed to request on a CA alias
 * (RFC 9483 5.2). Either cert (exact certificate) or issuer (+ optional
 * exact subject and required EKU). Loaded by cfg.c. */
struct cfg_ra {
	char *cert_file, *issuer_file;
	char *subject; /* RFC 2253 text (openssl -nameopt RFC2253), exact; NULL = any */
	char *eku;     /* required EKU (short name or OID); NULL = none */
	char *vendor;  /* enforce this vendor's serial list; NULL = none */
	/* loaded */
	X509 *cert;	      /* exact certificate, or NULL */
	X509 *issuer;	      /* issuing CA, or NULL */
	ASN1_OBJECT *eku_obj; /* parsed eku, or NULL */
};

/* admin.principals[]: a client certificate of the admin listener mapped to
 * a role (issue 14; docs/ADMIN.md). Exactly one of cert (that certificate)
 * or issuer + subject (issued by it, RFC 2253 subject matching the pattern,
 * '*' any run of characters). */
struct cfg_principal {
	char *cert_file, *issuer_file;
	char *subject; /* RFC 2253 pattern (issuer entries) */
	char *role;    /* operator, auditor, vendor:NAME, factory:NAME */
	/* loaded */
	X509 *cert;   /* exact certificate, or NULL */
	X509 *issuer; /* issuing CA, or NULL */
};

enum cfg_ra_identity { CFG_RA_ID_SUBJECT_SN = 0, CFG_RA_ID_SUBJECT_CN = 1 };

struct cfg_alias {
	char *label; /* URL label: /.well-known/cmp/p/<label> */
	enum cfg_mode mode;
	char **vendors; /* accepted vendor names; n_vendors==0: any */
	size_t n_vendors;
	char *profile_name;		   /* aliases[].profile as written */
	const struct cfg_profile *profile; /* it, resolved at load; borrowed from cfg.profiles */
	bool implicit_confirm;		   /* may grant implicitConfirm */
	int confirm_deadline_s;		   /* unconfirmed cert revoked after, default 300 */
	int message_time_skew_s;	   /* |messageTime - now| allowed, default 300 */
	char **paths;			   /* extra legacy paths, e.g. "/pkix/" */
	size_t n_paths;
	char **revoker_files; /* PEM files of certificates allowed to revoke any */
	size_t n_revoker_files;
	STACK_OF(X509) *revokers;     /* loaded from revoker_files (never NULL once loaded) */
	unsigned auth;		      /* enum cfg_auth bits, default vendor_cert */
	struct cfg_upstream upstream; /* mode "ra" only */
	struct cfg_ra *ras;	      /* authorized downstream RAs (mode "ca") */
	size_t n_ras;
	int ra_identity; /* enum cfg_ra_identity */
};

struct cfg {
	int refs;	/* atomic */
	char *path;	/* config file path as given */
	char *base_dir; /* directory of the config file */
	/* Loaded with CFG_LOAD_ADMIN (cfg_load_flags): no private key, secret
	 * or PIN was read and no PKCS#11 token opened: ca_key, cmp_key,
	 * aliases[].upstream.key/secret are NULL, the TLS contexts are NULL,
	 * token_key is random (not the key of tokens.key_file) unless
	 * CFG_LOAD_TOKEN_KEY. Such a snapshot must never serve: cmd/serve.c
	 * refuses it. */
	bool admin_only;
	unsigned load_flags; /* enum cfg_load_flag bits it was loaded with */

	/* log */
	int log_level; /* enum log_level */
	bool log_json;
	bool log_access; /* one JSON access line per CMP request, default true */

	/* operations listener: GET /metrics, /healthz, /readyz (plain HTTP) */
	char *ops_address; /* default "127.0.0.1" */
	int ops_port;	   /* 0 = off (the default) */

	/* admin API listener (issue 14): HTTPS only, docs/ADMIN.md */
	char *admin_address;	    /* default "127.0.0.1" */
	int admin_port;		    /* 0 = off (the default) */
	int admin_key_fail_per_min; /* refused API keys per peer and minute, default 10 */
	struct cfg_tls admin_tls;   /* ctx built when admin_port is set */
	struct cfg_principal *principals;
	size_t n_principals;

	/* PKCS#11 (keys given as "pkcs11:" URIs, RFC 7512; core/key.c) */
	char *p11_module;   /* module path; NULL = the URI's module-path, else libp11's default */
	char *p11_pin_file; /* first line is the PIN (mode 0600) */
	char *p11_pin_env;  /* or the name of an environment variable holding it */

	/* listeners and workers */
	struct cfg_listen *listen;
	size_t n_listen;
	int workers;		  /* 0 in file = number of cores (resolved at load) */
	size_t http_max_body;	  /* default 65536 */
	int http_timeout_s;	  /* idle/read timeout, default 30 */
	int http_read_deadline_s; /* whole request (headers + body) read within, default 30 */
	int http_max_conns;	  /* open connections per worker, default 1024 */
	size_t http_max_body_mem; /* bytes of partial bodies held per worker, default 16 MiB */
	int drain_s;		  /* SIGTERM: in-flight requests may finish within, default 10 */

	/* database */
	char *db_url;		/* NULL = embedded */
	char *data_dir;		/* cmpgw state dir (embedded pgdata lives under it) */
	char *db_embedded_user; /* OS user for the embedded server when root; default "postgres" */
	int db_pool;		/* connections per worker, default 2 */
	int db_queue_wait_ms;	/* a query waits at most this for a connection, default 2000 */
	int db_stmt_timeout_ms; /* statement_timeout of every statement, default 5000 */
	int db_startup_timeout_s; /* serve retries the database at start this long, default 60 */

	/* CA material, loaded */
	X509 *ca_cert; /* issuing CA */
	EVP_PKEY *ca_key;
	STACK_OF(X509) *ca_chain; /* issuing CA's chain above it (may be empty) */
	X509 *cmp_cert;		  /* CMP signing certificate (may be ca_cert) */
	EVP_PKEY *cmp_key;
	STACK_OF(X509) *cmp_chain; /* extraCerts for responses: cmp_cert first, then chain */
	X509 *root_cert;	   /* operator root for caPubs, NULL if none */
	/* `cmpgw check` and `serve` warn when the issuing CA or the CMP signer
	 * expires within this many days (ca.expiry_warning_days, default 90) */
	int ca_expiry_warn_days;

	/* policy */
	struct cfg_profile *profiles;
	size_t n_profiles;
	struct cfg_alias *aliases;
	size_t n_aliases;

	int sweep_interval_s; /* confirm-deadline sweep period, default 10 */

	/* CRL publication (RFC 5280 5): served at crl_path over HTTP GET */
	char *crl_path;		  /* default "/crl/issuing-ca.crl" */
	int crl_validity_s;	  /* nextUpdate - thisUpdate, default 86400 */
	int crl_refresh_before_s; /* regenerate this long before nextUpdate, default 3600 */
	char *ca_cert_path;	  /* issuing CA certificate (DER) served here; default
				     "/crl/issuing-ca.cer" */

	/* Bounds on what an unauthenticated request may cost (limits.*) */
	int max_extra_certs;	  /* extraCerts in one request, default 10 */
	int mac_fail_per_min;	  /* failed PBMAC checks per peer and per token ref, default 10 */
	int audit_unauth_per_min; /* audit rows for unauthenticated refusals per peer, default 60 */

	/* one-time enrollment tokens: AES-256-GCM key for the secrets at rest
	 * (from tokens.key_file; cleansed on free) and the PBMAC bound.
	 * has_token_key: tokens.key_file is configured (and, unless admin_only
	 * without CFG_LOAD_TOKEN_KEY, read into token_key). */
	unsigned char token_key[32];
	bool has_token_key;
	int token_max_iterations; /* default 10000, at most 100000 */

	/* The files the CA material came from, absolute, as resolved at load
	 * (for logs and `cmpgw check`). cmp_* NULL when not configured. */
	struct cfg_ca_files {
		char *issuing_cert, *issuing_key;
		char **chain;
		size_t n_chain;
		char *cmp_cert, *cmp_key;
		char **cmp_chain;
		size_t n_cmp_chain;
		bool has_cmp_chain; /* "cmp_chain" given (possibly empty) */
		char *root;
	} ca_files;
};

/* "jp: <message>" into err (a config path first, as every load error
 * names one) and the OpenSSL error queue cleared; returns RC_CONFIG.
 * For the loaders of the finishing pass (core/cfg.c, core/key.c,
 * core/tls.c). */
int cfg_errf(char *err, size_t len, const char *jp, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parse+validate+load. *out gets a snapshot with refs=1. errbuf gets the
 * path-precise reason on RC_CONFIG / RC_IO. */
int cfg_load(const char *path, struct cfg **out, char *errbuf, size_t errlen) WUR;

/*
 * Flags of cfg_load_flags (issue 14: admin commands never need the CA's
 * or the CMP signer's private keys).
 * CFG_LOAD_ADMIN: validate everything and load every certificate, but
 *   read no private key or secret: ca.issuing_key, ca.cmp_key,
 *   tokens.key_file, listen[].tls.key, aliases[].upstream.key,
 *   .secret_file and .tls.key are checked as names only; the PKCS#11
 *   module is not loaded, no token opened, no PIN read; no TLS context is
 *   built (the TLS certificates are still parsed). The checks that need a
 *   key (key matches certificate) are left to `cmpgw check` / serve. Sets
 *   cfg->admin_only.
 * CFG_LOAD_TOKEN_KEY: with CFG_LOAD_ADMIN, read tokens.key_file after all
 *   (`cmpgw token create` seals a secret with it).
 */
enum cfg_load_flag {
	CFG_LOAD_ADMIN = 1u << 0,
	CFG_LOAD_TOKEN_KEY = 1u << 1,
};
/* cfg_load with flags (0 = cfg_load). Same returns. */
int cfg_load_flags(const char *path, unsigned flags, struct cfg **out, char *errbuf,
		   size_t errlen) WUR;
/* New reference to a snapshot. */
struct cfg *cfg_get1(struct cfg *cfg);
/* Drop a reference; frees at zero. NULL ok. */
void cfg_free(struct cfg *cfg);

/* Borrowed pointers into cfg, NULL if there is no such label/name. Any
 * thread holding a reference. */
const struct cfg_alias *cfg_alias_find(const struct cfg *cfg, const char *label);
const struct cfg_profile *cfg_profile_find(const struct cfg *cfg, const char *name);

/* The documented key table, for `cmpgw config-keys` and the docs test.
 * cfg_doc_key() fills the strings of key i (static storage) and returns
 * false past the end. path uses "listen[].port" for array elements and
 * "profiles.<name>.subject" for map members; def is the default as JSON
 * text, or NULL for a required key. */
struct cfg_doc {
	const char *path, *type, *def, *doc;
};
bool cfg_doc_key(size_t i, struct cfg_doc *out);
/* Write the key table as Markdown tables, one per top-level section. */
void cfg_doc_markdown(FILE *f);

#endif
