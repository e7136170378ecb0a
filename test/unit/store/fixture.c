/* test/unit/store/fixture.c - see fixture.h. */
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/log.h"
#include "store/embedded.h"
#include "store/migrate.h"
#include "test/unit/store/fixture.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

bool fixture_start(struct fixture *f, bool start)
{
	char err[1024] = "";
	int rc;

	memset(f, 0, sizeof(*f));
	log_setup(LOG_WARN, false, 2);
	snprintf(f->dir, sizeof(f->dir), "/tmp/cmpgw-st-XXXXXX");
	if (!mkdtemp(f->dir) || chmod(f->dir, 0711) != 0) {
		printf("Bail out! cannot create %s\n", f->dir);
		return false;
	}
	if (!start)
		return true;
	rc = store_embedded_start(f->dir, NULL, f->conninfo, sizeof(f->conninfo), err, sizeof(err));
	if (rc == RC_OK)
		rc = store_db_connect(f->conninfo, &f->c);
	if (rc == RC_OK)
		rc = store_migrate_apply(f->c, err, sizeof(err));
	if (rc != RC_OK) {
		printf("Bail out! database set-up: %s: %s\n", rc_str(rc), err);
		fixture_stop(f);
		return false;
	}
	return true;
}

void fixture_stop(struct fixture *f)
{
	store_db_close(f->c);
	f->c = NULL;
	if (store_embedded_stop(f->dir, NULL) != RC_OK)
		printf("# embedded stop failed\n");
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
