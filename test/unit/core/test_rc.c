#include "core/rc.h"
#include "test/unit/tap.h"

int main(void)
{
	ok(strcmp(rc_str(RC_OK), "ok") == 0, "RC_OK named");
	ok(strcmp(rc_str(RC_DB), "database error") == 0, "RC_DB named");
	ok(strcmp(rc_str(RC_MIN), "unavailable") == 0, "last code named");
	ok(strcmp(rc_str(RC_MIN - 1), "unknown error") == 0, "out of range is unknown");
	ok(strcmp(rc_str(1), "unknown error") == 0, "positive is unknown");
	return tap_done();
}
