/*
 * core/cfg_conv.c - what the key table's files share: path-precise
 * messages, and the converters of more than one section (paths relative to
 * the config file, lists of them, named bit sets). Calls nothing in the
 * other core/cfg*.c files (see core/cfg_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "core/cfg_int.h"

static int verrf(char *err, size_t len, const char *jp, const char *fmt, va_list ap)
{
	int n = snprintf(err, len, "%s: ", jp[0] ? jp : "(root)");

	if (n >= 0 && (size_t)n < len)
		vsnprintf(err + n, len - (size_t)n, fmt, ap);
	return RC_CONFIG;
}

int cfg_fail(struct cfg_ld *ld, const char *jp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(ld->err, ld->errlen, jp, fmt, ap);
	va_end(ap);
	return RC_CONFIG;
}

int cfg_errf(char *err, size_t len, const char *jp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrf(err, len, jp, fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return RC_CONFIG;
}

void cfg_jp_idx(char *buf, size_t len, const char *jp, size_t i)
{
	if (snprintf(buf, len, "%s[%zu]", jp, i) >= (int)len)
		buf[len - 1] = '\0';
}

bool cfg_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Absolute path of p, relative to the config file's directory. */
char *cfg_resolve(const struct cfg *cfg, const char *p)
{
	char *out = NULL;

	if (p[0] == '/')
		return strdup(p);
	if (asprintf(&out, "%s/%s", cfg->base_dir, p) < 0)
		return NULL;
	return out;
}

int cfg_conv_dir(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	if (json_string_length(v) == 0)
		return cfg_fail(ld, jp, "must not be empty");
	return (*(char **)field = cfg_resolve(ld->cfg, json_string_value(v))) ? 0 : RC_NOMEM;
}

int cfg_conv_file(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	if (json_is_null(v))
		return 0;
	return cfg_conv_dir(ld, jp, v, field);
}

int cfg_conv_key(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s;

	if (json_is_null(v))
		return 0;
	s = json_string_value(v);
	if (strncmp(s, "pkcs11:", 7) == 0) /* RFC 7512: kept as written, core/key.c parses it */
		return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
	return cfg_conv_dir(ld, jp, v, field);
}

int cfg_conv_tls_version(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "1.2") == 0)
		*(int *)field = 0x0303; /* TLS1_2_VERSION */
	else if (strcmp(s, "1.3") == 0)
		*(int *)field = 0x0304; /* TLS1_3_VERSION */
	else
		return cfg_fail(ld, jp, "must be \"1.2\" or \"1.3\"");
	return 0;
}

int cfg_conv_files(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i;
	json_t *e;

	if (json_is_null(v))
		return 0;
	if (json_array_size(v) && !(*arr = calloc(json_array_size(v), sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, e)
	{
		char ejp[256];
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		int rc = cfg_conv_dir(ld, ejp, e, &(*arr)[i]);
		if (rc)
			return rc;
		*n = i + 1;
	}
	return 0;
}

/* OR the bits of the named entries of v into *field. */
int cfg_conv_bits(struct cfg_ld *ld, const char *jp, json_t *v, unsigned *field,
		  const struct cfg_named_bit *tab, size_t ntab, const char *what)
{
	size_t i, k;
	json_t *e;

	*field = 0;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		char ejp[256];
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		for (k = 0; k < ntab && strcmp(tab[k].name, s) != 0; k++)
			;
		if (k == ntab)
			return cfg_fail(ld, ejp, "unknown %s \"%s\"", what, s);
		if (*field & tab[k].bit)
			return cfg_fail(ld, ejp, "duplicate %s \"%s\"", what, s);
		*field |= tab[k].bit;
	}
	return 0;
}
