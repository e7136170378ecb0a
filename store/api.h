/*
 * store/api.h - read queries of the admin HTTPS API (issue 14;
 * docs/ADMIN.md): vendors with their counts, one serial's state.
 *
 * Asynchronous, on a worker's pool (store/db.h): 0 means cb will be called
 * exactly once, later, on the loop thread; non-zero means it will not.
 * Rows and strings handed to cb are valid during the call only.
 * Threads: the owning worker's loop thread.
 */
#ifndef CMPGW_STORE_API_H
#define CMPGW_STORE_API_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"

struct store_pool;

#define STORE_API_NAME_MAX 128 /* bytes of a vendor name */

struct store_api_vendor {
	const char *name;
	bool strict;			      /* vendors.x509_strict */
	long long allowed, blocked, enrolled; /* serials by state */
	long long anchors, intermediates;     /* vendor_certs by kind */
};
/* rc 0 or RC_DB; rows ordered by name (byte order). */
typedef void (*store_api_vendors_cb)(void *arg, int rc, const struct store_api_vendor *rows,
				     size_t n);
/* Vendors ordered by name: only the one named only (NULL: all), with a
 * name after after (NULL: from the first; byte order), at most limit
 * (1..1000). RC_INVAL on bad arguments. */
int store_api_vendors(struct store_pool *pool, const char *only, const char *after, int limit,
		      store_api_vendors_cb cb, void *arg) WUR;

struct store_api_serial {
	bool vendor_found;
	bool listed;		 /* the serial is in the vendor's list */
	const char *state;	 /* allowed, blocked, enrolled (listed only) */
	const char *enrolled_at; /* or NULL */
	/* the newest certificate issued to this serial, or NULL */
	const char *cert_serial; /* hex */
	const char *cert_issuer;
	const char *cert_status; /* unconfirmed, active, revoked, superseded */
};
typedef void (*store_api_serial_cb)(void *arg, int rc, const struct store_api_serial *s);
/* The state of serial in vendor's list, and its newest certificate. */
int store_api_serial(struct store_pool *pool, const char *vendor, const char *serial,
		     store_api_serial_cb cb, void *arg) WUR;

/* One serial of a list page (store_api_serials). */
struct store_api_serial_row {
	const char *serial;
	const char *state;	 /* allowed, blocked, enrolled */
	const char *enrolled_at; /* or NULL */
	const char *updated_at;
};
/* rc 0 or RC_DB; vendor_found false: no such vendor (no rows). */
typedef void (*store_api_serials_cb)(void *arg, int rc, bool vendor_found,
				     const struct store_api_serial_row *rows, size_t n);
/*
 * The serials of vendor in byte order: in state (NULL: any), starting
 * with prefix (NULL: any), after after (NULL: from the first), at most
 * limit (1..STORE_API_SERIALS_MAX) rows, through the serials primary key.
 * RC_INVAL on bad arguments.
 */
#define STORE_API_SERIALS_MAX 1000001
int store_api_serials(struct store_pool *pool, const char *vendor, const char *state,
		      const char *prefix, const char *after, int limit, store_api_serials_cb cb,
		      void *arg) WUR;

/* rc 0, RC_DB or RC_NOMEM; vendor_found false: no such vendor. text: the
 * page's serials, each followed by '\n' (len bytes); more: a next page
 * exists, and last is the page's last serial (its cursor). */
typedef void (*store_api_serials_text_cb)(void *arg, int rc, bool vendor_found, const char *text,
					  size_t len, bool more, const char *last);
/* The export's page: as store_api_serials (serials only), the lines
 * built here (page 1..STORE_API_SERIALS_MAX - 1 serials), so that a page
 * holds its rows once as text and not again as row structs. */
int store_api_serials_text(struct store_pool *pool, const char *vendor, const char *state,
			   const char *prefix, const char *after, int page,
			   store_api_serials_text_cb cb, void *arg) WUR;

#endif
