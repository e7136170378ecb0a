/*
 * test/unit/bench/test_bench_args.c - cmpbench's command line: defaults,
 * every checked option refused with its exact message and exit code 2,
 * and what a valid open-loop run parses to.
 */
#include <string.h>

#include "test/bench/bench_args.h"
#include "test/unit/tap.h"

#define ARGV(...) ((char *[]){ "cmpbench", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "cmpbench", __VA_ARGS__ }) / sizeof(char *)))
#define RUN	  "run", "--dir", "d", "--root", "r.crt", "--port", "8080"

static char err[256];
static struct bench_args a;

static int parse(int argc, char **argv)
{
	bench_args_defaults(&a);
	return bench_args_parse(argc, argv, &a, err, sizeof(err));
}

#define REFUSED(msg, ...)                                                                          \
	do {                                                                                       \
		is_int(parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__)), 2, "exit 2: %s", msg);         \
		ok(strcmp(err, msg) == 0, "message: %s", msg);                                     \
		if (strcmp(err, msg) != 0)                                                         \
			printf("#   got '%s'\n", err);                                             \
	} while (0)

int main(void)
{
	is_int(parse(ARGC(RUN), ARGV(RUN)), 0, "a minimal run parses");
	ok(a.rate == 0 && a.conc == 1 && a.duration == 10 && a.timeout == 10 &&
		   strcmp(a.flow, "explicit") == 0 && strcmp(a.client, "own") == 0,
	   "defaults: closed loop, conc 1, 10 s, explicit, own client");
	is_int(parse(ARGC(RUN, "--rate", "250.5", "--conc", "64", "--duration", "0.5"),
		     ARGV(RUN, "--rate", "250.5", "--conc", "64", "--duration", "0.5")),
	       0, "an open-loop run parses");
	ok(a.rate == 250.5 && a.conc == 64 && a.duration == 0.5, "rate, cap and duration kept");
	is_int(parse(ARGC(RUN, "--rate", "1e6"), ARGV(RUN, "--rate", "1e6")), 0,
	       "the largest rate is accepted");

	REFUSED("--rate: expected a number in (0, 1000000], got '0'", RUN, "--rate", "0");
	REFUSED("--rate: expected a number in (0, 1000000], got '-5'", RUN, "--rate", "-5");
	REFUSED("--rate: expected a number in (0, 1000000], got '100x'", RUN, "--rate", "100x");
	REFUSED("--rate: expected a number in (0, 1000000], got ''", RUN, "--rate", "");
	REFUSED("--rate: expected a number in (0, 1000000], got 'nan'", RUN, "--rate", "nan");
	REFUSED("--rate: expected a number in (0, 1000000], got 'inf'", RUN, "--rate", "inf");
	REFUSED("--rate: expected a number in (0, 1000000], got '1000001'", RUN, "--rate",
		"1000001");
	REFUSED("--rate: only with --client own", RUN, "--rate", "10", "--client", "ossl");
	REFUSED("--rate: missing value", RUN, "--rate");
	REFUSED("--conc: expected 1..100000, got '0'", RUN, "--conc", "0");
	REFUSED("--conc: expected 1..100000, got '8 '", RUN, "--conc", "8 ");
	REFUSED("--duration: expected seconds in (0, 3600], got '3601'", RUN, "--duration", "3601");
	REFUSED("--duration: expected seconds in (0, 3600], got '0'", RUN, "--duration", "0");
	REFUSED("--timeout: expected seconds in (0, 600], got 'x'", RUN, "--timeout", "x");
	REFUSED("--count: expected 1..1000000000, got '-1'", RUN, "--count", "-1");
	REFUSED("--port: expected 1..65535, got '65536'", RUN, "--port", "65536");
	REFUSED("--devices: expected 1..10000000, got '0'", RUN, "--devices", "0");
	REFUSED("--flow: expected explicit, implicit or kur, got 'both'", RUN, "--flow", "both");
	REFUSED("--client: expected own or ossl, got 'curl'", RUN, "--client", "curl");
	REFUSED("unknown option '--rat'", RUN, "--rat", "10");
	REFUSED("unknown command 'go'", "go", "--dir", "d");
	REFUSED("run: --root is required", "run", "--dir", "d", "--port", "1");
	REFUSED("run: --port is required", "run", "--dir", "d", "--root", "r");
	REFUSED("fixture: --dir is required", "fixture", "--devices", "5");
	REFUSED("--chain: at most 8 certificates", RUN, "--chain", "1", "--chain", "2", "--chain",
		"3", "--chain", "4", "--chain", "5", "--chain", "6", "--chain", "7", "--chain", "8",
		"--chain", "9");
	is_int(parse(1, ARGV(NULL)), 2, "no command: exit 2 (usage only)");
	ok(err[0] == '\0', "no command: no message beyond the usage");
	return tap_done();
}
