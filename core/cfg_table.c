/*
 * core/cfg_table.c - the engine of the declarative config table: walks the
 * parsed JSON through the keys of every section (core/cfg_keys_*.c): type
 * and range checks, defaults, unknown keys, lists and maps, then each
 * key's converter; and the key documentation (cfg_doc_key,
 * cfg_doc_markdown). Called by core/cfg.c (cfg_table_apply) and never
 * calls back into it (see core/cfg_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cfg_int.h"

/* ---- the sections, in documentation order ---- */

/* The walker applies keys in this order too, which converters rely on:
 * tokens before aliases (aliases[].auth "token" needs tokens.key_file),
 * profiles before aliases only for the docs (aliases[].profile is
 * resolved by core/cfg.c after the walk). */
// clang-format off
static const struct cfg_keys *const sections[] = {
	&cfg_keys_log,		/* cfg_keys_server.c */
	&cfg_keys_listen,	/* cfg_keys_server.c */
	&cfg_keys_workers,	/* cfg_keys_server.c */
	&cfg_keys_http,		/* cfg_keys_server.c */
	&cfg_keys_data_dir,	/* cfg_keys_server.c */
	&cfg_keys_database,	/* cfg_keys_server.c */
	&cfg_keys_ca,		/* cfg_keys_ca.c */
	&cfg_keys_tokens,	/* cfg_keys_ca.c */
	&cfg_keys_profiles,	/* cfg_keys_profile.c */
	&cfg_keys_aliases,	/* cfg_keys_alias.c */
	&cfg_keys_sweep,	/* cfg_keys_server.c */
	&cfg_keys_crl,		/* cfg_keys_ca.c */
	&cfg_keys_limits,	/* cfg_keys_server.c */
	&cfg_keys_ops,		/* cfg_keys_server.c */
	&cfg_keys_admin,	/* cfg_keys_server.c */
	&cfg_keys_pkcs11,	/* cfg_keys_ca.c */
};
// clang-format on

/* Key i of the whole table, in documentation order; NULL past the end. */
static const struct cfg_key *key_at(size_t i)
{
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); i -= sections[s++]->n)
		if (i < sections[s]->n)
			return &sections[s]->v[i];
	return NULL;
}

/* ---- the walker ---- */

static const char *last_dot(const char *p)
{
	const char *d = strrchr(p, '.');
	return d ? d + 1 : p;
}

/* Is key e a direct member of the object with pattern pat? */
static bool is_child(const struct cfg_key *e, const char *pat)
{
	const char *name = last_dot(e->path);
	size_t plen = (size_t)(name - e->path);

	if (!pat[0])
		return plen == 0;
	return plen == strlen(pat) + 1 && strncmp(e->path, pat, plen - 1) == 0;
}

static int walk_obj(struct cfg_ld *ld, const char *pat, const char *jp, json_t *obj);

static void child_jp(char *buf, size_t len, const char *jp, const char *name)
{
	if (snprintf(buf, len, "%s%s%s", jp, jp[0] ? "." : "", name) >= (int)len)
		buf[len - 1] = '\0'; /* a truncated path in a message is fine */
}

static int type_error(struct cfg_ld *ld, const struct cfg_key *e, const char *jp)
{
	switch (e->type) {
	case K_OBJ:
		return cfg_fail(ld, jp, "must be an object");
	case K_LIST:
		return cfg_fail(ld, jp, "must be an array of %ld..%ld objects", e->min, e->max);
	case K_MAP:
		return cfg_fail(ld, jp, "must be an object of at most %ld objects", e->max);
	case K_STR:
		return cfg_fail(ld, jp, "must be a string");
	case K_STR_NULL:
		return cfg_fail(ld, jp, "must be a string or null");
	case K_INT:
	case K_SIZE:
		return cfg_fail(ld, jp, "must be an integer %ld..%ld", e->min, e->max);
	case K_BOOL:
		return cfg_fail(ld, jp, "must be true or false");
	case K_STRS:
		return cfg_fail(ld, jp, "must be an array of %ld..%ld strings", e->min, e->max);
	}
	return RC_CONFIG;
}

/* Allocate the elements of a list/map; returns the base and stride. */
static void *alloc_elems(struct cfg_ld *ld, enum cfg_kscope s, size_t n, size_t *stride)
{
	struct cfg *c = ld->cfg;

	if (s == S_LISTEN) {
		*stride = sizeof(*c->listen);
		c->n_listen = n;
		return c->listen = calloc(n ? n : 1, *stride);
	}
	if (s == S_PROFILE) {
		*stride = sizeof(*c->profiles);
		c->n_profiles = n;
		return c->profiles = calloc(n ? n : 1, *stride);
	}
	if (s == S_PRINCIPAL) {
		*stride = sizeof(*c->principals);
		c->n_principals = n;
		return c->principals = calloc(n ? n : 1, *stride);
	}
	if (s == S_RA) { /* aliases[].ras of the alias being walked */
		struct cfg_alias *a = ld->base[S_ALIAS];
		*stride = sizeof(*a->ras);
		a->n_ras = n;
		return a->ras = calloc(n ? n : 1, *stride);
	}
	*stride = sizeof(*c->aliases);
	c->n_aliases = n;
	return c->aliases = calloc(n ? n : 1, *stride);
}

static int walk_list(struct cfg_ld *ld, const struct cfg_key *e, const char *jp, json_t *v)
{
	size_t n = json_array_size(v), stride, i;
	char *base = alloc_elems(ld, e->scope, n, &stride);
	char ejp[256], pat[64];
	size_t outer = ld->index; /* a list inside a list element (aliases[].ras) */
	json_t *el;

	if (!base)
		return RC_NOMEM;
	snprintf(pat, sizeof(pat), "%s[]", e->path);
	json_array_foreach(v, i, el)
	{
		cfg_jp_idx(ejp, sizeof(ejp), jp, i);
		if (!json_is_object(el))
			return cfg_fail(ld, ejp, "must be an object");
		ld->base[e->scope] = base + i * stride;
		ld->index = i;
		int rc = walk_obj(ld, pat, ejp, el);
		if (rc)
			return rc;
	}
	if (e->scope == S_RA)
		ld->index = outer;
	return 0;
}

static int walk_map(struct cfg_ld *ld, const struct cfg_key *e, const char *jp, json_t *v)
{
	size_t stride, i = 0;
	char *base = alloc_elems(ld, e->scope, json_object_size(v), &stride);
	char ejp[256], pat[64];
	const char *name;
	json_t *el;

	if (!base)
		return RC_NOMEM;
	snprintf(pat, sizeof(pat), "%s.<name>", e->path);
	json_object_foreach(v, name, el)
	{
		child_jp(ejp, sizeof(ejp), jp, name);
		if (!cfg_name_ok(name))
			return cfg_fail(ld, ejp, "name must match [A-Za-z0-9._-]{1,64}");
		if (!json_is_object(el))
			return cfg_fail(ld, ejp, "must be an object");
		struct cfg_profile *p = (struct cfg_profile *)(base + i++ * stride);
		if (!(p->name = strdup(name)))
			return RC_NOMEM;
		ld->base[e->scope] = p;
		int rc = walk_obj(ld, pat, ejp, el);
		if (rc)
			return rc;
	}
	return 0;
}

static int store_strs(struct cfg_ld *ld, const struct cfg_key *e, const char *jp, json_t *v,
		      void *field)
{
	char ***arr = field;
	size_t *n = (size_t *)(arr + 1), i;
	json_t *el;

	json_array_foreach(v, i, el)
	{
		if (!json_is_string(el)) {
			char ejp[256];
			cfg_jp_idx(ejp, sizeof(ejp), jp, i);
			return cfg_fail(ld, ejp, "must be a string");
		}
	}
	if (e->conv)
		return e->conv(ld, jp, v, field);
	if (i && !(*arr = calloc(i, sizeof(char *))))
		return RC_NOMEM;
	json_array_foreach(v, i, el)
	{
		if (!((*arr)[i] = strdup(json_string_value(el))))
			return RC_NOMEM;
		*n = i + 1;
	}
	return 0;
}

static bool type_ok(const struct cfg_key *e, json_t *v)
{
	switch (e->type) {
	case K_OBJ:
		return json_is_object(v);
	case K_LIST:
		return json_is_array(v) && (long)json_array_size(v) >= e->min &&
		       (long)json_array_size(v) <= e->max;
	case K_MAP:
		return json_is_object(v) && (long)json_object_size(v) <= e->max;
	case K_STR:
		return json_is_string(v);
	case K_STR_NULL:
		return json_is_string(v) || json_is_null(v);
	case K_INT:
	case K_SIZE:
		return json_is_integer(v) && json_integer_value(v) >= e->min &&
		       json_integer_value(v) <= e->max;
	case K_BOOL:
		return json_is_boolean(v);
	case K_STRS:
		return (json_is_null(v) && e->def && strcmp(e->def, "null") == 0) ||
		       (json_is_array(v) && (long)json_array_size(v) >= e->min &&
			(long)json_array_size(v) <= e->max);
	}
	return false;
}

static int apply(struct cfg_ld *ld, const struct cfg_key *e, const char *jp, json_t *v)
{
	/* containers (K_OBJ/K_LIST/K_MAP) have no field of their own, and their
	 * scope's base may not be set yet: no pointer arithmetic on NULL */
	void *field = ld->base[e->scope] ? (char *)ld->base[e->scope] + e->off : NULL;

	if (!type_ok(e, v))
		return type_error(ld, e, jp);
	switch (e->type) {
	case K_OBJ:
		return walk_obj(ld, e->path, jp, v);
	case K_LIST:
		return walk_list(ld, e, jp, v);
	case K_MAP:
		return walk_map(ld, e, jp, v);
	case K_STRS:
		return json_is_null(v) ? 0 : store_strs(ld, e, jp, v, field);
	default:
		break;
	}
	if (e->conv)
		return e->conv(ld, jp, v, field);
	if (e->type == K_SIZE)
		*(size_t *)field = (size_t)json_integer_value(v);
	else if (e->type == K_INT)
		*(int *)field = (int)json_integer_value(v);
	else if (e->type == K_BOOL)
		*(bool *)field = json_is_true(v);
	else if (json_is_string(v) && !(*(char **)field = strdup(json_string_value(v))))
		return RC_NOMEM;
	return 0;
}

static int walk_obj(struct cfg_ld *ld, const char *pat, const char *jp, json_t *obj)
{
	const struct cfg_key *e;
	const char *name;
	json_t *v;
	char cjp[256];

	json_object_foreach(obj, name, v)
	{
		size_t i = 0;
		while ((e = key_at(i)) &&
		       !(is_child(e, pat) && strcmp(last_dot(e->path), name) == 0))
			i++;
		if (!e)
			return cfg_fail(ld, jp, "unknown key \"%s\"", name);
	}
	for (size_t i = 0; (e = key_at(i)); i++) {
		json_t *def = NULL;
		if (!is_child(e, pat))
			continue;
		child_jp(cjp, sizeof(cjp), jp, last_dot(e->path));
		if (!(v = json_object_get(obj, last_dot(e->path)))) {
			if (!e->def)
				return cfg_fail(ld, cjp, "required key is missing");
			if (!(v = def = json_loads(e->def, JSON_DECODE_ANY, NULL)))
				return RC_NOMEM;
		}
		int rc = apply(ld, e, cjp, v);
		json_decref(def);
		if (rc)
			return rc;
	}
	return 0;
}

int cfg_table_apply(struct cfg *cfg, json_t *root, char *err, size_t errlen)
{
	struct cfg_ld ld = { .cfg = cfg, .err = err, .errlen = errlen };

	ld.base[S_ROOT] = cfg;
	ld.base[S_FILES] = &cfg->ca_files;
	if (!json_is_object(root))
		return cfg_fail(&ld, "", "must be an object");
	int rc = walk_obj(&ld, "", "", root);
	if (rc == RC_NOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* ---- documentation ---- */

static const char *type_name(enum cfg_ktype t)
{
	static const char *const names[] = { "object",	"array of objects", "object of objects",
					     "string",	"string or null",   "integer",
					     "integer", "boolean",	    "array of strings" };
	return names[t];
}

bool cfg_doc_key(size_t i, struct cfg_doc *out)
{
	const struct cfg_key *e = key_at(i);

	if (!e)
		return false;
	out->path = e->path;
	out->type = type_name(e->type);
	if (e->type == K_STRS && e->def && strcmp(e->def, "null") == 0)
		out->type = "array of strings or null";
	out->def = e->def;
	out->doc = e->doc;
	return true;
}

void cfg_doc_markdown(FILE *f)
{
	struct cfg_doc d;
	const char *sect = NULL;

	for (size_t i = 0; cfg_doc_key(i, &d); i++) {
		size_t n = strcspn(d.path, ".[");
		if (!sect || strncmp(sect, d.path, n) != 0 ||
		    (sect[n] != '.' && sect[n] != '[' && sect[n]))
			fprintf(f,
				"%s### `%.*s`\n\n| Key | Type | Default | Meaning "
				"|\n|---|---|---|---|\n",
				sect ? "\n" : "", (int)n, d.path);
		sect = d.path;
		fprintf(f, "| `%s` | %s | %s%s%s | %s |\n", d.path, d.type, d.def ? "`" : "",
			d.def ? d.def : "required", d.def ? "`" : "", d.doc);
	}
}
