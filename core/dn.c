/*
 * core/dn.c - the distinguished-name parser (see core/dn.h for the syntax).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "core/dn.h"

#define DN_MAX_AVAS 64

struct ava {
	char type[64];
	char value[1024];
	size_t vlen;
	bool joined; /* '+' before it: same RDN as the previous AVA */
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse "type=value" up to an unescaped sep, '+' or the end. Returns the
 * position after the value, NULL on error. */
static const char *parse_ava(const char *s, char sep, struct ava *a)
{
	size_t t = 0, v = 0, keep = 0; /* keep: length up to the last escaped char */

	while (*s == ' ')
		s++;
	while (*s && *s != '=' && *s != sep && *s != '+' && t + 1 < sizeof(a->type))
		a->type[t++] = *s++;
	while (t && a->type[t - 1] == ' ')
		t--;
	a->type[t] = '\0';
	if (*s++ != '=' || !t)
		return NULL;
	while (*s == ' ')
		s++;
	for (; *s && *s != sep && *s != '+'; s++) {
		if (v + 1 >= sizeof(a->value))
			return NULL;
		if (*s != '\\') {
			a->value[v++] = *s;
			continue;
		}
		if (hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			a->value[v++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else if (s[1]) {
			a->value[v++] = *++s;
		} else {
			return NULL;
		}
		keep = v;
	}
	while (v > keep && a->value[v - 1] == ' ')
		v--;
	a->value[v] = '\0';
	a->vlen = v;
	return v ? s : NULL;
}

static ASN1_OBJECT *name_type(const char *type)
{
	// clang-format off
	static const int nids[] = {
		NID_commonName, NID_organizationName, NID_organizationalUnitName, NID_countryName,
		NID_localityName, NID_stateOrProvinceName, NID_serialNumber, NID_domainComponent,
		NID_pkcs9_emailAddress, NID_userId, NID_streetAddress, NID_title, NID_givenName,
		NID_surname, NID_dnQualifier, NID_pseudonym,
	};
	// clang-format on
	ASN1_OBJECT *o = NULL;

	/* a dotted OID must be exactly digits separated by single dots:
	 * OBJ_txt2obj reads "2.5..410" as 2.5.0.410 */
	if (type[0] >= '0' && type[0] <= '9') {
		for (const char *p = type; *p; p++)
			if (*p == '.' ? (p[1] < '0' || p[1] > '9') : (*p < '0' || *p > '9'))
				return NULL;
		return OBJ_txt2obj(type, 1);
	}
	o = OBJ_txt2obj(type, 0);

	for (size_t i = 0; !o && i < sizeof(nids) / sizeof(nids[0]); i++)
		if (strcasecmp(type, OBJ_nid2sn(nids[i])) == 0 ||
		    strcasecmp(type, OBJ_nid2ln(nids[i])) == 0)
			o = OBJ_nid2obj(nids[i]);
	return o;
}

static int add_ava(X509_NAME *n, const struct ava *a, int set)
{
	ASN1_OBJECT *o = name_type(a->type);
	const unsigned char *val = (const unsigned char *)a->value;
	int ok = 0;

	if (!o)
		return 0;
	ok = X509_NAME_add_entry_by_OBJ(n, o, MBSTRING_UTF8, val, (int)a->vlen, -1, set);
	/* a template's placeholder that the type's string table refuses: keep
	 * it as UTF8String, but only valid UTF-8 (else the name cannot be
	 * DER-encoded: i2d canonicalises every value through UTF-8) */
	if (!ok && strstr(a->value, "${") &&
	    ASN1_mbstring_copy(NULL, val, (int)a->vlen, MBSTRING_UTF8, B_ASN1_UTF8STRING) > 0) {
		ERR_clear_error();
		ok = X509_NAME_add_entry_by_OBJ(n, o, V_ASN1_UTF8STRING, val, (int)a->vlen, -1,
						set);
	}
	ASN1_OBJECT_free(o);
	return ok;
}

X509_NAME *dn_parse(const char *s)
{
	struct ava *avas = NULL;
	X509_NAME *n = NULL;
	size_t cnt = 0, i;
	bool slash = s && s[0] == '/';
	char sep = slash ? '/' : ',';

	if (!s || !s[0] || !(avas = calloc(DN_MAX_AVAS, sizeof(*avas))))
		return NULL;
	s += slash;
	for (bool join = false;;) {
		if (cnt == DN_MAX_AVAS || !(s = parse_ava(s, sep, &avas[cnt])))
			goto fail;
		avas[cnt++].joined = join;
		if (!*s)
			break;
		join = *s++ == '+';
	}
	if (!(n = X509_NAME_new()))
		goto fail;
	/* RFC 4514 lists the RDNs last-first; emit RDN by RDN, AVAs in order */
	for (size_t done = 0; done < cnt;) {
		size_t start, end;
		if (slash) {
			start = done;
		} else {
			for (start = cnt - done - 1; start > 0 && avas[start].joined; start--)
				;
		}
		for (end = start + 1; end < cnt && avas[end].joined; end++)
			;
		for (i = start; i < end; i++)
			if (!add_ava(n, &avas[i], i == start ? 0 : -1))
				goto fail;
		done += end - start;
	}
	free(avas);
	return n;
fail:
	X509_NAME_free(n);
	free(avas);
	return NULL;
}
