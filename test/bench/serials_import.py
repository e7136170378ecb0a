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

It prints rows/s and the client's peak RSS (bounded memory: the list is
streamed, never held). Timings are printed, never asserted.

usage: CMPGW_BIN=build/cmd/cmpgw python3 test/bench/serials_import.py [N] [--no-blocked]
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
from harness import Gateway, Pg, Tap, cmpgw_bin, mktemp, run_cleanups  # noqa: E402


def timed(args):
    """Run args under /usr/bin/time; (seconds, stdout, peak RSS in KiB)."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss %M"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    err = p.stderr.decode()
    if p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s" % (" ".join(args), p.returncode, err))
    rss = int(err.rsplit("maxrss ", 1)[1].split()[0])
    return dt, p.stdout.decode().strip(), rss


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
        for name, extra in runs:
            dt, out, rss = timed(base + extra + ["bench", path])
            print("%-10s %7.2f s  %9.0f rows/s  cmpgw peak RSS %6d KiB  %s"
                  % (name, dt, n / dt, rss, out.split(": ", 1)[-1]), flush=True)
    finally:
        run_cleanups()


if __name__ == "__main__":
    main()
