/*
 * cmd/apikey.c - `cmpgw apikey create|list|revoke|verify`: bearer API keys
 * for the admin API (issue 14). create prints the key once; the database
 * keeps a salted hash only (store/apikey.h). No command here loads a
 * private key (admin load, cmd_db_open); create and revoke are audited
 * with the OS user as principal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cmd/apikey.h"
#include "cmd/cmd.h"
#include "ra/token.h"
#include "store/admin.h"
#include "store/apikey.h"

struct kopts {
	const char *config, *role, *comment, *ttl, *id;
};

// clang-format off
static const char usage_text[] =
	"usage: cmpgw apikey create [--config FILE] --role ROLE [--comment TEXT] [--ttl T]\n"
	"       cmpgw apikey list [--config FILE]\n"
	"       cmpgw apikey revoke [--config FILE] KEY-ID\n"
	"       cmpgw apikey verify [--config FILE] < KEY\n"
	"  bearer API keys of the admin API; create prints the key once (only a\n"
	"  salted hash is stored); verify reads a key on stdin and prints its role\n"
	"  -c, --config FILE   the configuration file (default: $CMPGW_CONFIG)\n"
	"  --role ROLE         operator, auditor, vendor:NAME or factory:NAME\n"
	"                      (NAME: a registered vendor)\n"
	"  --comment TEXT      a note shown by list (printable, up to 256 bytes)\n"
	"  --ttl T             lifetime: 1h, 30m, 86400s, 7d (default: no expiry)\n"
	"  -h, --help          this text\n";
// clang-format on

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

/* argv[0] is the action word. 0 parsed, -1 help printed, 2 error. */
static int parse(int argc, char **argv, struct kopts *o)
{
	const struct cmd_valopt opts[] = {
		{ "role", &o->role },
		{ "comment", &o->comment },
		{ "ttl", &o->ttl },
	};

	return cmd_parse_action("apikey", usage_text, argc, argv, opts,
				sizeof(opts) / sizeof(opts[0]), &o->config, &o->id);
}

static int create(const struct kopts *o)
{
	char key[STORE_APIKEY_LEN + 1] = "", id[STORE_APIKEY_ID_LEN + 1];
	char who[STORE_ADMIN_PRINCIPAL_MAX + 1];
	long ttl = o->ttl ? ra_token_ttl_parse(o->ttl) : 0;
	struct cmd_db d;
	int rc;

	if (!o->role || o->id)
		return usage();
	if (!store_apikey_role_ok(o->role)) {
		fprintf(stderr,
			"cmpgw apikey: --role \"%s\": use operator, auditor, vendor:NAME or "
			"factory:NAME\n",
			o->role);
		return 2;
	}
	if (o->ttl && ttl < 1) {
		fprintf(stderr, "cmpgw apikey: --ttl \"%s\": use e.g. 1h, 30m, 86400s, 7d\n",
			o->ttl);
		return 2;
	}
	if (store_admin_principal_os(who, sizeof(who)) != 0)
		return 1;
	rc = cmd_db_open(o->config, &d);
	if (rc != 0)
		goto out;
	rc = store_apikey_create(d.conn, o->role, o->comment, ttl, who, key, sizeof(key), id,
				 sizeof(id));
	if (rc == RC_NOTFOUND) {
		fprintf(stderr, "cmpgw apikey: --role \"%s\": no vendor \"%s\" is registered\n",
			o->role, strchr(o->role, ':') + 1);
		rc = 2;
	} else if (rc == RC_INVAL) {
		fprintf(stderr, "cmpgw apikey: --comment must be 1..%d printable characters\n",
			STORE_APIKEY_COMMENT_MAX);
		rc = 2;
	} else if (rc != 0) {
		fprintf(stderr, "cmpgw apikey: storing the key failed\n");
		rc = 1;
	} else {
		/* The only time the key is shown. */
		printf("id=%s\nrole=%s\nkey=%s\n# the key is not shown again: "
		       "Authorization: Bearer <key>\n",
		       id, o->role, key);
		fflush(stdout);
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	cmd_db_close(&d);
	return rc;
}

static void print_row(void *arg, const struct store_apikey_row *r)
{
	(void)arg;
	printf("%-16s  %-24s  %-7s  %-20s  %-20s  %-20s  %-20s  %-20s  %s\n", r->key_id, r->role,
	       r->state, r->created, r->expires, r->revoked, r->last_used, r->created_by,
	       r->comment);
}

static int list(const struct kopts *o)
{
	struct cmd_db d;
	int rc;

	if (o->role || o->comment || o->ttl || o->id)
		return usage();
	rc = cmd_db_open(o->config, &d);
	if (rc == 0) {
		printf("%-16s  %-24s  %-7s  %-20s  %-20s  %-20s  %-20s  %-20s  %s\n", "ID", "ROLE",
		       "STATE", "CREATED", "EXPIRES", "REVOKED", "LAST_USED", "CREATED_BY",
		       "COMMENT");
		if (store_apikey_list(d.conn, print_row, NULL) != 0) {
			fprintf(stderr, "cmpgw apikey: listing failed\n");
			rc = 1;
		}
	}
	cmd_db_close(&d);
	return rc;
}

static int revoke(const struct kopts *o)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX + 1];
	const char *was = "unknown";
	struct cmd_db d;
	int rc;

	if (!o->id || o->role || o->comment || o->ttl)
		return usage();
	if (store_admin_principal_os(who, sizeof(who)) != 0)
		return 1;
	rc = cmd_db_open(o->config, &d);
	if (rc == 0 && store_apikey_revoke(d.conn, o->id, who, &was) != 0) {
		fprintf(stderr, "cmpgw apikey: revoking failed\n");
		rc = 1;
	} else if (rc == 0 && strcmp(was, "revoked") == 0) {
		printf("api key %s revoked\n", o->id);
	} else if (rc == 0) {
		fprintf(stderr, "cmpgw apikey: %.16s: %s\n", o->id,
			strcmp(was, "unknown") == 0 ? "no such key" : "already revoked");
		rc = 1;
	}
	cmd_db_close(&d);
	return rc;
}

/* One line from stdin, without its newline; the key never comes from argv
 * (visible in ps and shell history). 0 or 2. */
static int read_key(char *buf, size_t len)
{
	size_t n;

	if (!fgets(buf, (int)len, stdin))
		return 2;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1)
		return 2; /* longer than any key */
	buf[n] = '\0';
	return 0;
}

static int verify(const struct kopts *o)
{
	char key[STORE_APIKEY_LEN + 3] = "", role[STORE_APIKEY_ROLE_MAX + 1],
				    id[STORE_APIKEY_ID_LEN + 1];
	enum store_apikey_verdict v = STORE_APIKEY_MALFORMED;
	struct cmd_db d = { 0 };
	int rc;

	if (o->id || o->role || o->comment || o->ttl)
		return usage();
	if (read_key(key, sizeof(key)) != 0)
		key[0] = '\0'; /* malformed */
	rc = cmd_db_open(o->config, &d);
	if (rc == 0 &&
	    store_apikey_verify(d.conn, key, &v, role, sizeof(role), id, sizeof(id)) != 0) {
		fprintf(stderr, "cmpgw apikey: verifying failed\n");
		rc = 1;
	} else if (rc == 0 && v == STORE_APIKEY_VALID) {
		printf("valid id=%s role=%s\n", id, role);
	} else if (rc == 0) {
		printf("refused: %s\n", store_apikey_verdict_name(v));
		rc = 1;
	}
	OPENSSL_cleanse(key, sizeof(key));
	cmd_db_close(&d);
	return rc;
}

int cmd_apikey(int argc, char **argv)
{
	struct kopts o;
	const char *what = argc > 1 ? argv[1] : "";
	int rc;

	if (cmd_is_help(what)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(what, "create") && strcmp(what, "list") && strcmp(what, "revoke") &&
	    strcmp(what, "verify"))
		return usage();
	if ((rc = parse(argc - 1, argv + 1, &o)) != 0)
		return rc < 0 ? 0 : rc;
	if (strcmp(what, "create") == 0)
		return create(&o);
	if (strcmp(what, "list") == 0)
		return list(&o);
	return strcmp(what, "revoke") == 0 ? revoke(&o) : verify(&o);
}
