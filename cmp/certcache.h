/*
 * cmp/certcache.h - a bounded cache of decoded certificates, keyed by their
 * exact DER, so that certificates that repeat across messages (a vendor CA
 * certificate sent by every device, the device certificate of an ir sent
 * again in its certConf) are parsed once.
 *
 * Why: in OpenSSL 3.0 every X509 decode builds a provider decoder context
 * for its public key, which costs more than an ECDSA verification
 * (BENCHMARKS.md). This caches parsing only, never a trust decision: a hit
 * is the object d2i_X509 makes of the same bytes (the full DER is compared;
 * the hash only picks the set).
 *
 * Certificates out of the cache are shared between requests, so callers
 * must not modify them (no X509_set_*, no ex_data). A certificate whose key
 * lacks its domain parameters is never cached: chain validation would copy
 * them in from the issuer (X509_get_pubkey_parameters), a modification.
 *
 * Threads: one cache per worker, used by that worker's loop only.
 */
#ifndef CMPGW_CMP_CERTCACHE_H
#define CMPGW_CMP_CERTCACHE_H

#include <stddef.h>

#include <openssl/x509.h>

/* Bound: CMP_CERTCACHE_SETS * CMP_CERTCACHE_WAYS certificates of at most
 * CMP_CERTCACHE_MAX_DER bytes each; larger ones are decoded, not cached. */
#define CMP_CERTCACHE_SETS    64
#define CMP_CERTCACHE_WAYS    4
#define CMP_CERTCACHE_MAX_DER 8192

struct cmp_certcache;

/* New empty cache, or NULL. */
struct cmp_certcache *cmp_certcache_new(void);
/* Free c and drop its references (the X509s live on where up-ref'd); NULL ok. */
void cmp_certcache_free(struct cmp_certcache *c);

/*
 * The certificate of exactly der[0..len): a new reference (get1), from the
 * cache or decoded (and then cached, evicting the least recently used entry
 * of its set). NULL when d2i_X509 fails on these bytes or does not consume
 * all of them. c may be NULL: then it just decodes.
 */
X509 *cmp_certcache_get1(struct cmp_certcache *c, const unsigned char *der, size_t len);

/* Counters for tests and logs. */
struct cmp_certcache_stats {
	unsigned long hits, misses, uncacheable;
};
void cmp_certcache_stats(const struct cmp_certcache *c, struct cmp_certcache_stats *out);

#endif
