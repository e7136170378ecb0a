#include "ra/trust.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* Bound of the validated-intermediate cache per vendor. */
#define ICACHE_MAX 16

struct ra_trust_icache {
	struct icache_entry {
		unsigned char fp[32];
		X509_STORE *store;	      /* the intermediate alone, as partial-chain anchor */
		time_t not_before, not_after; /* intersection over intermediate..anchor */
	} e[ICACHE_MAX];
	size_t n, next;
};

static void icache_free(struct ra_trust_icache *c)
{
	for (size_t i = 0; c && i < c->n; i++)
		X509_STORE_free(c->e[i].store);
	free(c);
}

struct ra_trust *ra_trust_new(void)
{
	struct ra_trust *t = calloc(1, sizeof(struct ra_trust));
	if (t)
		t->refs = 1;
	return t;
}

struct ra_trust *ra_trust_get1(struct ra_trust *t)
{
	if (t)
		t->refs++;
	return t;
}

void ra_trust_free(struct ra_trust *t)
{
	if (!t || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		X509_STORE_free(t->v[i].anchors);
		sk_X509_pop_free(t->v[i].intermediates, X509_free);
		icache_free(t->v[i].icache);
	}
	free(t->v);
	free(t);
}

static enum ra_serial_rule parse_rule(const char *rule)
{
	if (rule && strcmp(rule, "subject_cn") == 0)
		return RA_SERIAL_SUBJECT_CN;
	if (rule && strcmp(rule, "cert_serial") == 0)
		return RA_SERIAL_CERT;
	return RA_SERIAL_SUBJECT_SN;
}

int ra_trust_add_vendor(struct ra_trust *t, int64_t id, const char *name, const char *rule,
			bool allow_reenroll)
{
	struct ra_vendor *nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	struct ra_vendor *v;

	if (!nv)
		return RC_NOMEM;
	t->v = nv;
	v = &t->v[t->n];
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->rule = parse_rule(rule);
	v->allow_reenroll = allow_reenroll;
	v->name = strdup(name);
	v->anchors = X509_STORE_new();
	v->intermediates = sk_X509_new_null();
	v->icache = calloc(1, sizeof(*v->icache));
	t->n++; /* counted even on failure so that ra_trust_free releases it */
	if (!v->name || !v->anchors || !v->intermediates || !v->icache)
		return RC_NOMEM;
	return 0;
}

int ra_trust_add_cert(struct ra_trust *t, int64_t vendor_id, const char *kind,
		      const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	struct ra_vendor *v = NULL;
	int rc = RC_NOTFOUND;

	if (!x || p != der + len) {
		X509_free(x);
		return RC_DECODE;
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].id == vendor_id)
			v = &t->v[i];
	if (!v)
		goto out;
	if (strcmp(kind, "anchor") == 0)
		rc = X509_STORE_add_cert(v->anchors, x) ? 0 : RC_CRYPTO;
	else
		rc = sk_X509_push(v->intermediates, x) ? (x = NULL, 0) : RC_NOMEM;
out:
	X509_free(x);
	return rc;
}

static bool vendor_allowed(const char *name, char *const *allowed, size_t nallowed)
{
	if (nallowed == 0)
		return true;
	for (size_t i = 0; i < nallowed; i++)
		if (strcmp(allowed[i], name) == 0)
			return true;
	return false;
}

static const char *verr_text(int verr)
{
	switch (verr) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "vendor certificate (or its chain) has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "vendor certificate (or its chain) is not yet valid";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return "vendor certificate signature invalid";
	default:
		return "vendor certificate does not chain to a registered vendor trust anchor";
	}
}

static time_t to_time_t(const ASN1_TIME *t)
{
	struct tm tm;
	return ASN1_TIME_to_tm(t, &tm) ? timegm(&tm) : (time_t)-1;
}

/* Remember chain[1] (the signer's issuer) of a validated chain leaf..anchor. */
static void icache_put(struct ra_trust_icache *c, STACK_OF(X509) *chain)
{
	X509 *inter = sk_X509_num(chain) >= 3 ? sk_X509_value(chain, 1) : NULL;
	struct icache_entry e = { .not_before = 0, .not_after = (time_t)1 << 62 };
	unsigned int n = sizeof(e.fp);

	if (!inter || !X509_digest(inter, EVP_sha256(), e.fp, &n))
		return;
	for (size_t i = 0; i < c->n; i++)
		if (memcmp(c->e[i].fp, e.fp, sizeof(e.fp)) == 0)
			return;
	for (int i = 1; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		time_t nb = to_time_t(X509_get0_notBefore(x)),
		       na = to_time_t(X509_get0_notAfter(x));
		if (nb == (time_t)-1 || na == (time_t)-1)
			return;
		e.not_before = nb > e.not_before ? nb : e.not_before;
		e.not_after = na < e.not_after ? na : e.not_after;
	}
	if (!(e.store = X509_STORE_new()) || !X509_STORE_add_cert(e.store, inter)) {
		X509_STORE_free(e.store);
		return;
	}
	size_t slot = c->n;
	if (c->n < ICACHE_MAX) {
		c->n++;
	} else { /* full: replace round-robin */
		slot = c->next++ % ICACHE_MAX;
		X509_STORE_free(c->e[slot].store);
	}
	c->e[slot] = e;
}

static int verify_ctx(X509_STORE *store, X509 *signer, STACK_OF(X509) *chain, bool partial,
		      struct ra_trust_icache *cache)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int verr = X509_V_ERR_UNSPECIFIED;

	if (!ctx || !X509_STORE_CTX_init(ctx, store, signer, chain))
		goto out;
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT |
					      (partial ? X509_V_FLAG_PARTIAL_CHAIN : 0));
	verr = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	if (verr == X509_V_OK && cache)
		icache_put(cache, X509_STORE_CTX_get0_chain(ctx));
out:
	X509_STORE_CTX_free(ctx);
	return verr;
}

/* The fast path: signer's issuer, offered in certs, validated before. */
static bool verify_cached(const struct ra_vendor *v, X509 *signer, STACK_OF(X509) *certs)
{
	struct ra_trust_icache *c = v->icache;
	time_t now = time(NULL);

	for (int i = 0; c && c->n && i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		unsigned char fp[32];
		unsigned int n = sizeof(fp);
		if (x == signer || X509_check_issued(x, signer) != X509_V_OK ||
		    !X509_digest(x, EVP_sha256(), fp, &n))
			continue;
		for (size_t k = 0; k < c->n; k++)
			if (memcmp(c->e[k].fp, fp, sizeof(fp)) == 0 && now >= c->e[k].not_before &&
			    now <= c->e[k].not_after &&
			    verify_ctx(c->e[k].store, signer, NULL, true, NULL) == X509_V_OK)
				return true;
	}
	return false;
}

/* Full validation signer..anchor; caches the signer's issuer on success. */
static int verify_full(const struct ra_vendor *v, X509 *signer, STACK_OF(X509) *untrusted)
{
	STACK_OF(X509) *chain = sk_X509_dup(untrusted ? untrusted : v->intermediates);
	int verr = X509_V_ERR_UNSPECIFIED;

	if (!chain)
		return verr;
	if (untrusted)
		for (int i = 0; i < sk_X509_num(v->intermediates); i++)
			if (!sk_X509_push(chain, sk_X509_value(v->intermediates, i)))
				goto out;
	verr = verify_ctx(v->anchors, signer, chain, false, v->icache);
out:
	sk_X509_free(chain);
	return verr;
}

static int verify_with(const struct ra_vendor *v, X509 *signer, STACK_OF(X509) *untrusted)
{
	if (verify_cached(v, signer, untrusted) || verify_cached(v, signer, v->intermediates))
		return X509_V_OK;
	return verify_full(v, signer, untrusted);
}

int ra_trust_authenticate(const struct ra_trust *t, char *const *allowed, size_t nallowed,
			  X509 *signer, STACK_OF(X509) *untrusted, struct ra_auth *auth)
{
	auth->vendor = NULL;
	auth->verr = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
	auth->text = verr_text(auth->verr);
	for (size_t i = 0; t && i < t->n; i++) {
		const struct ra_vendor *v = &t->v[i];
		if (!vendor_allowed(v->name, allowed, nallowed))
			continue;
		int verr = verify_with(v, signer, untrusted);
		if (verr == X509_V_OK) {
			auth->vendor = v;
			auth->verr = X509_V_OK;
			auth->text = NULL;
			return 0;
		}
		/* Prefer the most telling reason: a chain that reached an anchor
		 * but failed on time says more than "unknown issuer". */
		if (auth->verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    auth->verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
			auth->verr = verr;
	}
	auth->text = verr_text(auth->verr);
	return RC_PERM;
}

static int copy_printable(const unsigned char *s, int len, char *buf, size_t buflen)
{
	if (len <= 0)
		return RC_NOTFOUND;
	if ((size_t)len >= buflen || len > 128)
		return RC_TOOBIG;
	for (int i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return RC_INVAL;
	memcpy(buf, s, (size_t)len);
	buf[len] = '\0';
	return 0;
}

int ra_trust_device_serial(enum ra_serial_rule rule, X509 *cert, char *buf, size_t buflen)
{
	if (rule == RA_SERIAL_CERT) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		int rc = hex ? copy_printable((unsigned char *)hex, (int)strlen(hex), buf, buflen)
			     : RC_NOMEM;
		OPENSSL_free(hex);
		BN_free(bn);
		return rc;
	}
	int nid = rule == RA_SERIAL_SUBJECT_CN ? NID_commonName : NID_serialNumber;
	const X509_NAME *name = X509_get_subject_name(cert);
	int idx = X509_NAME_get_index_by_NID(name, nid, -1);
	if (idx < 0)
		return RC_NOTFOUND;
	/* Two serial attributes would make the identity ambiguous. */
	if (X509_NAME_get_index_by_NID(name, nid, idx) >= 0)
		return RC_INVAL;
	ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
	unsigned char *utf8 = NULL;
	int len = ASN1_STRING_to_UTF8(&utf8, d);
	int rc = copy_printable(utf8, len, buf, buflen);
	OPENSSL_free(utf8);
	return rc;
}

int ra_trust_spki_fp(X509 *x, unsigned char out[32])
{
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	int ok = len > 0 && EVP_Digest(der, (size_t)len, out, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return ok ? 0 : RC_CRYPTO;
}

int ra_trust_cert_fp(X509 *x, unsigned char out[32])
{
	unsigned int n = 32;
	return X509_digest(x, EVP_sha256(), out, &n) ? 0 : RC_CRYPTO;
}
