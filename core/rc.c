#include "core/rc.h"

static const char *const rc_names[] = {
	"ok",
	"internal error",
	"out of memory",
	"invalid argument",
	"i/o error",
	"configuration error",
	"crypto error",
	"decode error",
	"database error",
	"not found",
	"already exists",
	"too big",
	"permission denied",
	"timeout",
	"cancelled",
	"unsupported",
	"unavailable",
};

const char *rc_str(int rc)
{
	if (rc > 0 || rc < RC_MIN)
		return "unknown error";
	return rc_names[-rc];
}
