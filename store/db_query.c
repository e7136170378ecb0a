/*
 * store/db_query.c - queued query copies and the per-connection prepared
 * statement cache used by the pool (db.c), and the readiness statement
 * (store_db_schema_version).
 */
#include <stdlib.h>
#include <string.h>

#include "store/db_pool.h"

static unsigned str_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

struct stmt *stmt_cache_find(struct stmt_cache *c, const char *sql)
{
	unsigned h = str_hash(sql);

	for (struct stmt *s = c->b[h % STMT_BUCKETS]; s; s = s->next)
		if (s->hash == h && strcmp(s->sql, sql) == 0)
			return s;
	return NULL;
}

void stmt_cache_add(struct stmt_cache *c, const char *sql, const char *name)
{
	size_t len = strlen(sql) + 1;
	struct stmt *s = malloc(sizeof(*s) + len);

	if (!s)
		return; /* next use prepares again under a new name */
	s->hash = str_hash(sql);
	snprintf(s->name, sizeof(s->name), "%s", name);
	memcpy(s->sql, sql, len);
	s->next = c->b[s->hash % STMT_BUCKETS];
	c->b[s->hash % STMT_BUCKETS] = s;
	c->n++;
}

void stmt_cache_clear(struct stmt_cache *c)
{
	for (int i = 0; i < STMT_BUCKETS; i++) {
		while (c->b[i]) {
			struct stmt *s = c->b[i];

			c->b[i] = s->next;
			free(s);
		}
	}
	c->n = 0;
}

/* One allocation holds the query and copies of sql and all parameters. */
struct query *query_new(const char *sql, int n, const char *const *values, const int *lens,
			const int *formats, bool binary)
{
	size_t slen = strlen(sql) + 1, need = sizeof(struct query) + slen;
	struct query *q;
	char *p;

	need += (size_t)n * (sizeof(char *) + 2 * sizeof(int));
	for (int i = 0; i < n; i++)
		if (values[i])
			need += (formats && formats[i] ? (size_t)lens[i] : strlen(values[i])) + 1;
	q = calloc(1, need);
	if (!q)
		return NULL;
	q->values = (const char **)(q + 1);
	q->lens = (int *)(q->values + n);
	q->formats = q->lens + n;
	p = (char *)(q->formats + n);
	for (int i = 0; i < n; i++) {
		bool bin = formats && formats[i];
		size_t len = values[i] ? (bin ? (size_t)lens[i] : strlen(values[i])) : 0;

		q->formats[i] = bin ? 1 : 0;
		q->lens[i] = (int)len;
		if (!values[i])
			continue;
		memcpy(p, values[i], len);
		p[len] = '\0';
		q->values[i] = p;
		p += len + 1;
	}
	memcpy(p, sql, slen);
	q->sql = p;
	q->n = n;
	q->binary = binary ? 1 : 0;
	return q;
}

/* ---- readiness: the schema version (store/db.h) ---- */

struct version_q {
	store_version_cb cb;
	void *arg;
};

static void on_version(void *arg, const struct store_result *r)
{
	struct version_q v = *(struct version_q *)arg;
	int version = -1, rc = r->rc;

	free(arg);
	if (rc == RC_OK && r->nrows == 1 && r->ncols == 1 && !store_isnull(r, 0, 0))
		version = atoi(store_val(r, 0, 0));
	else if (rc == RC_OK)
		rc = RC_DB;
	v.cb(v.arg, rc, version);
}

int store_db_schema_version(struct store_pool *pool, store_version_cb cb, void *arg)
{
	static const char sql[] = "SELECT max(version) FROM schema_migrations";
	struct version_q *v = malloc(sizeof(*v));
	int rc;

	if (!v)
		return RC_NOMEM;
	v->cb = cb;
	v->arg = arg;
	rc = store_db_query(pool, sql, 0, NULL, NULL, NULL, false, on_version, v);
	if (rc != RC_OK)
		free(v);
	return rc;
}
