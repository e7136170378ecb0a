/*
 * store/admin.c - audit rows naming the principal of an admin change
 * (see admin.h, migration 018).
 */
#include "store/admin.h"

#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db_int.h"

/* SUDO_USER comes from the caller's environment: keep it short and
 * printable so that it cannot forge a second audit line or field. */
static void clean_note(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < len; i++)
		dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

int store_admin_principal_os(char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024], name[64], sudo[65];
	const char *su = getenv("SUDO_USER");
	uid_t uid = geteuid();
	int n;

	if (!buf || len == 0)
		return RC_INVAL;
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res && res->pw_name)
		clean_note(name, sizeof(name), res->pw_name);
	else
		snprintf(name, sizeof(name), "uid=%lu", (unsigned long)uid);
	if (su && su[0]) {
		clean_note(sudo, sizeof(sudo), su);
		if (strcmp(sudo, name) != 0) {
			n = snprintf(buf, len, "os:%s (sudo by %s)", name, sudo);
			return n < 0 || (size_t)n >= len ? RC_INVAL : 0;
		}
	}
	n = snprintf(buf, len, "os:%s", name);
	return n < 0 || (size_t)n >= len ? RC_INVAL : 0;
}

static bool too_long(const char *s, size_t max)
{
	return s && strnlen(s, max + 1) > max;
}

int store_audit_admin(struct store_conn *c, const char *principal, const char *event,
		      const char *vendor, const char *device_serial, const char *alias,
		      const char *detail)
{
	const char *v[6] = { event, principal, vendor, device_serial, alias, detail };
	PGresult *r = NULL;
	int rc;

	if (!c || !principal || !principal[0] || !event || !event[0] ||
	    too_long(principal, STORE_ADMIN_PRINCIPAL_MAX) ||
	    too_long(event, STORE_ADMIN_EVENT_MAX) || too_long(vendor, STORE_ADMIN_DETAIL_MAX) ||
	    too_long(device_serial, STORE_ADMIN_DETAIL_MAX) ||
	    too_long(alias, STORE_ADMIN_DETAIL_MAX) || too_long(detail, STORE_ADMIN_DETAIL_MAX))
		return RC_INVAL;
	rc = store_conn_pq(
		c,
		"INSERT INTO audit (event, principal, vendor, device_serial, alias, detail)"
		" VALUES ($1, $2, $3, $4, $5, $6)",
		6, v, NULL, NULL, 0, &r, NULL, NULL, 0);
	PQclear(r);
	return rc;
}

int store_admin_begin(struct store_conn *c)
{
	return c ? store_conn_cmd(c, "BEGIN", NULL, 0) : RC_INVAL;
}

int store_admin_end(struct store_conn *c, bool commit)
{
	return c ? store_conn_cmd(c, commit ? "COMMIT" : "ROLLBACK", NULL, 0) : RC_INVAL;
}
