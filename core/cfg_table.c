/*
 * core/cfg_table.c - the declarative key table of the configuration file
 * and the walker that applies it: type and range checks, defaults, unknown
 * keys, and per-key converters. Cross-key checks and file loading are in
 * core/cfg.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "core/cfg.h"
#include "core/log.h"

/* K_SIZE: an integer stored as size_t */
enum ktype { K_OBJ, K_LIST, K_MAP, K_STR, K_STR_NULL, K_INT, K_SIZE, K_BOOL, K_STRS };
/* Which struct a key's offset is into. */
enum kscope { S_ROOT, S_LISTEN, S_PROFILE, S_ALIAS, S_FILES, S_RA, S_N };

struct ld {
	struct cfg *cfg;
	void *base[S_N];
	size_t index; /* current list element */
	char *err;
	size_t errlen;
};

typedef int conv_fn(struct ld *ld, const char *jp, json_t *v, void *field);

struct key {
	const char *path; /* "listen[].port", "profiles.<name>.subject" */
	enum ktype type;
	enum kscope scope; /* scope of off, or of the elements for K_LIST/K_MAP */
	size_t off;
	const char *def; /* default as JSON text; NULL = required */
	long min, max;   /* integer range, or entry count for arrays/maps */
	conv_fn *conv;   /* NULL = plain store */
	const char *doc;
};

static int fail(struct ld *ld, const char *jp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ld *ld, const char *jp, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(ld->err, ld->errlen, "%s: ", jp[0] ? jp : "(root)");

	if (n >= 0 && (size_t)n < ld->errlen) {
		va_start(ap, fmt);
		vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return RC_CONFIG;
}

/* "jp[i]"; a truncated path in a message is fine */
static void jp_idx(char *buf, size_t len, const char *jp, size_t i)
{
	if (snprintf(buf, len, "%s[%zu]", jp, i) >= (int)len)
		buf[len - 1] = '\0';
}

/* ---- converters ---- */

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Absolute path of p, relative to the config file's directory. */
static char *resolve(const struct cfg *cfg, const char *p)
{
	char *out = NULL;

	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&out, "%s/%s", cfg->base_dir, p) < 0)
		return NULL;
	return out;
}

static int conv_level(struct ld *ld, const char *jp, json_t *v, void *field)
{
	int lvl = log_level_parse(json_string_value(v));

	if (lvl < 0)
		return fail(ld, jp, "must be one of error, warn, info, debug");
	*(int *)field = lvl;
	return 0;
}

static int conv_format(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "text") != 0 && strcmp(s, "json") != 0)
		return fail(ld, jp, "must be \"text\" or \"json\"");
	*(bool *)field = strcmp(s, "json") == 0;
	return 0;
}

static int conv_address(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)
		return fail(ld, jp, "\"%s\" is not an IPv4 or IPv6 address", s);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

static int conv_dir(struct ld *ld, const char *jp, json_t *v, void *field)
{
	if (json_string_length(v) == 0)
		return fail(ld, jp, "must not be empty");
	return (*(char **)field = resolve(ld->cfg, json_string_value(v))) ? 0 : RC_NOMEM;
}

static int conv_file(struct ld *ld, const char *jp, json_t *v, void *field)
{
	if (json_is_null(v))
		return 0;
	return conv_dir(ld, jp, v, field);
}

static int conv_files(struct ld *ld, const char *jp, json_t *v, void *field)
{
	struct cfg_ca_files *f = &ld->cfg->ca_files;
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_is_null(v))
		return 0;
	if (arr == &f->cmp_chain)
		f->has_cmp_chain = true;
	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e) {
		char ejp[256];
		jp_idx(ejp, sizeof(ejp), jp, i);
		int rc = conv_dir(ld, ejp, e, &(*arr)[i]);
		if (rc)
			return rc;
		*n = i + 1;
	}
	return 0;
}

/* The URL is a secret: read it from a private file, never echo it. */
static int conv_url_file(struct ld *ld, const char *jp, json_t *v, void *field)
{
	char *path = NULL, line[4096];
	FILE *fp = NULL;
	struct stat st;
	int rc = RC_CONFIG, fd = -1;

	if (json_is_null(v))
		return 0;
	if (*(char **)field)
		return fail(ld, jp, "cannot be used together with database.url");
	if (!(path = resolve(ld->cfg, json_string_value(v))))
		return RC_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		fail(ld, jp, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		fail(ld, jp, "%s: permissions %04o allow group/other access (need 0600 or stricter)",
		     path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (!(fp = fdopen(fd, "r")))
		goto out;
	fd = -1;
	if (!fgets(line, sizeof(line), fp) || (line[strcspn(line, "\r\n")] = '\0', !line[0])) {
		fail(ld, jp, "%s: empty", path);
		goto out;
	}
	*(char **)field = strdup(line);
	rc = *(char **)field ? 0 : RC_NOMEM;
out:
	OPENSSL_cleanse(line, sizeof(line));
	if (fp)
		fclose(fp);
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Only ${serial} and ${vendor}; sample values substituted into out. */
static int check_placeholders(struct ld *ld, const char *jp, const char *s, char *out, size_t len)
{
	size_t o = 0;

	while (*s) {
		const char *rep = NULL;
		if (s[0] == '$' && s[1] == '{') {
			const char *end = strchr(s, '}');
			if (!end)
				return fail(ld, jp, "unterminated placeholder \"%s\"", s);
			if (end - s == 8 && strncmp(s, "${serial}", 9) == 0)
				rep = "X";
			else if (end - s == 8 && strncmp(s, "${vendor}", 9) == 0)
				rep = "Y";
			else
				return fail(ld, jp, "unknown placeholder \"%.*s\" (allowed: ${serial}, ${vendor})",
					    (int)(end - s + 1), s);
			s = end + 1;
		}
		if (o + 2 >= len)
			return fail(ld, jp, "too long");
		out[o++] = rep ? rep[0] : *s++;
	}
	out[o] = '\0';
	return 0;
}

static int conv_subject(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);
	char sample[1024];
	X509_NAME *n = NULL;
	int rc = check_placeholders(ld, jp, s, sample, sizeof(sample));

	if (rc)
		return rc;
	if (!(n = cfg_name_parse(s))) {
		ERR_clear_error();
		return fail(ld, jp, "cannot parse \"%s\" as a distinguished name", s);
	}
	X509_NAME_free(n);
	if (!(n = cfg_name_parse(sample))) {
		ERR_clear_error();
		return fail(ld, jp, "\"%s\" with ${serial}=X, ${vendor}=Y is not a valid name", s);
	}
	X509_NAME_free(n);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

static int conv_san(struct ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const pfx[] = {"dns:", "uri:", "ip:", "email:"};
	char ***arr = field, sample[1024];
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		char ejp[256];
		size_t k = 0;
		jp_idx(ejp, sizeof(ejp), jp, i);
		while (k < 4 && strncmp(s, pfx[k], strlen(pfx[k])) != 0)
			k++;
		if (k == 4 || !s[strlen(pfx[k])])
			return fail(ld, ejp, "must be dns:, uri:, ip: or email: followed by a value");
		int rc = check_placeholders(ld, ejp, s, sample, sizeof(sample));
		if (rc)
			return rc;
		if (!((*arr)[i] = strdup(s)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

struct named_bit {
	const char *name;
	unsigned bit;
};

/* OR the bits of the named entries of v into *field. */
static int conv_bits(struct ld *ld, const char *jp, json_t *v, unsigned *field,
		     const struct named_bit *tab, size_t ntab, const char *what)
{
	size_t i, k;
	json_t *e;

	*field = 0;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		char ejp[256];
		jp_idx(ejp, sizeof(ejp), jp, i);
		for (k = 0; k < ntab && strcmp(tab[k].name, s) != 0; k++)
			;
		if (k == ntab)
			return fail(ld, ejp, "unknown %s \"%s\"", what, s);
		if (*field & tab[k].bit)
			return fail(ld, ejp, "duplicate %s \"%s\"", what, s);
		*field |= tab[k].bit;
	}
	return 0;
}

static int conv_ku(struct ld *ld, const char *jp, json_t *v, void *field)
{
	static const struct named_bit ku[] = {
		{"digitalSignature", KU_DIGITAL_SIGNATURE}, {"nonRepudiation", KU_NON_REPUDIATION},
		{"keyEncipherment", KU_KEY_ENCIPHERMENT},   {"dataEncipherment", KU_DATA_ENCIPHERMENT},
		{"keyAgreement", KU_KEY_AGREEMENT},         {"keyCertSign", KU_KEY_CERT_SIGN},
		{"cRLSign", KU_CRL_SIGN},
	};
	return conv_bits(ld, jp, v, field, ku, sizeof(ku) / sizeof(ku[0]), "key usage");
}

static int conv_algs(struct ld *ld, const char *jp, json_t *v, void *field)
{
	static const struct named_bit algs[] = {
		{"P-256", CFG_KEY_P256}, {"P-384", CFG_KEY_P384},     {"P-521", CFG_KEY_P521},
		{"RSA", CFG_KEY_RSA},    {"Ed25519", CFG_KEY_ED25519}, {"Ed448", CFG_KEY_ED448},
	};
	return conv_bits(ld, jp, v, field, algs, sizeof(algs) / sizeof(algs[0]), "key algorithm");
}

static int conv_eku(struct ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const names[][2] = {
		{"serverAuth", "1.3.6.1.5.5.7.3.1"},      {"clientAuth", "1.3.6.1.5.5.7.3.2"},
		{"codeSigning", "1.3.6.1.5.5.7.3.3"},     {"emailProtection", "1.3.6.1.5.5.7.3.4"},
		{"timeStamping", "1.3.6.1.5.5.7.3.8"},    {"OCSPSigning", "1.3.6.1.5.5.7.3.9"},
	};
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i, k;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e), *oid = NULL;
		char ejp[256];
		jp_idx(ejp, sizeof(ejp), jp, i);
		for (k = 0; k < sizeof(names) / sizeof(names[0]) && !oid; k++)
			if (strcmp(names[k][0], s) == 0)
				oid = names[k][1];
		if (!oid && strspn(s, "0123456789.") == strlen(s)) {
			ASN1_OBJECT *o = OBJ_txt2obj(s, 1);
			oid = o ? s : NULL;
			ASN1_OBJECT_free(o);
			ERR_clear_error();
		}
		if (!oid)
			return fail(ld, ejp, "unknown extended key usage \"%s\"", s);
		for (k = 0; k < i; k++)
			if (strcmp((*arr)[k], oid) == 0)
				return fail(ld, ejp, "duplicate extended key usage \"%s\"", s);
		if (!((*arr)[i] = strdup(oid)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static int conv_label(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (!name_ok(s))
		return fail(ld, jp, "\"%s\" must match [A-Za-z0-9._-]{1,64}", s);
	for (size_t i = 0; i < ld->index; i++)
		if (strcmp(ld->cfg->aliases[i].label, s) == 0)
			return fail(ld, jp, "duplicate label \"%s\" (also aliases[%zu])", s, i);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

/* A string that must be one of two words; *second = it is the second. */
static int pick2(struct ld *ld, const char *jp, json_t *v, const char *first, const char *second,
		 bool *is_second)
{
	const char *s = json_string_value(v);

	/* set on every path: with -O2/-O3 GCC cannot see that fail() never
	 * returns 0 and warns (-Werror=maybe-uninitialized) in the callers */
	*is_second = strcmp(s, second) == 0;
	if (strcmp(s, first) != 0 && !*is_second)
		return fail(ld, jp, "must be \"%s\" or \"%s\"", first, second);
	return 0;
}

static int conv_mode(struct ld *ld, const char *jp, json_t *v, void *field)
{
	bool ra;
	int rc = pick2(ld, jp, v, "ca", "ra", &ra);

	if (rc == 0)
		*(enum cfg_mode *)field = ra ? CFG_MODE_RA : CFG_MODE_CA;
	return rc;
}

/* aliases[].ra_identity */
static int conv_ra_identity(struct ld *ld, const char *jp, json_t *v, void *field)
{
	bool cn;
	int rc = pick2(ld, jp, v, "subject_serialnumber", "subject_cn", &cn);

	if (rc == 0)
		*(int *)field = cn ? CFG_RA_ID_SUBJECT_CN : CFG_RA_ID_SUBJECT_SN;
	return rc;
}

/* aliases[].ras[].eku: "cmcRA" (id-kp-cmcRA, RFC 6402 2.10) or a dotted OID */
static int conv_ra_eku(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	ASN1_OBJECT *o;

	if (!s)
		return 0;
	if (strcmp(s, "cmcRA") == 0)
		s = "1.3.6.1.5.5.7.3.28";
	if (strspn(s, "0123456789.") != strlen(s) || !(o = OBJ_txt2obj(s, 1))) {
		ERR_clear_error();
		return fail(ld, jp, "must be \"cmcRA\" or a dotted OID");
	}
	ASN1_OBJECT_free(o);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

static int conv_fwd_style(struct ld *ld, const char *jp, json_t *v, void *field)
{
	bool nested;
	int rc = pick2(ld, jp, v, "reprotect", "nested", &nested);

	if (rc == 0)
		*(int *)field = nested ? CFG_FWD_NESTED : CFG_FWD_REPROTECT;
	return rc;
}

static int conv_fwd_extra(struct ld *ld, const char *jp, json_t *v, void *field)
{
	bool none;
	int rc = pick2(ld, jp, v, "vendor", "none", &none);

	if (rc == 0)
		*(bool *)field = !none;
	return rc;
}

static int conv_profile(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const struct cfg_profile *p = cfg_profile_find(ld->cfg, json_string_value(v));

	if (!p)
		return fail(ld, jp, "unknown profile \"%s\"", json_string_value(v));
	*(const struct cfg_profile **)field = p;
	return 0;
}

/* Where an HTTP path is already served: "aliases[i]" text in buf. */
static bool path_taken(const struct ld *ld, const char *s, size_t upto_alias, size_t upto_path,
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

static int conv_paths(struct ld *ld, const char *jp, json_t *v, void *field)
{
	char ***arr = field, where[64];
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		char ejp[256];
		jp_idx(ejp, sizeof(ejp), jp, i);
		if (s[0] != '/')
			return fail(ld, ejp, "\"%s\" must start with \"/\"", s);
		if (strncmp(s, "/.well-known/cmp", 16) == 0 && (s[16] == '\0' || s[16] == '/'))
			return fail(ld, ejp, "\"%s\" is under /.well-known/cmp, which is reserved", s);
		if (path_taken(ld, s, ld->index, i, where, sizeof(where)))
			return fail(ld, ejp, "\"%s\" is already used by %s", s, where);
		if (!((*arr)[i] = strdup(s)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static int conv_auth(struct ld *ld, const char *jp, json_t *v, void *field)
{
	static const struct named_bit auth[] = {
		{"vendor_cert", CFG_AUTH_VENDOR_CERT}, {"token", CFG_AUTH_TOKEN},
	};
	int rc = conv_bits(ld, jp, v, field, auth, sizeof(auth) / sizeof(auth[0]),
			   "authentication method");

	if (rc == 0 && (*(unsigned *)field & CFG_AUTH_TOKEN) && !ld->cfg->has_token_key)
		return fail(ld, jp, "\"token\" needs tokens.key_file");
	return rc;
}

/* The token secrets' AES-256-GCM key: exactly 32 bytes in a private file. */
static int conv_token_key(struct ld *ld, const char *jp, json_t *v, void *field)
{
	unsigned char buf[33];
	char *path = NULL;
	struct stat st;
	ssize_t n = -1;
	int rc = RC_CONFIG, fd = -1;

	if (json_is_null(v))
		return 0;
	if (!(path = resolve(ld->cfg, json_string_value(v))))
		return RC_NOMEM;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		fail(ld, jp, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		fail(ld, jp, "%s: permissions %04o allow group/other access (need 0600 or stricter)",
		     path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n != 32) {
		fail(ld, jp, "%s: must hold exactly 32 random bytes", path);
		goto out;
	}
	memcpy(field, buf, 32);
	ld->cfg->has_token_key = true;
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Alias collisions are checked once all aliases are loaded (cfg.c). */
static int conv_crl_path(struct ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (s[0] != '/' || strpbrk(s, "?#"))
		return fail(ld, jp, "\"%s\" must start with \"/\" and hold no query", s);
	if (strncmp(s, "/.well-known/cmp", 16) == 0 && (s[16] == '\0' || s[16] == '/'))
		return fail(ld, jp, "\"%s\" is under /.well-known/cmp, which is reserved", s);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

/* RFC 5280 4.2.1.13 / 4.2.2.1: where relying parties fetch status and
 * issuer certificates; absolute URIs of a scheme they can reach. */
static bool uri_char_ok(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"<>\\`{}|^", c);
}

static int conv_urls(struct ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const schemes[] = { "http://", "https://", "ldap://" };
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		char ejp[256];
		size_t k = 0, len = strlen(s);
		jp_idx(ejp, sizeof(ejp), jp, i);
		while (k < 3 && strncasecmp(s, schemes[k], strlen(schemes[k])) != 0)
			k++;
		if (k == 3 || len <= strlen(schemes[k]) || len > 1024)
			return fail(ld, ejp,
				    "must be an http://, https:// or ldap:// URI of at most "
				    "1024 characters");
		for (const char *c = s; *c; c++)
			if (!uri_char_ok((unsigned char)*c))
				return fail(ld, ejp,
					    "\"%s\" holds a character not allowed in a URI", s);
		if (!((*arr)[i] = strdup(s)))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

/* ---- the table ---- */

#define R(f) S_ROOT, offsetof(struct cfg, f)
#define L(f) S_LISTEN, offsetof(struct cfg_listen, f)
#define P(f) S_PROFILE, offsetof(struct cfg_profile, f)
#define A(f) S_ALIAS, offsetof(struct cfg_alias, f)
#define F(f) S_FILES, offsetof(struct cfg_ca_files, f)
#define RA(f) S_RA, offsetof(struct cfg_ra, f)

static const struct key keys[] = {
	{"log", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "Logging."},
	{"log.level", K_STR, R(log_level), "\"info\"", 0, 0, conv_level,
	 "Least severe level logged: `error`, `warn`, `info` or `debug`."},
	{"log.format", K_STR, R(log_json), "\"text\"", 0, 0, conv_format,
	 "`text` (one human line per event) or `json` (one JSON object per line)."},
	{"listen", K_LIST, S_LISTEN, 0, NULL, 1, 16, NULL, "HTTP listeners, 1 to 16 entries."},
	{"listen[].address", K_STR, L(address), "\"127.0.0.1\"", 0, 0, conv_address,
	 "IPv4 or IPv6 address to bind (`0.0.0.0`, `::` for all)."},
	{"listen[].port", K_INT, L(port), NULL, 1, 65535, NULL, "TCP port, 1..65535."},
	{"workers", K_INT, R(workers), "0", 0, 256, NULL,
	 "Worker threads (one event loop each); 0 = number of online CPUs. Max 256."},
	{"http", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "HTTP transport limits."},
	{"http.max_body", K_SIZE, R(http_max_body), "65536", 1024, 16777216, NULL,
	 "Largest accepted request body in bytes (1024..16777216); larger gets 413."},
	{"http.timeout_s", K_INT, R(http_timeout_s), "30", 1, 3600, NULL,
	 "Read/idle timeout per connection in seconds (1..3600)."},
	{"http.read_deadline_s", K_INT, R(http_read_deadline_s), "30", 1, 3600, NULL,
	 "A request's headers and body must arrive within this many seconds of its first byte, "
	 "however slowly they trickle in (1..3600); then 408 and the connection is closed."},
	{"http.max_connections", K_INT, R(http_max_conns), "1024", 1, 65536, NULL,
	 "Open connections per worker (1..65536); above it a new connection gets 503 and is "
	 "closed."},
	{"http.max_body_memory", K_SIZE, R(http_max_body_mem), "16777216", 65536, 1073741824, NULL,
	 "Bytes of request bodies being received that one worker holds at most (65536..1073741824); "
	 "a request that would exceed it gets 503."},
	{"http.drain_s", K_INT, R(drain_s), "10", 0, 300, NULL,
	 "On SIGTERM or SIGINT: new connections and requests get 503 with `Connection: close`, "
	 "except the certConf or pollReq of a transaction whose last answer went over that "
	 "connection; requests in flight and such open transactions may finish for at most this "
	 "many seconds (0..300), then the gateway stops."},
	{"data_dir", K_STR, R(data_dir), NULL, 0, 0, conv_dir,
	 "State directory (embedded PostgreSQL lives under it); relative to the config file's directory."},
	{"database", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "PostgreSQL."},
	{"database.url", K_STR_NULL, R(db_url), "null", 0, 0, NULL,
	 "libpq connection URI of an external PostgreSQL; null = embedded server under `data_dir`. "
	 "The environment variable `CMPGW_DATABASE_URL` overrides it. Never logged."},
	{"database.url_file", K_STR_NULL, R(db_url), "null", 0, 0, conv_url_file,
	 "File holding the connection URI (first line), instead of `url`; mode 0600 or stricter."},
	{"database.embedded_user", K_STR, R(db_embedded_user), "\"postgres\"", 0, 0, NULL,
	 "Unprivileged OS user the embedded PostgreSQL runs as when cmpgw runs as root."},
	{"database.pool", K_INT, R(db_pool), "2", 1, 64, NULL, "Connections per worker (1..64)."},
	{"database.queue_wait_ms", K_INT, R(db_queue_wait_ms), "2000", 50, 60000, NULL,
	 "Longest a query waits for a database connection (while the database is down, or every "
	 "connection is busy), in milliseconds (50..60000); then the request is answered "
	 "`systemUnavail`."},
	{"database.statement_timeout_ms", K_INT, R(db_stmt_timeout_ms), "5000", 100, 600000, NULL,
	 "PostgreSQL `statement_timeout` of the gateway's statements, in milliseconds "
	 "(100..600000): a statement stalled longer (a held lock, a stalled server) is cancelled "
	 "and the request answered `systemUnavail`."},
	{"database.startup_timeout_s", K_INT, R(db_startup_timeout_s), "60", 0, 86400, NULL,
	 "`serve` keeps retrying an unreachable database at start, with backoff, for this many "
	 "seconds (0..86400; 0 = forever), then exits 1 naming the database error."},
	{"ca", K_OBJ, S_ROOT, 0, NULL, 0, 0, NULL, "CA material; PEM files, relative to the config file's directory."},
	{"ca.issuing_cert", K_STR, F(issuing_cert), NULL, 0, 0, conv_file,
	 "Issuing CA certificate (one certificate; basicConstraints CA:TRUE, keyUsage keyCertSign)."},
	{"ca.issuing_key", K_STR, F(issuing_key), NULL, 0, 0, conv_file,
	 "Its private key; must match the certificate; regular file, mode 0600 or stricter."},
	{"ca.chain", K_STRS, F(chain), "[]", 0, 16, conv_files,
	 "Files with the CA certificates above the issuing CA (one or more per file)."},
	{"ca.cmp_cert", K_STR_NULL, F(cmp_cert), "null", 0, 0, conv_file,
	 "Certificate that signs CMP responses; null = the issuing CA certificate."},
	{"ca.cmp_key", K_STR_NULL, F(cmp_key), "null", 0, 0, conv_file,
	 "Its private key (required with `cmp_cert`); mode 0600 or stricter."},
	{"ca.cmp_chain", K_STRS, F(cmp_chain), "null", 0, 16, conv_files,
	 "Certificates sent after `cmp_cert` in extraCerts; null = issuing CA + `chain` when "
	 "`cmp_cert` is set, else `chain`."},
	{"ca.root", K_STR_NULL, F(root), "null", 0, 0, conv_file,
	 "Operator root certificate published in caPubs; null = none."},
	{"ca.expiry_warning_days", K_INT, R(ca_expiry_warn_days), "90", 0, 3650, NULL,
	 "`cmpgw check` and `cmpgw serve` warn when the issuing CA or the CMP signing certificate "
	 "expires within this many days (0..3650; 0 = only once expired)."},
	{"tokens", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "One-time enrollment tokens for shared-secret (PBMAC) ir (`cmpgw token create`)."},
	{"tokens.key_file", K_STR_NULL, R(token_key), "null", 0, 0, conv_token_key,
	 "File with the 32-byte AES-256-GCM key that encrypts token secrets at rest; mode 0600 "
	 "or stricter; null = tokens disabled. Required by an alias with `auth` \"token\"."},
	{"tokens.max_iterations", K_INT, R(token_max_iterations), "10000", 100, 100000, NULL,
	 "Largest PBMParameter iterationCount accepted from a client (100..100000); a request "
	 "asking for more is refused before any key derivation."},
	{"profiles", K_MAP, S_PROFILE, 0, "{}", 0, 256, NULL,
	 "Certificate profiles by name (`[A-Za-z0-9._-]{1,64}`)."},
	{"profiles.<name>.subject", K_STR, P(subject), NULL, 0, 0, conv_subject,
	 "Subject template: `CN=${serial},O=${vendor}` (RFC 4514 order, last RDN first) or "
	 "`/O=${vendor}/CN=${serial}` (DER order); placeholders `${serial}` and `${vendor}` only."},
	{"profiles.<name>.san", K_STRS, P(san), "[]", 0, 16, conv_san,
	 "subjectAltName templates: `dns:`, `uri:`, `ip:` or `email:` followed by the value."},
	{"profiles.<name>.validity_days", K_INT, P(validity_days), "365", 1, 36500, NULL,
	 "Certificate lifetime in days (1..36500)."},
	{"profiles.<name>.backdate_s", K_INT, P(backdate_s), "300", 0, 86400, NULL,
	 "notBefore = now - backdate_s, for devices with a slow clock (0..86400)."},
	{"profiles.<name>.key_usage", K_STRS, P(key_usage), "[\"digitalSignature\"]", 1, 9, conv_ku,
	 "keyUsage bits: digitalSignature nonRepudiation keyEncipherment dataEncipherment "
	 "keyAgreement keyCertSign cRLSign."},
	{"profiles.<name>.eku", K_STRS, P(eku), "[]", 0, 16, conv_eku,
	 "extendedKeyUsage: serverAuth clientAuth codeSigning emailProtection timeStamping "
	 "OCSPSigning or dotted OIDs; empty = no extension."},
	{"profiles.<name>.key_algorithms", K_STRS, P(key_algs), "[\"P-256\",\"P-384\",\"RSA\",\"Ed25519\"]",
	 1, 6, conv_algs, "Accepted subject keys: P-256 P-384 P-521 RSA Ed25519 Ed448."},
	{"profiles.<name>.rsa_min_bits", K_INT, P(rsa_min_bits), "2048", 2048, 16384, NULL,
	 "Smallest RSA modulus accepted (2048..16384)."},
	{"profiles.<name>.allow_requested_subject", K_BOOL, P(allow_requested_subject), "false", 0, 0,
	 NULL, "Use the subject the device asks for instead of the template."},
	{"profiles.<name>.renewal_revokes_old", K_BOOL, P(renewal_revokes_old), "true", 0, 0,
	 NULL, "When a device's new certificate is confirmed (re-enrollment with the vendor "
	       "certificate, or renewal by ir/cr/kur/p10cr with the operator certificate), revoke "
	       "its previous certificate with reason superseded so that it appears on the CRL; "
	       "false only marks it superseded and leaves it valid until it expires."},
	{"profiles.<name>.crl_distribution_points", K_STRS, P(crl_dp), "[]", 0, 4, conv_urls,
	 "cRLDistributionPoints URIs put in every certificate (RFC 5280 4.2.1.13), e.g. "
	 "`http://pki.example/crl/issuing-ca.crl`; empty = no extension."},
	{"profiles.<name>.ca_issuers", K_STRS, P(ca_issuers), "[]", 0, 4, conv_urls,
	 "authorityInfoAccess caIssuers URIs (RFC 5280 4.2.2.1) where the issuing CA certificate "
	 "is published (DER, e.g. the gateway's `crl.ca_cert_path`)."},
	{"profiles.<name>.ocsp", K_STRS, P(ocsp), "[]", 0, 4, conv_urls,
	 "authorityInfoAccess OCSP responder URIs (RFC 5280 4.2.2.1); empty = none."},
	{"aliases", K_LIST, S_ALIAS, 0, "[]", 0, 256, NULL,
	 "CMP endpoints; each is served at `/.well-known/cmp/p/<label>` and at its `paths`."},
	{"aliases[].label", K_STR, A(label), NULL, 0, 0, conv_label,
	 "URL label, `[A-Za-z0-9._-]{1,64}`, unique."},
	{"aliases[].mode", K_STR, A(mode), "\"ca\"", 0, 0, conv_mode,
	 "`ca`: issue with the local CA; `ra`: forward to the CA in `upstream` (RFC 9483 5.2)."},
	{"aliases[].vendors", K_STRS, A(vendors), "[]", 0, 256, NULL,
	 "Vendor names accepted on this alias; empty = any registered vendor."},
	{"aliases[].profile", K_STR, A(profile), NULL, 0, 0, conv_profile,
	 "Name of the profile certificates are issued with."},
	{"aliases[].implicit_confirm", K_BOOL, A(implicit_confirm), "false", 0, 0, NULL,
	 "Grant implicitConfirm when the client asks (no certConf round trip)."},
	{"aliases[].confirm_deadline_s", K_INT, A(confirm_deadline_s), "300", 1, 86400, NULL,
	 "An issued certificate not confirmed within this many seconds is revoked."},
	{"aliases[].message_time_skew_s", K_INT, A(message_time_skew_s), "300", 0, 86400, NULL,
	 "Largest accepted difference between a request's messageTime and now, in seconds; 0 = not checked."},
	{"aliases[].paths", K_STRS, A(paths), "[]", 0, 16, conv_paths,
	 "Extra URL paths for legacy clients (e.g. `/pkix/`); must start with `/`, unique across aliases, not under `/.well-known/cmp`."},
	{"aliases[].revokers", K_STRS, A(revoker_files), "[]", 0, 16, conv_files,
	 "PEM certificate files (RA/admin); a revocation request (rr) signed by one of these "
	 "certificates (matched by SHA-256 fingerprint) may revoke any certificate of the issuing CA."},
	{"aliases[].auth", K_STRS, A(auth), "[\"vendor_cert\"]", 1, 2, conv_auth,
	 "How an ir may authenticate: `vendor_cert` (signed with a vendor certificate), `token` "
	 "(PasswordBasedMac with a one-time token bound to this alias; needs `tokens.key_file`)."},
	{"aliases[].ras", K_LIST, S_RA, 0, "[]", 0, 32, NULL,
	 "Mode `ca`: downstream RAs (RFC 9483 5.2) whose signed requests (ir/cr with `raVerified` "
	 "or the original POP, and `nested`) are accepted on this alias. Each entry has `cert`, or "
	 "`issuer` with optional `subject` and `eku`."},
	{"aliases[].ras[].cert", K_STR_NULL, RA(cert_file), "null", 0, 0, conv_file,
	 "PEM file of the RA's exact CMP certificate (matched by SHA-256 fingerprint; it must "
	 "still be valid)."},
	{"aliases[].ras[].issuer", K_STR_NULL, RA(issuer_file), "null", 0, 0, conv_file,
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
	{"aliases[].upstream.trusted", K_STRS, A(upstream.trusted_files), "[]", 0, 16, conv_files,
	 "PEM files with the trust anchors the upstream's response protection (and the "
	 "certificates it returns) must chain to; required in mode `ra`."},
	{"aliases[].upstream.cert", K_STR_NULL, A(upstream.cert_file), "null", 0, 0, conv_file,
	 "The RA's CMP signing certificate (one PEM certificate), sent first in extraCerts."},
	{"aliases[].upstream.key", K_STR_NULL, A(upstream.key_file), "null", 0, 0, conv_file,
	 "Its private key; mode 0600 or stricter."},
	{"aliases[].upstream.secret_file", K_STR_NULL, A(upstream.secret_file), "null", 0, 0,
	 conv_file,
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
	{"sweep_interval_s", K_INT, R(sweep_interval_s), "10", 1, 3600, NULL,
	 "Period of the unconfirmed-certificate sweep in seconds (1..3600)."},
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
	{"limits", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "What a request may cost before it is authenticated."},
	{"limits.max_extra_certs", K_INT, R(max_extra_certs), "10", 1, 64, NULL,
	 "Most certificates a request may carry in extraCerts (1..64); more is refused "
	 "(`badRequest`) before any chain building."},
	{"limits.mac_failures_per_minute", K_INT, R(mac_fail_per_min), "10", 1, 100000, NULL,
	 "Failed PasswordBasedMac checks allowed per minute for one peer address and for one "
	 "token reference (each counted separately); past it, MAC-protected requests from that "
	 "peer or for that reference are refused (`notAuthorized`, \"too many failed MAC "
	 "attempts; retry later\") without any key derivation. Counted per worker thread (see "
	 "`workers`): with N workers a client may get up to N times the limit. Each counter table "
	 "holds at most 4096 peers or references (the oldest evicted)."},
	{"limits.audit_unauthenticated_per_minute", K_INT, R(audit_unauth_per_min), "60", 1,
	 100000, NULL,
	 "Audit rows written per minute and peer address for requests refused before they were "
	 "authenticated; the rest are counted: one `audit_suppressed` row when a peer first goes "
	 "over in its minute, and one \"N rows suppressed for peer X\" when that minute ends. "
	 "Counted per worker thread, like `limits.mac_failures_per_minute`."},
};

/* string arrays are stored as (char **, size_t) pairs */
_Static_assert(offsetof(struct cfg_profile, n_san) == offsetof(struct cfg_profile, san) + sizeof(char **), "");
_Static_assert(offsetof(struct cfg_alias, n_vendors) == offsetof(struct cfg_alias, vendors) + sizeof(char **), "");
_Static_assert(offsetof(struct cfg_alias, n_revoker_files) == offsetof(struct cfg_alias, revoker_files) + sizeof(char **), "");
_Static_assert(offsetof(struct cfg_ca_files, n_chain) == offsetof(struct cfg_ca_files, chain) + sizeof(char **), "");

/* ---- the walker ---- */

static const char *last_dot(const char *p)
{
	const char *d = strrchr(p, '.');
	return d ? d + 1 : p;
}

/* Is key e a direct member of the object with pattern pat? */
static bool is_child(const struct key *e, const char *pat)
{
	const char *name = last_dot(e->path);
	size_t plen = (size_t)(name - e->path);

	if (!pat[0])
		return plen == 0;
	return plen == strlen(pat) + 1 && strncmp(e->path, pat, plen - 1) == 0;
}

static int walk_obj(struct ld *ld, const char *pat, const char *jp, json_t *obj);

static void child_jp(char *buf, size_t len, const char *jp, const char *name)
{
	if (snprintf(buf, len, "%s%s%s", jp, jp[0] ? "." : "", name) >= (int)len)
		buf[len - 1] = '\0'; /* a truncated path in a message is fine */
}

static int type_error(struct ld *ld, const struct key *e, const char *jp)
{
	switch (e->type) {
	case K_OBJ:
		return fail(ld, jp, "must be an object");
	case K_LIST:
		return fail(ld, jp, "must be an array of %ld..%ld objects", e->min, e->max);
	case K_MAP:
		return fail(ld, jp, "must be an object of at most %ld objects", e->max);
	case K_STR:
		return fail(ld, jp, "must be a string");
	case K_STR_NULL:
		return fail(ld, jp, "must be a string or null");
	case K_INT:
	case K_SIZE:
		return fail(ld, jp, "must be an integer %ld..%ld", e->min, e->max);
	case K_BOOL:
		return fail(ld, jp, "must be true or false");
	case K_STRS:
		return fail(ld, jp, "must be an array of %ld..%ld strings", e->min, e->max);
	}
	return RC_CONFIG;
}

/* Allocate the elements of a list/map; returns the base and stride. */
static void *alloc_elems(struct ld *ld, enum kscope s, size_t n, size_t *stride)
{
	struct cfg *c = ld->cfg;

	if (s == S_LISTEN) {
		*stride = sizeof(*c->listen);
		c->n_listen = n;
		return c->listen = calloc(n ? n : 1, *stride);
	}
	if (s == S_PROFILE) {
		*stride = sizeof(*c->profiles);
		c->n_profiles = n;
		return c->profiles = calloc(n ? n : 1, *stride);
	}
	if (s == S_RA) { /* aliases[].ras of the alias being walked */
		struct cfg_alias *a = ld->base[S_ALIAS];
		*stride = sizeof(*a->ras);
		a->n_ras = n;
		return a->ras = calloc(n ? n : 1, *stride);
	}
	*stride = sizeof(*c->aliases);
	c->n_aliases = n;
	return c->aliases = calloc(n ? n : 1, *stride);
}

static int walk_list(struct ld *ld, const struct key *e, const char *jp, json_t *v)
{
	size_t n = json_array_size(v), stride, i;
	char *base = alloc_elems(ld, e->scope, n, &stride);
	char ejp[256], pat[64];
	size_t outer = ld->index; /* a list inside a list element (aliases[].ras) */
	json_t *el;

	if (!base)
		return RC_NOMEM;
	snprintf(pat, sizeof(pat), "%s[]", e->path);
	json_array_foreach(v, i, el) {
		jp_idx(ejp, sizeof(ejp), jp, i);
		if (!json_is_object(el))
			return fail(ld, ejp, "must be an object");
		ld->base[e->scope] = base + i * stride;
		ld->index = i;
		int rc = walk_obj(ld, pat, ejp, el);
		if (rc)
			return rc;
	}
	if (e->scope == S_RA)
		ld->index = outer;
	return 0;
}

static int walk_map(struct ld *ld, const struct key *e, const char *jp, json_t *v)
{
	size_t stride, i = 0;
	char *base = alloc_elems(ld, e->scope, json_object_size(v), &stride);
	char ejp[256], pat[64];
	const char *name;
	json_t *el;

	if (!base)
		return RC_NOMEM;
	snprintf(pat, sizeof(pat), "%s.<name>", e->path);
	json_object_foreach(v, name, el) {
		child_jp(ejp, sizeof(ejp), jp, name);
		if (!name_ok(name))
			return fail(ld, ejp, "name must match [A-Za-z0-9._-]{1,64}");
		if (!json_is_object(el))
			return fail(ld, ejp, "must be an object");
		struct cfg_profile *p = (struct cfg_profile *)(base + i++ * stride);
		if (!(p->name = strdup(name)))
			return RC_NOMEM;
		ld->base[e->scope] = p;
		int rc = walk_obj(ld, pat, ejp, el);
		if (rc)
			return rc;
	}
	return 0;
}

static int store_strs(struct ld *ld, const struct key *e, const char *jp, json_t *v, void *field)
{
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i;
	json_t *el;

	json_array_foreach(v, i, el) {
		if (!json_is_string(el)) {
			char ejp[256];
			jp_idx(ejp, sizeof(ejp), jp, i);
			return fail(ld, ejp, "must be a string");
		}
	}
	if (e->conv)
		return e->conv(ld, jp, v, field);
	if (i && !(*arr = calloc(i, sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, el) {
		if (!((*arr)[i] = strdup(json_string_value(el))))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static bool type_ok(const struct key *e, json_t *v)
{
	switch (e->type) {
	case K_OBJ:
		return json_is_object(v);
	case K_LIST:
		return json_is_array(v) && (long)json_array_size(v) >= e->min &&
		       (long)json_array_size(v) <= e->max;
	case K_MAP:
		return json_is_object(v) && (long)json_object_size(v) <= e->max;
	case K_STR:
		return json_is_string(v);
	case K_STR_NULL:
		return json_is_string(v) || json_is_null(v);
	case K_INT:
	case K_SIZE:
		return json_is_integer(v) && json_integer_value(v) >= e->min &&
		       json_integer_value(v) <= e->max;
	case K_BOOL:
		return json_is_boolean(v);
	case K_STRS:
		return (json_is_null(v) && e->def && strcmp(e->def, "null") == 0) ||
		       (json_is_array(v) && (long)json_array_size(v) >= e->min &&
			(long)json_array_size(v) <= e->max);
	}
	return false;
}

static int apply(struct ld *ld, const struct key *e, const char *jp, json_t *v)
{
	void *field = (char *)ld->base[e->scope] + e->off;

	if (!type_ok(e, v))
		return type_error(ld, e, jp);
	switch (e->type) {
	case K_OBJ:
		return walk_obj(ld, e->path, jp, v);
	case K_LIST:
		return walk_list(ld, e, jp, v);
	case K_MAP:
		return walk_map(ld, e, jp, v);
	case K_STRS:
		return json_is_null(v) ? 0 : store_strs(ld, e, jp, v, field);
	default:
		break;
	}
	if (e->conv)
		return e->conv(ld, jp, v, field);
	if (e->type == K_SIZE)
		*(size_t *)field = (size_t)json_integer_value(v);
	else if (e->type == K_INT)
		*(int *)field = (int)json_integer_value(v);
	else if (e->type == K_BOOL)
		*(bool *)field = json_is_true(v);
	else if (json_is_string(v) && !(*(char **)field = strdup(json_string_value(v))))
		return RC_NOMEM;
	return 0;
}

static int walk_obj(struct ld *ld, const char *pat, const char *jp, json_t *obj)
{
	const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	const char *name;
	json_t *v;
	char cjp[256];

	json_object_foreach(obj, name, v) {
		size_t i = 0;
		while (i < nkeys && !(is_child(&keys[i], pat) && strcmp(last_dot(keys[i].path), name) == 0))
			i++;
		if (i == nkeys)
			return fail(ld, jp, "unknown key \"%s\"", name);
	}
	for (size_t i = 0; i < nkeys; i++) {
		const struct key *e = &keys[i];
		json_t *def = NULL;
		if (!is_child(e, pat))
			continue;
		child_jp(cjp, sizeof(cjp), jp, last_dot(e->path));
		if (!(v = json_object_get(obj, last_dot(e->path)))) {
			if (!e->def)
				return fail(ld, cjp, "required key is missing");
			if (!(v = def = json_loads(e->def, JSON_DECODE_ANY, NULL)))
				return RC_NOMEM;
		}
		int rc = apply(ld, e, cjp, v);
		json_decref(def);
		if (rc)
			return rc;
	}
	return 0;
}

int cfg_table_apply(struct cfg *cfg, struct json_t *root, char *err, size_t errlen)
{
	struct ld ld = {.cfg = cfg, .err = err, .errlen = errlen};

	ld.base[S_ROOT] = cfg;
	ld.base[S_FILES] = &cfg->ca_files;
	if (!json_is_object(root))
		return fail(&ld, "", "must be an object");
	int rc = walk_obj(&ld, "", "", root);
	if (rc == RC_NOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* ---- documentation ---- */

static const char *type_name(enum ktype t)
{
	static const char *const names[] = {"object", "array of objects", "object of objects",
					    "string", "string or null", "integer", "integer", "boolean",
					    "array of strings"};
	return names[t];
}

bool cfg_doc_key(size_t i, struct cfg_doc *out)
{
	if (i >= sizeof(keys) / sizeof(keys[0]))
		return false;
	out->path = keys[i].path;
	out->type = type_name(keys[i].type);
	if (keys[i].type == K_STRS && keys[i].def && strcmp(keys[i].def, "null") == 0)
		out->type = "array of strings or null";
	out->def = keys[i].def;
	out->doc = keys[i].doc;
	return true;
}

void cfg_doc_markdown(FILE *f)
{
	struct cfg_doc d;
	const char *sect = NULL;

	for (size_t i = 0; cfg_doc_key(i, &d); i++) {
		size_t n = strcspn(d.path, ".[");
		if (!sect || strncmp(sect, d.path, n) != 0 || (sect[n] != '.' && sect[n] != '[' && sect[n]))
			fprintf(f, "%s### `%.*s`\n\n| Key | Type | Default | Meaning |\n|---|---|---|---|\n",
				sect ? "\n" : "", (int)n, d.path);
		sect = d.path;
		fprintf(f, "| `%s` | %s | %s%s%s | %s |\n", d.path, d.type, d.def ? "`" : "",
			d.def ? d.def : "required", d.def ? "`" : "", d.doc);
	}
}
