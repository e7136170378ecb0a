/*
 * core/cfg_int.h - internal to core/cfg*.c: the declarative key table of
 * the configuration file, split by section, and what its files share.
 *
 *   core/cfg.c               snapshot lifecycle: cfg_load (JSON, then the
 *                            table, then the finishing pass: profile
 *                            references, CA material, cross-key checks),
 *                            cfg_get1, cfg_free, lookups
 *   core/cfg_table.c         the engine: walker, type checks, defaults,
 *                            unknown keys, docs
 *   core/cfg_keys_server.c   log, listen, workers, http, data_dir, database,
 *                            sweep_interval_s, limits
 *   core/cfg_keys_ca.c       ca, tokens, crl
 *   core/cfg_keys_profile.c  profiles
 *   core/cfg_keys_alias.c    aliases
 *   core/cfg_conv.c          messages and converters the files above share
 *
 * Calls go one way: cfg.c -> cfg_table.c -> cfg_keys_*.c -> cfg_conv.c
 * (cfg.c calls only cfg_table_apply; the engine reads the section tables
 * and uses cfg_conv.c's messages). Nothing calls back into cfg.c. A
 * converter checks one key (and may look at keys the walker applied before
 * it, in table order); whatever needs the whole snapshot is the finishing
 * pass in cfg.c.
 *
 * Main thread only (config load).
 */
#ifndef CMPGW_CORE_CFG_INT_H
#define CMPGW_CORE_CFG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/cfg.h"

/* K_SIZE: an integer stored as size_t */
enum cfg_ktype { K_OBJ, K_LIST, K_MAP, K_STR, K_STR_NULL, K_INT, K_SIZE, K_BOOL, K_STRS };
/* Which struct a key's offset is into. */
enum cfg_kscope { S_ROOT, S_LISTEN, S_PROFILE, S_ALIAS, S_FILES, S_RA, S_PRINCIPAL, S_N };

/* The walker's state while one file is applied. */
struct cfg_ld {
	struct cfg *cfg;
	void *base[S_N];
	size_t index; /* current list element */
	char *err;
	size_t errlen;
};

/* Check v (type already checked) and store it at field. 0, RC_CONFIG with
 * the message in ld->err (through cfg_fail), or RC_NOMEM. */
typedef int cfg_conv_fn(struct cfg_ld *ld, const char *jp, json_t *v, void *field);

struct cfg_key {
	const char *path; /* "listen[].port", "profiles.<name>.subject" */
	enum cfg_ktype type;
	enum cfg_kscope scope; /* scope of off, or of the elements for K_LIST/K_MAP */
	size_t off;
	const char *def;   /* default as JSON text; NULL = required */
	long min, max;	   /* integer range, or entry count for arrays/maps */
	cfg_conv_fn *conv; /* NULL = plain store */
	const char *doc;
};

/* The keys of one top-level section, in documentation order. */
struct cfg_keys {
	const struct cfg_key *v;
	size_t n;
};

// clang-format off
#define CFG_KEYS(tab) { (tab), sizeof(tab) / sizeof((tab)[0]) }
// clang-format on

/* Offsets of table entries, by scope */
#define R(f)  S_ROOT, offsetof(struct cfg, f)
#define L(f)  S_LISTEN, offsetof(struct cfg_listen, f)
#define P(f)  S_PROFILE, offsetof(struct cfg_profile, f)
#define A(f)  S_ALIAS, offsetof(struct cfg_alias, f)
#define F(f)  S_FILES, offsetof(struct cfg_ca_files, f)
#define RA(f) S_RA, offsetof(struct cfg_ra, f)
#define PR(f) S_PRINCIPAL, offsetof(struct cfg_principal, f)

/* K_STRS fields are stored as a (char **, size_t) pair: check the layout */
#define CFG_STRS_PAIR(type, v, n)                                                                  \
	_Static_assert(offsetof(type, n) == offsetof(type, v) + sizeof(char **),                   \
		       #type "." #n " must follow " #v)

/* The sections, one per top-level key (core/cfg_keys_*.c); the engine
 * walks and documents them in the order of its list. */
extern const struct cfg_keys cfg_keys_log, cfg_keys_listen, cfg_keys_workers, cfg_keys_http,
	cfg_keys_data_dir, cfg_keys_database, cfg_keys_sweep, cfg_keys_limits, cfg_keys_ops,
	cfg_keys_admin, cfg_keys_pkcs11;
extern const struct cfg_keys cfg_keys_ca, cfg_keys_tokens, cfg_keys_crl;
extern const struct cfg_keys cfg_keys_profiles;
extern const struct cfg_keys cfg_keys_aliases;

/* Walk the parsed JSON root through the key table into cfg (which must
 * have base_dir set). 0, RC_CONFIG with the message in err, RC_NOMEM. */
int cfg_table_apply(struct cfg *cfg, json_t *root, char *err, size_t errlen) WUR;

/* ---- shared by the table files (core/cfg_conv.c) ---- */

/* "jp: <message>" in ld->err ("(root)" for the empty path); RC_CONFIG. */
int cfg_fail(struct cfg_ld *ld, const char *jp, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "jp[i]" into buf; a truncated path in a message is fine */
void cfg_jp_idx(char *buf, size_t len, const char *jp, size_t i);
/* [A-Za-z0-9._-]{1,64}: profile names, alias labels */
bool cfg_name_ok(const char *s);
/* Absolute path of p, relative to the config file's directory; NULL on
 * allocation failure (caller frees). */
char *cfg_resolve(const struct cfg *cfg, const char *p);

/* A path relative to the config file, not empty (char *) */
cfg_conv_fn cfg_conv_dir;
/* The same, or null (char *, left NULL) */
cfg_conv_fn cfg_conv_file;
/* A private key: a "pkcs11:" URI (RFC 7512) kept as written, else a file
 * path as cfg_conv_file (char *, left NULL for null) */
cfg_conv_fn cfg_conv_key;
/* "1.2" or "1.3" into TLS1_2_VERSION / TLS1_3_VERSION (int) */
cfg_conv_fn cfg_conv_tls_version;
/* An array of such paths, or null (char **, size_t pair) */
cfg_conv_fn cfg_conv_files;

struct cfg_named_bit {
	const char *name;
	unsigned bit;
};

/* OR the bits of the named entries of the array v into *field; an unknown
 * or repeated name is "unknown <what> \"x\"" / "duplicate <what> \"x\"". */
int cfg_conv_bits(struct cfg_ld *ld, const char *jp, json_t *v, unsigned *field,
		  const struct cfg_named_bit *tab, size_t ntab, const char *what);

#endif
