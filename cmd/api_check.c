/*
 * cmd/api_check.c - (issue 14, in progress) routes of the admin API
 * (cmd/api_int.h, docs/ADMIN.md).
 */
#include "cmd/api_int.h"

const struct api_route api_routes_check[] = {
	{ NULL, 0, 0, NULL },
};
