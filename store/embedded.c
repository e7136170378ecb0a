/*
 * store/embedded.c - initdb/pg_ctl driver for the private server (see
 * embedded.h). Child processes are exec'd directly, never via a shell;
 * their output is captured through a pipe so a failure can be reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/embedded.h"

#define RUN_TIMEOUT_MS 90000 /* above pg_ctl -t 60 */
#define PG_WAIT	       "60"
#define SOCK_NAME      "/.s.PGSQL.5432"
#define LOCK_NAME      "/cmpgw-owner.lock"
#define LOCK_WAIT_MS   120000 /* a stop in progress: above pg_ctl -t 60 */

struct emb {
	char bindir[PATH_MAX];
	char data[PATH_MAX];
	char pgdata[PATH_MAX + 16];
	char sock[PATH_MAX + 16];
	char log[PATH_MAX + 32];
	bool drop; /* running as root: switch to user */
	uid_t uid;
	gid_t gid;
	char user[64];
	char *err;
	size_t errlen;
};

#define EMB_ERR(e, ...)                                                                            \
	((e)->err && (e)->errlen ? (void)snprintf((e)->err, (e)->errlen, __VA_ARGS__) : (void)0)

static int find_bindir(struct emb *e)
{
	const char *env = getenv("CMPGW_PG_BINDIR");
	struct dirent *d;
	DIR *dir;
	long best = -1;
	char probe[PATH_MAX + 32];

	if (env && *env) {
		snprintf(e->bindir, sizeof(e->bindir), "%s", env);
		return RC_OK;
	}
	dir = opendir("/usr/lib/postgresql");
	while (dir && (d = readdir(dir))) {
		char *end;
		long v = strtol(d->d_name, &end, 10);

		if (*end || v <= best)
			continue;
		snprintf(probe, sizeof(probe), "/usr/lib/postgresql/%s/bin/initdb", d->d_name);
		if (access(probe, X_OK) == 0) {
			best = v;
			snprintf(e->bindir, sizeof(e->bindir), "/usr/lib/postgresql/%ld/bin", v);
		}
	}
	if (dir)
		closedir(dir);
	if (best < 0) {
		EMB_ERR(e, "no PostgreSQL binaries: no /usr/lib/postgresql/*/bin/initdb; "
			   "install postgresql or set CMPGW_PG_BINDIR");
		return RC_NOTFOUND;
	}
	return RC_OK;
}

/* Paths end up in a pg_ctl -o string and a GUC list: keep them plain. */
static bool path_plain(const char *p)
{
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("/._+@~-", *p)))
			return false;
	return true;
}

static int emb_init(struct emb *e, const char *data_dir, const char *os_user, bool create)
{
	struct passwd *pw;
	size_t socklen;

	if (!data_dir || !*data_dir) {
		EMB_ERR(e, "embedded database: empty data directory");
		return RC_INVAL;
	}
	if (!path_plain(data_dir)) {
		EMB_ERR(e, "data directory %s: only letters, digits and /._+@~- allowed", data_dir);
		return RC_INVAL;
	}
	/* realpath() below needs the directory: check what we can first */
	if (data_dir[0] == '/' && strlen(data_dir) + strlen("/pgsock" SOCK_NAME) >=
					  sizeof(((struct sockaddr_un *)0)->sun_path)) {
		EMB_ERR(e,
			"socket path %s/pgsock%s is over the unix socket limit of %zu bytes; "
			"use a shorter data directory",
			data_dir, SOCK_NAME, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return RC_INVAL;
	}
	if (create && mkdir(data_dir, 0711) != 0 && errno != EEXIST) {
		EMB_ERR(e, "cannot create %s: %s", data_dir, strerror(errno));
		return RC_IO;
	}
	if (!realpath(data_dir, e->data)) {
		EMB_ERR(e, "cannot resolve %s: %s", data_dir, strerror(errno));
		return errno == ENOENT ? RC_NOTFOUND : RC_IO;
	}
	if (!path_plain(e->data)) {
		EMB_ERR(e, "data directory %s: only letters, digits and /._+@~- allowed", e->data);
		return RC_INVAL;
	}
	snprintf(e->pgdata, sizeof(e->pgdata), "%s/pgdata", e->data);
	snprintf(e->sock, sizeof(e->sock), "%s/pgsock", e->data);
	snprintf(e->log, sizeof(e->log), "%s/postgresql.log", e->data);
	socklen = strlen(e->sock) + strlen(SOCK_NAME);
	if (socklen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		EMB_ERR(e,
			"socket path %s%s is %zu bytes, over the unix socket limit of %zu; "
			"use a shorter data directory",
			e->sock, SOCK_NAME, socklen,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return RC_INVAL;
	}
	e->uid = getuid();
	e->gid = getgid();
	e->drop = geteuid() == 0;
	if (!e->drop)
		return find_bindir(e);
	if (!os_user || !*os_user)
		os_user = "postgres";
	pw = getpwnam(os_user);
	if (!pw) {
		EMB_ERR(e,
			"running as root, the embedded PostgreSQL needs an unprivileged OS "
			"user: user \"%s\" not found (create it or configure another)",
			os_user);
		return RC_NOTFOUND;
	}
	if (pw->pw_uid == 0) {
		EMB_ERR(e, "OS user \"%s\" is root; PostgreSQL refuses to run as root", os_user);
		return RC_PERM;
	}
	e->uid = pw->pw_uid;
	e->gid = pw->pw_gid;
	snprintf(e->user, sizeof(e->user), "%s", pw->pw_name);
	return find_bindir(e);
}

/* In the child: become the user, wire stdio, exec. Never returns. */
static void child_exec(const struct emb *e, char *const argv[], int outfd)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/", NULL };
	int devnull = open("/dev/null", O_RDONLY);
	sigset_t none;

	/* serve blocks SIGTERM/SIGINT and ignores SIGPIPE before it starts
	 * the server; both would survive execve into PostgreSQL's tools */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(outfd, 1) < 0 || dup2(outfd, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	if (e->drop) {
		if (setgid(e->gid) != 0 || initgroups(e->user, e->gid) != 0 ||
		    setuid(e->uid) != 0 || setuid(0) == 0) {
			dprintf(2, "cannot switch to user %s\n", e->user);
			_exit(126);
		}
	}
	if (chdir("/") != 0)
		_exit(126);
	if (argv)
		execve(argv[0], argv, envp);
	dprintf(2, "cannot execute %s: %s\n", argv ? argv[0] : "-", strerror(errno));
	_exit(127);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static long ms_left(const struct timespec *t0)
{
	return RUN_TIMEOUT_MS - ms_since(t0);
}

/* Read the child's output until EOF (keep the tail), bounded in time. */
static bool read_output(int fd, char *tail, size_t cap, const struct timespec *t0)
{
	size_t used = 0;
	char chunk[1024];

	tail[0] = '\0';
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		long left = ms_left(t0);
		ssize_t n;

		if (left <= 0)
			return false;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return false;
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			return true;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return true;
		}
		if (used + (size_t)n >= cap) { /* keep the newest bytes */
			size_t drop = used + (size_t)n - (cap - 1);

			drop = drop > used ? used : drop;
			memmove(tail, tail + drop, used - drop);
			used -= drop;
		}
		if ((size_t)n >= cap)
			n = (ssize_t)(cap - 1);
		memcpy(tail + used, chunk, (size_t)n);
		used += (size_t)n;
		tail[used] = '\0';
	}
}

/*
 * Run argv (NULL: only the access probe below) as the cluster user. *status
 * gets the exit code (-1 if killed). Output tail in out. RC_TIMEOUT when
 * the child outlives RUN_TIMEOUT_MS (then it is killed).
 */
static int run(const struct emb *e, char *const argv[], int *status, char *out, size_t outlen)
{
	struct timespec t0;
	int fds[2], ws = 0, rc = RC_OK;
	pid_t pid;

	*status = -1;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return RC_IO;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return RC_IO;
	}
	if (pid == 0)
		child_exec(e, argv, fds[1]);
	close(fds[1]);
	if (!read_output(fds[0], out, outlen, &t0))
		rc = RC_TIMEOUT;
	close(fds[0]);
	while (rc == RC_OK && waitpid(pid, &ws, WNOHANG) == 0) {
		if (ms_left(&t0) <= 0)
			rc = RC_TIMEOUT;
		else
			usleep(10000);
	}
	if (rc == RC_TIMEOUT) {
		kill(pid, SIGKILL);
		waitpid(pid, &ws, 0);
		return rc;
	}
	if (WIFEXITED(ws))
		*status = WEXITSTATUS(ws);
	return rc;
}

/* Run a PostgreSQL tool. status NULL: a non-zero exit fails; else it is
 * handed back for the caller to judge. */
static int run_tool(struct emb *e, const char *what, char *const argv[], int *status)
{
	char out[1024];
	int st, rc = run(e, argv, &st, out, sizeof(out));

	if (status)
		*status = st;
	if (rc == RC_TIMEOUT) {
		EMB_ERR(e, "%s timed out after %d s", what, RUN_TIMEOUT_MS / 1000);
		return rc;
	}
	if (rc != RC_OK || (st != 0 && !status)) {
		for (size_t n = strlen(out); n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ');)
			out[--n] = '\0';
		EMB_ERR(e, "%s failed (exit %d): %s", what, st, out);
		return rc != RC_OK ? rc : RC_ERR;
	}
	return RC_OK;
}

/* A directory the cluster user owns (created by us if missing). */
static int own_dir(struct emb *e, const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) == 0 && e->drop && chown(path, e->uid, e->gid) != 0) {
		EMB_ERR(e, "chown %s: %s", path, strerror(errno));
		return RC_PERM;
	}
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		EMB_ERR(e, "cannot create directory %s: %s", path, strerror(errno));
		return RC_IO;
	}
	if (st.st_uid != e->uid) {
		EMB_ERR(e, "%s is owned by uid %u, expected %s (uid %u)", path, (unsigned)st.st_uid,
			e->drop ? e->user : "the current user", (unsigned)e->uid);
		return RC_PERM;
	}
	return RC_OK;
}

/* Can the cluster user reach pgdata? Probe in a child with its identity. */
static int check_access(struct emb *e)
{
	int fds[2], ws = 0;
	pid_t pid;

	if (!e->drop)
		return RC_OK;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return RC_IO;
	pid = fork();
	if (pid < 0)
		return RC_IO;
	if (pid == 0) {
		if (setgid(e->gid) != 0 || initgroups(e->user, e->gid) != 0 || setuid(e->uid) != 0)
			_exit(2);
		_exit(access(e->pgdata, R_OK | W_OK | X_OK) == 0 &&
				      access(e->sock, R_OK | W_OK | X_OK) == 0
			      ? 0
			      : 1);
	}
	close(fds[0]);
	close(fds[1]);
	waitpid(pid, &ws, 0);
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return RC_OK;
	EMB_ERR(e,
		"user %s cannot reach %s: every parent directory of %s must be "
		"traversable (o+x) by that user",
		e->user, e->pgdata, e->data);
	return RC_PERM;
}

static int do_initdb(struct emb *e)
{
	char prog[PATH_MAX + 16], pgver[PATH_MAX + 32], *argv[12];
	int i = 0;

	snprintf(pgver, sizeof(pgver), "%s/PG_VERSION", e->pgdata);
	if (access(pgver, F_OK) == 0)
		return RC_OK;
	snprintf(prog, sizeof(prog), "%s/initdb", e->bindir);
	argv[i++] = prog;
	argv[i++] = "-D";
	argv[i++] = e->pgdata;
	argv[i++] = "-U";
	argv[i++] = "cmpgw";
	argv[i++] = "--auth=trust";
	argv[i++] = "-E";
	argv[i++] = "UTF8";
	argv[i++] = "--no-instructions";
	argv[i] = NULL;
	log_info(NULL, "store: initialising embedded PostgreSQL in %s", e->pgdata);
	return run_tool(e, "initdb", argv, NULL);
}

/* pg_ctl opens its -l file as the cluster user, who may not write data_dir. */
static int prepare_log(struct emb *e)
{
	int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		EMB_ERR(e, "cannot open %s: %s", e->log, strerror(errno));
		return RC_IO;
	}
	if (e->drop && fchown(fd, e->uid, e->gid) != 0) {
		EMB_ERR(e, "chown %s: %s", e->log, strerror(errno));
		close(fd);
		return RC_PERM;
	}
	close(fd);
	return RC_OK;
}

/* pg_ctl status: true if a postmaster runs on pgdata. */
static int pg_status(struct emb *e, bool *running)
{
	char prog[PATH_MAX + 16], *argv[] = { prog, "status", "-D", e->pgdata, NULL };
	int st, rc;

	snprintf(prog, sizeof(prog), "%s/pg_ctl", e->bindir);
	rc = run_tool(e, "pg_ctl status", argv, &st);
	if (rc != RC_OK)
		return rc;
	*running = st == 0;
	if (st != 0 && st != 3) {
		EMB_ERR(e, "pg_ctl status on %s: exit %d", e->pgdata, st);
		return RC_ERR;
	}
	return RC_OK;
}

static int pg_start(struct emb *e)
{
	char prog[PATH_MAX + 16], opts[PATH_MAX + 160];
	char *argv[] = { prog, "-w", "-t", PG_WAIT, "-D",    e->pgdata,
			 "-o", opts, "-l", e->log,  "start", NULL };

	snprintf(prog, sizeof(prog), "%s/pg_ctl", e->bindir);
	/* unix socket only, readable by the cluster user (and root) only */
	snprintf(opts, sizeof(opts),
		 "-c listen_addresses='' -c unix_socket_directories='%s' "
		 "-c unix_socket_permissions=0700",
		 e->sock);
	log_info(NULL, "store: starting embedded PostgreSQL (log %s)", e->log);
	return run_tool(e, "pg_ctl start", argv, NULL);
}

/* The socket directory a running postmaster announced (line 5). */
static void running_sockdir(struct emb *e, char *out, size_t outlen)
{
	char path[PATH_MAX + 32], line[PATH_MAX];
	FILE *f;

	snprintf(out, outlen, "%s", e->sock);
	snprintf(path, sizeof(path), "%s/postmaster.pid", e->pgdata);
	f = fopen(path, "re");
	if (!f)
		return;
	for (int i = 1; fgets(line, sizeof(line), f); i++) {
		if (i != 5)
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '/' && path_plain(line))
			snprintf(out, outlen, "%s", line);
		break;
	}
	fclose(f);
}

static int ensure_database(struct emb *e, const char *sockdir)
{
	char ci[PATH_MAX + 96];
	PGconn *pg;
	PGresult *r = NULL;
	int rc = RC_DB;

	snprintf(ci, sizeof(ci), "host=%s dbname=postgres user=cmpgw connect_timeout=10", sockdir);
	pg = PQconnectdb(ci);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		EMB_ERR(e, "connect to embedded server: %s", pg ? PQerrorMessage(pg) : "no memory");
		goto out;
	}
	r = PQexec(pg, "SELECT 1 FROM pg_database WHERE datname = 'cmpgw'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		EMB_ERR(e, "query pg_database: %s", PQerrorMessage(pg));
		goto out;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		r = PQexec(pg, "CREATE DATABASE cmpgw");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

			if (!st || strcmp(st, "42P04") != 0) { /* lost a race: fine */
				EMB_ERR(e, "CREATE DATABASE cmpgw: %s", PQerrorMessage(pg));
				goto out;
			}
		}
	}
	rc = RC_OK;
out:
	PQclear(r);
	PQfinish(pg);
	return rc;
}

static int emb_start(const char *data_dir, const char *os_user, char *conninfo, size_t conninfo_len,
		     bool *started, char *errbuf, size_t errlen)
{
	struct emb e = { .err = errbuf, .errlen = errlen };
	char sockdir[PATH_MAX + 16];
	bool running = false;
	int rc;

	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!conninfo || !conninfo_len)
		return RC_INVAL;
	if ((rc = emb_init(&e, data_dir, os_user, true)) != RC_OK ||
	    (rc = own_dir(&e, e.pgdata)) != RC_OK || (rc = own_dir(&e, e.sock)) != RC_OK ||
	    (rc = check_access(&e)) != RC_OK || (rc = do_initdb(&e)) != RC_OK ||
	    (rc = pg_status(&e, &running)) != RC_OK)
		return rc;
	if (running) {
		log_info(NULL, "store: reusing running embedded PostgreSQL on %s", e.pgdata);
		running_sockdir(&e, sockdir, sizeof(sockdir));
	} else {
		if ((rc = prepare_log(&e)) != RC_OK || (rc = pg_start(&e)) != RC_OK)
			return rc;
		*started = true;
		snprintf(sockdir, sizeof(sockdir), "%s", e.sock);
	}
	if ((rc = ensure_database(&e, sockdir)) != RC_OK)
		return rc;
	if ((size_t)snprintf(conninfo, conninfo_len, "host=%s dbname=cmpgw user=cmpgw", sockdir) >=
	    conninfo_len) {
		EMB_ERR(&e, "conninfo buffer too small");
		return RC_TOOBIG;
	}
	return RC_OK;
}

int store_embedded_start(const char *data_dir, const char *os_user, char *conninfo,
			 size_t conninfo_len, char *errbuf, size_t errlen)
{
	bool started = false;

	return emb_start(data_dir, os_user, conninfo, conninfo_len, &started, errbuf, errlen);
}

int store_embedded_stop(const char *data_dir, const char *os_user)
{
	struct emb e = { 0 };
	char prog[PATH_MAX + 16], errbuf[512];
	char *argv[] = { prog, "-w", "-t", PG_WAIT, "-D", e.pgdata, "-m", "fast", "stop", NULL };
	bool running = false;
	int rc;

	e.err = errbuf;
	e.errlen = sizeof(errbuf);
	rc = emb_init(&e, data_dir, os_user, false);
	if (rc == RC_NOTFOUND && access(data_dir, F_OK) != 0)
		return RC_OK; /* no data directory: nothing runs */
	if (rc == RC_OK && access(e.pgdata, F_OK) != 0)
		return RC_OK;
	if (rc == RC_OK)
		rc = pg_status(&e, &running);
	if (rc == RC_OK && running) {
		snprintf(prog, sizeof(prog), "%s/pg_ctl", e.bindir);
		rc = run_tool(&e, "pg_ctl stop", argv, NULL);
	}
	if (rc != RC_OK)
		log_error(NULL, "store: embedded stop: %s", errbuf);
	return rc;
}

struct store_embedded {
	char data_dir[PATH_MAX];
	char os_user[64];
	bool has_user, started;
	int fd;
};

/* The lock file (created if missing, never followed as a symlink). */
static int lock_open(const char *data_dir, char *errbuf, size_t errlen)
{
	char path[PATH_MAX + 32];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s" LOCK_NAME, data_dir) >= sizeof(path)) {
		snprintf(errbuf, errlen, "data directory %s: path too long", data_dir);
		return RC_INVAL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
		return errno == EACCES ? RC_PERM : RC_IO;
	}
	return fd;
}

/* Process ids (other than ours) holding a lock on fd's file, from
 * /proc/locks ("1: FLOCK ADVISORY READ 1234 08:01:5678 0 EOF"; waiters,
 * marked "->", are skipped). Matched by inode number: on overlay file
 * systems the device there is not the one fstat() reports. */
static void lock_holders(int fd, char *out, size_t outlen)
{
	char want[32], line[256];
	struct stat st;
	size_t used = 0;
	FILE *f;

	snprintf(out, outlen, "unknown");
	if (fstat(fd, &st) != 0 || !(f = fopen("/proc/locks", "re")))
		return;
	snprintf(want, sizeof(want), ":%lu", (unsigned long)st.st_ino);
	while (fgets(line, sizeof(line), f)) {
		char *tok[8], *save = NULL;
		int n = 0;

		for (char *t = strtok_r(line, " \t\n", &save); t && n < 8;
		     t = strtok_r(NULL, " \t\n", &save))
			tok[n++] = t;
		if (n < 6 || strcmp(tok[1], "FLOCK") != 0)
			continue;
		size_t tl = strlen(tok[5]), wl = strlen(want);
		if (tl < wl || strcmp(tok[5] + tl - wl, want) != 0 ||
		    atol(tok[4]) == (long)getpid())
			continue;
		if (used + strlen(tok[4]) + 3 >= outlen)
			break;
		used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? ", " : "",
					 tok[4]);
	}
	fclose(f);
}

struct store_embedded *store_embedded_open(const char *data_dir, const char *os_user,
					   char *conninfo, size_t conninfo_len, int *rc,
					   char *errbuf, size_t errlen)
{
	struct store_embedded *em = NULL;
	char dummy[8];
	struct timespec t0;

	if (!errbuf || !errlen) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	errbuf[0] = '\0';
	*rc = RC_INVAL;
	if (!data_dir || !*data_dir || strlen(data_dir) >= sizeof(em->data_dir)) {
		snprintf(errbuf, errlen, "embedded database: empty or overlong data directory");
		return NULL;
	}
	if (!(em = calloc(1, sizeof(*em)))) {
		*rc = RC_NOMEM;
		return NULL;
	}
	snprintf(em->data_dir, sizeof(em->data_dir), "%s", data_dir);
	em->has_user = os_user != NULL;
	snprintf(em->os_user, sizeof(em->os_user), "%s", os_user ? os_user : "");
	if (mkdir(data_dir, 0711) != 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "cannot create %s: %s", data_dir, strerror(errno));
		*rc = RC_IO;
		goto fail;
	}
	if ((em->fd = lock_open(data_dir, errbuf, errlen)) < 0) {
		*rc = em->fd;
		goto fail;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (flock(em->fd, LOCK_SH | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			snprintf(errbuf, errlen, "lock %s" LOCK_NAME ": %s", data_dir,
				 strerror(errno));
			*rc = RC_IO;
			goto fail;
		}
		if (ms_since(&t0) >= LOCK_WAIT_MS) {
			snprintf(errbuf, errlen,
				 "the embedded PostgreSQL in %s is being stopped "
				 "and the stop did not finish within %d s",
				 data_dir, LOCK_WAIT_MS / 1000);
			*rc = RC_TIMEOUT;
			goto fail;
		}
		usleep(100000);
	}
	*rc = emb_start(data_dir, os_user, conninfo, conninfo_len, &em->started, errbuf, errlen);
	if (*rc == RC_OK)
		return em;
fail:
	if (em->fd >= 0)
		close(em->fd);
	free(em);
	return NULL;
}

bool store_embedded_started(const struct store_embedded *em)
{
	return em && em->started;
}

int store_embedded_close(struct store_embedded *em, bool stop)
{
	const char *user;
	char who[128];
	int rc = RC_OK;

	if (!em)
		return RC_OK;
	user = em->has_user ? em->os_user : NULL;
	/* Shared to exclusive: fails while any other process uses it. */
	if (stop && flock(em->fd, LOCK_EX | LOCK_NB) == 0) {
		rc = store_embedded_stop(em->data_dir, user);
	} else if (stop) {
		lock_holders(em->fd, who, sizeof(who));
		log_info(NULL,
			 "store: embedded PostgreSQL left running: cmpgw pid %s still uses it",
			 who);
	}
	close(em->fd);
	free(em);
	return rc;
}

int store_embedded_stop_unused(const char *data_dir, const char *os_user, bool force, char *errbuf,
			       size_t errlen)
{
	char who[128], dummy[8];
	int fd, rc;

	if (!errbuf || !errlen) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	errbuf[0] = '\0';
	if (!data_dir || access(data_dir, F_OK) != 0)
		return RC_OK; /* no data directory: nothing runs */
	if ((fd = lock_open(data_dir, errbuf, errlen)) < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		lock_holders(fd, who, sizeof(who));
		if (!force) {
			snprintf(errbuf, errlen,
				 "the embedded PostgreSQL in %s is in use by cmpgw pid %s (a "
				 "running "
				 "gateway or command); stop that first, or use db stop --force",
				 data_dir, who);
			close(fd);
			return RC_PERM;
		}
		log_warn(NULL,
			 "store: --force: stopping the embedded PostgreSQL in %s although "
			 "cmpgw pid %s uses it",
			 data_dir, who);
	}
	rc = store_embedded_stop(data_dir, os_user);
	if (rc != RC_OK)
		snprintf(errbuf, errlen, "stopping the embedded PostgreSQL in %s failed: %s",
			 data_dir, rc_str(rc));
	close(fd);
	return rc;
}
