"""Integration test harness for cmpgw (Python 3 stdlib only).

Pieces:
  Tap       -- TAP emitter: ok(), diag(), done()
  Pg        -- a throw-away PostgreSQL cluster (initdb --auth=trust, unix socket
               only, in a temp dir; run as the `postgres` OS user when root)
  Gateway   -- `cmpgw init` demo + database.url pointing at a Pg database,
               vendor/anchor/intermediate/serials registered via the CLI,
               `cmpgw serve` started/stopped/restarted, `openssl cmp` runner
  der_*     -- a tiny DER walker for CMP messages (failInfo, body type, ...)
  run(main) -- runs a test body with guaranteed cleanup and TAP output

Environment:
  CMPGW_BIN       the cmpgw executable (required)
  CMPGW_KEEP_TMP  =1 keeps the temporary directories (paths printed as diag)
  PG_BINDIR       PostgreSQL server binaries (default /usr/lib/postgresql/15/bin)
  OPENSSL         the openssl executable (default: openssl)
"""

import atexit
import errno
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
OPENSSL = os.environ.get("OPENSSL", "openssl")
KEEP_TMP = os.environ.get("CMPGW_KEEP_TMP") == "1"
IS_ROOT = os.geteuid() == 0

# PKIFailureInfo bit numbers (RFC 4210 / RFC 9810)
FAIL_BITS = {
    "badAlg": 0, "badMessageCheck": 1, "badRequest": 2, "badTime": 3,
    "badCertId": 4, "badDataFormat": 5, "wrongAuthority": 6, "incorrectData": 7,
    "missingTimeStamp": 8, "badPOP": 9, "certRevoked": 10, "certConfirmed": 11,
    "wrongIntegrity": 12, "badRecipientNonce": 13, "timeNotAvailable": 14,
    "unacceptedPolicy": 15, "unacceptedExtension": 16, "addInfoNotAvailable": 17,
    "badSenderNonce": 18, "badCertTemplate": 19, "signerNotTrusted": 20,
    "transactionIdInUse": 21, "unsupportedVersion": 22, "notAuthorized": 23,
    "systemUnavail": 24, "systemFailure": 25, "duplicateCertReq": 26,
}
FAIL_NAMES = {v: k for k, v in FAIL_BITS.items()}

# PKIBody choice numbers
BODY_NAMES = {0: "ir", 1: "ip", 2: "cr", 3: "cp", 4: "p10cr", 5: "popdecc",
              6: "popdecr", 7: "kur", 8: "kup", 9: "krr", 10: "krp", 11: "rr",
              12: "rp", 13: "ccr", 14: "ccp", 15: "ckuann", 16: "cann",
              17: "rann", 18: "crlann", 19: "pkiconf", 20: "nested", 21: "genm",
              22: "genp", 23: "error", 24: "certConf", 25: "pollReq",
              26: "pollRep"}


# --------------------------------------------------------------------------
# cleanup registry


_cleanups = []


def add_cleanup(fn):
    """Register fn() to run (in reverse order) when the test ends."""
    _cleanups.append(fn)
    return fn


def run_cleanups():
    # a second SIGTERM must not cut the cleanup short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:  # keep cleaning up
            sys.stdout.write("# cleanup error:\n")
            for line in traceback.format_exc().splitlines():
                sys.stdout.write("#   %s\n" % line)
    sys.stdout.flush()


atexit.register(run_cleanups)


def _on_signal(signum, _frame):
    # meson sends SIGTERM on timeout: make it an exception so finally runs
    raise SystemExit("killed by signal %d" % signum)


signal.signal(signal.SIGTERM, _on_signal)


def mktemp(prefix):
    """A temp dir that the postgres user can traverse; removed at the end
    unless CMPGW_KEEP_TMP=1."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)

    def rm():
        if KEEP_TMP:
            sys.stdout.write("# kept %s\n" % d)
        else:
            shutil.rmtree(d, ignore_errors=True)
    add_cleanup(rm)
    return d


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def wait_port(port, timeout, proc=None):
    """True once 127.0.0.1:port accepts; False on timeout or if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def port_closed(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


def sh(args, timeout=60, input=None, cwd=None, env=None, user=None):
    """Run a command; returns (exit code, stdout+stderr text). Bounded."""
    kw = {}
    if user is not None and IS_ROOT:
        kw["user"] = user
        kw["group"] = pwd.getpwnam(user).pw_gid
        kw["extra_groups"] = []
    try:
        p = subprocess.run([str(a) for a in args], input=input,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, cwd=cwd, env=env, **kw)
    except subprocess.TimeoutExpired as e:
        out = e.output or b""
        return -999, out.decode("utf-8", "replace") + "\n[timed out after %ss]" % timeout
    return p.returncode, p.stdout.decode("utf-8", "replace")


def tail(text, n=25):
    lines = text.splitlines()
    return "\n".join(lines[-n:])


def read_file(path, default=""):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return default


# --------------------------------------------------------------------------
# TAP


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        self.failures = []

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            sys.stdout.write("# %s\n" % line)
        sys.stdout.flush()

    def ok(self, cond, name, diag=None):
        self.n += 1
        name = name.replace("#", "\\#").replace("\n", " ")
        if cond:
            sys.stdout.write("ok %d - %s\n" % (self.n, name))
        else:
            self.failed += 1
            self.failures.append(name)
            sys.stdout.write("not ok %d - %s\n" % (self.n, name))
            if diag:
                self.diag(diag)
        sys.stdout.flush()
        return bool(cond)

    def eq(self, got, want, name, diag=None):
        d = "got:  %r\nwant: %r" % (got, want)
        if diag:
            d += "\n" + str(diag)
        return self.ok(got == want, name, d)

    def skip(self, name, reason):
        self.n += 1
        sys.stdout.write("ok %d - %s # SKIP %s\n" % (self.n, name, reason))
        sys.stdout.flush()

    def done(self):
        sys.stdout.write("1..%d\n" % self.n)
        if self.failed:
            sys.stdout.write("# %d of %d failed: %s\n"
                             % (self.failed, self.n, "; ".join(self.failures)))
        sys.stdout.flush()
        return 1 if self.failed or self.n == 0 else 0


def run(main):
    """Run main(tap) with cleanup guaranteed; exit with the TAP verdict."""
    t = Tap()
    try:
        main(t)
    except BaseException as e:  # includes SystemExit from SIGTERM
        t.ok(False, "test body completed without exception",
             "".join(traceback.format_exception(type(e), e, e.__traceback__)))
    finally:
        run_cleanups()
    sys.exit(t.done())


# --------------------------------------------------------------------------
# PostgreSQL


class Pg:
    """A private PostgreSQL cluster, unix socket only, trust auth."""

    USER = "postgres"  # database superuser name

    def __init__(self, tmp=None):
        self.tmp = tmp or mktemp("cmpgw-pg-")
        self.base = os.path.join(self.tmp, "pg")
        self.data = os.path.join(self.base, "data")
        self.sock = os.path.join(self.base, "sock")
        self.port = 5432
        self.os_user = "postgres" if IS_ROOT else None
        self.started = False
        self.log = os.path.join(self.base, "pg.log")
        os.makedirs(self.sock)
        if IS_ROOT:
            pw = pwd.getpwnam("postgres")
            for d in (self.base, self.sock):
                os.chown(d, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o755)
        self.start()

    def _bin(self, name):
        return os.path.join(PG_BINDIR, name)

    def start(self):
        if not os.path.exists(self.data):
            rc, out = sh([self._bin("initdb"), "-D", self.data, "--auth=trust",
                          "-U", self.USER, "-E", "UTF8", "--no-sync"],
                         timeout=120, user=self.os_user, cwd=self.base)
            if rc != 0:
                raise RuntimeError("initdb failed:\n" + out)
        opts = ("-c listen_addresses='' -k %s -p %d -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off"
                % (self.sock, self.port))
        add_cleanup(self.stop)
        rc, out = sh([self._bin("pg_ctl"), "-D", self.data, "-l", self.log, "-w",
                      "-t", "60", "-o", opts, "start"], timeout=90,
                     user=self.os_user, cwd=self.base)
        if rc != 0:
            raise RuntimeError("pg_ctl start failed:\n%s\n%s"
                               % (out, tail(read_file(self.log))))
        self.started = True

    def stop(self):
        if not self.started:
            return
        self.started = False
        rc, out = sh([self._bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w",
                      "-t", "30", "stop"], timeout=60, user=self.os_user,
                     cwd=self.base)
        if rc != 0:
            sh([self._bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w",
                "-t", "30", "stop"], timeout=40, user=self.os_user, cwd=self.base)

    def url(self, db):
        return "host=%s port=%d dbname=%s user=%s" % (self.sock, self.port, db,
                                                       self.USER)

    def createdb(self, name):
        rc, out = sh(["createdb", "-h", self.sock, "-p", self.port, "-U",
                      self.USER, name], timeout=60)
        if rc != 0:
            raise RuntimeError("createdb %s failed:\n%s" % (name, out))
        return name

    def psql(self, db, sql):
        """Rows as lists of strings (NULL -> None)."""
        return psql_at(self.sock, self.port, self.USER, db, sql)


def psql_at(host, port, user, db, sql):
    """Rows as lists of strings (NULL -> None)."""
    rc, out = sh(["psql", "-X", "-q", "-A", "-t", "-F", "\x1f", "-P",
                  "null=\x1e", "-v", "ON_ERROR_STOP=1", "-h", host,
                  "-p", port, "-U", user, "-d", db, "-c", sql],
                 timeout=60)
    if rc != 0:
        raise RuntimeError("psql failed (%s):\n%s" % (sql, out))
    rows = []
    for line in out.split("\n"):
        if line == "":
            continue
        rows.append([None if c == "\x1e" else c for c in line.split("\x1f")])
    return rows


# --------------------------------------------------------------------------
# cmpgw


def cmpgw_bin():
    b = os.environ.get("CMPGW_BIN")
    if not b:
        here = os.path.dirname(os.path.abspath(__file__))
        for cand in ("build-it", "build"):
            p = os.path.join(here, "..", "..", cand, "cmd", "cmpgw")
            if os.access(p, os.X_OK):
                return os.path.abspath(p)
        raise RuntimeError("CMPGW_BIN is not set")
    return b


def cmpgw(*args, timeout=60, input=None, env=None):
    return sh([cmpgw_bin()] + list(args), timeout=timeout, input=input, env=env)


class CmpResult:
    def __init__(self, rc, out, certout, args):
        self.rc = rc
        self.out = out
        self.certout = certout
        self.args = args

    def __repr__(self):
        return "openssl cmp exit %d\n%s" % (self.rc, tail(self.out, 30))

    def has(self, text):
        return text.lower() in self.out.lower()


class Gateway:
    """A cmpgw demo directory and `cmpgw serve` process.

    db: a Pg instance (external database) or None (embedded PostgreSQL,
    database.url null). register: add vendor acme + anchor + intermediate
    and import vendor/serials.txt through the CLI.
    """

    def __init__(self, tap, pg=None, devices=5, register=True, name="gw",
                 patch=None, admin=False):
        self.t = tap
        self.pg = pg
        self.tmp = mktemp("cmpgw-%s-" % name)
        self.dir = os.path.join(self.tmp, "demo")
        self.port = free_port()
        self.proc = None
        self.logf = None
        self.log = os.path.join(self.tmp, "serve.log")
        self.starts = 0
        self.db = None
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        rc, out = cmpgw("init", "--port", self.port, "--devices", devices,
                        "--force", self.dir)
        if rc != 0:
            raise RuntimeError("cmpgw init failed (%d):\n%s" % (rc, out))
        self.config = os.path.join(self.dir, "cmpgw.json")
        with open(self.config) as f:
            cfg = json.load(f)
        cfg["data_dir"] = os.path.join(self.tmp, "state")
        if pg is not None:
            self.db = pg.createdb(re.sub(r"[^a-z0-9_]", "_", name.lower()))
            cfg.setdefault("database", {})["url"] = pg.url(self.db)
        else:
            cfg.setdefault("database", {})["url"] = None
        cfg["listen"][0]["port"] = self.port
        # the operations listener (GET /metrics, /healthz, /readyz)
        self.ops_port = free_port()
        cfg["ops"] = {"address": "127.0.0.1", "port": self.ops_port}
        # the admin API `cmpgw init` writes (pki/admin-*): on a free port
        # when asked for, else none (tests that need their own set it)
        self.admin_port = None
        if admin and "admin" in cfg:
            self.admin_port = free_port()
            cfg["admin"]["port"] = self.admin_port
        else:
            cfg.pop("admin", None)
        if patch:
            patch(cfg)
        self.cfg = cfg
        self.write_config(cfg)
        add_cleanup(self._cleanup)
        if register:
            self.register()

    # --- files -------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def dev(self, k, kind="dev", ext="crt"):
        return self.path("devices", "%s-%04d.%s" % (kind, k, ext))

    def write_config(self, cfg, path=None):
        with open(path or self.config, "w") as f:
            json.dump(cfg, f, indent=2)

    # --- CLI ---------------------------------------------------------------

    def cli(self, *args, timeout=120):
        """cmpgw <args...> with --config inserted after the subcommand words."""
        words = []
        rest = list(args)
        while rest and rest[0] in ("vendor", "add", "anchor", "intermediate",
                                   "serials", "import", "syntax", "migrate", "check", "set",
                                   "serve", "db", "stop"):
            words.append(rest.pop(0))
        return cmpgw(*(words + ["--config", self.config] + rest), timeout=timeout)

    def must(self, *args):
        rc, out = self.cli(*args)
        if rc != 0:
            raise RuntimeError("cmpgw %s failed (%d):\n%s" % (" ".join(map(str, args)), rc, out))
        return out

    def register(self):
        if self.pg is not None:
            self.must("migrate")
        self.must("vendor", "add", "acme")
        self.must("vendor", "anchor", "add", "acme", self.path("vendor", "vendor-root.crt"))
        self.must("vendor", "intermediate", "add", "acme", self.path("vendor", "vendor-ca.crt"))
        self.must("serials", "import", "acme", self.path("vendor", "serials.txt"))

    # --- process -----------------------------------------------------------

    def start(self, timeout=20):
        self.starts += 1
        self.logf = open(self.log, "ab")
        self.logf.write(("\n==== start %d ====\n" % self.starts).encode())
        self.logf.flush()
        self.proc = subprocess.Popen([cmpgw_bin(), "serve", "--config", self.config],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp)
        if not wait_port(self.port, timeout, self.proc):
            rc = self.proc.poll()
            self._kill()
            raise RuntimeError("cmpgw serve did not accept on port %d within %ss "
                               "(exit %s); log tail:\n%s"
                               % (self.port, timeout, rc, self.log_tail()))
        return self

    def stop(self, timeout=20, check=True):
        """SIGTERM, bounded wait; returns the exit code (asserted 0 if check)."""
        if self.proc is None:
            return None
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
            rc = "timeout"
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        if check:
            self.t.ok(rc == 0, "cmpgw serve exits 0 on SIGTERM (start %d)" % self.starts,
                      "exit: %s\nlog tail:\n%s" % (rc, self.log_tail()))
        return rc

    def restart(self):
        self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def _cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        if self.pg is None:
            # embedded: make sure no postgres is left behind for our data dir
            self.cli("db", "stop", timeout=60)

    def log_text(self):
        return read_file(self.log)

    def log_tail(self, n=30):
        return tail(self.log_text(), n)

    # --- database ----------------------------------------------------------

    def psql(self, sql):
        if self.pg is None:
            # embedded server: unix socket under data_dir, database/user cmpgw
            return psql_at(os.path.join(self.cfg["data_dir"], "pgsock"), 5432,
                           "cmpgw", "cmpgw", sql)
        return self.pg.psql(self.db, sql)

    def scalar(self, sql):
        rows = self.psql(sql)
        return rows[0][0] if rows else None

    def counts(self):
        """Row counts of the tables a rejection must not touch (plus audit)."""
        r = self.psql("SELECT (SELECT count(*) FROM certificates),"
                      " (SELECT count(*) FROM transactions),"
                      " (SELECT count(*) FROM audit),"
                      " (SELECT count(*) FROM serials WHERE state <> 'allowed' OR key_fp IS NOT NULL)")[0]
        return {"certificates": int(r[0]), "transactions": int(r[1]),
                "audit": int(r[2]), "serials_touched": int(r[3])}

    # --- openssl cmp -------------------------------------------------------

    def cmp(self, k=1, cmd="ir", confirm="explicit", cert=None, key=None,
            newkey=None, extracerts="default", subject="default",
            path=".well-known/cmp/p/3gpp", certout=None, server=None,
            extra=(), timeout=30):
        """Run `openssl cmp` as device k. confirm: explicit | implicit | disable.
        Returns CmpResult(rc, output, certout)."""
        out_dir = os.path.join(self.tmp, "out")
        os.makedirs(out_dir, exist_ok=True)
        if certout is None:
            certout = os.path.join(out_dir, "cert-%04d-%d.pem" % (k, int(time.time() * 1e6)))
        args = [OPENSSL, "cmp", "-cmd", cmd,
                "-server", server or "127.0.0.1:%d" % self.port,
                "-path", path,
                "-cert", cert or self.dev(k),
                "-key", key or self.dev(k, ext="key"),
                "-newkey", newkey or self.dev(k, "new", "key"),
                "-trusted", self.path("pki", "operator-root.crt"),
                "-certout", certout,
                "-msg_timeout", str(timeout), "-total_timeout", str(timeout)]
        if extracerts == "default":
            extracerts = self.path("vendor", "vendor-ca.crt")
        if extracerts:
            args += ["-extracerts", extracerts]
        if subject == "default":
            subject = "/CN=ACME-%04d" % k
        if subject:
            args += ["-subject", subject]
        if confirm == "implicit":
            args.append("-implicit_confirm")
        elif confirm == "disable":
            args.append("-disable_confirm")
        args += list(extra)
        rc, out = sh(args, timeout=timeout + 15)
        return CmpResult(rc, out, certout, args)

    def post(self, body, path="/.well-known/cmp/p/3gpp", ctype="application/pkixcmp",
             method="POST", timeout=15):
        return http_post(self.port, body, path, ctype, method, timeout)

    def ops(self, path, method="GET", timeout=15):
        """One request to the operations listener (cfg["ops"]); returns
        (status, content-type, body)."""
        port = self.cfg.get("ops", {}).get("port") or self.ops_port
        return http_post(port, None, path, None, method, timeout)


def http_post(port, body, path="/.well-known/cmp/p/3gpp", ctype="application/pkixcmp",
              method="POST", timeout=15, headers=None):
    """One request on a new connection; returns (status, content-type, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Connection": "close"}
        if ctype is not None:
            h["Content-Type"] = ctype
        if headers:
            h.update(headers)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()


def read_response(sock, head_only=False, timeout=10):
    """One HTTP response from a raw socket: (status, headers, body)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed before the response headers (%r)" % buf[:200])
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if head_only:
        return status, headers, b""
    n = int(headers.get("content-length", "-1"))
    if n < 0:
        raise ValueError("no Content-Length in %r" % lines)
    while len(rest) < n:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed inside the body")
        rest += chunk
    return status, headers, rest[:n]



# --------------------------------------------------------------------------
# openssl helpers


def openssl(*args, timeout=60, input=None):
    return sh([OPENSSL] + list(args), timeout=timeout, input=input)


def cert_subject(pem):
    rc, out = openssl("x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", pem)
    if rc != 0:
        return None
    out = out.strip()
    return out[len("subject="):] if out.startswith("subject=") else out


# --------------------------------------------------------------------------
# DER


class Tlv:
    __slots__ = ("tag", "start", "hdr", "length", "buf")

    def __init__(self, buf, tag, start, hdr, length):
        self.buf, self.tag, self.start, self.hdr, self.length = buf, tag, start, hdr, length

    @property
    def cstart(self):
        return self.start + self.hdr

    @property
    def end(self):
        return self.start + self.hdr + self.length

    @property
    def content(self):
        return self.buf[self.cstart:self.end]

    @property
    def raw(self):
        return self.buf[self.start:self.end]

    def children(self):
        return der_children(self.buf, self.cstart, self.end)

    def __repr__(self):
        return "Tlv(tag=0x%02x, start=%d, len=%d)" % (self.tag, self.start, self.length)


def der_read(buf, off=0):
    if off + 2 > len(buf):
        raise ValueError("DER: truncated at %d" % off)
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        raise ValueError("DER: multi-byte tags unsupported")
    b = buf[off + 1]
    if b < 0x80:
        length, hdr = b, 2
    else:
        n = b & 0x7F
        if n == 0 or n > 4 or off + 2 + n > len(buf):
            raise ValueError("DER: bad length at %d" % off)
        length = int.from_bytes(buf[off + 2:off + 2 + n], "big")
        hdr = 2 + n
    if off + hdr + length > len(buf):
        raise ValueError("DER: element at %d overruns" % off)
    return Tlv(buf, tag, off, hdr, length)


def der_children(buf, start, end):
    out = []
    off = start
    while off < end:
        t = der_read(buf, off)
        out.append(t)
        off = t.end
    return out


def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der_tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def bits_of(bitstring_content):
    """Set bit numbers of a BIT STRING's content (first byte: unused bits)."""
    data = bitstring_content[1:]
    return {i * 8 + j for i, byte in enumerate(data) for j in range(8)
            if byte & (0x80 >> j)}


class CmpMsg:
    """Just enough of a PKIMessage: header, body type, status/failInfo."""

    def __init__(self, der):
        self.der = bytes(der)
        top = der_read(self.der, 0)
        if top.tag != 0x30 or top.end != len(self.der):
            raise ValueError("not a single DER SEQUENCE")
        self.parts = top.children()
        self.header, self.body = self.parts[0], self.parts[1]
        self.protection = next((p for p in self.parts[2:] if p.tag == 0xA0), None)
        self.extra = next((p for p in self.parts[2:] if p.tag == 0xA1), None)
        self.body_num = self.body.tag & 0x1F
        self.body_type = BODY_NAMES.get(self.body_num, str(self.body_num))

    def header_field(self, num):
        """Content TLV of header [num] EXPLICIT field, or None."""
        # pvno, sender, recipient first (GeneralName tags would collide)
        for c in self.header.children()[3:]:
            if c.tag == 0xA0 + num:
                return c.children()[0]
        return None

    @property
    def transaction_id(self):
        f = self.header_field(4)
        return f.content if f else None

    def status_infos(self):
        """[(status, failbits set, [strings])] of error or ip/cp/kup body."""
        res = []
        inner = self.body.children()[0]
        if self.body_type == "error":
            res.append(_status_info(inner.children()[0]))
        elif self.body_type in ("ip", "cp", "kup"):
            for c in inner.children():
                if c.tag == 0x30:  # response SEQUENCE OF CertResponse
                    for cr in c.children():
                        res.append(_status_info(cr.children()[1]))
        return res

    @property
    def failbits(self):
        s = set()
        for _st, bits, _txt in self.status_infos():
            s |= bits
        return s

    @property
    def failnames(self):
        return sorted(FAIL_NAMES.get(b, str(b)) for b in self.failbits)

    @property
    def texts(self):
        return [x for _s, _b, t in self.status_infos() for x in t]

    def describe(self):
        try:
            si = self.status_infos()
        except Exception as e:  # noqa
            si = "unparsable (%s)" % e
        return "body=%s failInfo=%s status=%s" % (self.body_type, self.failnames, si)


def _status_info(seq):
    kids = seq.children()
    status = int.from_bytes(kids[0].content, "big")
    bits, texts = set(), []
    for k in kids[1:]:
        if k.tag == 0x30:
            texts = [s.content.decode("utf-8", "replace") for s in k.children()]
        elif k.tag == 0x03:
            bits = bits_of(k.content)
    return status, bits, texts


def protected_part(msg):
    """DER of ProtectedPart ::= SEQUENCE { header, body }."""
    return der_tlv(0x30, msg.header.raw + msg.body.raw)


def resign(der, keyfile, digest="sha256"):
    """Recompute the signature protection of a PKIMessage with keyfile
    (ECDSA/RSA via `openssl dgst -sign`); returns the new DER."""
    msg = CmpMsg(der)
    p = subprocess.run([OPENSSL, "dgst", "-" + digest, "-sign", keyfile, "-binary"],
                       input=protected_part(msg), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl dgst -sign failed: %s" % p.stderr.decode())
    sig = p.stdout
    prot = der_tlv(0xA0, der_tlv(0x03, b"\x00" + sig))
    rest = b"".join(x.raw for x in msg.parts[2:] if x.tag != 0xA0)
    return der_tlv(0x30, msg.header.raw + msg.body.raw + prot + rest)


def flip_byte(der, offset, mask=0x01):
    b = bytearray(der)
    b[offset] ^= mask
    return bytes(b)


def popo_signature(msg):
    """The POPOSigningKey signature BIT STRING Tlv of the first CertReqMsg
    of an ir/cr/kur, or None (e.g. raVerified)."""
    reqs = msg.body.children()[0]          # CertReqMessages
    crm = reqs.children()[0]               # CertReqMsg
    for c in crm.children()[1:]:
        if c.tag == 0xA1:                  # signature [1] POPOSigningKey (IMPLICIT)
            kids = c.children()
            return kids[-1] if kids and kids[-1].tag == 0x03 else None
    return None


def capture_request(gw, k=1, extra=(), **kw):
    """An ir as `openssl cmp` would send it, without sending it: -reqout
    plus -rspin of a junk file (the client then contacts no server; a closed
    port would make it retry until -msg_timeout). Returns DER bytes."""
    out = os.path.join(gw.tmp, "out")
    os.makedirs(out, exist_ok=True)
    f = os.path.join(out, "req-%d.der" % int(time.time() * 1e6))
    junk = os.path.join(out, "junk.der")
    with open(junk, "wb") as fh:
        fh.write(b"junk\n")
    r = gw.cmp(k, extra=["-reqout", f, "-rspin", junk] + list(extra), timeout=10, **kw)
    if not os.path.exists(f):
        raise RuntimeError("openssl cmp -reqout wrote nothing:\n%r" % r)
    with open(f, "rb") as fh:
        return fh.read()


# --------------------------------------------------------------------------
# test PKI material made with the openssl CLI


def new_key(path):
    rc, out = openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-out", path)
    if rc != 0:
        raise RuntimeError("genpkey failed:\n" + out)
    return path


def make_root(workdir, name, subj, days=30):
    """A self-signed CA: returns (crt, key)."""
    key = new_key(os.path.join(workdir, name + ".key"))
    crt = os.path.join(workdir, name + ".crt")
    rc, out = openssl("req", "-x509", "-new", "-key", key, "-subj", subj,
                      "-days", str(days), "-sha256", "-out", crt,
                      "-addext", "basicConstraints=critical,CA:TRUE",
                      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                      "-addext", "subjectKeyIdentifier=hash")
    if rc != 0:
        raise RuntimeError("req -x509 failed:\n" + out)
    return crt, key


_CA_CNF = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
default_days = 365
policy = pol
unique_subject = no
copy_extensions = none
x509_extensions = ext
email_in_dn = no
[ pol ]
serialNumber = optional
organizationName = optional
organizationalUnitName = optional
commonName = optional
[ ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def sign_cert(workdir, name, subj, ca_crt, ca_key, key=None, days=365,
              startdate=None, enddate=None):
    """An end-entity certificate for subj (e.g. "/serialNumber=X/O=Acme/CN=Y"),
    signed by ca_crt/ca_key with `openssl ca` (which accepts explicit
    -startdate/-enddate as YYMMDDHHMMSSZ, unlike `x509` in OpenSSL 3.0).
    Returns (crt, key)."""
    cadir = os.path.join(workdir, "ca-" + name)
    os.makedirs(os.path.join(cadir, "newcerts"), exist_ok=True)
    open(os.path.join(cadir, "index.txt"), "w").close()
    with open(os.path.join(cadir, "serial"), "w") as f:
        f.write("%032X\n" % int.from_bytes(os.urandom(15), "big"))
    cnf = os.path.join(cadir, "ca.cnf")
    with open(cnf, "w") as f:
        f.write(_CA_CNF.format(dir=cadir))
    key = key or new_key(os.path.join(workdir, name + ".key"))
    csr = os.path.join(cadir, name + ".csr")
    rc, out = openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
    if rc != 0:
        raise RuntimeError("req -new failed:\n" + out)
    crt = os.path.join(workdir, name + ".crt")
    args = ["ca", "-batch", "-notext", "-preserveDN", "-config", cnf,
            "-cert", ca_crt, "-keyfile", ca_key, "-in", csr, "-out", crt]
    if startdate:
        args += ["-startdate", startdate]
    if enddate:
        args += ["-enddate", enddate]
    else:
        args += ["-days", str(days)]
    rc, out = openssl(*args)
    if rc != 0:
        raise RuntimeError("openssl ca failed:\n" + out)
    return crt, key


def utc_stamp(offset_s):
    """YYMMDDHHMMSSZ for now + offset_s (openssl ca -startdate/-enddate)."""
    return time.strftime("%y%m%d%H%M%SZ", time.gmtime(time.time() + offset_s))
