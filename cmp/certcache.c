/*
 * cmp/certcache.c - set-associative cache of decoded certificates by DER
 * (see certcache.h): CMP_CERTCACHE_SETS sets of CMP_CERTCACHE_WAYS entries,
 * least recently used evicted within a set. Small and fixed: no rehashing,
 * no lists, bounded memory.
 */
#include "cmp/certcache.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

struct cc_entry {
	uint64_t hash;
	uint64_t used; /* tick of the last hit; 0 = empty */
	unsigned char *der;
	size_t len;
	X509 *x;
};

struct cmp_certcache {
	struct cc_entry e[CMP_CERTCACHE_SETS][CMP_CERTCACHE_WAYS];
	uint64_t tick;
	struct cmp_certcache_stats st;
};

struct cmp_certcache *cmp_certcache_new(void)
{
	return calloc(1, sizeof(struct cmp_certcache));
}

static void entry_clear(struct cc_entry *e)
{
	X509_free(e->x);
	OPENSSL_free(e->der);
	memset(e, 0, sizeof(*e));
}

void cmp_certcache_free(struct cmp_certcache *c)
{
	if (!c)
		return;
	for (size_t s = 0; s < CMP_CERTCACHE_SETS; s++)
		for (size_t w = 0; w < CMP_CERTCACHE_WAYS; w++)
			entry_clear(&c->e[s][w]);
	free(c);
}

/* FNV-1a: only a set index (the DER is compared in full), so it need not
 * resist collisions; a flood of colliding certificates only evicts. */
static uint64_t der_hash(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static X509 *decode(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (len == 0 || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* Shared objects must stay unmodified: see certcache.h. */
static int cacheable(X509 *x, size_t len)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	int ok = len <= CMP_CERTCACHE_MAX_DER && k && !EVP_PKEY_missing_parameters(k);

	ERR_clear_error(); /* X509_get0_pubkey of an undecodable key */
	return ok;
}

X509 *cmp_certcache_get1(struct cmp_certcache *c, const unsigned char *der, size_t len)
{
	struct cc_entry *set, *victim;
	unsigned char *copy;
	uint64_t h;
	X509 *x;

	if (!c)
		return decode(der, len);
	h = der_hash(der, len);
	set = c->e[h % CMP_CERTCACHE_SETS];
	victim = &set[0];
	for (size_t w = 0; w < CMP_CERTCACHE_WAYS; w++) {
		struct cc_entry *e = &set[w];
		if (e->used && e->hash == h && e->len == len && memcmp(e->der, der, len) == 0) {
			if (!X509_up_ref(e->x))
				return NULL;
			e->used = ++c->tick;
			c->st.hits++;
			return e->x;
		}
		if (e->used < victim->used)
			victim = e;
	}
	if (!(x = decode(der, len)))
		return NULL;
	c->st.misses++;
	if (!cacheable(x, len)) {
		c->st.uncacheable++;
		return x;
	}
	if (!(copy = OPENSSL_memdup(der, len)) || !X509_up_ref(x)) {
		OPENSSL_free(copy);
		return x; /* served, just not cached */
	}
	entry_clear(victim);
	*victim =
		(struct cc_entry){ .hash = h, .used = ++c->tick, .der = copy, .len = len, .x = x };
	return x;
}

void cmp_certcache_stats(const struct cmp_certcache *c, struct cmp_certcache_stats *out)
{
	if (c)
		*out = c->st;
	else
		memset(out, 0, sizeof(*out));
}
