/*
 * cmd/serve.c - commands that need the configuration and the database:
 * serve, migrate, check, db; the shared option parser and database
 * opener of the CLI commands (cmd/cmd.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cmd/cmd.h"
#include "cmd/api.h"
#include "cmd/api_int.h"
#include "cmd/ops.h"
#include "core/cfg.h"
#include "core/log.h"
#include "core/server.h"
#include "policy/profile.h"
#include "ra/crl.h"
#include "ra/ra.h"
#include "store/db.h"
#include "store/embedded.h"
#include "store/migrate.h"

// clang-format off
static const struct spec spec_serve = { "serve",
	"usage: cmpgw serve [--config FILE]\n"
	"  run the gateway until SIGTERM/SIGINT (drain, then exit 0);\n"
	"  SIGHUP reloads the configuration\n" COMMON_HELP, 0, 0 };
static const struct spec spec_migrate = { "migrate",
	"usage: cmpgw migrate [--config FILE]\n"
	"  apply the database migrations and SQL functions, then exit\n" COMMON_HELP, 0, 0 };
static const struct spec spec_check = { "check",
	"usage: cmpgw check [--config FILE]\n"
	"  load and validate the configuration (files, keys, certificates);\n"
	"  exit 0 if it is good, 2 with the offending key's path if not\n" COMMON_HELP, 0, 0 };
static const struct spec spec_db_stop = { "db stop",
	"usage: cmpgw db stop [--config FILE] [--force]\n"
	"  stop the embedded PostgreSQL (database.url null)\n" COMMON_HELP
	"  --force             stop it even while a gateway uses it\n", O_FORCE, 0 };
// clang-format on

/*
 * argv[0] is the last command word. Returns 0 (parsed, config set), -1
 * (--help printed: exit 0) or 2 (message printed: exit 2).
 */
int cmd_parse_opts(const struct spec *sp, int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "serial-rule", required_argument, NULL, O_SERIAL_RULE },
		{ "no-reenroll", no_argument, NULL, O_NO_REENROLL },
		{ "blocked", no_argument, NULL, O_BLOCKED },
		{ "force", no_argument, NULL, O_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	cmd_getopt_reset();
	while ((c = cmd_getopt(sp->cmd, argc, argv, ":c:h", longopts)) != -1) {
		if (c == 'h') {
			fputs(sp->usage, stdout);
			return -1;
		} else if (c == 'c') {
			o->config = optarg;
		} else if (c == '?') {
			return 2;
		} else if (!(sp->opts & (unsigned)c)) {
			/* by its table name: argv[optind - 1] may be its value */
			const struct option *lo = longopts;
			while (lo->name && lo->val != c)
				lo++;
			fprintf(stderr,
				"cmpgw %s: unknown option \"--%s\" (try: cmpgw %s --help)\n",
				sp->cmd, lo->name ? lo->name : "?", sp->cmd);
			return 2;
		} else if (c == O_SERIAL_RULE) {
			o->serial_rule = optarg;
		} else {
			o->no_reenroll |= c == O_NO_REENROLL;
			o->blocked |= c == O_BLOCKED;
			o->force |= c == O_FORCE;
		}
	}
	o->npos = argc - optind;
	if (o->npos != sp->npos) {
		fprintf(stderr, "cmpgw %s: %s\n%s", sp->cmd,
			o->npos > sp->npos ? "too many arguments" : "missing arguments", sp->usage);
		return 2;
	}
	for (int i = 0; i < o->npos; i++)
		o->pos[i] = argv[optind + i];
	o->config = cmd_config(sp->cmd, o->config);
	return o->config ? 0 : 2;
}

/* A loaded config and a way to reach the database (emb: our use of the
 * embedded server, see store/embedded.h). */
struct env {
	struct cfg *cfg;
	char conninfo[1024];
	struct store_embedded *emb;
};

/* The database part of env_open: the URL, or the embedded server (started
 * unless running; its owner lock held until env_close). 0 or exit code 1. */
static int env_db(struct env *e)
{
	char err[1024] = "";
	int rc;

	if (e->cfg->db_url) {
		snprintf(e->conninfo, sizeof(e->conninfo), "%s", e->cfg->db_url);
		return 0;
	}
	e->emb = store_embedded_open(e->cfg->data_dir, e->cfg->db_embedded_user, e->conninfo,
				     sizeof(e->conninfo), &rc, err, sizeof(err));
	if (!e->emb) {
		fprintf(stderr, "cmpgw: embedded PostgreSQL: %s\n", err[0] ? err : rc_str(rc));
		return 1;
	}
	return 0;
}

/* flags: CFG_LOAD_ADMIN for every command that neither signs nor seals
 * (issue 14: they run for users who cannot read the private keys), 0 for
 * serve and check. */
static int env_open(const char *config, unsigned flags, struct env *e, bool need_db)
{
	char err[1024] = "";
	int rc;

	memset(e, 0, sizeof(*e));
	rc = cfg_load_flags(config, flags, &e->cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "cmpgw: %s\n", err[0] ? err : rc_str(rc));
		return 2;
	}
	log_setup(e->cfg->log_level, e->cfg->log_json, 2);
	return need_db ? env_db(e) : 0;
}

/* always_stop: serve stops the embedded server whoever started it (a
 * previous gateway killed with -9 leaves it running); a CLI command only
 * the one it started. Either way never while another cmpgw process still
 * uses it (store_embedded_close). */
static void env_close(struct env *e, bool always_stop)
{
	bool stop = always_stop || store_embedded_started(e->emb);

	if (store_embedded_close(e->emb, stop) != 0)
		fprintf(stderr, "cmpgw: stopping the embedded PostgreSQL failed\n");
	e->emb = NULL;
	cfg_free(e->cfg);
	e->cfg = NULL;
}

static int migrate_now(const char *conninfo)
{
	struct store_conn *c = NULL;
	char err[512] = "";
	int rc = store_db_connect(conninfo, &c);

	if (rc == 0)
		rc = store_migrate_apply(c, err, sizeof(err));
	store_db_close(c);
	if (rc != 0) {
		fprintf(stderr, "cmpgw: migrations: %s\n", err[0] ? err : rc_str(rc));
		return 1;
	}
	return 0;
}

/* One start-up warning: on stderr for check, in the log for serve. */
static void warn(bool to_log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(bool to_log, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_log)
		log_warn(NULL, "%s", line);
	else
		fprintf(stderr, "cmpgw: warning: %s\n", line);
}

/* Issue 10 finding 4: say early that the issuing CA or the CMP signer
 * expires within ca.expiry_warning_days (or has), and, for check, which
 * profiles reach past the issuing CA (their certificates are capped at
 * its notAfter). Warnings only: the exit code stays. */
static void warn_expiry(const struct cfg *cfg, bool to_log, bool profiles)
{
	const struct {
		const char *what;
		X509 *cert;
	} certs[] = { { "issuing CA certificate", cfg->ca_cert },
		      { "CMP signing certificate", cfg->cmp_cert } };

	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		X509 *x = certs[i].cert;
		char subject[512];
		int days = 0, secs = 0;
		if (!x || (i > 0 && x == cfg->ca_cert) ||
		    !ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
			continue;
		ra_name_str(X509_get_subject_name(x), subject, sizeof(subject));
		if (days < 0 || secs < 0 || (days == 0 && secs == 0))
			warn(to_log, "%s \"%s\" has expired", certs[i].what, subject);
		else if (days < cfg->ca_expiry_warn_days)
			warn(to_log, "%s \"%s\" expires in %d day(s) (ca.expiry_warning_days %d)",
			     certs[i].what, subject, days, cfg->ca_expiry_warn_days);
	}
	for (size_t i = 0; profiles && cfg->ca_cert && i < cfg->n_profiles; i++)
		if (policy_profile_outlives_ca(cfg, &cfg->profiles[i]))
			warn(to_log,
			     "profile \"%s\": validity_days %d reaches past the issuing CA's "
			     "notAfter; its certificates will be capped at it",
			     cfg->profiles[i].name, cfg->profiles[i].validity_days);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Start-up: connect and migrate, retrying an unreachable database with
 * backoff (100 ms doubling to 2 s) for database.startup_timeout_s seconds
 * (0: forever), one warning per failed attempt (libpq's message: host and
 * database, never a password). Returns 0 (ready), 1 (gave up, or a
 * migration failed) or -1 (stop signal while waiting).
 */
static int db_wait_ready(const struct cfg *cfg, const char *conninfo)
{
	long delay = 100, limit = (long)cfg->db_startup_timeout_s * 1000;
	struct timespec t0;
	char err[512];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int attempt = 1;; attempt++) {
		struct store_conn *c = NULL;
		long spent, wait;
		int rc, sig;

		err[0] = '\0';
		if (store_db_connect_msg(conninfo, &c, err, sizeof(err)) == 0) {
			rc = store_migrate_apply(c, err, sizeof(err));
			store_db_close(c);
			if (rc != 0) {
				log_error(NULL, "migrations: %s", err[0] ? err : rc_str(rc));
				return 1;
			}
			if (attempt > 1)
				log_info(NULL, "database reachable after %d attempts (%ld ms)",
					 attempt, ms_since(&t0));
			return 0;
		}
		spent = ms_since(&t0);
		if (limit > 0 && spent >= limit) {
			log_error(NULL,
				  "database unreachable for %ld s (database.startup_timeout_s "
				  "%d): %s",
				  (spent + 500) / 1000, cfg->db_startup_timeout_s,
				  err[0] ? err : "connection failed");
			return 1;
		}
		wait = limit > 0 && limit - spent < delay ? limit - spent : delay;
		log_warn(NULL, "database unreachable (attempt %d, next in %ld ms): %s", attempt,
			 wait, err[0] ? err : "connection failed");
		sig = server_signal_wait(wait);
		if (sig) {
			log_info(NULL, "signal %d while waiting for the database: stopping", sig);
			return -1;
		}
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
}

/* The CMP worker and the admin API's jobs (cmd/api_int.h) of a worker;
 * at the end the jobs stop first (the loop has ended: their answers are
 * never sent, and the connections close with the server). */
static int serve_worker_init(struct worker *w)
{
	int rc = ra_worker_init(w);

	if (rc == 0 && (rc = cmd_api_worker_init(w)) != 0)
		ra_worker_fini(w);
	return rc;
}

static void serve_worker_fini(struct worker *w)
{
	cmd_api_worker_fini(w);
	ra_worker_fini(w);
}

/*
 * serve: bind the listeners first, so that a second gateway on the same
 * configuration fails (exit 2) before it touches the database another
 * gateway uses; then the database (retried, see db_wait_ready); then
 * listen (connections are refused until the database is ready) and run
 * the workers until SIGTERM/SIGINT, which drain (core/server.h).
 */
int cmd_serve(int argc, char **argv)
{
	struct opts o;
	struct env e;
	char err[512] = "";
	int *fds = NULL, brc = 0;
	int rc = cmd_parse_opts(&spec_serve, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = env_open(o.config, 0, &e, false);
	if (rc != 0)
		goto out;
	if (e.cfg->admin_only) { /* never serve without the keys */
		log_error(NULL, "cannot serve: configuration loaded without its keys");
		rc = 2;
		goto out;
	}
	server_signals_block();
	fds = server_bind(e.cfg, &brc, err, sizeof(err));
	if (!fds) {
		log_error(NULL, "cannot serve: %s%s", err,
			  brc == RC_IO ? " (is another gateway running with this configuration?)"
				       : "");
		rc = brc == RC_NOMEM ? 1 : 2;
		goto out;
	}
	rc = env_db(&e);
	if (rc != 0)
		goto out;
	warn_expiry(e.cfg, true, false);
	rc = db_wait_ready(e.cfg, e.conninfo);
	if (rc == 0 && server_listen(e.cfg, fds, err, sizeof(err)) != 0) {
		log_error(NULL,
			  "cannot serve: %s (is another gateway running with this "
			  "configuration?)",
			  err);
		rc = 2;
	} else if (rc == 0) {
		/* GET routes above the CMP dispatcher (RFC 5280 5 CRL, the
		 * caIssuers certificate); every other path goes to ra_dispatch */
		static const struct server_route routes[] = {
			{ ra_crl_path, false,
			  SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), "GET, HEAD",
			  ra_crl_route },
			{ ra_crl_ca_cert_path, false,
			  SERVER_METHOD(HTTP_M_GET) | SERVER_METHOD(HTTP_M_HEAD), "GET, HEAD",
			  ra_crl_route },
		};
		struct server_hooks hooks = { .worker_init = serve_worker_init,
					      .worker_fini = serve_worker_fini,
					      .worker_reload = ra_worker_reload,
					      .routes = routes,
					      .n_routes = sizeof(routes) / sizeof(routes[0]),
					      .dispatch = ra_dispatch,
					      .admin_dispatch = cmd_api_dispatch,
					      .admin_stream_match = cmd_api_stream_match,
					      .shared = e.conninfo };
		if (cmd_ops_setup(&hooks) != 0) {
			log_error(NULL, "cannot serve: out of memory");
			rc = 1;
		} else {
			rc = server_run(e.cfg, &hooks, fds) == 0 ? 0 : 1;
		}
		cmd_ops_teardown(&hooks);
	} else if (rc < 0) {
		rc = 0; /* stopped on request before start-up finished */
	}
out:
	if (e.cfg)
		server_unbind(fds, e.cfg->n_listen);
	env_close(&e, true);
	if (rc == 0)
		log_info(NULL, "stopped");
	return rc;
}

int cmd_migrate(int argc, char **argv)
{
	struct opts o;
	struct env e;
	int rc = cmd_parse_opts(&spec_migrate, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = env_open(o.config, CFG_LOAD_ADMIN, &e, true);
	if (rc == 0)
		rc = migrate_now(e.conninfo);
	if (rc == 0)
		printf("database schema is at version %d\n", store_migrate_latest());
	env_close(&e, false);
	return rc;
}

int cmd_check(int argc, char **argv)
{
	struct opts o;
	struct env e;
	int rc = cmd_parse_opts(&spec_check, argc, argv, &o);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = env_open(o.config, 0, &e, false);
	if (rc == 0)
		warn_expiry(e.cfg, false, true);
	if (rc == 0)
		printf("%s: configuration OK (%zu aliases, %zu profiles)\n", o.config,
		       e.cfg->n_aliases, e.cfg->n_profiles);
	env_close(&e, false);
	return rc;
}

int cmd_db(int argc, char **argv)
{
	struct opts o;
	int rc;

	if (argc >= 2 && cmd_is_help(argv[1])) {
		fputs(spec_db_stop.usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "stop") != 0) {
		fputs(spec_db_stop.usage, stderr);
		return 2;
	}
	rc = cmd_parse_opts(&spec_db_stop, argc - 1, argv + 1, &o);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	struct env e;
	char err[1024] = "";
	rc = env_open(o.config, CFG_LOAD_ADMIN, &e, false);
	/* Never the server a live gateway uses, unless --force (issue 11). */
	if (rc == 0 && !e.cfg->db_url &&
	    store_embedded_stop_unused(e.cfg->data_dir, e.cfg->db_embedded_user, o.force, err,
				       sizeof(err)) != 0) {
		fprintf(stderr, "cmpgw: %s\n",
			err[0] ? err : "stopping the embedded PostgreSQL failed");
		rc = 1;
	}
	env_close(&e, false);
	return rc;
}

/* Open env + blocking connection + migrations, for the CLI commands. */
static int cli_db(const struct opts *o, struct env *e, struct store_conn **c)
{
	int rc = env_open(o->config, CFG_LOAD_ADMIN, e, true);
	if (rc != 0)
		return rc;
	rc = migrate_now(e->conninfo);
	if (rc != 0)
		return rc;
	if (store_db_connect(e->conninfo, c) != 0) {
		fprintf(stderr, "cmpgw: cannot connect to the database\n");
		return 1;
	}
	return 0;
}

int cmd_db_open(const char *config, struct cmd_db *d)
{
	struct opts o = { .config = config };
	int rc;

	memset(d, 0, sizeof(*d));
	if (!(d->env = calloc(1, sizeof(*d->env))))
		return 1;
	rc = cli_db(&o, d->env, &d->conn);
	d->cfg = d->env->cfg;
	return rc;
}

void cmd_db_close(struct cmd_db *d)
{
	store_db_close(d->conn);
	if (d->env) {
		env_close(d->env, false);
		free(d->env);
	}
	memset(d, 0, sizeof(*d));
}
