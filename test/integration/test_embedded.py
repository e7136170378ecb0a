#!/usr/bin/env python3
"""Embedded PostgreSQL: with database.url null, `cmpgw serve` runs its own
PostgreSQL under data_dir (unix socket only, unprivileged user when root),
an enrollment works, and SIGTERM stops both cmpgw and that PostgreSQL."""

import os
import pwd
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Gateway, read_file, run  # noqa: E402


def postgres_pids(pgdata):
    """PIDs of processes whose command line mentions pgdata."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if pgdata in cmd and "postgres" in cmd:
            pids.append((int(d), cmd.strip()))
    return pids


def pid_alive(pid):
    """Running (a zombie waiting for init to reap it counts as dead)."""
    stat = read_file("/proc/%d/stat" % pid)
    if stat:
        return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_dead(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def postmaster_pid(pgdata):
    text = read_file(os.path.join(pgdata, "postmaster.pid"))
    first = text.split("\n", 1)[0].strip()
    return int(first) if first.isdigit() else None


def wait_gone(pgdata, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not postgres_pids(pgdata) and not os.path.exists(os.path.join(pgdata, "postmaster.pid")):
            return True
        time.sleep(0.2)
    return False


def main(t):
    gw = Gateway(t, None, devices=3, name="embedded")  # database.url null
    data_dir = gw.cfg["data_dir"]
    pgdata = os.path.join(data_dir, "pgdata")
    t.ok(os.path.exists(os.path.join(pgdata, "PG_VERSION")),
         "CLI registration initialised the embedded cluster under data_dir/pgdata")
    t.ok(wait_gone(pgdata, 30), "CLI commands stop the embedded server they started",
         postgres_pids(pgdata))

    gw.start(timeout=90)
    pm = postmaster_pid(pgdata)
    t.ok(pm is not None and pid_alive(pm), "serve started the embedded PostgreSQL (postmaster.pid)",
         read_file(os.path.join(pgdata, "postmaster.pid")))
    if IS_ROOT:
        owner = pwd.getpwuid(os.stat(pgdata).st_uid).pw_name
        t.ok(owner != "root", "embedded cluster is owned by an unprivileged user", owner)
        if pm:
            uid = os.stat("/proc/%d" % pm).st_uid
            t.ok(uid != 0, "embedded postmaster does not run as root", uid)
    conf = read_file(os.path.join(pgdata, "postmaster.pid")).split("\n")
    # postmaster.pid line 6 (index 5) is the listen address: empty = no TCP
    t.ok(len(conf) > 5 and conf[5].strip() == "",
         "embedded PostgreSQL listens on no TCP address", conf)

    r = gw.cmp(1, confirm="explicit")
    t.ok(r.rc == 0, "enrollment against the embedded database works", repr(r))
    t.eq(gw.psql("SELECT device_serial, status FROM certificates"), [["ACME-0001", "active"]],
         "certificate row active in the embedded database")
    t.eq(gw.psql("SELECT state FROM transactions"), [["confirmed"]],
         "transaction confirmed in the embedded database")

    gw.stop()
    t.ok(pm is None or wait_dead(pm), "SIGTERM stopped the embedded postmaster")
    t.ok(wait_gone(pgdata, 10), "no postgres process left for this data dir",
         postgres_pids(pgdata))

    # a second start reuses the existing cluster and keeps the data
    gw.start(timeout=90)
    r = gw.cmp(2, confirm="implicit")
    t.ok(r.rc == 0, "second start on the same data_dir: enrollment works", repr(r))
    t.eq(gw.psql("SELECT device_serial, status FROM certificates ORDER BY device_serial"),
         [["ACME-0001", "active"], ["ACME-0002", "active"]],
         "data from the first run is still there")
    pm = postmaster_pid(pgdata)
    gw.stop()
    t.ok(pm is None or wait_dead(pm), "second SIGTERM stopped the embedded postmaster")
    t.ok(wait_gone(pgdata, 10), "no postgres process left after the second run",
         postgres_pids(pgdata))


if __name__ == "__main__":
    run(main)
