/*
 * cmd/token.c - `cmpgw token create|list|revoke`: one-time enrollment
 * tokens for shared-secret (PBMAC) ir. The secret is printed once, by
 * create, and stored only sealed (ra/token.h). Only create reads a key
 * (tokens.key_file, to seal); no command loads the CA's or the CMP
 * signer's private keys (issue 14). create and revoke add an audit row
 * naming the OS user (store/admin.h), in the change's transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cmd/cmd.h"
#include "core/cfg.h"
#include "ra/token.h"
#include "store/admin.h"
#include "store/api_certs.h"
#include "store/token.h"

#define DEFAULT_TTL "24h"

struct topts {
	const char *config, *alias, *identity, *ttl, *ref;
};

// clang-format off
static const char usage_text[] =
	"usage: cmpgw token create [--config FILE] --alias A --identity ID [--ttl T]\n"
	"       cmpgw token list [--config FILE]\n"
	"       cmpgw token revoke [--config FILE] REF\n"
	"  one-time enrollment tokens (shared-secret ir, openssl cmp -ref/-secret);\n"
	"  create prints the reference and the secret, once\n"
	"  -c, --config FILE   the configuration file (default: $CMPGW_CONFIG)\n"
	"  --alias A           the alias the token enrolls on (its auth has \"token\")\n"
	"  --identity ID       the device identity, ${serial} in the profile's subject\n"
	"  --ttl T             lifetime: 1h, 30m, 86400s, 7d (default " DEFAULT_TTL ")\n"
	"  -h, --help          this text\n";
// clang-format on

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

/* argv[0] is the action word. 0 parsed, -1 help printed, 2 error. */
static int parse(int argc, char **argv, struct topts *o)
{
	const struct cmd_valopt opts[] = {
		{ "alias", &o->alias },
		{ "identity", &o->identity },
		{ "ttl", &o->ttl },
	};

	return cmd_parse_action("token", usage_text, argc, argv, opts,
				sizeof(opts) / sizeof(opts[0]), &o->config, &o->ref);
}

static int check_create(const struct cfg *cfg, const struct topts *o, long ttl)
{
	const struct cfg_alias *a = cfg_alias_find(cfg, o->alias);

	if (!a) {
		fprintf(stderr, "cmpgw token: no alias \"%s\" in %s\n", o->alias, o->config);
		return 2;
	}
	if (!(a->auth & CFG_AUTH_TOKEN)) {
		fprintf(stderr,
			"cmpgw token: alias \"%s\" does not accept tokens "
			"(add \"token\" to its \"auth\")\n",
			o->alias);
		return 2;
	}
	if (!cfg->has_token_key) {
		fprintf(stderr, "cmpgw token: tokens.key_file is not configured\n");
		return 2;
	}
	if (ttl < 0) {
		fprintf(stderr, "cmpgw token: --ttl \"%s\": use e.g. 1h, 30m, 86400s, 7d\n",
			o->ttl);
		return 2;
	}
	return 0;
}

/* Seal and store the token with its admin audit row, in one transaction
 * (the store function the admin API's POST /tokens calls too). 0 or exit
 * code 1 (message printed). */
static int store_new(struct store_conn *conn, const struct topts *o, const char *ref,
		     const unsigned char *sealed, size_t sealed_len, long ttl)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX + 1], detail[256];

	snprintf(detail, sizeof(detail), "token %s identity %s ttl %lds", ref, o->identity, ttl);
	if (store_admin_principal_os(who, sizeof(who)) != 0 ||
	    store_api_token_add_audited(conn, who, ref, o->alias, o->identity, sealed, sealed_len,
					ttl, detail) != 0) {
		fprintf(stderr, "cmpgw token: storing the token failed\n");
		return 1;
	}
	return 0;
}

/* The snapshot create needs: no CA key, but the token key (exit 2 if it
 * cannot be read, naming tokens.key_file). */
static int load_keyed(const struct topts *o, struct cfg **out)
{
	char err[1024] = "";
	int rc = cfg_load_flags(o->config, CFG_LOAD_ADMIN | CFG_LOAD_TOKEN_KEY, out, err,
				sizeof(err));

	if (rc != 0) {
		fprintf(stderr, "cmpgw: %s\n", err[0] ? err : rc_str(rc));
		return rc == RC_NOMEM ? 1 : 2;
	}
	return 0;
}

static int create(const struct topts *o)
{
	char ref[RA_TOKEN_REF_LEN + 1], secret[RA_TOKEN_SECRET_LEN + 1] = "";
	long ttl = ra_token_ttl_parse(o->ttl ? o->ttl : DEFAULT_TTL);
	unsigned char *sealed = NULL;
	size_t sealed_len = 0;
	struct cfg *kc = NULL;
	struct cmd_db d = { 0 };
	int rc;

	if (!o->alias || !o->identity || o->ref)
		return usage();
	if (!ra_token_identity_ok(o->identity)) {
		fprintf(stderr, "cmpgw token: --identity must be 1..%d printable characters\n",
			RA_TOKEN_IDENTITY_MAX);
		return 2;
	}
	rc = load_keyed(o, &kc);
	if (rc == 0)
		rc = check_create(kc, o, ttl);
	if (rc == 0)
		rc = cmd_db_open(o->config, &d);
	if (rc != 0)
		goto out;
	rc = 1;
	if (ra_token_generate(ref, secret) != 0 ||
	    ra_token_seal(kc->token_key, ref, (unsigned char *)secret, strlen(secret), &sealed,
			  &sealed_len) != 0) {
		fprintf(stderr, "cmpgw token: cannot make a token\n");
		goto out;
	}
	if (store_new(d.conn, o, ref, sealed, sealed_len, ttl) != 0)
		goto out;
	/* The only time the secret is shown. */
	printf("ref=%s\nsecret=%s\nalias=%s\nidentity=%s\nexpires_in=%lds\n"
	       "# openssl cmp -cmd ir -server HOST:PORT -path .well-known/cmp/p/%s "
	       "-ref %s -secret pass:%s -newkey KEY.pem -subject /CN=x ...\n",
	       ref, secret, o->alias, o->identity, ttl, o->alias, ref, secret);
	fflush(stdout);
	rc = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_free(sealed);
	cmd_db_close(&d);
	cfg_free(kc);
	return rc;
}

static void print_row(void *arg, const struct store_token_row *r)
{
	(void)arg;
	printf("%-32s  %-12s  %-20s  %-7s  %-20s  %-20s  %s\n", r->ref, r->alias, r->identity,
	       r->state, r->created, r->expires, r->used);
}

static int list(const struct topts *o)
{
	struct cmd_db d;
	int rc;

	if (o->alias || o->identity || o->ttl || o->ref)
		return usage();
	rc = cmd_db_open(o->config, &d);
	if (rc == 0) {
		printf("%-32s  %-12s  %-20s  %-7s  %-20s  %-20s  %s\n", "REF", "ALIAS", "IDENTITY",
		       "STATE", "CREATED", "EXPIRES", "USED");
		if (store_token_list(d.conn, print_row, NULL) != 0) {
			fprintf(stderr, "cmpgw token: listing failed\n");
			rc = 1;
		}
	}
	cmd_db_close(&d);
	return rc;
}

/* Revoke with its admin audit row, in one transaction (no row when
 * nothing was revoked; the admin API's DELETE /tokens/{ref} calls the same
 * store function). 0 or RC_DB. */
static int revoke_audited(struct store_conn *conn, const char *ref, const char **was)
{
	char who[STORE_ADMIN_PRINCIPAL_MAX + 1];

	*was = "unknown";
	if (store_admin_principal_os(who, sizeof(who)) != 0)
		return RC_DB;
	return store_api_token_revoke_audited(conn, who, ref, was);
}

static int revoke(const struct topts *o)
{
	const char *was = "unknown";
	struct cmd_db d;
	int rc;

	if (!o->ref || o->alias || o->identity || o->ttl)
		return usage();
	if (strlen(o->ref) > 128) {
		fprintf(stderr, "cmpgw token: %.32s...: no such token\n", o->ref);
		return 1;
	}
	rc = cmd_db_open(o->config, &d);
	if (rc == 0 && revoke_audited(d.conn, o->ref, &was) != 0) {
		fprintf(stderr, "cmpgw token: revoking failed\n");
		rc = 1;
	} else if (rc == 0 && strcmp(was, "revoked") == 0) {
		printf("token %s revoked\n", o->ref);
	} else if (rc == 0) {
		fprintf(stderr, "cmpgw token: %s: %s\n", o->ref,
			strcmp(was, "unknown") == 0 ? "no such token"
			: strcmp(was, "used") == 0  ? "already used, nothing to revoke"
						    : "already revoked");
		rc = 1;
	}
	cmd_db_close(&d);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	struct topts o;
	const char *what = argc > 1 ? argv[1] : "";
	int rc;

	if (cmd_is_help(what)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(what, "create") && strcmp(what, "list") && strcmp(what, "revoke"))
		return usage();
	if ((rc = parse(argc - 1, argv + 1, &o)) != 0)
		return rc < 0 ? 0 : rc;
	if (strcmp(what, "create") == 0)
		return create(&o);
	return strcmp(what, "list") == 0 ? list(&o) : revoke(&o);
}
