/*
 * cmd/main.c - the cmpgw executable: argument parsing and dispatch to the
 * libraries. Exit codes: 0 success, 1 runtime failure, 2 usage or
 * configuration error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/init.h"

// clang-format off
static void usage(FILE *f)
{
	fprintf(f,
		"usage: cmpgw <command> [options]\n"
		"\n"
		"commands:\n"
		"  init [--force] [--port N] [--devices N] DIR\n"
		"                                 write a demo PKI and configuration into DIR\n"
		"  serve --config FILE            run the gateway until SIGTERM/SIGINT\n"
		"  migrate --config FILE          apply database migrations\n"
		"  check --config FILE            validate the configuration and exit\n"
		"  vendor add --config FILE [--serial-rule R] [--no-reenroll] NAME\n"
		"                                 register a vendor (R: subject_serialnumber,\n"
		"                                 subject_cn, cert_serial)\n"
		"  vendor anchor add --config FILE NAME CERT.pem\n"
		"  vendor intermediate add --config FILE NAME CERT.pem\n"
		"                                 register a vendor trust anchor / intermediate CA\n"
		"  serials import --config FILE [--blocked] NAME FILE|-\n"
		"                                 import allowed (or blocked) device serials\n"
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
		"  db stop --config FILE [--force]\n"
		"                                 stop the embedded PostgreSQL; refused while a\n"
		"                                 gateway uses it unless --force\n"
		"  help                           this text\n");
}
// clang-format on

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *c = argv[1];
	if (strcmp(c, "help") == 0 || strcmp(c, "--help") == 0 || strcmp(c, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(c, "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (strcmp(c, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(c, "migrate") == 0)
		return cmd_migrate(argc - 1, argv + 1);
	if (strcmp(c, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(c, "vendor") == 0)
		return cmd_vendor(argc - 1, argv + 1);
	if (strcmp(c, "serials") == 0)
		return cmd_serials(argc - 1, argv + 1);
	if (strcmp(c, "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (strcmp(c, "cert") == 0)
		return cmd_cert(argc - 1, argv + 1);
	if (strcmp(c, "crl") == 0)
		return cmd_crl(argc - 1, argv + 1);
	if (strcmp(c, "db") == 0)
		return cmd_db(argc - 1, argv + 1);
	fprintf(stderr, "cmpgw: unknown command \"%s\" (try: cmpgw help)\n", c);
	return 2;
}
