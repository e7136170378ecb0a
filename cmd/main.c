/*
 * cmd/main.c - the cmpgw executable: dispatch to the subcommands, and the
 * option handling they share (getopt_long, --help, CMPGW_CONFIG).
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "cmd/apikey.h"
#include "cmd/cmd.h"
#include "cmd/init.h"

#ifndef CMPGW_VERSION
#define CMPGW_VERSION "unknown"
#endif

// clang-format off
static void usage(FILE *f)
{
	fprintf(f,
		"usage: cmpgw <command> [options]\n"
		"       cmpgw <command> --help     options of one command\n"
		"\n"
		"commands:\n"
		"  init [--force] [--port N] [--ops-port N] [--devices N] DIR\n"
		"                                 write a demo PKI and configuration into DIR\n"
		"  serve --config FILE            run the gateway until SIGTERM/SIGINT\n"
		"  migrate --config FILE          apply database migrations\n"
		"  check --config FILE            validate the configuration and exit\n"
		"  vendor add --config FILE [--serial-rule R] [--no-reenroll] [--lenient] NAME\n"
		"                                 register a vendor (R: subject_serialnumber,\n"
		"                                 subject_cn, cert_serial)\n"
		"  vendor set --config FILE --strict|--lenient NAME\n"
		"                                 how the vendor's chains are validated\n"
		"  vendor anchor add --config FILE [--force] NAME CERTS.pem\n"
		"  vendor intermediate add --config FILE [--force] NAME CERTS.pem\n"
		"                                 register vendor trust anchors / intermediate CAs\n"
		"  vendor check --config FILE [--json] --alias A CHAIN.pem [REQUEST.der]\n"
		"                                 factory dry run of an enrollment (changes nothing)\n"
		"  vendor submissions --config FILE [--vendor V] [--state S]\n"
		"                                 CA certificates vendors submitted (admin API)\n"
		"  vendor approve --config FILE ID\n"
		"  vendor reject --config FILE --reason R ID\n"
		"                                 register or refuse a submitted CA certificate\n"
		"  serials import --config FILE [--blocked] [--skip-invalid] NAME FILE|-\n"
		"                                 import allowed (or blocked) device serials\n"
		"  serials syntax --config FILE [--max-len N] [--allow CHARS] NAME\n"
		"                                 show or set the vendor's serial syntax\n"
		"  token create --config FILE --alias A --identity ID [--ttl 1h|30m|86400s]\n"
		"                                 make a one-time enrollment token; prints its\n"
		"                                 reference and secret once (openssl cmp -ref/-secret)\n"
		"  token list --config FILE       list tokens and their state (no secrets)\n"
		"  token revoke --config FILE REF revoke an unused token\n"
		"  cert revoke --config FILE --serial HEX [--reason R]\n"
		"                                 revoke a certificate of the issuing CA (R: unspecified\n"
		"                                 keyCompromise cACompromise affiliationChanged superseded\n"
		"                                 cessationOfOperation certificateHold removeFromCRL\n"
		"                                 privilegeWithdrawn aACompromise)\n"
		"  crl --config FILE [--out FILE] write the current CRL (DER; stdout without --out)\n"
		"  apikey create|list|revoke|verify --config FILE ...\n"
		"                                 admin API keys: create prints a key once, only\n"
		"                                 a salted hash is stored (cmpgw apikey --help)\n"
		"  db stop --config FILE [--force]\n"
		"                                 stop the embedded PostgreSQL; refused while a\n"
		"                                 gateway uses it unless --force\n"
		"  version                        the version and the library versions in use\n"
		"  help                           this text\n"
		"\n"
		"Options take their value as --opt VALUE or --opt=VALUE; -c is --config.\n"
		"Without --config, the environment variable CMPGW_CONFIG names the file.\n"
		"Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n"
		"See cmpgw(1) and cmpgw.json(5).\n");
}
// clang-format on

/* The versions this process runs with (the shared libraries loaded, not
 * the headers it was built against: what an operator needs to know). */
static int version(void)
{
	int pq = PQlibVersion();

	printf("cmpgw %s\n", CMPGW_VERSION);
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	printf("libevent %s\n", event_get_version());
	/* PQlibVersion: major * 10000 + minor since PostgreSQL 10 */
	printf("libpq %d.%d\n", pq / 10000, pq % 10000);
	return 0;
}

/* Text of the option argv[optind - 1] up to any "=value". */
static void bad_option_name(char **argv, char *buf, size_t len)
{
	const char *a = argv[optind - 1];

	if (optopt != 0 && strncmp(a, "--", 2) != 0) {
		snprintf(buf, len, "-%c", optopt);
		return;
	}
	snprintf(buf, len, "%.*s", (int)strcspn(a, "="), a);
}

int cmd_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	char name[64];
	int c;

	opterr = 0; /* our messages name the command */
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c != '?' && c != ':')
		return c;
	bad_option_name(argv, name, sizeof(name));
	if (c == ':')
		fprintf(stderr, "cmpgw %s: option \"%s\" needs a value\n", cmd, name);
	else if (optopt != 0 && strchr(argv[optind - 1], '=') &&
		 strncmp(argv[optind - 1], "--", 2) == 0)
		fprintf(stderr, "cmpgw %s: option \"%s\" takes no value\n", cmd, name);
	else
		fprintf(stderr, "cmpgw %s: unknown option \"%s\" (try: cmpgw %s --help)\n", cmd,
			name, cmd);
	return '?';
}

void cmd_getopt_reset(void)
{
	optind = 0; /* glibc: a full re-initialisation, argv[0] skipped */
}

int cmd_parse_action(const char *cmd, const char *usage, int argc, char **argv,
		     const struct cmd_valopt *opts, size_t n, const char **config, const char **pos)
{
	struct option lo[CMD_VALOPT_MAX + 3] = { { 0 } };
	int c;

	if (n > CMD_VALOPT_MAX)
		return 2;
	for (size_t i = 0; i < n; i++) {
		lo[i] = (struct option){ opts[i].name, required_argument, NULL, (int)i + 1 };
		*opts[i].dst = NULL;
	}
	lo[n] = (struct option){ "config", required_argument, NULL, 'c' };
	lo[n + 1] = (struct option){ "help", no_argument, NULL, 'h' };
	*config = *pos = NULL;
	cmd_getopt_reset();
	while ((c = cmd_getopt(cmd, argc, argv, ":c:h", lo)) != -1) {
		if (c == '?')
			return 2;
		if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		}
		if (c == 'c')
			*config = optarg;
		else
			*opts[c - 1].dst = optarg;
	}
	if (argc - optind > 1) {
		fprintf(stderr, "cmpgw %s: unexpected argument \"%s\"\n", cmd, argv[optind + 1]);
		return 2;
	}
	*pos = optind < argc ? argv[optind] : NULL;
	*config = cmd_config(cmd, *config);
	return *config ? 0 : 2;
}

const char *cmd_config(const char *cmd, const char *given)
{
	const char *c = given ? given : getenv("CMPGW_CONFIG");

	if (c && *c)
		return c;
	fprintf(stderr, "cmpgw %s: --config FILE is required (or set CMPGW_CONFIG)\n", cmd);
	return NULL;
}

bool cmd_is_help(const char *arg)
{
	return arg && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} cmds[] = {
		{ "init", cmd_init },	{ "serve", cmd_serve },	  { "migrate", cmd_migrate },
		{ "check", cmd_check }, { "vendor", cmd_vendor }, { "serials", cmd_serials },
		{ "token", cmd_token }, { "cert", cmd_cert },	  { "crl", cmd_crl },
		{ "db", cmd_db },	{ "apikey", cmd_apikey },
	};
	const char *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	c = argv[1];
	if (strcmp(c, "help") == 0 || cmd_is_help(c)) {
		usage(stdout);
		return 0;
	}
	if (strcmp(c, "version") == 0 || strcmp(c, "--version") == 0 || strcmp(c, "-V") == 0)
		return argc == 2 ? version() : (usage(stderr), 2);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(c, cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cmpgw: unknown command \"%s\" (try: cmpgw help)\n", c);
	return 2;
}
