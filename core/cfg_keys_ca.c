/*
 * core/cfg_keys_ca.c - the config keys of the CA: ca (file names; the
 * material is loaded by core/cfg.c's finishing pass), tokens, crl (see
 * core/cfg_int.h; never calls into core/cfg.c). An admin load
 * (CFG_LOAD_ADMIN) reads no key file here either.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/cfg_int.h"
#include "core/file.h"

/* ---- converters ---- */

/* ca.cmp_chain: null (the default) and [] differ (core/cfg.c load_cmp) */
static int conv_cmp_chain(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	if (json_is_null(v))
		return 0;
	ld->cfg->ca_files.has_cmp_chain = true;
	return cfg_conv_files(ld, jp, v, field);
}

/* The token secrets' AES-256-GCM key: exactly 32 bytes in a private file. */
static int conv_token_key(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	unsigned char buf[33];
	char *path = NULL, msg[PATH_MAX + 128];
	size_t n = 0;
	int rc;

	if (json_is_null(v))
		return 0;
	if (!(path = cfg_resolve(ld->cfg, json_string_value(v))))
		return RC_NOMEM;
	if ((ld->cfg->load_flags & (CFG_LOAD_ADMIN | CFG_LOAD_TOKEN_KEY)) == CFG_LOAD_ADMIN) {
		/* Admin load (issue 14): the file is not read. A random key
		 * instead of zeros: a token sealed with an admin snapshot by
		 * mistake can never be opened, nor guessed. */
		rc = RAND_priv_bytes(field, 32) == 1 ? 0 : RC_CRYPTO;
		ld->cfg->has_token_key = rc == 0;
		free(path);
		return rc;
	}
	if (file_read_private(path, buf, sizeof(buf), &n, msg, sizeof(msg)) != 0) {
		rc = cfg_fail(ld, jp, "%s", msg);
	} else if (n != 32) {
		rc = cfg_fail(ld, jp, "%s: must hold exactly 32 random bytes", path);
	} else {
		memcpy(field, buf, 32);
		ld->cfg->has_token_key = true;
		rc = 0;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	free(path);
	return rc;
}

/* Alias collisions are checked once all aliases are loaded (cfg.c). */
static int conv_crl_path(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (s[0] != '/' || strpbrk(s, "?#"))
		return cfg_fail(ld, jp, "\"%s\" must start with \"/\" and hold no query", s);
	if (strncmp(s, "/.well-known/cmp", 16) == 0 && (s[16] == '\0' || s[16] == '/'))
		return cfg_fail(ld, jp, "\"%s\" is under /.well-known/cmp, which is reserved", s);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

CFG_STRS_PAIR(struct cfg_ca_files, chain, n_chain);
CFG_STRS_PAIR(struct cfg_ca_files, cmp_chain, n_cmp_chain);

/* ---- the keys ---- */

// clang-format off
static const struct cfg_key ca_keys[] = {
	{"ca", K_OBJ, S_ROOT, 0, NULL, 0, 0, NULL, "CA material; PEM files, relative to the config file's directory."},
	{"ca.issuing_cert", K_STR, F(issuing_cert), NULL, 0, 0, cfg_conv_file,
	 "Issuing CA certificate (one certificate; basicConstraints CA:TRUE, keyUsage keyCertSign)."},
	{"ca.issuing_key", K_STR, F(issuing_key), NULL, 0, 0, cfg_conv_key,
	 "Its private key; must match the certificate: a PEM file (regular file, mode 0600 or "
	 "stricter) or a `pkcs11:` URI naming a private key in a token (RFC 7512; see `pkcs11`)."},
	{"ca.chain", K_STRS, F(chain), "[]", 0, 16, cfg_conv_files,
	 "Files with the CA certificates above the issuing CA (one or more per file)."},
	{"ca.cmp_cert", K_STR_NULL, F(cmp_cert), "null", 0, 0, cfg_conv_file,
	 "Certificate that signs CMP responses; null = the issuing CA certificate."},
	{"ca.cmp_key", K_STR_NULL, F(cmp_key), "null", 0, 0, cfg_conv_key,
	 "Its private key (required with `cmp_cert`): a PEM file, mode 0600 or stricter, or a "
	 "`pkcs11:` URI."},
	{"ca.cmp_chain", K_STRS, F(cmp_chain), "null", 0, 16, conv_cmp_chain,
	 "Certificates sent after `cmp_cert` in extraCerts; null = issuing CA + `chain` when "
	 "`cmp_cert` is set, else `chain`."},
	{"ca.root", K_STR_NULL, F(root), "null", 0, 0, cfg_conv_file,
	 "Operator root certificate published in caPubs; null = none."},
	{"ca.expiry_warning_days", K_INT, R(ca_expiry_warn_days), "90", 0, 3650, NULL,
	 "`cmpgw check` and `cmpgw serve` warn when the issuing CA or the CMP signing certificate "
	 "expires within this many days (0..3650; 0 = only once expired)."},
};
const struct cfg_keys cfg_keys_ca = CFG_KEYS(ca_keys);

static const struct cfg_key tokens_keys[] = {
	{"tokens", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "One-time enrollment tokens for shared-secret (PBMAC) ir (`cmpgw token create`)."},
	{"tokens.key_file", K_STR_NULL, R(token_key), "null", 0, 0, conv_token_key,
	 "File with the 32-byte AES-256-GCM key that encrypts token secrets at rest; mode 0600 "
	 "or stricter; null = tokens disabled. Required by an alias with `auth` \"token\"."},
	{"tokens.max_iterations", K_INT, R(token_max_iterations), "10000", 100, 100000, NULL,
	 "Largest PBMParameter iterationCount accepted from a client (100..100000); a request "
	 "asking for more is refused before any key derivation."},
};
const struct cfg_keys cfg_keys_tokens = CFG_KEYS(tokens_keys);

static const struct cfg_key crl_keys[] = {
	{"crl", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "CRL publication (RFC 5280) over HTTP GET."},
	{"crl.path", K_STR, R(crl_path), "\"/crl/issuing-ca.crl\"", 0, 0, conv_crl_path,
	 "URL path the issuing CA's CRL is served at (`application/pkix-crl`); must start with `/`, "
	 "not be under `/.well-known/cmp` nor an alias path."},
	{"crl.validity_s", K_INT, R(crl_validity_s), "86400", 60, 31622400, NULL,
	 "nextUpdate - thisUpdate of each CRL, in seconds (60..31622400)."},
	{"crl.refresh_before_s", K_INT, R(crl_refresh_before_s), "3600", 0, 31622400, NULL,
	 "A CRL is regenerated when less than this many seconds remain before its nextUpdate "
	 "(and after every revocation); must be below `crl.validity_s`."},
	{"crl.ca_cert_path", K_STR, R(ca_cert_path), "\"/crl/issuing-ca.cer\"", 0, 0, conv_crl_path,
	 "URL path the issuing CA certificate is served at (DER, `application/pkix-cert`), for "
	 "the caIssuers pointer of issued certificates; same rules as `crl.path`."},
};
const struct cfg_keys cfg_keys_crl = CFG_KEYS(crl_keys);

static const struct cfg_key pkcs11_keys[] = {
	{"pkcs11", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "PKCS#11 tokens (HSMs) for keys given as `pkcs11:` URIs (RFC 7512), e.g. "
	 "`pkcs11:token=ca;object=issuing;type=private`. The key never leaves the token."},
	{"pkcs11.module", K_STR_NULL, R(p11_module), "null", 0, 0, cfg_conv_file,
	 "Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`); null = the URI's "
	 "`module-path`, else p11-kit's proxy module. One module per process: a reload cannot "
	 "change it (docs/HSM.md)."},
	{"pkcs11.pin_file", K_STR_NULL, R(p11_pin_file), "null", 0, 0, cfg_conv_file,
	 "File whose first line is the token's user PIN; mode 0600 or stricter. Read at each "
	 "login (start, reload, after a lost token came back); never logged. Wins over "
	 "`pin_env`."},
	{"pkcs11.pin_env", K_STR_NULL, R(p11_pin_env), "null", 0, 0, NULL,
	 "Instead of `pin_file`: name of the environment variable holding the PIN. A PIN in the "
	 "URI (`pin-value`) is refused."},
};
const struct cfg_keys cfg_keys_pkcs11 = CFG_KEYS(pkcs11_keys);
// clang-format on
