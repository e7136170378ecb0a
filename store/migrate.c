/*
 * store/migrate.c - apply the compiled-in migrations and functions (see
 * migrate.h; the rules are in store/meson.build).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/db_int.h"
#include "store/migrate.h"

/* Any constant works; all nodes must agree. "cmpgw_mg" as an int8. */
#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(7164793410406639463)"

static const char bootstrap_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
				    " version int PRIMARY KEY,"
				    " name text NOT NULL,"
				    " applied_at timestamptz NOT NULL DEFAULT now());"
				    "CREATE TABLE IF NOT EXISTS schema_functions ("
				    " name text PRIMARY KEY,"
				    " sha256 text NOT NULL,"
				    " applied_at timestamptz NOT NULL DEFAULT now())";

int store_migrate_latest(void)
{
	return store_n_migrations ? store_migrations[store_n_migrations - 1].version : 0;
}

static void rollback(struct store_conn *c)
{
	PGresult *r = PQexec(store_db_conn_raw(c), "ROLLBACK");

	PQclear(r);
}

static int bootstrap(struct store_conn *c, char *errbuf, size_t errlen)
{
	int rc;

	/* the lock first: concurrent CREATE TABLE IF NOT EXISTS can collide */
	if ((rc = store_conn_cmd(c, "BEGIN", errbuf, errlen)) != RC_OK)
		return rc;
	if ((rc = store_conn_cmd(c, MIGRATE_LOCK, errbuf, errlen)) != RC_OK ||
	    (rc = store_conn_cmd(c, bootstrap_sql, errbuf, errlen)) != RC_OK ||
	    (rc = store_conn_cmd(c, "COMMIT", errbuf, errlen)) != RC_OK)
		rollback(c);
	return rc;
}

/* Inside the locked transaction: is m recorded (under the same name)? */
static int applied(struct store_conn *c, const struct store_migration *m, bool *done, char *errbuf,
		   size_t errlen)
{
	char ver[16];
	const char *params[1] = { ver };
	PGresult *r = NULL;
	int rc;

	snprintf(ver, sizeof(ver), "%d", m->version);
	rc = store_conn_pq(c, "SELECT name FROM schema_migrations WHERE version = $1::int", 1,
			   params, NULL, NULL, 0, &r, NULL, errbuf, errlen);
	if (rc != RC_OK)
		return rc;
	*done = PQntuples(r) > 0;
	if (*done && strcmp(PQgetvalue(r, 0, 0), m->name) != 0) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen,
				 "migration %03d is recorded as \"%s\", this binary "
				 "calls it \"%s\"",
				 m->version, PQgetvalue(r, 0, 0), m->name);
		rc = RC_DB;
	}
	PQclear(r);
	return rc;
}

/* Inside the locked transaction: apply m unless recorded; *ran counts. */
static int apply_migration(struct store_conn *c, const struct store_migration *m, int *ran,
			   char *errbuf, size_t errlen)
{
	char ver[16], err[512] = "";
	const char *params[2] = { ver, m->name };
	PGresult *r = NULL;
	bool done = false;
	int rc;

	snprintf(ver, sizeof(ver), "%d", m->version);
	if ((rc = applied(c, m, &done, err, sizeof(err))) != RC_OK || done)
		goto out;
	log_info(NULL, "store: applying migration %03d_%s", m->version, m->name);
	if (m->sql[0] && (rc = store_conn_cmd(c, m->sql, err, sizeof(err))) != RC_OK)
		goto out;
	rc = store_conn_pq(c, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
			   2, params, NULL, NULL, 0, &r, NULL, err, sizeof(err));
	if (rc == RC_OK)
		(*ran)++;
out:
	PQclear(r);
	if (rc != RC_OK && errbuf && errlen)
		snprintf(errbuf, errlen, "migration %03d_%s: %s", m->version, m->name, err);
	return rc;
}

/* The hash recorded for name in rows (name, sha256), or NULL. */
static const char *recorded(PGresult *rows, const char *name)
{
	for (int i = 0; i < PQntuples(rows); i++)
		if (strcmp(PQgetvalue(rows, i, 0), name) == 0)
			return PQgetvalue(rows, i, 1);
	return NULL;
}

/*
 * Inside the locked transaction: (re)apply every function whose file
 * changed since it was recorded, or all of them (all: a migration ran and
 * may have dropped any, e.g. 015), in the order compiled in.
 */
static int apply_functions(struct store_conn *c, bool all, char *errbuf, size_t errlen)
{
	char err[512] = "";
	PGresult *rows = NULL, *r = NULL;
	const struct store_function *f = NULL;
	int rc, n = 0;

	rc = store_conn_pq(c, "SELECT name, sha256 FROM schema_functions", 0, NULL, NULL, NULL, 0,
			   &rows, NULL, err, sizeof(err));
	for (size_t i = 0; rc == RC_OK && i < store_n_functions; i++) {
		const char *have;
		const char *params[2];

		f = &store_functions[i];
		have = recorded(rows, f->name);
		if (!all && have && strcmp(have, f->sha256) == 0)
			continue;
		if (!all)
			log_info(NULL, "store: applying function %s (%s)", f->name,
				 have ? "changed" : "new");
		if ((rc = store_conn_cmd(c, f->sql, err, sizeof(err))) != RC_OK)
			break;
		params[0] = f->name;
		params[1] = f->sha256;
		rc = store_conn_pq(c,
				   "INSERT INTO schema_functions (name, sha256) VALUES ($1, $2)"
				   " ON CONFLICT (name) DO UPDATE SET sha256 = EXCLUDED.sha256,"
				   " applied_at = now()",
				   2, params, NULL, NULL, 0, &r, NULL, err, sizeof(err));
		PQclear(r);
		r = NULL;
		n++;
	}
	if (rc == RC_OK && all)
		log_info(NULL, "store: applied %d functions", n);
	PQclear(rows);
	if (rc != RC_OK && errbuf && errlen) {
		if (f)
			snprintf(errbuf, errlen, "function %s: %s", f->name, err);
		else
			snprintf(errbuf, errlen, "functions: %s", err);
	}
	return rc;
}

/* Inside the locked transaction: the highest recorded version. */
static int version_locked(struct store_conn *c, int *out, char *errbuf, size_t errlen)
{
	PGresult *r = NULL;
	int rc = store_conn_pq(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0,
			       NULL, NULL, NULL, 0, &r, NULL, errbuf, errlen);

	if (rc == RC_OK)
		*out = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return rc;
}

int store_migrate_apply(struct store_conn *c, char *errbuf, size_t errlen)
{
	char err[512] = "";
	int rc, ran = 0, have = 0;

	if (!c)
		return RC_INVAL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if ((rc = bootstrap(c, errbuf, errlen)) != RC_OK)
		return rc;
	if ((rc = store_conn_cmd(c, "BEGIN", errbuf, errlen)) != RC_OK)
		return rc;
	if ((rc = store_conn_cmd(c, MIGRATE_LOCK, err, sizeof(err))) != RC_OK) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "migration lock: %s", err);
		goto out;
	}
	for (size_t i = 0; i < store_n_migrations; i++)
		if ((rc = apply_migration(c, &store_migrations[i], &ran, errbuf, errlen)) != RC_OK)
			goto out;
	if ((rc = version_locked(c, &have, errbuf, errlen)) != RC_OK)
		goto out;
	if (have > store_migrate_latest())
		log_warn(NULL,
			 "store: database schema version %d is newer than this binary's %d; "
			 "its functions are left alone",
			 have, store_migrate_latest());
	else if ((rc = apply_functions(c, ran > 0, errbuf, errlen)) != RC_OK)
		goto out;
	rc = store_conn_cmd(c, "COMMIT", errbuf, errlen);
out:
	if (rc != RC_OK)
		rollback(c);
	return rc;
}

int store_migrate_version(struct store_conn *c, int *out)
{
	PGresult *r = NULL;
	int rc;

	*out = 0;
	if (!c)
		return RC_INVAL;
	/* two steps: a missing table must not fail the statement's parse */
	rc = store_conn_pq(c, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL, NULL,
			   NULL, 0, &r, NULL, NULL, 0);
	if (rc != RC_OK || strcmp(PQgetvalue(r, 0, 0), "t") != 0)
		goto out;
	PQclear(r);
	rc = store_conn_pq(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL,
			   NULL, NULL, 0, &r, NULL, NULL, 0);
	if (rc == RC_OK)
		*out = atoi(PQgetvalue(r, 0, 0));
out:
	PQclear(r);
	return rc;
}
