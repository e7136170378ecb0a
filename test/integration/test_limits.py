#!/usr/bin/env python3
"""Connection limits (issue 11), one worker, small limits:

  1. http.max_connections 20: of 25 idle connections the 5 above the cap get
     503 and are closed; the 20 stay open; after closing them an enrollment
     works;
  2. http.read_deadline_s 2: a client trickling one header line a second
     (never idle for http.timeout_s) is closed within 3x the deadline, with a
     408 if an answer arrives;
  3. http.max_body_memory 131072: three connections each send the header of
     a 60000-byte body and 45000 bytes of it: the third goes above the
     worker's budget and gets 503; the other two, completed, are answered;
  4. descriptor exhaustion: cmpgw with RLIMIT_NOFILE a little above what it
     uses idle, and more idle connections than it has descriptors left: it
     does not spin (< 1 s CPU in 3 s), logs the accept failure a few times
     at most, in its own format, and enrolls once the connections close.

Under ASan the log is checked for sanitizer reports."""

import os
import re
import resource
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, cmpgw_bin, run, wait_port  # noqa: E402

CMP_PATH = "/.well-known/cmp/p/3gpp"
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) ")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def read_answer(s, timeout):
    """(status or None, closed): what the server sent within timeout."""
    s.settimeout(timeout)
    buf = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf and len(buf.split(b"\r\n\r\n", 1)[1]) > 0:
                break
    except socket.timeout:
        pass
    except OSError:
        pass
    status = None
    if buf.startswith(b"HTTP/1."):
        status = int(buf.split()[1])
    return status, buf


def header(n, path=CMP_PATH):
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pkixcmp\r\n"
            "Content-Length: %d\r\n\r\n" % (path, n)).encode()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (after pid, comm)


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def check_cap(t, gw):
    socks = []
    try:
        for _ in range(25):
            socks.append(connect(gw.port))
            time.sleep(0.02)
        time.sleep(1.0)
        answered = []
        for i, s in enumerate(socks):
            r, _, _ = select.select([s], [], [], 0)
            if r:
                st, _ = read_answer(s, 2)
                answered.append((i, st))
        t.eq(len(answered), 5, "max_connections 20: 5 of 25 idle connections refused", answered)
        t.ok(all(st in (503, None) for _, st in answered),
             "the refused connections get 503 (or are closed)", answered)
        t.eq(sorted(i for i, _ in answered), list(range(20, 25)),
             "the refused ones are those above the cap")
        t.ok(any(st == 503 for _, st in answered), "at least one refusal carries a 503",
             answered)
    finally:
        for s in socks:
            s.close()
    time.sleep(0.5)
    r = gw.cmp(1)
    t.ok(r.rc == 0, "after the idle connections close, an enrollment works", repr(r))


def check_trickle(t, gw):
    s = connect(gw.port)
    lines = [("POST %s HTTP/1.1\r\n" % CMP_PATH).encode(), b"Host: 127.0.0.1\r\n"]
    lines += [("X-Trickle-%d: %s\r\n" % (i, "x" * 10)).encode() for i in range(30)]
    start = time.monotonic()
    status, closed_at = None, None
    for ln in lines:
        try:
            s.sendall(ln)
        except OSError:
            closed_at = time.monotonic()
            break
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            status, _ = read_answer(s, 1)
            closed_at = time.monotonic()
            break
        if time.monotonic() - start > 10:
            break
    s.close()
    took = (closed_at or time.monotonic()) - start
    t.ok(closed_at is not None and took < 6.0,
         "read_deadline_s 2: a trickling client is cut within 3x the deadline",
         "took %.1f s" % took)
    t.ok(status in (408, None), "the trickling client gets 408 (or a close)", status)
    t.eq(status, 408, "the 408 arrives (the client had nothing unread)")
    t.ok("408 and closed" in gw.log_text(), "the deadline is logged")


def check_budget(t, gw):
    a, b, c = connect(gw.port), connect(gw.port), connect(gw.port)
    try:
        part = b"A" * 45000
        for s in (a, b):
            s.sendall(header(60000) + part)
            time.sleep(0.3)
        try:
            c.sendall(header(60000) + part)
        except OSError:
            pass
        st_c, _ = read_answer(c, 5)
        t.eq(st_c, 503, "max_body_memory 131072: the third partial body gets 503")
        ready = select.select([a, b], [], [], 0.5)[0]
        t.eq(ready, [], "the first two stay open, waiting for their bodies")
        for s in (a, b):
            s.sendall(b"A" * 15000)
        got = [read_answer(s, 10)[0] for s in (a, b)]
        t.eq(got, [400, 400], "completed, the first two are answered (not a PKIMessage)")
    finally:
        for s in (a, b, c):
            s.close()
    t.ok("above http.max_body_memory" in gw.log_text(), "the budget refusal is logged")


def start_limited(gw, nofile):
    """gw.start() with RLIMIT_NOFILE lowered for cmpgw only."""
    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    gw.starts += 1
    gw.logf = open(gw.log, "ab")
    gw.logf.write(("\n==== start %d (nofile %d) ====\n" % (gw.starts, nofile)).encode())
    gw.logf.flush()
    gw.proc = subprocess.Popen([cmpgw_bin(), "serve", "--config", gw.config],
                               stdout=gw.logf, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=gw.tmp, preexec_fn=limit)
    if not wait_port(gw.port, 20, gw.proc):
        raise RuntimeError("cmpgw serve (nofile %d) did not start:\n%s" % (nofile, gw.log_tail()))


def check_fds(t, gw):
    base = nfds(gw.proc.pid)
    gw.stop()
    gw.cfg["http"]["max_connections"] = 1024
    gw.write_config(gw.cfg)
    mark = len(gw.log_text())
    limit = base + 24
    start_limited(gw, limit)
    pid = gw.proc.pid
    socks = []
    try:
        for _ in range(limit + 40):
            socks.append(socket.create_connection(("127.0.0.1", gw.port), timeout=5))
        time.sleep(1.0)
        t.ok(nfds(pid) >= limit - 2, "cmpgw is out of descriptors (%d of %d)" % (nfds(pid), limit))
        c0 = cpu_ticks(pid)
        time.sleep(3.0)
        used = (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK")
        t.ok(used < 1.0, "out of descriptors: no accept spin (< 1 s CPU in 3 s)",
             "%.2f s CPU" % used)
    finally:
        for s in socks:
            s.close()
    time.sleep(1.0)
    r = gw.cmp(2)
    t.ok(r.rc == 0, "after the connections close, an enrollment works", repr(r))
    log = gw.log_text()[mark:]
    about = [ln for ln in log.splitlines() if "Too many open files" in ln]
    t.ok(1 <= len(about) <= 3, "the accept failure is logged, at most a few times",
         "%d lines" % len(about))
    t.ok(all(LINE.match(ln) for ln in about), "in cmpgw's log format", "\n".join(about[:5]))
    t.ok(all("accept()" not in ln or ln.startswith("20") for ln in log.splitlines()),
         "no raw libevent accept() lines")


def main(t):
    pg = Pg()

    def patch(cfg):
        cfg["workers"] = 1
        h = cfg.setdefault("http", {})
        h["max_connections"] = 20
        h["read_deadline_s"] = 2
        h["max_body_memory"] = 131072

    gw = Gateway(t, pg, devices=3, name="limits", patch=patch)
    gw.start()
    check_cap(t, gw)
    check_trickle(t, gw)
    check_budget(t, gw)
    t.ok(gw.alive(), "cmpgw serve is still running")
    check_fds(t, gw)
    t.ok(gw.alive(), "cmpgw serve is still running (descriptors)")
    gw.stop()
    log = gw.log_text()
    t.ok("AddressSanitizer" not in log and "runtime error" not in log,
         "no sanitizer reports", gw.log_tail())


if __name__ == "__main__":
    run(main)
