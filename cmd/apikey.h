/*
 * cmd/apikey.h - `cmpgw apikey create|list|revoke|verify` (cmd/apikey.c):
 * bearer API keys of the admin API (store/apikey.h). argv[0] is
 * "apikey"; returns the exit code (0, 1 runtime failure, 2 usage or
 * configuration). Main thread only.
 */
#ifndef CMPGW_CMD_APIKEY_H
#define CMPGW_CMD_APIKEY_H

int cmd_apikey(int argc, char **argv);

#endif
