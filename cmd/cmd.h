/*
 * cmd/cmd.h - subcommands of the cmpgw executable. Each takes argv with
 * argv[0] = the subcommand name and returns the process exit code
 * (0 ok, 1 runtime failure, 2 usage/config error). Main thread only.
 */
#ifndef CMPGW_CMD_CMD_H
#define CMPGW_CMD_CMD_H

#include <stdbool.h>

/*
 * Option parsing shared by the subcommands (cmd/main.c), getopt_long(3)
 * underneath: "--opt VALUE" and "--opt=VALUE", options and positional
 * arguments in any order. Call cmd_getopt_reset() before the first
 * cmd_getopt() of a command; argv[0] is the command word (not parsed).
 * shortopts must start with ':' so that a missing value is told apart.
 * cmd_getopt returns the option's value (its short letter or longopts
 * val), -1 after the last option (positional arguments then start at
 * optind), or '?' after printing a message on stderr that names the
 * option: unknown, missing value, or a value it does not take. The caller
 * then exits 2. cmd is the command as the user typed it ("vendor add"),
 * for messages.
 */
struct option;
void cmd_getopt_reset(void);
int cmd_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);
/* given, else $CMPGW_CONFIG; NULL (message on stderr) if neither is set.
 * The result is borrowed (argv or the environment). */
const char *cmd_config(const char *cmd, const char *given);
/* An option with a value, stored through dst (borrowed from argv). */
struct cmd_valopt {
	const char *name; /* long name, without "--" */
	const char **dst;
};
#define CMD_VALOPT_MAX 8
/* Options of a command whose argv[0] is its action word ("token create"):
 * the n value options, --config (else $CMPGW_CONFIG) and --help (usage on
 * stdout), then at most one positional argument into *pos (NULL if none).
 * Returns 0, -1 (help printed: exit 0) or 2 (message printed: exit 2). */
int cmd_parse_action(const char *cmd, const char *usage, int argc, char **argv,
		     const struct cmd_valopt *opts, size_t n, const char **config,
		     const char **pos);
/* "--help" or "-h" (arg may be NULL) */
bool cmd_is_help(const char *arg);

/* Options shared by the subcommands; positional arguments collected. */
struct opts {
	const char *config;
	const char *serial_rule;
	bool no_reenroll, blocked, force;
	const char *pos[8];
	int npos;
};

/* The options a command takes beyond --config and --help. */
enum { O_SERIAL_RULE = 1, O_NO_REENROLL = 2, O_BLOCKED = 4, O_FORCE = 8 };

/* One command: its words, usage text, options and positional count. */
struct spec {
	const char *cmd, *usage;
	unsigned opts;
	int npos;
};

#define COMMON_HELP                                                                                \
	"  -c, --config FILE   the configuration file (default: $CMPGW_CONFIG)\n"                  \
	"  -h, --help          this text\n"

/* Parse argv of the command sp (argv[0] its last word) into o: the
 * options sp->opts allows, --config (else $CMPGW_CONFIG), --help, and
 * exactly sp->npos positional arguments. Returns 0 (parsed, config set),
 * -1 (--help printed: exit 0) or 2 (message printed: exit 2). */
int cmd_parse_opts(const struct spec *sp, int argc, char **argv, struct opts *o);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_vendor(int argc, char **argv);	/* cmd/vendor.c */
int cmd_serials(int argc, char **argv); /* cmd/serials.c */
int cmd_db(int argc, char **argv);

/* For subcommands in other files (cmd/serve.c): the loaded config and a
 * blocking, migrated database connection (embedded PostgreSQL started on
 * demand and stopped again by cmd_db_close if this call started it). The
 * config is an admin-mode snapshot (cfg_load_flags CFG_LOAD_ADMIN): every
 * certificate, no private key or secret (cfg->admin_only).
 * Returns 0 or an exit code (messages printed); always cmd_db_close. */
struct env;
struct cfg;
struct store_conn;
struct cmd_db {
	struct cfg *cfg;
	struct store_conn *conn;
	struct env *env;
};
int cmd_db_open(const char *config, struct cmd_db *d);
void cmd_db_close(struct cmd_db *d);

int cmd_token(int argc, char **argv); /* cmd/token.c */
int cmd_cert(int argc, char **argv);  /* cmd/cert.c: cert revoke */
int cmd_crl(int argc, char **argv);   /* cmd/cert.c */

#endif
