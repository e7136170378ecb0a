#!/usr/bin/env python3
"""Serial list upload through the admin API (issue 14; BENCHMARKS.md "Serial
upload through the admin API").

Starts a private PostgreSQL (test/integration/harness.py: fsync=off,
synchronous_commit=off, as every integration test), a demo configuration
with an admin HTTPS listener (one worker), vendor "bench" and an operator
API key, writes a list of N serials ("SN-%010d"), and times
`curl --data-binary @list` to POST /api/v1/vendors/bench/serials as a
vendor's tooling would run it, end to end (TLS, streaming, syntax check,
COPY, merge, audit, commit, the JSON report):

  1. fresh upload of N serials            (N new)
  2. the same list again                  (N unchanged: idempotent)
  3. the same list ?state=blocked         (N changed)

It prints the elapsed time and rows/s, the CPU seconds of the gateway
(its loop and the upload's job thread) and of the PostgreSQL backend, and
the gateway's peak RSS during the upload (the body is streamed, never
held). Timings are printed, never asserted.

usage: CMPGW_BIN=build/cmd/cmpgw python3 test/bench/api_upload.py [N] [--no-blocked]
       [--chunked]
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from harness import (Gateway, Pg, Tap, cmpgw, free_port, make_root, mktemp,  # noqa: E402
                     run_cleanups, wait_port)
from test_tls import tls_cert  # noqa: E402
from serials_import import pg_children_cpu  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def pg_backend_cpu(pg):
    """CPU seconds of the live backends (the gateway's connections) plus the
    exited ones (reaped by the postmaster)."""
    total = pg_children_cpu(pg)
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        pm = int(f.readline())
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pm:
                    total += (int(fields[11]) + int(fields[12])) / TICK
            except OSError:
                pass
    return total


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1000000
    chunked = "--chunked" in sys.argv
    runs = [("fresh", ""), ("re-import", "")]
    if "--no-blocked" not in sys.argv:
        runs.append(("blocked", "?state=blocked"))
    try:
        work = mktemp("cmpgw-api-upload-bench-")
        ca_crt, ca_key = make_root(work, "tls-ca", "/O=Bench/CN=Admin TLS CA")
        srv = tls_cert(work, "srv", "/CN=cmpgw admin", ca_crt, ca_key, "server")
        port = free_port()

        def patch(cfg):
            cfg["workers"] = 1
            cfg["admin"] = {"address": "127.0.0.1", "port": port,
                            "tls": {"cert": srv[0], "key": srv[1], "client_ca": ca_crt}}

        pg = Pg()
        gw = Gateway(Tap(), pg, devices=2, name="bench", register=False, patch=patch)
        gw.must("migrate")
        gw.must("vendor", "add", "bench")
        rc, out = cmpgw("apikey", "create", "--config", gw.config, "--role", "operator")
        key = re.search(r"^key=(\S+)$", out, re.M).group(1)
        gw.start()
        if not wait_port(port, 10):
            raise RuntimeError("admin listener not up")
        path = os.path.join(work, "serials.txt")
        with open(path, "w") as f:
            for i in range(0, n, 100000):
                f.write("".join("SN-%010d\n" % j for j in range(i, min(n, i + 100000))))
        pid = gw.proc.pid
        print("# %d serials (%d bytes), %d cores, %s, curl %s"
              % (n, os.path.getsize(path), os.cpu_count(), path,
                 "-T (chunked)" if chunked else "--data-binary (Content-Length)"))
        print("# wall: elapsed; CPU: seconds of the gateway (loop + job thread) + PostgreSQL "
              "backend; load: 1-minute load average before the run")
        for name, query in runs:
            url = "https://127.0.0.1:%d/api/v1/vendors/bench/serials%s" % (port, query)
            cmd = ["curl", "-sS", "--fail-with-body", "--cacert", ca_crt, "-X", "POST",
                   "-H", "Authorization: Bearer " + key, "-H", "Content-Type: text/plain"]
            cmd += (["-T", path, "-H", "Transfer-Encoding: chunked"] if chunked
                    else ["--data-binary", "@" + path])
            load = os.getloadavg()[0]
            pg0, gw0, rss0 = pg_backend_cpu(pg), proc_cpu(pid), proc_rss(pid)
            peak = [rss0]
            stop = threading.Event()

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], proc_rss(pid))
                    time.sleep(0.05)

            th = threading.Thread(target=sample)
            th.start()
            t0 = time.monotonic()
            p = subprocess.run(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            dt = time.monotonic() - t0
            stop.set()
            th.join()
            if p.returncode != 0:
                raise RuntimeError("curl: exit %d\n%s%s" % (p.returncode, p.stdout.decode(),
                                                           p.stderr.decode()))
            time.sleep(1)  # the postmaster reaps the job's backend
            rep = json.loads(p.stdout)
            print("%-9s wall %6.2f s %8.0f rows/s | CPU gateway %5.2f s + pg %6.2f s | "
                  "gateway RSS %d -> peak %d KiB | load %.1f | new %d changed %d unchanged %d"
                  % (name, dt, n / dt, proc_cpu(pid) - gw0, pg_backend_cpu(pg) - pg0, rss0,
                     peak[0], load, rep["new"], rep["changed"], rep["unchanged"]), flush=True)
    finally:
        run_cleanups()


if __name__ == "__main__":
    main()
