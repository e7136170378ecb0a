/*
 * cmd/serials.c - `cmpgw serials import`: a vendor's device serial list.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "store/db.h"
#include "store/serial.h"
#include "store/vendor.h"

// clang-format off
static const struct spec spec_serials = { "serials import",
	"usage: cmpgw serials import [--config FILE] [--blocked] NAME FILE|-\n"
	"  import device serials of vendor NAME, one per line (- reads stdin)\n"
	COMMON_HELP
	"  --blocked           import them as blocked instead of allowed\n", O_BLOCKED, 2 };
// clang-format on

int cmd_serials(int argc, char **argv)
{
	struct opts o;
	struct cmd_db d = { 0 };
	struct store_conn *c = NULL;
	FILE *in = NULL;
	int rc;

	if (argc >= 2 && cmd_is_help(argv[1])) {
		fputs(spec_serials.usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		fputs(spec_serials.usage, stderr);
		return 2;
	}
	rc = cmd_parse_opts(&spec_serials, argc - 1, argv + 1, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	in = strcmp(o.pos[1], "-") == 0 ? stdin : fopen(o.pos[1], "r");
	if (!in) {
		fprintf(stderr, "cmpgw: %s: %s\n", o.pos[1], strerror(errno));
		return 1;
	}
	rc = cmd_db_open(o.config, &d);
	c = d.conn;
	if (rc == 0) {
		int64_t vid;
		long ins = 0, upd = 0;
		char err[512] = "";
		if (store_vendor_find(c, o.pos[0], &vid) != 0) {
			fprintf(stderr, "cmpgw: unknown vendor \"%s\"\n", o.pos[0]);
			rc = 1;
		} else if (store_serial_import(c, vid, in, o.blocked ? "blocked" : "allowed", &ins,
					       &upd, err, sizeof(err)) != 0) {
			fprintf(stderr, "cmpgw: %s: %s\n", o.pos[1],
				err[0] ? err : "import failed");
			rc = 1;
		} else {
			printf("%s: %ld new, %ld changed serial(s) for vendor %s (%s)\n", o.pos[1],
			       ins, upd, o.pos[0], o.blocked ? "blocked" : "allowed");
		}
	}
	if (in != stdin)
		fclose(in);
	cmd_db_close(&d);
	return rc;
}
