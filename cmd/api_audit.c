/*
 * cmd/api_audit.c - (issue 14, in progress) routes of the admin API
 * (cmd/api_int.h, docs/ADMIN.md).
 */
#include "cmd/api_int.h"

const struct api_route api_routes_audit[] = {
	{ NULL, 0, 0, NULL },
};
