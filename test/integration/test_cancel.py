#!/usr/bin/env python3
"""A client that disconnects mid-request (issue 10 finding 9). While a
request waits in an async step, the client resets the TCP connection
(SO_LINGER {1, 0}, then close) or closes it (FIN):

  1. database commit: the serial rows are locked FOR UPDATE from a psql
     session, an ir waits in its commit; RST one client, FIN another;
  2. RA mode: (a) admission: the transactions table is locked, the ir waits
     before anything goes upstream; the upstream must never see it;
     (b) upstream forward: a mock upstream accepts the forwarded request and
     holds it; RST meanwhile, then the mock closes;
  3. token lookup: the tokens table is locked while a token ir is in flight;
  4. shutdown with a request in flight: SIGTERM while an ir waits on a lock.

After each: the gateway notices the disconnect at once (log), the request
ends (dropped, logged), the gateway answers a normal enrollment; at the
end it exits 0. Under ASan (the asan build of .ci/test runs this with the
leak checker) a leak or a use-after-free makes the exit non-zero or writes
a report into the log, which is checked too."""

import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (OPENSSL, Gateway, Pg, add_cleanup, capture_request,  # noqa: E402
                     cmpgw, make_root, mktemp, new_key, run, sh, sign_cert)

GONE = "client disconnected"
# the request's end once its client is gone: dropped at a resume point
# (ra_answer_gone) or its answer dropped by the HTTP layer
ENDED = re.compile(r"client went away; \S+ dropped|answer \(HTTP \d+\) dropped")


def wait_for(cond, timeout=30, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def http_bytes(path, body):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pkixcmp\r\n"
            "Content-Length: %d\r\n\r\n" % (path, len(body))).encode() + body


def send(gw, body, path="/.well-known/cmp/p/3gpp"):
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(http_bytes(path, body))
    return s


def reset(s):
    """Abort the connection: RST instead of FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class Lock:
    """An open psql session holding a lock until release()."""

    def __init__(self, gw, sql):
        pg = gw.pg
        self.p = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                   "-h", pg.sock, "-p", str(pg.port), "-U", pg.USER,
                                   "-d", gw.db],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        add_cleanup(self.release)
        self.p.stdin.write(("BEGIN;\n%s;\nSELECT 'locked';\n" % sql).encode())
        self.p.stdin.flush()
        out, deadline = b"", time.monotonic() + 30
        while b"locked" not in out and time.monotonic() < deadline:
            r, _, _ = select.select([self.p.stdout], [], [], 1)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
        if b"locked" not in out:
            self.release()
            raise RuntimeError("psql did not take the lock: %r" % out)

    def release(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b"ROLLBACK;\n")
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def lock_waiters(gw):
    return int(gw.pg.psql("postgres", "SELECT count(*) FROM pg_stat_activity "
                          "WHERE wait_event_type = 'Lock' AND datname = '%s'" % gw.db)[0][0])


class HoldingUpstream:
    """An upstream CA that accepts a request, reads it, and holds it until
    release(); then closes the connection without an answer."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.port = self.srv.getsockname()[1]
        self.requests = 0
        self.got = threading.Event()
        self.go = threading.Event()
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()
        add_cleanup(self.stop)

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            with c:
                c.settimeout(10)
                buf = b""
                try:
                    while b"\r\n\r\n" not in buf:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        buf += chunk
                except OSError:
                    pass
                self.requests += 1
                self.got.set()
                self.go.wait(60)

    def release(self):
        self.go.set()

    def stop(self):
        self.stopped = True
        self.go.set()
        self.srv.close()


def upstream_files(work):
    root_crt, root_key = make_root(work, "up-root", "/O=Upstream/CN=Upstream Root CA")
    ra_crt, ra_key = sign_cert(work, "ra", "/O=Operator/CN=cmpgw RA", root_crt, root_key)
    os.chmod(ra_key, 0o600)
    return root_crt, ra_crt, ra_key


def token_request(gw, ref, secret):
    """A token ir as `openssl cmp -ref -secret` sends it (-reqout, -rspin junk)."""
    out = os.path.join(gw.tmp, "tok")
    os.makedirs(out, exist_ok=True)
    key, req, junk = (os.path.join(out, n) for n in ("k.pem", "req.der", "junk.der"))
    new_key(key)
    with open(junk, "wb") as f:
        f.write(b"junk\n")
    sh([OPENSSL, "cmp", "-cmd", "ir", "-server", "127.0.0.1:%d" % gw.port,
        "-path", ".well-known/cmp/p/token", "-ref", ref, "-secret", "pass:" + secret,
        "-newkey", key, "-subject", "/CN=requested", "-reqout", req, "-rspin", junk,
        "-certout", os.path.join(out, "c.pem"),
        "-msg_timeout", "10"], timeout=30)
    with open(req, "rb") as f:
        return f.read()


def main(t):
    work = mktemp("cmpgw-cancel-up-")
    root_crt, ra_crt, ra_key = upstream_files(work)
    up = HoldingUpstream()

    def patch(cfg):
        base = {"mode": "ca", "profile": "device", "confirm_deadline_s": 300}
        cfg["aliases"].append(dict(base, label="token", auth=["token"]))
        cfg["aliases"].append({
            "label": "ra", "mode": "ra", "vendors": ["acme"], "profile": "device",
            "upstream": {"url": "http://127.0.0.1:%d/pkix/" % up.port, "trusted": [root_crt],
                         "cert": ra_crt, "key": ra_key, "timeout_s": 60,
                         "wait_after_s": 3600}})

    pg = Pg()
    gw = Gateway(t, pg, devices=10, name="cancel", patch=patch)
    gw.start()
    n_gone = lambda: gw.log_text().count(GONE)  # noqa: E731
    n_ended = lambda: len(ENDED.findall(gw.log_text()))  # noqa: E731

    def settle(name, gone0, ended0, n=1):
        t.ok(wait_for(lambda: n_gone() >= gone0 + n), "%s: the disconnect is noticed at once" % name,
             gw.log_tail())
        return lambda: t.ok(wait_for(lambda: n_ended() >= ended0 + n),
                            "%s: the request ends, dropped (logged)" % name, gw.log_tail())

    def healthy(name, k):
        t.ok(gw.alive(), "%s: cmpgw is alive" % name)
        r = gw.cmp(k, confirm="implicit")
        t.ok(r.rc == 0, "%s: a normal enrollment (device %d) succeeds" % (name, k), repr(r))

    # ---- 1. database commit: RST one client, FIN another ----------------------
    ir1 = capture_request(gw, 1)
    ir2 = capture_request(gw, 2)
    gone0, ended0 = n_gone(), n_ended()
    lock = Lock(gw, "SELECT 1 FROM serials WHERE serial IN ('ACME-0001', 'ACME-0002') "
                    "FOR UPDATE")
    s1, s2 = send(gw, ir1), send(gw, ir2)
    t.ok(wait_for(lambda: lock_waiters(gw) >= 2), "commit: both irs wait on the serial lock")
    reset(s1)
    s2.close()
    ended = settle("commit (RST and FIN)", gone0, ended0, 2)
    log = gw.log_text()
    t.ok("Connection reset by peer" in log and "(EOF)" in log,
         "commit: the log names the reset and the EOF", gw.log_tail())
    lock.release()
    ended()
    t.diag("after the commit step: certificates of ACME-0001/2: %s" % gw.psql(
        "SELECT device_serial, status FROM certificates WHERE device_serial IN "
        "('ACME-0001', 'ACME-0002') ORDER BY 1"))
    healthy("commit", 3)

    # ---- 2a. RA mode, admission: nothing may go upstream ----------------------
    ir4 = capture_request(gw, 4, path=".well-known/cmp/p/ra")
    gone0, ended0 = n_gone(), n_ended()
    lock = Lock(gw, "LOCK TABLE transactions IN ACCESS EXCLUSIVE MODE")
    s = send(gw, ir4, "/.well-known/cmp/p/ra")
    t.ok(wait_for(lambda: lock_waiters(gw) >= 1), "RA admission: the ir waits on the lock")
    reset(s)
    ended = settle("RA admission", gone0, ended0)
    lock.release()
    ended()
    t.eq(up.requests, 0, "RA admission: nothing was forwarded upstream for a gone client")
    t.ok(wait_for(lambda: gw.scalar("SELECT state FROM transactions WHERE "
                                    "device_serial = 'ACME-0004'") == "closed"),
         "RA admission: the transaction just begun is closed",
         gw.psql("SELECT state FROM transactions WHERE device_serial = 'ACME-0004'"))

    # ---- 2b. RA mode, upstream forward ------------------------------------------
    ir5 = capture_request(gw, 5, path=".well-known/cmp/p/ra")
    gone0, ended0 = n_gone(), n_ended()
    s = send(gw, ir5, "/.well-known/cmp/p/ra")
    t.ok(up.got.wait(30), "RA forward: the upstream holds the forwarded ir")
    reset(s)
    ended = settle("RA forward", gone0, ended0)
    up.release()
    ended()
    healthy("RA forward", 6)

    # ---- 3. token lookup ----------------------------------------------------------
    rc, out = cmpgw("token", "create", "--config", gw.config, "--alias", "token",
                    "--identity", "node-0001", "--ttl", "1h")
    ref = re.search(r"^ref=([0-9a-f]{32})$", out, re.M)
    sec = re.search(r"^secret=([A-Za-z0-9_-]{24})$", out, re.M)
    t.ok(rc == 0 and ref and sec, "token created", out)
    if ref and sec:
        tir = token_request(gw, ref.group(1), sec.group(1))
        gone0, ended0 = n_gone(), n_ended()
        lock = Lock(gw, "LOCK TABLE tokens IN ACCESS EXCLUSIVE MODE")
        s = send(gw, tir, "/.well-known/cmp/p/token")
        t.ok(wait_for(lambda: lock_waiters(gw) >= 1), "token: the ir waits on the tokens lock")
        reset(s)
        ended = settle("token lookup", gone0, ended0)
        lock.release()
        ended()
        t.diag("token state after the dropped ir: %s" % gw.psql(
            "SELECT state FROM tokens WHERE ref = '%s'" % ref.group(1)))
    healthy("token lookup", 7)

    # ---- 4. shutdown with a request in flight -------------------------------------
    ir8 = capture_request(gw, 8)
    lock = Lock(gw, "SELECT 1 FROM serials WHERE serial = 'ACME-0008' FOR UPDATE")
    s = send(gw, ir8)
    t.ok(wait_for(lambda: lock_waiters(gw) >= 1), "shutdown: an ir waits on the lock")
    gw.proc.send_signal(signal.SIGTERM)
    t.ok(wait_for(lambda: "draining" in gw.log_text()), "shutdown: draining with the ir in flight")
    rc = gw.stop(timeout=90, check=False)
    lock.release()
    s.close()
    t.eq(rc, 0, "shutdown with a request in flight: cmpgw exits 0", gw.log_tail())
    log = gw.log_text()
    t.ok("ERROR: AddressSanitizer" not in log and "LeakSanitizer" not in log
         and "runtime error:" not in log,
         "no sanitizer report in the log", gw.log_tail(60))


if __name__ == "__main__":
    run(main)
