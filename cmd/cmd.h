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

#endif
