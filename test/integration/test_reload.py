#!/usr/bin/env python3
"""SIGHUP reloads the configuration (issue 11), two workers:

  1. an alias added by a reload serves (404 before), from every worker;
  2. 20 reloads, one every ~0.3 s after the previous one is logged,
     alternating two valid files (log level info/debug, with and without
     an extra alias) while two threads enroll continuously (explicit and
     implicit confirmation): 0 failed enrollments, the gateway alive;
  3. a broken file (invalid JSON, then valid JSON naming an unknown
     profile) is logged with cfg_load's path-precise message and the
     running snapshot keeps serving (the extra alias too);
  4. log.level debug on reload makes debug lines appear at once, back to
     info they stop; log.format json switches the lines to JSON;
  5. a changed listen port logs "listen: changed; takes effect after a
     restart", the old port keeps serving and the new one is not bound;
  6. SIGTERM exits 0; no sanitizer report in the log."""

import copy
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, free_port, port_closed, run  # noqa: E402

DEVICES = 40
EXTRA = "/.well-known/cmp/p/extra"


def with_extra(cfg, level="info"):
    c = copy.deepcopy(cfg)
    c["log"]["level"] = level
    extra = copy.deepcopy(c["aliases"][0])
    extra.update(label="extra", paths=[])
    c["aliases"].append(extra)
    return c


def hup(gw, timeout=20):
    """SIGHUP and wait for its outcome line; returns that line or None."""
    mark = len(gw.log_text())
    gw.proc.send_signal(signal.SIGHUP)
    end = time.time() + timeout
    while time.time() < end:
        for ln in gw.log_text()[mark:].splitlines():
            if "configuration reloaded from" in ln or "configuration not reloaded from" in ln:
                return ln
        time.sleep(0.05)
    return None


def status(gw, path):
    try:
        return gw.post(b"\x30\x00", path=path)[0]
    except OSError as e:
        return repr(e)


class Load:
    """Threads enrolling continuously, each with its own devices."""

    def __init__(self, gw, nthreads=2):
        self.gw = gw
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = []
        self.threads = [threading.Thread(target=self.loop, args=(i, nthreads))
                        for i in range(nthreads)]

    def loop(self, i, n):
        # cmpgw init leaves its last device off the serial list
        ks = [k for k in range(5, DEVICES) if k % n == i]
        j = 0
        while not self.stop.is_set():
            k = ks[j % len(ks)]
            j += 1
            r = self.gw.cmp(k, confirm="implicit" if j % 2 else "explicit")
            with self.lock:
                if r.rc == 0:
                    self.ok += 1
                else:
                    self.failed.append(repr(r))

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for th in self.threads:
            th.join(120)


def check_alias_added(t, gw, a, b):
    t.eq(status(gw, EXTRA), 404, "before the reload the extra alias path is 404")
    gw.write_config(b)
    ln = hup(gw)
    t.ok(ln and "configuration reloaded from %s" % gw.config in ln,
         "SIGHUP: 'configuration reloaded from PATH' logged", ln or gw.log_tail())
    # a few requests: each worker takes the snapshot on its own loop
    codes = [status(gw, EXTRA) for _ in range(6)]
    t.ok(all(c != 404 for c in codes), "after the reload the extra alias path answers", codes)
    r = gw.cmp(1, path=EXTRA[1:])
    t.ok(r.rc == 0, "an enrollment on the added alias works", repr(r))


def check_storm(t, gw, a, b):
    lines = []
    with Load(gw) as load:
        for i in range(20):
            gw.write_config(a if i % 2 == 0 else b)
            lines.append(hup(gw))
            time.sleep(0.3)
        time.sleep(0.5)
    good = sum(1 for ln in lines if ln and "configuration reloaded from" in ln)
    t.eq(good, 20, "20 reloads under enrollment load, each logged", lines)
    t.ok(load.ok >= 10, "enrollments ran during the reloads (%d)" % load.ok)
    t.eq(len(load.failed), 0, "0 failed enrollments during 20 reloads",
         "\n".join(load.failed[:3]))
    t.ok(gw.alive(), "cmpgw serve is alive after 20 reloads")


def check_broken(t, gw, b):
    # the running snapshot has the extra alias (b)
    with open(gw.config, "w") as f:
        f.write('{"log": {"level": "info"},\n  "listen": [ oops\n')
    ln = hup(gw)
    t.ok(ln and "configuration not reloaded from %s" % gw.config in ln and
         ln.startswith(tuple("0123456789")) and " error " in ln and
         "%s:2:" % gw.config in ln,
         "invalid JSON: error logged with file:line:column", ln or gw.log_tail())
    r = gw.cmp(2, confirm="implicit")
    t.ok(r.rc == 0, "invalid JSON: the gateway keeps serving", repr(r))
    t.ok(status(gw, EXTRA) != 404, "invalid JSON: the old snapshot (extra alias) stays")

    bad = copy.deepcopy(b)
    bad["aliases"][0]["profile"] = "no-such-profile"
    gw.write_config(bad)
    ln = hup(gw)
    t.ok(ln and "configuration not reloaded from" in ln and "aliases[0].profile" in ln and
         "no-such-profile" in ln,
         "unknown profile: the path-precise message is logged", ln or gw.log_tail())
    r = gw.cmp(2, confirm="implicit")
    t.ok(r.rc == 0, "unknown profile: the gateway keeps serving", repr(r))
    t.ok(status(gw, EXTRA) != 404, "unknown profile: the old snapshot (extra alias) stays")


def count_debug(text):
    return sum(1 for ln in text.splitlines() if " debug " in ln[:32])


def check_log_settings(t, gw, a):
    dbg = copy.deepcopy(a)
    dbg["log"]["level"] = "debug"
    gw.write_config(dbg)
    hup(gw)
    mark = len(gw.log_text())
    r = gw.cmp(3, confirm="implicit")
    n = count_debug(gw.log_text()[mark:])
    t.ok(r.rc == 0 and n > 0, "log.level debug on reload: debug lines appear (%d)" % n,
         gw.log_tail())

    gw.write_config(a)
    hup(gw)
    mark = len(gw.log_text())
    r = gw.cmp(3, confirm="implicit")
    n = count_debug(gw.log_text()[mark:])
    t.ok(r.rc == 0 and n == 0, "back to info: no debug lines", gw.log_tail())

    js = copy.deepcopy(a)
    js["log"]["format"] = "json"
    gw.write_config(js)
    ln = hup(gw)
    ok = False
    try:
        ok = json.loads(ln)["msg"].startswith("configuration reloaded from")
    except (TypeError, ValueError, KeyError):
        pass
    t.ok(ok, "log.format json on reload: the next line is JSON", ln)
    gw.write_config(a)
    ln = hup(gw)
    t.ok(ln and not ln.startswith("{"), "log.format text again", ln)


def check_listen(t, gw, a):
    moved = copy.deepcopy(a)
    new_port = free_port()
    moved["listen"][0]["port"] = new_port
    gw.write_config(moved)
    mark = len(gw.log_text())
    ln = hup(gw)
    log = gw.log_text()[mark:]
    t.ok(ln and "configuration reloaded from" in ln, "listen changed: the rest reloads", ln)
    t.eq(sum(1 for x in log.splitlines()
             if "listen: changed; takes effect after a restart" in x and " warn " in x), 1,
         "listen changed: one restart warning", log)
    r = gw.cmp(4, confirm="implicit")
    t.ok(r.rc == 0, "listen changed: the old port keeps serving", repr(r))
    t.ok(port_closed(new_port), "listen changed: the new port is not bound")
    gw.write_config(a)
    mark = len(gw.log_text())
    hup(gw)
    t.ok("takes effect after a restart" not in gw.log_text()[mark:],
         "listen back to the running value: no warning")


def main(t):
    pg = Pg()

    def patch(cfg):
        cfg["workers"] = 2

    gw = Gateway(t, pg, devices=DEVICES, name="reload", patch=patch)
    a = copy.deepcopy(gw.cfg)
    b = with_extra(a, level="debug")
    gw.start()
    check_alias_added(t, gw, a, b)
    check_storm(t, gw, a, b)
    gw.write_config(b)
    hup(gw)
    check_broken(t, gw, b)
    gw.write_config(a)
    hup(gw)
    check_log_settings(t, gw, a)
    check_listen(t, gw, a)
    t.ok(gw.alive(), "cmpgw serve is still running")
    gw.stop()
    log = gw.log_text()
    t.ok("AddressSanitizer" not in log and "LeakSanitizer" not in log and
         "runtime error" not in log, "no sanitizer reports", gw.log_tail())


if __name__ == "__main__":
    run(main)
