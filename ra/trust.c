#include "ra/trust.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* Bound of the validated-intermediate cache per vendor. */
#define ICACHE_MAX 16
/* Name-constrained certificates above a cached intermediate; a chain with
 * more is not cached (it always takes the full path). */
#define ICACHE_NC_MAX 4

struct ra_trust_icache {
	struct icache_entry {
		unsigned char fp[32];
		X509_STORE *store;	      /* the intermediate alone, as partial-chain anchor */
		time_t not_before, not_after; /* intersection over intermediate..anchor */
		/* nameConstraints of the certificates above the intermediate
		 * (RFC 5280 4.2.1.10: they bind every certificate below them,
		 * the leaf included), which a partial chain would not see */
		NAME_CONSTRAINTS *nc[ICACHE_NC_MAX];
		int n_nc;
	} e[ICACHE_MAX];
	size_t n, next;
};

static void icache_free(struct ra_trust_icache *c)
{
	for (size_t i = 0; c && i < c->n; i++) {
		X509_STORE_free(c->e[i].store);
		for (int k = 0; k < c->e[i].n_nc; k++)
			NAME_CONSTRAINTS_free(c->e[i].nc[k]);
	}
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
	v->x509_strict = true;
	v->name = strdup(name);
	v->anchors = X509_STORE_new();
	v->intermediates = sk_X509_new_null();
	v->icache = calloc(1, sizeof(*v->icache));
	t->n++; /* counted even on failure so that ra_trust_free releases it */
	if (!v->name || !v->anchors || !v->intermediates || !v->icache)
		return RC_NOMEM;
	return 0;
}

int ra_trust_set_strict(struct ra_trust *t, int64_t vendor_id, bool strict)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (t->v[i].id == vendor_id) {
			t->v[i].x509_strict = strict;
			return 0;
		}
	return RC_NOTFOUND;
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

/* Which failures only X509_V_FLAG_X509_STRICT raises (OpenSSL 3.0
 * check_extensions / check_chain): the lenient mode drops exactly these. */
static const char *strict_reason(int verr)
{
	switch (verr) {
	case X509_V_ERR_CA_BCONS_NOT_CRITICAL:
		return "basicConstraints not marked critical";
	case X509_V_ERR_CA_CERT_MISSING_KEY_USAGE:
		return "CA certificate without keyUsage";
	case X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER:
		return "authorityKeyIdentifier missing";
	case X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER:
		return "subjectKeyIdentifier missing";
	case X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL:
		return "authorityKeyIdentifier marked critical";
	case X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL:
		return "subjectKeyIdentifier marked critical";
	case X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA:
		return "pathLenConstraint on a non-CA certificate";
	case X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN:
		return "pathLenConstraint without keyUsage keyCertSign";
	case X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA:
		return "keyUsage keyCertSign on a non-CA certificate";
	case X509_V_ERR_ISSUER_NAME_EMPTY:
		return "empty issuer name";
	case X509_V_ERR_SUBJECT_NAME_EMPTY:
		return "empty subject name";
	case X509_V_ERR_EMPTY_SUBJECT_ALT_NAME:
		return "empty subjectAltName";
	case X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL:
		return "empty subject with a non-critical subjectAltName";
	case X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3:
		return "extensions in a certificate that is not version 3";
	case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
		return "EC key with explicit curve parameters";
	case X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY:
		return "signature algorithm inconsistent with the one signed";
	default:
		return NULL;
	}
}

/* The chain ends before a registered anchor. */
static bool no_anchor(int verr)
{
	return verr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
	       verr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
	       verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
	       verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       verr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

static const char *verr_reason(int verr)
{
	switch (verr) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "not yet valid";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return "signature invalid";
	case X509_V_ERR_INVALID_CA:
		return "not a CA (needs basicConstraints CA:TRUE and, with keyUsage, keyCertSign)";
	case X509_V_ERR_INVALID_NON_CA:
		return "a CA certificate where an end-entity certificate is required";
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		return "pathLenConstraint exceeded";
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
		return "keyUsage does not allow keyCertSign";
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return "keyUsage does not allow digitalSignature";
	case X509_V_ERR_PERMITTED_VIOLATION:
		return "name not permitted by the nameConstraints of a vendor CA";
	case X509_V_ERR_EXCLUDED_VIOLATION:
		return "name excluded by the nameConstraints of a vendor CA";
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
		return "unsupported critical extension";
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
		return "chain too long";
	default:
		if (no_anchor(verr))
			return "does not chain to a registered vendor trust anchor";
		return X509_verify_cert_error_string(verr);
	}
}

const char *ra_trust_verr_text(int verr, int depth, int chain_len, bool top_trusted, char *buf,
			       size_t len)
{
	const char *strict = strict_reason(verr);
	char who[64];

	if (depth <= 0)
		snprintf(who, sizeof(who), "vendor certificate");
	else if (top_trusted && depth == chain_len - 1)
		snprintf(who, sizeof(who), "vendor trust anchor");
	else
		snprintf(who, sizeof(who), "vendor CA certificate at depth %d", depth);
	if (strict)
		snprintf(buf, len, "%s: %s (strict X.509)", who, strict);
	else if (no_anchor(verr)) /* at whatever depth: one sentence, as before */
		snprintf(buf, len, "vendor certificate %s", verr_reason(verr));
	else
		snprintf(buf, len, "%s: %s", who, verr_reason(verr));
	return buf;
}

static time_t to_time_t(const ASN1_TIME *t)
{
	struct tm tm;
	return ASN1_TIME_to_tm(t, &tm) ? timegm(&tm) : (time_t)-1;
}

/* The outcome of one X509_verify_cert. */
struct vres {
	int verr, depth, len;
	bool top_trusted;
};

static void vres_text(const struct vres *r, struct ra_auth *a)
{
	a->verr = r->verr;
	a->depth = r->depth;
	a->text = ra_trust_verr_text(r->verr, r->depth, r->len, r->top_trusted, a->buf,
				     sizeof(a->buf));
}

/* Keep the nameConstraints of chain[2..] in e (chain[1] is the partial
 * chain's anchor, whose own constraints X509_verify_cert applies). */
static bool icache_nc(struct icache_entry *e, STACK_OF(X509) *chain)
{
	for (int i = 2; i < sk_X509_num(chain); i++) {
		int crit = 0;
		NAME_CONSTRAINTS *nc = X509_get_ext_d2i(sk_X509_value(chain, i),
							NID_name_constraints, &crit, NULL);
		if (!nc && crit != -1)
			return false; /* present but undecodable: never cached */
		if (!nc)
			continue;
		if (e->n_nc == ICACHE_NC_MAX) {
			NAME_CONSTRAINTS_free(nc);
			return false;
		}
		e->nc[e->n_nc++] = nc;
	}
	return true;
}

static void icache_entry_clear(struct icache_entry *e)
{
	X509_STORE_free(e->store);
	for (int k = 0; k < e->n_nc; k++)
		NAME_CONSTRAINTS_free(e->nc[k]);
	e->n_nc = 0;
	e->store = NULL;
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
	if (!icache_nc(&e, chain) || !(e.store = X509_STORE_new()) ||
	    !X509_STORE_add_cert(e.store, inter)) {
		icache_entry_clear(&e);
		return;
	}
	size_t slot = c->n;
	if (c->n < ICACHE_MAX) {
		c->n++;
	} else { /* full: replace round-robin */
		slot = c->next++ % ICACHE_MAX;
		icache_entry_clear(&c->e[slot]);
	}
	c->e[slot] = e;
}

static void verify_ctx(X509_STORE *store, X509 *signer, STACK_OF(X509) *chain, unsigned long flags,
		       struct ra_trust_icache *cache, struct vres *r)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();

	*r = (struct vres){ .verr = X509_V_ERR_UNSPECIFIED };
	if (!ctx || !X509_STORE_CTX_init(ctx, store, signer, chain))
		goto out;
	X509_STORE_CTX_set_flags(ctx, flags);
	r->verr = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
	r->len = built ? sk_X509_num(built) : 0;
	r->depth = X509_STORE_CTX_get_error_depth(ctx);
	r->top_trusted = r->len > X509_STORE_CTX_get_num_untrusted(ctx);
	if (r->verr == X509_V_OK && cache)
		icache_put(cache, built);
out:
	X509_STORE_CTX_free(ctx);
}

static unsigned long vflags(const struct ra_vendor *v)
{
	return v->x509_strict ? X509_V_FLAG_X509_STRICT : 0;
}

static bool has_dns_san(X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool dns = false;

	for (int i = 0; i < sk_GENERAL_NAME_num(gens) && !dns; i++)
		dns = sk_GENERAL_NAME_value(gens, i)->type == GEN_DNS;
	GENERAL_NAMES_free(gens);
	return dns;
}

/* The nameConstraints above the cached CA, applied to the leaf as
 * X509_verify_cert's check_name_constraints does (RFC 5280 4.2.1.10; the
 * commonName too when no DNS subjectAltName, as OpenSSL does). */
static bool icache_nc_ok(const struct icache_entry *e, X509 *leaf)
{
	for (int k = 0; k < e->n_nc; k++) {
		if (NAME_CONSTRAINTS_check(leaf, e->nc[k]) != X509_V_OK)
			return false;
		if (!has_dns_san(leaf) && NAME_CONSTRAINTS_check_CN(leaf, e->nc[k]) != X509_V_OK)
			return false;
	}
	return true;
}

/* The fast path: signer's issuer, offered in certs, validated before. A
 * failure here is not an answer: the full path gives it. */
static bool verify_cached(const struct ra_vendor *v, X509 *signer, STACK_OF(X509) *certs)
{
	struct ra_trust_icache *c = v->icache;
	time_t now = time(NULL);
	struct vres r;

	for (int i = 0; c && c->n && i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);
		unsigned char fp[32];
		unsigned int n = sizeof(fp);
		if (x == signer || X509_check_issued(x, signer) != X509_V_OK ||
		    !X509_digest(x, EVP_sha256(), fp, &n))
			continue;
		for (size_t k = 0; k < c->n; k++) {
			const struct icache_entry *e = &c->e[k];
			if (memcmp(e->fp, fp, sizeof(fp)) != 0 || now < e->not_before ||
			    now > e->not_after)
				continue;
			verify_ctx(e->store, signer, NULL, vflags(v) | X509_V_FLAG_PARTIAL_CHAIN,
				   NULL, &r);
			if (r.verr == X509_V_OK && icache_nc_ok(e, signer))
				return true;
		}
	}
	return false;
}

/* Full validation signer..anchor; caches the signer's issuer on success. */
static void verify_full(const struct ra_vendor *v, X509 *signer, STACK_OF(X509) *untrusted,
			struct vres *r)
{
	STACK_OF(X509) *chain = sk_X509_dup(untrusted ? untrusted : v->intermediates);

	*r = (struct vres){ .verr = X509_V_ERR_UNSPECIFIED };
	if (!chain)
		return;
	if (untrusted)
		for (int i = 0; i < sk_X509_num(v->intermediates); i++)
			if (!sk_X509_push(chain, sk_X509_value(v->intermediates, i)))
				goto out;
	verify_ctx(v->anchors, signer, chain, vflags(v), v->icache, r);
out:
	sk_X509_free(chain);
}

static void verify_with(const struct ra_vendor *v, X509 *signer, STACK_OF(X509) *untrusted,
			struct vres *r)
{
	if (verify_cached(v, signer, untrusted) || verify_cached(v, signer, v->intermediates)) {
		*r = (struct vres){ .verr = X509_V_OK };
		return;
	}
	verify_full(v, signer, untrusted, r);
}

static bool unknown_issuer(int verr)
{
	return verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	       verr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
}

/* The leaf rules of both modes (TS 33.310 9.5.3: the vendor certificate
 * is an end-entity certificate that signs the request, RFC 5280 4.2.1.3). */
static int leaf_check(X509 *leaf, struct ra_auth *a)
{
	int verr = X509_V_OK;

	if (X509_check_ca(leaf) != 0)
		verr = X509_V_ERR_INVALID_NON_CA;
	else if ((X509_get_extension_flags(leaf) & EXFLAG_KUSAGE) &&
		 !(X509_get_key_usage(leaf) & KU_DIGITAL_SIGNATURE))
		verr = X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE;
	if (verr == X509_V_OK)
		return 0;
	a->vendor = NULL;
	a->verr = verr;
	a->depth = 0;
	a->text = ra_trust_verr_text(verr, 0, 1, false, a->buf, sizeof(a->buf));
	return RC_PERM;
}

/* Try the vendors that allowed accepts (accepted) or those it does not. */
static int try_vendors(const struct ra_trust *t, char *const *allowed, size_t nallowed,
		       bool accepted, X509 *signer, STACK_OF(X509) *untrusted, struct vres *best)
{
	for (size_t i = 0; t && i < t->n; i++) {
		const struct ra_vendor *v = &t->v[i];
		struct vres r;
		if (vendor_allowed(v->name, allowed, nallowed) != accepted)
			continue;
		verify_with(v, signer, untrusted, &r);
		if (r.verr == X509_V_OK)
			return (int)i;
		/* Prefer the most telling reason: a chain that reached an anchor
		 * but failed on time says more than "unknown issuer". */
		if (unknown_issuer(best->verr))
			*best = r;
	}
	return -1;
}

int ra_trust_authenticate(const struct ra_trust *t, char *const *allowed, size_t nallowed,
			  X509 *signer, STACK_OF(X509) *untrusted, struct ra_auth *auth)
{
	struct vres best = { .verr = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY };
	int i = try_vendors(t, allowed, nallowed, true, signer, untrusted, &best);

	memset(auth, 0, sizeof(*auth));
	if (i >= 0) {
		auth->vendor = &t->v[i];
		return leaf_check(signer, auth);
	}
	vres_text(&best, auth);
	return RC_PERM;
}

int ra_trust_authenticate_alias(const struct ra_trust *t, char *const *allowed, size_t nallowed,
				X509 *signer, STACK_OF(X509) *untrusted, struct ra_auth *auth)
{
	struct vres other = { .verr = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY };
	int rc = ra_trust_authenticate(t, allowed, nallowed, signer, untrusted, auth), i;

	if (rc == 0 || nallowed == 0 || !unknown_issuer(auth->verr))
		return rc;
	i = try_vendors(t, allowed, nallowed, false, signer, untrusted, &other);
	if (i < 0)
		return rc;
	if (leaf_check(signer, auth) != 0)
		return RC_PERM;
	auth->vendor = &t->v[i];
	auth->not_accepted = true;
	auth->verr = X509_V_OK;
	auth->text = NULL;
	return RC_UNSUPPORTED;
}

int ra_trust_check_ca(X509_STORE *anchors, STACK_OF(X509) *untrusted, X509 *ca, bool strict,
		      bool no_time, char *why, size_t whylen)
{
	struct vres r;
	char buf[192];
	const char *p;

	verify_ctx(anchors, ca, untrusted,
		   (strict ? X509_V_FLAG_X509_STRICT : 0) |
			   (no_time ? X509_V_FLAG_NO_CHECK_TIME : 0),
		   NULL, &r);
	if (r.verr == X509_V_OK)
		return 0;
	/* about the CA being registered (depth 0) or one above it */
	p = ra_trust_verr_text(r.verr, r.depth, r.len, r.top_trusted, buf, sizeof(buf));
	if (no_anchor(r.verr))
		p = "does not chain to an anchor of this vendor (through its registered "
		    "intermediates)";
	else if (strncmp(p, "vendor certificate: ", 20) == 0)
		p += 20;
	snprintf(why, whylen, "%s", p);
	return RC_PERM;
}

/* The probe's own faults (depth 0) are not the question. */
static int probe_cb(int ok, X509_STORE_CTX *ctx)
{
	return ok || X509_STORE_CTX_get_error_depth(ctx) == 0;
}

/* A throwaway certificate naming ca as its issuer (signed by an ephemeral
 * key, not by ca): validating it makes X509_verify_cert apply to ca every
 * check it applies to an issuing CA. Caller frees. */
static X509 *probe_new(X509 *ca)
{
	X509 *p = X509_new();
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509_NAME *n = X509_NAME_new();
	bool ok = p && k && n &&
		  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					     (const unsigned char *)"cmpgw registration probe", -1,
					     -1, 0) &&
		  X509_set_version(p, X509_VERSION_3) && X509_set_subject_name(p, n) &&
		  X509_set_issuer_name(p, X509_get_subject_name(ca)) &&
		  X509_gmtime_adj(X509_getm_notBefore(p), -60) &&
		  X509_gmtime_adj(X509_getm_notAfter(p), 3600) && X509_set_pubkey(p, k) &&
		  ASN1_INTEGER_set(X509_get_serialNumber(p), 1) && X509_sign(p, k, EVP_sha256());

	X509_NAME_free(n);
	EVP_PKEY_free(k);
	if (!ok) {
		X509_free(p);
		p = NULL;
	}
	return p;
}

int ra_trust_check_issuer(X509_STORE *anchors, STACK_OF(X509) *untrusted, X509 *ca, bool strict,
			  bool no_time, char *why, size_t whylen)
{
	X509 *probe = probe_new(ca);
	STACK_OF(X509) *chain = untrusted ? sk_X509_dup(untrusted) : sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = RC_NOMEM, verr, depth, len;
	char buf[192];
	const char *p;

	if (!probe || !chain || !ctx || !sk_X509_push(chain, ca) ||
	    !X509_STORE_CTX_init(ctx, anchors, probe, chain))
		goto out;
	X509_STORE_CTX_set_flags(ctx, (strict ? X509_V_FLAG_X509_STRICT : 0) |
					      (no_time ? X509_V_FLAG_NO_CHECK_TIME : 0));
	X509_STORE_CTX_set_verify_cb(ctx, probe_cb);
	verr = X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	depth = X509_STORE_CTX_get_error_depth(ctx);
	len = sk_X509_num(X509_STORE_CTX_get0_chain(ctx));
	rc = 0;
	if (len < 2) { /* ca was not taken as the probe's issuer: why not */
		verr = X509_check_issued(ca, probe);
		depth = 1;
		len = 2;
	} else if (verr != X509_V_OK && depth == 0) {
		verr = X509_V_OK; /* ignored by probe_cb */
	}
	if (verr == X509_V_OK)
		goto out;
	rc = RC_PERM;
	p = ra_trust_verr_text(verr, depth, len,
			       len > X509_STORE_CTX_get_num_untrusted(ctx) && depth == len - 1, buf,
			       sizeof(buf));
	if (depth == 1 && strchr(p, ':'))
		p = strchr(p, ':') + 2; /* about ca itself */
	snprintf(why, whylen, "%s", p);
out:
	X509_STORE_CTX_free(ctx);
	sk_X509_free(chain);
	X509_free(probe);
	return rc;
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
