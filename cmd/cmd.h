/*
 * cmd/cmd.h - subcommands of the cmpgw executable. Each takes argv with
 * argv[0] = the subcommand name and returns the process exit code
 * (0 ok, 1 runtime failure, 2 usage/config error). Main thread only.
 */
#ifndef CMPGW_CMD_CMD_H
#define CMPGW_CMD_CMD_H

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_vendor(int argc, char **argv);
int cmd_serials(int argc, char **argv);
int cmd_db(int argc, char **argv);

/* For subcommands in other files (cmd/serve.c): the loaded config and a
 * blocking, migrated database connection (embedded PostgreSQL started on
 * demand and stopped again by cmd_db_close if this call started it).
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
