/*
 * store/migrate.h - versioned schema migrations compiled into the binary.
 *
 * The SQL lives in store/migrations/NNN_name.sql and is embedded at build
 * time (store/meson.build lists the files). Applied versions are recorded
 * in schema_migrations(version, name, applied_at).
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

/* The compiled-in table, ascending versions (generated). */
extern const struct store_migration store_migrations[];
extern const size_t store_n_migrations;

/*
 * Apply every missing migration in order, each in its own transaction
 * under a transaction-scoped advisory lock (concurrent starters wait, then
 * find the work done). Idempotent. Returns RC_OK or RC_DB with the failing
 * migration and the server's message in errbuf (may be NULL). A database
 * newer than this binary is left alone (logged).
 */
int store_migrate_apply(struct store_conn *c, char *errbuf, size_t errlen) WUR;

/* Highest applied version (0 if none, or no schema_migrations yet). */
int store_migrate_version(struct store_conn *c, int *out) WUR;

/* Highest version compiled in. */
int store_migrate_latest(void);

#endif
