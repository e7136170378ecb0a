/*
 * test/unit/store/test_embedded.c - the embedded server (path checks,
 * start, reuse, stop) and migrations on the fresh database it creates.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "store/embedded.h"
#include "store/migrate.h"
#include "test/unit/tap.h"
#include "test/unit/store/fixture.h"

static void test_embedded_errors(const char *dir)
{
	char ci[256], err[512], longdir[200];
	int rc;

	memset(longdir, 'x', sizeof(longdir));
	memcpy(longdir, dir, strlen(dir));
	longdir[strlen(dir)] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	rc = store_embedded_start(longdir, NULL, ci, sizeof(ci), err, sizeof(err));
	is_int(rc, RC_INVAL, "embedded: socket path over 107 bytes rejected");
	ok(strstr(err, "unix socket limit") != NULL, "embedded: clear message (%s)", err);
	rc = store_embedded_start("/tmp/has space", NULL, ci, sizeof(ci), err, sizeof(err));
	is_int(rc, RC_INVAL, "embedded: unsafe path characters rejected");
	if (geteuid() == 0) {
		rc = store_embedded_start(dir, "no-such-user-cmpgw", ci, sizeof(ci), err,
					  sizeof(err));
		is_int(rc, RC_NOTFOUND, "embedded: unknown OS user");
		ok(strstr(err, "no-such-user-cmpgw") != NULL, "embedded: names the user");
	}
	rmdir("/tmp/has space");
}

static void test_migrate(struct store_conn *c)
{
	char err[512] = "";
	int v = -1;

	is_int(store_migrate_version(c, &v), RC_OK, "migrate: version before");
	is_int(v, 0, "migrate: fresh database is version 0");
	is_int(store_migrate_apply(c, err, sizeof(err)), RC_OK, "migrate: apply (%s)", err);
	is_int(store_migrate_version(c, &v), RC_OK, "migrate: version after");
	is_int(v, store_migrate_latest(), "migrate: at latest");
	ok(store_migrate_latest() >= 1 && store_migrations[0].version == 1 &&
		   strcmp(store_migrations[0].name, "schema") == 0,
	   "migrate: 001_schema compiled in");
	is_int(store_migrate_apply(c, err, sizeof(err)), RC_OK, "migrate: apply again (%s)", err);
	is_int(store_migrate_version(c, &v), RC_OK, "migrate: version again");
	is_int(v, store_migrate_latest(), "migrate: second apply is a no-op");
	is_int(store_db_exec(c, "SELECT count(*) FROM schema_migrations", 0, NULL, NULL, NULL,
			     false, NULL, NULL),
	       RC_OK, "migrate: table exists");
}

int main(void)
{
	char ci[512], ci2[512], err[1024] = "";
	struct fixture f;
	struct store_conn *c = NULL;
	int rc;

	if (!fixture_start(&f, false))
		return 1;
	test_embedded_errors(f.dir);
	rc = store_embedded_start(f.dir, NULL, ci, sizeof(ci), err, sizeof(err));
	is_int(rc, RC_OK, "embedded: start (%s)", err);
	if (rc != RC_OK) {
		printf("Bail out! no database\n");
		goto out;
	}
	ok(strstr(ci, "/pgsock") && strstr(ci, "dbname=cmpgw"), "embedded: conninfo %s", ci);
	rc = store_embedded_start(f.dir, NULL, ci2, sizeof(ci2), err, sizeof(err));
	is_int(rc, RC_OK, "embedded: second start reuses the server (%s)", err);
	ok(strcmp(ci, ci2) == 0, "embedded: same conninfo");
	is_int(store_db_connect(ci, &c), RC_OK, "connect");
	if (c)
		test_migrate(c);
	store_db_close(c);
	is_int(store_embedded_stop(f.dir, NULL), RC_OK, "embedded: stop");
	is_int(store_embedded_stop(f.dir, NULL), RC_OK, "embedded: stop when stopped");
	rc = store_embedded_start(f.dir, NULL, ci, sizeof(ci), err, sizeof(err));
	is_int(rc, RC_OK, "embedded: restart on existing pgdata (%s)", err);
	if (rc == RC_OK && store_db_connect(ci, &c) == RC_OK) {
		int v = 0;

		is_int(store_migrate_version(c, &v), RC_OK, "embedded: data survives restart");
		is_int(v, store_migrate_latest(), "embedded: schema still at latest");
		store_db_close(c);
	}
out:
	fixture_stop(&f);
	return tap_done();
}
