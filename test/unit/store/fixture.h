/*
 * test/unit/store/fixture.h - a private PostgreSQL for one store test
 * program: fresh temp dir under /tmp (world-traversable so the server can
 * run as "postgres" when the test runs as root), schema migrated.
 */
#ifndef CMPGW_TEST_STORE_FIXTURE_H
#define CMPGW_TEST_STORE_FIXTURE_H

#include <stdbool.h>

#include "store/db.h"

struct fixture {
	char dir[32];
	char conninfo[512];
	struct store_conn *c; /* blocking connection, migrated schema */
};

/* Create the dir only (start == false) or also start + migrate + connect.
 * On failure prints "Bail out!" and returns false. */
bool fixture_start(struct fixture *f, bool start);
/* Close, stop the server, remove the dir. */
void fixture_stop(struct fixture *f);

#endif
