/*
 * core/cfg_keys_alias.c - the config keys of CMP aliases (aliases[].*,
 * with upstream and ras; see core/cfg_int.h; never calls into core/cfg.c).
 * aliases[].profile is kept as a name here and resolved by core/cfg.c's
 * finishing pass, once every key is applied.
 */
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>

#include "core/cfg_int.h"

/* ---- converters ---- */

static int conv_label(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (!cfg_name_ok(s))
		return cfg_fail(ld, jp, "\"%s\" must match [A-Za-z0-9._-]{1,64}", s);
	for (size_t i = 0; i < ld->index; i++)
		if (strcmp(ld->cfg->aliases[i].label, s) == 0)
			return cfg_fail(ld, jp, "duplicate label \"%s\" (also aliases[%zu])", s, i);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

/* A string that must be one of two words; *second = it is the second. */
static int pick2(struct cfg_ld *ld, const char *jp, json_t *v, const char *first,
		 const char *second, bool *is_second)
{
	const char *s = json_string_value(v);

	/* set on every path: with -O2/-O3 GCC cannot see that cfg_fail() never
	 * returns 0 and warns (-Werror=maybe-uninitialized) in the callers */
	*is_second = strcmp(s, second) == 0;
	if (strcmp(s, first) != 0 && !*is_second)
		return cfg_fail(ld, jp, "must be \"%s\" or \"%s\"", first, second);
	return 0;
}

static int conv_mode(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	bool ra;
	int rc = pick2(ld, jp, v, "ca", "ra", &ra);

	if (rc == 0)
		*(enum cfg_mode *)field = ra ? CFG_MODE_RA : CFG_MODE_CA;
	return rc;
}

/* aliases[].ra_identity */
static int conv_ra_identity(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	bool cn;
	int rc = pick2(ld, jp, v, "subject_serialnumber", "subject_cn", &cn);

	if (rc == 0)
		*(int *)field = cn ? CFG_RA_ID_SUBJECT_CN : CFG_RA_ID_SUBJECT_SN;
	return rc;
}

/* aliases[].ras[].eku: "cmcRA" (id-kp-cmcRA, RFC 6402 2.10) or a dotted OID */
static int conv_ra_eku(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	ASN1_OBJECT *o;

	if (!s)
		return 0;
	if (strcmp(s, "cmcRA") == 0)
		s = "1.3.6.1.5.5.7.3.28";
	if (strspn(s, "0123456789.") != strlen(s) || !(o = OBJ_txt2obj(s, 1))) {
		ERR_clear_error();
		return cfg_fail(ld, jp, "must be \"cmcRA\" or a dotted OID");
	}
	ASN1_OBJECT_free(o);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

static int conv_fwd_style(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	bool nested;
	int rc = pick2(ld, jp, v, "reprotect", "nested", &nested);

	if (rc == 0)
		*(int *)field = nested ? CFG_FWD_NESTED : CFG_FWD_REPROTECT;
	return rc;
}

static int conv_fwd_extra(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	bool none;
	int rc = pick2(ld, jp, v, "vendor", "none", &none);

	if (rc == 0)
		*(bool *)field = !none;
	return rc;
}

/* Where an HTTP path is already served: "aliases[i]" text in buf. */
static bool path_taken(const struct cfg_ld *ld, const char *s, size_t upto_alias, size_t upto_path,
		       char *buf, size_t len)
{
	for (size_t a = 0; a <= upto_alias; a++) {
		const struct cfg_alias *al = &ld->cfg->aliases[a];
		size_t np = a == upto_alias ? upto_path : al->n_paths;
		for (size_t k = 0; k < np; k++)
			if (strcmp(al->paths[k], s) == 0) {
				snprintf(buf, len, "aliases[%zu].paths[%zu]", a, k);
				return true;
			}
	}
	return false;
}

static int conv_paths(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	char ***arr = field, where[64];
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		char ejp[256];
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		if (s[0] != '/')
			return cfg_fail(ld, ejp, "\"%s\" must start with \"/\"", s);
		if (strncmp(s, "/.well-known/cmp", 16) == 0 && (s[16] == '\0' || s[16] == '/'))
			return cfg_fail(ld, ejp,
					"\"%s\" is under /.well-known/cmp, which is reserved", s);
		if (path_taken(ld, s, ld->index, i, where, sizeof(where)))
			return cfg_fail(ld, ejp, "\"%s\" is already used by %s", s, where);
		if (!((*arr)[i] = strdup(s)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static int conv_auth(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const struct cfg_named_bit auth[] = {
		{ "vendor_cert", CFG_AUTH_VENDOR_CERT },
		{ "token", CFG_AUTH_TOKEN },
	};
	int rc = cfg_conv_bits(ld, jp, v, field, auth, sizeof(auth) / sizeof(auth[0]),
			       "authentication method");

	if (rc == 0 && (*(unsigned *)field & CFG_AUTH_TOKEN) && !ld->cfg->has_token_key)
		return cfg_fail(ld, jp, "\"token\" needs tokens.key_file");
	return rc;
}

CFG_STRS_PAIR(struct cfg_alias, vendors, n_vendors);
CFG_STRS_PAIR(struct cfg_alias, paths, n_paths);
CFG_STRS_PAIR(struct cfg_alias, revoker_files, n_revoker_files);
CFG_STRS_PAIR(struct cfg_upstream, trusted_files, n_trusted_files);
CFG_STRS_PAIR(struct cfg_upstream, signer_files, n_signer_files);

/* ---- the keys ---- */

// clang-format off
static const struct cfg_key aliases_keys[] = {
	{"aliases", K_LIST, S_ALIAS, 0, "[]", 0, 256, NULL,
	 "CMP endpoints; each is served at `/.well-known/cmp/p/<label>` and at its `paths`."},
	{"aliases[].label", K_STR, A(label), NULL, 0, 0, conv_label,
	 "URL label, `[A-Za-z0-9._-]{1,64}`, unique."},
	{"aliases[].mode", K_STR, A(mode), "\"ca\"", 0, 0, conv_mode,
	 "`ca`: issue with the local CA; `ra`: forward to the CA in `upstream` (RFC 9483 5.2)."},
	{"aliases[].vendors", K_STRS, A(vendors), "[]", 0, 256, NULL,
	 "Vendor names accepted on this alias; empty = any registered vendor."},
	{"aliases[].profile", K_STR, A(profile_name), NULL, 0, 0, NULL,
	 "Name of the profile certificates are issued with."},
	{"aliases[].implicit_confirm", K_BOOL, A(implicit_confirm), "false", 0, 0, NULL,
	 "Grant implicitConfirm when the client asks (no certConf round trip)."},
	{"aliases[].confirm_deadline_s", K_INT, A(confirm_deadline_s), "300", 1, 86400, NULL,
	 "An issued certificate not confirmed within this many seconds is revoked."},
	{"aliases[].message_time_skew_s", K_INT, A(message_time_skew_s), "300", 0, 86400, NULL,
	 "Largest accepted difference between a request's messageTime and now, in seconds; 0 = not checked."},
	{"aliases[].paths", K_STRS, A(paths), "[]", 0, 16, conv_paths,
	 "Extra URL paths for legacy clients (e.g. `/pkix/`); must start with `/`, unique across aliases, not under `/.well-known/cmp`."},
	{"aliases[].revokers", K_STRS, A(revoker_files), "[]", 0, 16, cfg_conv_files,
	 "PEM certificate files (RA/admin); a revocation request (rr) signed by one of these "
	 "certificates (matched by SHA-256 fingerprint) may revoke any certificate of the issuing CA."},
	{"aliases[].auth", K_STRS, A(auth), "[\"vendor_cert\"]", 1, 2, conv_auth,
	 "How an ir may authenticate: `vendor_cert` (signed with a vendor certificate), `token` "
	 "(PasswordBasedMac with a one-time token bound to this alias; needs `tokens.key_file`)."},
	{"aliases[].ras", K_LIST, S_RA, 0, "[]", 0, 32, NULL,
	 "Mode `ca`: downstream RAs (RFC 9483 5.2) whose signed requests (ir/cr with `raVerified` "
	 "or the original POP, and `nested`) are accepted on this alias. Each entry has `cert`, or "
	 "`issuer` with optional `subject` and `eku`."},
	{"aliases[].ras[].cert", K_STR_NULL, RA(cert_file), "null", 0, 0, cfg_conv_file,
	 "PEM file of the RA's exact CMP certificate (matched by SHA-256 fingerprint; it must "
	 "still be valid)."},
	{"aliases[].ras[].issuer", K_STR_NULL, RA(issuer_file), "null", 0, 0, cfg_conv_file,
	 "PEM file of the CA that issues RA certificates; the RA's certificate must chain to it "
	 "(strict, at the current time)."},
	{"aliases[].ras[].subject", K_STR_NULL, RA(subject), "null", 0, 0, NULL,
	 "With `issuer`: the RA certificate's exact subject, e.g. `CN=ra1,O=Operator`; null = any."},
	{"aliases[].ras[].eku", K_STR_NULL, RA(eku), "null", 0, 0, conv_ra_eku,
	 "With `issuer`: extendedKeyUsage the RA certificate must carry: `cmcRA` "
	 "(1.3.6.1.5.5.7.3.28) or a dotted OID; null = none required."},
	{"aliases[].ras[].vendor", K_STR_NULL, RA(vendor), "null", 0, 0, NULL,
	 "A registered vendor name: device identities this RA asks for must be on that vendor's "
	 "serial list (and the vendor allowed on the alias); null = the RA vouches for the device "
	 "alone."},
	{"aliases[].ra_identity", K_STR, A(ra_identity), "\"subject_serialnumber\"", 0, 0,
	 conv_ra_identity,
	 "Device identity of a request from a downstream RA: the certTemplate subject's "
	 "`serialNumber` (`subject_serialnumber`) or `CN` (`subject_cn`)."},
	{"aliases[].upstream", K_OBJ, S_ALIAS, 0, "{}", 0, 0, NULL,
	 "Mode `ra` only: the upstream CA requests are forwarded to over CMP (RFC 9483 5.2)."},
	{"aliases[].upstream.url", K_STR_NULL, A(upstream.url), "null", 0, 0, NULL,
	 "`http://host[:port]/path` of the upstream CMP endpoint; required in mode `ra`."},
	{"aliases[].upstream.trusted", K_STRS, A(upstream.trusted_files), "[]", 0, 16, cfg_conv_files,
	 "PEM files with the trust anchors the upstream's response protection (and the "
	 "certificates it returns) must chain to; required in mode `ra`."},
	{"aliases[].upstream.signer", K_STRS, A(upstream.signer_files), "[]", 0, 16, cfg_conv_files,
	 "PEM files with the certificates the upstream protects its answers with (pinned). Empty: "
	 "the protecting certificate must be a CA certificate or carry EKU `id-kp-cmcCA` or "
	 "`id-kp-cmcRA` (RFC 9480); any other certificate under `trusted`, a device's say, is "
	 "refused. Signature protection only."},
	{"aliases[].upstream.cert", K_STR_NULL, A(upstream.cert_file), "null", 0, 0, cfg_conv_file,
	 "The RA's CMP signing certificate (one PEM certificate), sent first in extraCerts."},
	{"aliases[].upstream.key", K_STR_NULL, A(upstream.key_file), "null", 0, 0, cfg_conv_key,
	 "Its private key: a PEM file (mode 0600 or stricter) or a `pkcs11:` URI."},
	{"aliases[].upstream.secret_file", K_STR_NULL, A(upstream.secret_file), "null", 0, 0,
	 cfg_conv_file,
	 "Instead of `cert`/`key`: file holding the PBMAC shared secret (first line, mode 0600); "
	 "requests and responses are then MAC-protected (RFC 4210 5.1.3.1)."},
	{"aliases[].upstream.style", K_STR, A(upstream.style), "\"reprotect\"", 0, 0,
	 conv_fwd_style,
	 "`reprotect`: a new request protected by the RA (RFC 9483 5.2.3); `nested`: the device's "
	 "message unchanged inside a `nested` message protected by the RA (RFC 9483 5.2.2.1)."},
	{"aliases[].upstream.timeout_s", K_INT, A(upstream.timeout_s), "30", 1, 3600, NULL,
	 "Bound on one upstream exchange (connect + answer), seconds; then `systemUnavail`."},
	{"aliases[].upstream.wait_after_s", K_INT, A(upstream.wait_after_s), "5", 1, 3600, NULL,
	 "If the upstream has not answered after this many seconds, the device gets status "
	 "`waiting` and polls (pollReq/pollRep, RFC 9483 4.4)."},
	{"aliases[].upstream.extra_certs", K_STR, A(upstream.extra_vendor), "\"vendor\"", 0, 0,
	 conv_fwd_extra,
	 "`reprotect`: `vendor` adds the device's vendor certificate chain to extraCerts after the "
	 "RA's certificates; `none` sends the RA's only."},
	{"aliases[].upstream.tls", K_OBJ, S_ALIAS, 0, "{}", 0, 0, NULL,
	 "TLS towards an `https://` url: the server certificate is verified against `trusted` and "
	 "the URL's host name (or `server_name`); TLS 1.2 and 1.3 only."},
	{"aliases[].upstream.tls.trusted", K_STR_NULL, A(upstream.tls.ca_file), "null", 0, 0,
	 cfg_conv_file,
	 "PEM file with the trust anchors of the upstream's TLS server certificate; required for "
	 "an `https://` url."},
	{"aliases[].upstream.tls.server_name", K_STR_NULL, A(upstream.tls.server_name), "null", 0, 0,
	 NULL, "DNS name or IP address the server certificate must carry (and the SNI sent); null "
	 "= the URL's host."},
	{"aliases[].upstream.tls.cert", K_STR_NULL, A(upstream.tls.cert_file), "null", 0, 0,
	 cfg_conv_file, "PEM file: a TLS client certificate (then its chain), for an upstream "
	 "that asks for one; null = none."},
	{"aliases[].upstream.tls.key", K_STR_NULL, A(upstream.tls.key_file), "null", 0, 0,
	 cfg_conv_key, "Its private key: a PEM file (mode 0600 or stricter) or a `pkcs11:` URI."},
	{"aliases[].upstream.tls.min_version", K_STR, A(upstream.tls.min_version), "\"1.2\"", 0, 0,
	 cfg_conv_tls_version, "Lowest TLS version: `1.2` or `1.3`."},
};
const struct cfg_keys cfg_keys_aliases = CFG_KEYS(aliases_keys);
// clang-format on
