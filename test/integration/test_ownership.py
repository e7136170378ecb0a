#!/usr/bin/env python3
"""Operator actions must not break a live gateway (issue 11):

  1. a second `cmpgw serve` on the same configuration exits 2 at once,
     naming the taken port, before it touches the database: the embedded
     PostgreSQL the first gateway uses keeps running;
  2. `cmpgw db stop` refuses (exit 1, naming the gateway's pid) while a
     gateway uses the embedded PostgreSQL; a CLI command meanwhile leaves it
     running; `db stop --force` stops it; the gateway then still exits 0 on
     SIGTERM and a new start works;
  3. start while the database is down: serve keeps retrying (connections
     refused meanwhile) and becomes ready once PostgreSQL is up; with
     database.startup_timeout_s 2 it exits 1 with "database unreachable";
  4. SIGTERM drains: an ir waiting on a database lock is answered with its
     ip once the lock goes (within http.drain_s), a new request meanwhile
     gets 503, the gateway exits 0; SIGINT drains the same way."""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CmpMsg, Gateway, Pg, capture_request, cmpgw_bin,  # noqa: E402
                     http_post, port_closed, run, wait_port)
from test_cancel import Lock, lock_waiters, wait_for  # noqa: E402
from test_embedded import pid_alive, postmaster_pid, wait_gone  # noqa: E402


def spawn(gw):
    """`cmpgw serve` without waiting for its port (gw.stop() works)."""
    gw.starts += 1
    gw.logf = open(gw.log, "ab")
    gw.logf.write(("\n==== start %d (no wait) ====\n" % gw.starts).encode())
    gw.logf.flush()
    gw.proc = subprocess.Popen([cmpgw_bin(), "serve", "--config", gw.config],
                               stdout=gw.logf, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=gw.tmp)


def owner(t):
    a = Gateway(t, None, devices=5, name="owner")
    pgdata = os.path.join(a.cfg["data_dir"], "pgdata")
    a.start(timeout=90)
    pm = postmaster_pid(pgdata)
    t.ok(pm is not None and pid_alive(pm), "gateway A runs the embedded PostgreSQL")

    # ---- 1. a second serve on the same configuration ----
    t0 = time.monotonic()
    rc, out = a.cli("serve", timeout=60)
    took = time.monotonic() - t0
    t.eq(rc, 2, "second serve on the same configuration exits 2", out)
    t.ok(str(a.port) in out and "address already in use" in out.lower(),
         "its message names the taken port", out)
    t.ok(took < 30, "it fails fast (%.1f s)" % took)
    t.ok("reusing" not in out and "embedded PostgreSQL" not in out,
         "it never touched the embedded PostgreSQL", out)
    t.ok(pm is not None and pid_alive(pm), "A's PostgreSQL still runs")
    r = a.cmp(1)
    t.ok(r.rc == 0, "A still enrolls after the second serve", repr(r))

    # ---- 2. db stop while A runs ----
    rc, out = a.cli("db", "stop", timeout=60)
    t.eq(rc, 1, "db stop while a gateway runs exits 1", out)
    t.ok("in use" in out and str(a.proc.pid) in out,
         "its message names the running gateway's pid %d" % a.proc.pid, out)
    t.ok(pm is not None and pid_alive(pm), "A's PostgreSQL still runs after db stop")
    r = a.cmp(2)
    t.ok(r.rc == 0, "A still enrolls after the refused db stop", repr(r))

    rc, out = a.cli("vendor", "add", "other", timeout=60)
    t.eq(rc, 0, "a CLI command while A runs works", out)
    t.ok(pm is not None and pid_alive(pm), "the CLI command left A's PostgreSQL running")
    r = a.cmp(3)
    t.ok(r.rc == 0, "A still enrolls after the CLI command", repr(r))

    rc, out = a.cli("db", "stop", "--force", timeout=90)
    t.eq(rc, 0, "db stop --force exits 0", out)
    t.ok(wait_gone(pgdata, 30), "db stop --force stopped the embedded PostgreSQL")
    t.ok(a.alive(), "A is still running without its database")
    a.stop()  # asserts exit 0

    a.start(timeout=90)
    r = a.cmp(4)
    t.ok(r.rc == 0, "a new start after db stop --force enrolls", repr(r))
    a.stop()
    t.ok(wait_gone(pgdata, 30), "A's SIGTERM stopped the embedded PostgreSQL it used")


def late_database(t):
    pg = Pg()

    def patch(cfg):
        cfg.setdefault("database", {})["startup_timeout_s"] = 30
    gw = Gateway(t, pg, devices=3, name="late", patch=patch)
    pg.stop()
    spawn(gw)
    time.sleep(6)
    t.ok(gw.alive(), "serve with the database down is still running after 6 s", gw.log_tail())
    t.ok(port_closed(gw.port), "connections are refused while the database is awaited")
    t.ok("database unreachable (attempt" in gw.log_text(), "each failed attempt is logged",
         gw.log_tail())
    pg.start()
    t.ok(wait_port(gw.port, 30, gw.proc), "serve gets ready once PostgreSQL is up",
         gw.log_tail())
    t.ok("database reachable after" in gw.log_text(), "readiness after retries is logged",
         gw.log_tail())
    r = gw.cmp(1)
    t.ok(r.rc == 0, "enrollment works after the late database start", repr(r))
    # SIGINT drains and stops like SIGTERM
    gw.proc.send_signal(signal.SIGINT)
    rc = gw.stop(timeout=30, check=False)
    t.eq(rc, 0, "SIGINT: serve exits 0", gw.log_tail())
    t.ok("signal 2: draining" in gw.log_text(), "SIGINT drains", gw.log_tail())

    gw.cfg["database"]["startup_timeout_s"] = 2
    gw.write_config(gw.cfg)
    pg.stop()
    t0 = time.monotonic()
    rc, out = gw.cli("serve", timeout=60)
    took = time.monotonic() - t0
    t.eq(rc, 1, "startup_timeout_s 2 with the database down: serve exits 1", out)
    t.ok("database unreachable for" in out, "with a clear message", out)
    t.ok(took < 20, "within a generous bound (%.1f s)" % took)


def drain(t):
    pg = Pg()

    def patch(cfg):
        cfg.setdefault("http", {})["drain_s"] = 20
    gw = Gateway(t, pg, devices=3, name="drain", patch=patch)
    gw.start()
    ir = capture_request(gw, 1)
    lock = Lock(gw, "SELECT 1 FROM serials WHERE serial = 'ACME-0001' FOR UPDATE")
    res = {}

    def send():
        try:
            res["r"] = http_post(gw.port, ir, timeout=60)
        except Exception as e:  # noqa
            res["e"] = e
    th = threading.Thread(target=send, daemon=True)
    th.start()
    t.ok(wait_for(lambda: lock_waiters(gw) >= 1), "drain: the ir waits on the lock")
    gw.proc.send_signal(signal.SIGTERM)
    t.ok(wait_for(lambda: "draining" in gw.log_text()), "drain: SIGTERM starts the drain")
    # The main thread logs "draining" as it tells the workers; each worker
    # starts draining when its loop takes the stop event, so a request may
    # reach a worker a moment before: it is then answered as usual (a
    # garbage body: 400). Within a generous bound every new one gets 503.
    seen = []
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            st, _ct, _body = http_post(gw.port, b"x", timeout=10)
        except OSError as e:
            st = "refused (%s)" % e
        seen.append(st)
        if st == 503 or str(st).startswith("refused"):
            break
        time.sleep(0.1)
    t.ok(seen and (seen[-1] == 503 or str(seen[-1]).startswith("refused")),
         "drain: a new request gets 503 (or is refused)", seen)
    time.sleep(1)
    t.ok(gw.alive(), "drain: the gateway waits for the ir in flight")
    lock.release()
    th.join(60)
    r = res.get("r")
    ok = False
    if r and r[0] == 200:
        try:
            ok = CmpMsg(r[2]).body_type == "ip"
        except ValueError:
            ok = False
    t.ok(ok, "drain: the ir in flight is answered with its ip", res)
    rc = gw.stop(timeout=60, check=False)
    t.eq(rc, 0, "drain: the gateway exits 0", gw.log_tail())
    t.ok("drained: every request in flight was answered" in gw.log_text(),
         "drain: the log says nothing was cut", gw.log_tail())


def main(t):
    owner(t)
    late_database(t)
    drain(t)


if __name__ == "__main__":
    run(main)
