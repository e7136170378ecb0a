/*
 * store/db_pool.h - internals of the async pool shared by db.c and
 * db_query.c; never included outside store/.
 */
#ifndef CMPGW_STORE_DB_POOL_H
#define CMPGW_STORE_DB_POOL_H

#include <stdint.h>

#include "store/db_int.h"

/* A queued statement; one allocation also holds sql and the parameters. */
struct query {
	struct query *next;
	const char *sql;
	int n;
	const char **values;
	int *lens, *formats;
	int binary;
	store_cb cb;
	void *arg;
	uint64_t enq_ms;
	uint64_t sent_us; /* when sent to the server (0: not yet), for metrics */
};

/*
 * Copy sql and parameters (text: NUL-terminated; binary: lens[i] bytes)
 * into one allocation; free() releases it. NULL on allocation failure.
 * cb/arg/enq_ms are left for the caller.
 */
struct query *query_new(const char *sql, int n, const char *const *values, const int *lens,
			const int *formats, bool binary);

/* Prepared statements of one connection, keyed by SQL text. */
struct stmt {
	struct stmt *next;
	unsigned hash;
	char name[16];
	char sql[]; /* flexible */
};

#define STMT_BUCKETS 64
struct stmt_cache {
	struct stmt *b[STMT_BUCKETS];
	int n;
};

/* NULL if sql was not prepared on this connection. */
struct stmt *stmt_cache_find(struct stmt_cache *c, const char *sql);
/* Remember name for sql; on allocation failure nothing is remembered. */
void stmt_cache_add(struct stmt_cache *c, const char *sql, const char *name);
void stmt_cache_clear(struct stmt_cache *c);

#endif
