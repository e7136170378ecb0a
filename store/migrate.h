/*
 * store/migrate.h - the schema compiled into the binary: versioned
 * migrations and repeatable functions (the rules: store/meson.build).
 *
 * Tables and data changes live in store/migrations/NNN_name.sql, applied
 * once each and recorded in schema_migrations(version, name, applied_at).
 * Every SQL function lives in store/functions/cmpgw_<name>.sql, (re)applied
 * when its SHA-256 differs from the one recorded in
 * schema_functions(name, sha256, applied_at), or after any migration ran.
 * Both are embedded at build time (store/meson.build lists the files).
 *
 * Blocking: start-up and CLI only, never on a worker loop.
 */
#ifndef CMPGW_STORE_MIGRATE_H
#define CMPGW_STORE_MIGRATE_H

#include <stddef.h>

#include "core/rc.h"

struct store_conn;

struct store_migration {
	int version;
	const char *name;
	const char *sql;
};

struct store_function {
	const char *name;   /* cmpgw_<name>, from the file name */
	const char *sha256; /* of the file, lowercase hex */
	const char *sql;
};

/* The compiled-in tables (generated): ascending versions; functions in
 * the order of store/meson.build. A migration whose sql is "" only
 * documents history (its functions moved to store/functions/). */
extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;
extern const struct store_function store_functions[];
extern const size_t store_n_functions;

/*
 * Apply every missing migration in order, then every function whose hash
 * changed (all of them if a migration ran), in ONE transaction under a
 * transaction-scoped advisory lock: concurrent starters wait, then find
 * the work done, and no node ever sees migrations without the functions
 * that go with them. Idempotent. Returns RC_OK or RC_DB with the failing
 * migration or function and the server's message in errbuf (may be NULL);
 * on failure nothing is applied. A database with a newer migration than
 * this binary's is left alone, functions included (logged).
 */
int store_migrate_apply(struct store_conn *c, char *errbuf, size_t errlen) WUR;

/* Highest applied version (0 if none, or no schema_migrations yet). */
int store_migrate_version(struct store_conn *c, int *out) WUR;

/* Highest version compiled in. */
int store_migrate_latest(void);

#endif
