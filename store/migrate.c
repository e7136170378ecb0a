/*
 * store/migrate.c - apply the compiled-in migrations (see migrate.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/db_int.h"
#include "store/migrate.h"

/* Any constant works; all nodes must agree. "cmpgw_mg" as an int8. */
#define MIGRATE_LOCK "SELECT pg_advisory_xact_lock(7164793410406639463)"

static const char bootstrap_sql[] =
	"CREATE TABLE IF NOT EXISTS schema_migrations ("
	" version int PRIMARY KEY,"
	" name text NOT NULL,"
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

/* Inside the locked transaction: the recorded name, or NULL row. */
static int applied(struct store_conn *c, const struct store_migration *m, bool *done,
		   char *errbuf, size_t errlen)
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
			snprintf(errbuf, errlen, "migration %03d is recorded as \"%s\", this binary "
				 "calls it \"%s\"", m->version, PQgetvalue(r, 0, 0), m->name);
		rc = RC_DB;
	}
	PQclear(r);
	return rc;
}

static int apply_one(struct store_conn *c, const struct store_migration *m, char *errbuf,
		     size_t errlen)
{
	char ver[16], err[512] = "";
	const char *params[2] = { ver, m->name };
	PGresult *r = NULL;
	bool done = false;
	int rc;

	snprintf(ver, sizeof(ver), "%d", m->version);
	if ((rc = store_conn_cmd(c, "BEGIN", err, sizeof(err))) != RC_OK)
		goto out;
	if ((rc = store_conn_cmd(c, MIGRATE_LOCK, err, sizeof(err))) != RC_OK ||
	    (rc = applied(c, m, &done, err, sizeof(err))) != RC_OK)
		goto out;
	if (done) {
		rc = store_conn_cmd(c, "COMMIT", err, sizeof(err));
		goto out;
	}
	log_info(NULL, "store: applying migration %03d_%s", m->version, m->name);
	if ((rc = store_conn_cmd(c, m->sql, err, sizeof(err))) != RC_OK)
		goto out;
	rc = store_conn_pq(c, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
			   2, params, NULL, NULL, 0, &r, NULL, err, sizeof(err));
	if (rc == RC_OK)
		rc = store_conn_cmd(c, "COMMIT", err, sizeof(err));
out:
	PQclear(r);
	if (rc != RC_OK) {
		rollback(c);
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "migration %03d_%s: %s", m->version, m->name, err);
	}
	return rc;
}

int store_migrate_apply(struct store_conn *c, char *errbuf, size_t errlen)
{
	int rc, have = 0;

	if (!c)
		return RC_INVAL;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if ((rc = bootstrap(c, errbuf, errlen)) != RC_OK)
		return rc;
	for (size_t i = 0; i < store_n_migrations; i++)
		if ((rc = apply_one(c, &store_migrations[i], errbuf, errlen)) != RC_OK)
			return rc;
	if (store_migrate_version(c, &have) == RC_OK && have > store_migrate_latest())
		log_warn(NULL, "store: database schema version %d is newer than this binary's %d",
			 have, store_migrate_latest());
	return RC_OK;
}

int store_migrate_version(struct store_conn *c, int *out)
{
	PGresult *r = NULL;
	int rc;

	*out = 0;
	if (!c)
		return RC_INVAL;
	/* two steps: a missing table must not fail the statement's parse */
	rc = store_conn_pq(c, "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, NULL,
			   NULL, NULL, 0, &r, NULL, NULL, 0);
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
