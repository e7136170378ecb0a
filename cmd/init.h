/*
 * cmd/init.h - `cmpgw init [--force] [--port N] [--devices N] DIR`: write a
 * working demo (operator PKI, vendor PKI, device certificates, serial list,
 * cmpgw.json, README.txt) into DIR, with libcrypto only.
 */
#ifndef CMPGW_CMD_INIT_H
#define CMPGW_CMD_INIT_H

/*
 * argv[0] is the subcommand name ("init"). Returns the process exit code:
 * 0 done, 1 runtime failure (message on stderr), 2 usage error or DIR not
 * empty without --force. Main thread only.
 */
int cmd_init(int argc, char **argv);

#endif
