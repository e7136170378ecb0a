#!/usr/bin/env python3
"""Serial list import benchmark (issue 14; BENCHMARKS.md "Serial import").

Starts a private PostgreSQL (test/integration/harness.py: fsync=off,
synchronous_commit=off, as every integration test), a demo configuration
and vendor "bench", writes a list of N serials ("SN-%010d"), and times
`cmpgw serials import` as a user would run it, end to end (process start,
file read, syntax check, COPY, merge, audit, commit):

  1. fresh import of N serials            (N new)
  2. the same file again                  (N unchanged: idempotent)
  3. the same file --blocked              (N changed)

It prints the elapsed time and rows/s, the CPU seconds of the cmpgw client
and of the PostgreSQL backend (on a busy machine the elapsed time mostly
measures the other load; the CPU time does not), and the client's peak RSS
(bounded memory: the list is streamed, never held). Timings are printed,
never asserted.

usage: CMPGW_BIN=build/cmd/cmpgw python3 test/bench/serials_import.py [N] [--no-blocked]
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from harness import Gateway, Pg, Tap, cmpgw_bin, mktemp, run_cleanups  # noqa: E402


def pg_children_cpu(pg):
    """CPU seconds of the cluster's exited processes (backends included):
    the postmaster reaps them, so its cutime + cstime grow by theirs."""
    with open(os.path.join(pg.data, "postmaster.pid")) as f:
        pid = int(f.readline())
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def timed(args):
    """Run args under /usr/bin/time; (seconds, stdout, peak RSS in KiB,
    CPU seconds of the client)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss %M cpu %U %S"] + args,
                       stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    err = p.stderr.decode()
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(args), p.returncode, err))
    f = err.rsplit("maxrss ", 1)[1].split()
    return dt, p.stdout.decode().strip(), int(f[0]), float(f[2]) + float(f[3])


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1000000
    runs = [("fresh", []), ("re-import", [])]
    if "--no-blocked" not in sys.argv:
        runs.append(("blocked", ["--blocked"]))
    try:
        pg = Pg()
        gw = Gateway(Tap(), pg, devices=2, name="bench", register=False)
        gw.must("migrate")
        gw.must("vendor", "add", "bench")
        path = os.path.join(mktemp("cmpgw-serials-"), "serials.txt")
        with open(path, "w") as f:
            for i in range(0, n, 100000):
                f.write("".join("SN-%010d\n" % j for j in range(i, min(n, i + 100000))))
        base = [cmpgw_bin(), "serials", "import", "--config", gw.config]
        print("# %d serials, %d cores, %s" % (n, os.cpu_count(), path))
        print("# wall: elapsed; CPU: seconds of the cmpgw client + PostgreSQL backend; "
              "load: 1-minute load average before the run")
        for name, extra in runs:
            load = os.getloadavg()[0]
            pg0 = pg_children_cpu(pg)
            dt, out, rss, cpu = timed(base + extra + ["bench", path])
            time.sleep(1)  # the postmaster reaps the backend after the client exits
            pgcpu = pg_children_cpu(pg) - pg0
            print("%-9s wall %6.2f s %8.0f rows/s | CPU cmpgw %5.2f s + pg %6.2f s | "
                  "cmpgw peak RSS %d KiB | load %.1f | %s"
                  % (name, dt, n / dt, cpu, pgcpu, rss, load, out.split(": ", 1)[-1]),
                  flush=True)
    finally:
        run_cleanups()


if __name__ == "__main__":
    main()
