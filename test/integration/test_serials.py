#!/usr/bin/env python3
"""Serial list import (issue 14; docs/SERIALS.md) against real PostgreSQL and
cmpgw: the per-vendor serial syntax, every refused line with its line number
and reason, duplicates, letter case, new/changed/unchanged/refused counts, all
or nothing (a refused line or a SIGKILL changes nothing), idempotent
re-import, blocked import, and a real `openssl cmp` enrollment that compares
the device serial exactly as imported."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, cmpgw_bin, run  # noqa: E402

L = "<stdin>"  # the label of a list read from stdin


class Cli:
    def __init__(self, gw):
        self.gw = gw

    def run(self, words, args, data=None):
        p = subprocess.run([cmpgw_bin()] + words + ["--config", self.gw.config] + args,
                           input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        return p.returncode, p.stdout.decode("utf-8", "replace"), \
            p.stderr.decode("utf-8", "replace")

    def imp(self, vendor, data, *opts):
        if isinstance(data, str):
            data = data.encode()
        return self.run(["serials", "import"], list(opts) + [vendor, "-"], data)

    def syntax(self, vendor, *opts):
        return self.run(["serials", "syntax"], list(opts) + [vendor])


def serials(gw, vendor):
    return {r[0]: r[1] for r in gw.psql(
        "SELECT s.serial, s.state FROM serials s JOIN vendors v ON v.id = s.vendor_id "
        "WHERE v.name = '%s'" % vendor)}


def last_audit(gw):
    rows = gw.psql("SELECT event, principal, vendor, detail FROM audit "
                   "WHERE event LIKE 'serials%' ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else None


def summary(vendor, state, new, changed, unchanged, refused, dups, skipped=False):
    return "%s: imported for vendor %s as %s: %d new, %d changed, %d unchanged, %d refused%s, " \
           "%d duplicate(s)\n" % (L, vendor, state, new, changed, unchanged, refused,
                                  " (skipped)" if skipped else "", dups)


def test_counts(t, c, gw):
    text = "B-1\nB-2\r\n\n# a comment\nB-3\nB-1\nb-3\n"
    rc, out, err = c.imp("beta", text)
    t.eq(rc, 0, "fresh import exits 0", err)
    t.eq(out, summary("beta", "allowed", 4, 0, 0, 0, 1), "fresh import: 4 new, 1 duplicate")
    t.ok("%s: line 6: duplicate of line 1 (B-1), counted once\n" % L in err,
         "the duplicate is reported with both line numbers", err)
    t.ok("%s: warning: lines 5 and 7 differ only in letter case: imported as different "
         "serials (serials are case-sensitive)\n" % L in err,
         "serials differing only in case: a warning naming both lines", err)
    t.eq(serials(gw, "beta"), {"B-1": "allowed", "B-2": "allowed", "B-3": "allowed",
                               "b-3": "allowed"},
         "CR stripped, empty and # lines skipped, case kept (B-3 and b-3 both stored)")
    t.eq(last_audit(gw), ["serials_imported", "os:root", "beta",
                          "file <stdin> as allowed: 4 new, 0 changed, 0 unchanged, 0 refused, "
                          "1 duplicate(s)"], "the import is audited with its principal and counts")
    rc, out, err = c.imp("beta", text)
    t.eq((rc, out), (0, summary("beta", "allowed", 0, 0, 4, 0, 1)),
         "re-import of the same list: 0 new, 0 changed, 4 unchanged", err)
    rc, out, err = c.imp("beta", b"\xef\xbb\xbfB-1\n")
    t.eq((rc, out), (0, summary("beta", "allowed", 0, 0, 1, 0, 0)),
         "a UTF-8 byte order mark on line 1 is not part of the serial", err)


REFUSED = [
    ("bad,comma", "line 2: character ',' at column 4 is not allowed"),
    ("C 2", "line 3: whitespace (0x20) at column 2"),
    ("x" * 65, "line 4: 65 bytes, longer than the maximum of 64"),
    ("A\0B", "line 5: NUL byte at column 2"),
    ("Gr\u00fcn", "line 6: non-ASCII byte 0xc3 at column 3 (UTF-8 is not allowed)"),
    ("E\x1bX", "line 7: control byte 0x1b at column 2"),
    ("T\tX", "line 8: whitespace (0x09) at column 2"),
]


def test_refused(t, c, gw):
    before = serials(gw, "beta")
    text = "C-1\n" + "".join(s + "\n" for s, _ in REFUSED) + "C-3\n" + "x" * 64 + "\n"
    rc, out, err = c.imp("beta", text)
    t.eq(rc, 1, "a list with refused lines exits 1", err)
    t.eq(out, "", "nothing on stdout when the import is refused")
    for _, msg in REFUSED:
        t.ok("%s: %s\n" % (L, msg) in err, "refused: " + msg, err)
    final = ("%s: nothing imported for vendor beta: 7 of 10 serial line(s) refused (fix them, "
             "or import the 3 valid one(s) with --skip-invalid)\n" % L)
    t.ok(err.endswith(final), "the final line says nothing was imported and why", err)
    t.eq(serials(gw, "beta"), before, "a refused list changes nothing (all or nothing)")
    t.eq(last_audit(gw), ["serials_import_refused", "os:root", "beta",
                          "file <stdin> as allowed: nothing imported, 7 of 10 serial line(s) "
                          "refused"], "a refused import is audited too")

    rc, out, err = c.imp("beta", text, "--skip-invalid")
    t.eq((rc, out), (0, summary("beta", "allowed", 3, 0, 0, 7, 0, skipped=True)),
         "--skip-invalid: the 3 valid serials imported, 7 refused (skipped)", err)
    t.ok("%s: %s\n" % (L, REFUSED[0][1]) in err, "--skip-invalid still lists refused lines", err)
    got = serials(gw, "beta")
    t.ok("C-1" in got and "C-3" in got and "x" * 64 in got and "C 2" not in got,
         "--skip-invalid: valid lines stored, refused ones not", sorted(got))

    # each forbidden character of the default syntax
    forb = ",=+/\\*"
    rc, out, err = c.imp("beta", "".join("f%s1\n" % ch for ch in forb))
    t.eq(rc, 1, "forbidden characters refused", err)
    for i, ch in enumerate(forb):
        msg = "%s: line %d: character '%s' at column 2 is not allowed\n" % (L, i + 1, ch)
        t.ok(msg in err, "forbidden character %r refused with its line" % ch, err)

    # bounded report: 100 refused lines listed, then a count
    rc, out, err = c.imp("beta", "ok-1\n" + "bad line\n" * 150)
    listed = [x for x in err.splitlines() if x.startswith(L + ": line ")]
    t.eq((rc, len(listed)), (1, 100), "150 refused lines: the first 100 are listed", err[-300:])
    t.ok("%s: and 50 more refused line(s)\n" % L in err, "then 'and 50 more'", err[-300:])
    t.eq(listed[-1] if listed else "", "%s: line 101: whitespace (0x20) at column 4" % L,
         "the last listed is line 101")

    # a very long line is refused, not truncated, and read in bounded memory
    rc, out, err = c.imp("beta", "L" * 100000 + "\nok-2\n")
    t.ok(rc == 1 and "%s: line 1: 100000 bytes, longer than the maximum of 64\n" % L in err,
         "a 100,000-byte line: refused with its length", err)


def test_blocked(t, c, gw):
    rc, out, err = c.imp("beta", "B-1\nB-9\n", "--blocked")
    t.eq((rc, out), (0, summary("beta", "blocked", 1, 1, 0, 0, 0)),
         "blocked import: B-9 new, B-1 changed (allowed -> blocked)", err)
    got = serials(gw, "beta")
    t.eq((got.get("B-1"), got.get("B-9"), got.get("B-2")), ("blocked", "blocked", "allowed"),
         "blocked import: states in the database")
    rc, out, err = c.imp("beta", "B-1\nB-9\n", "--blocked")
    t.eq((rc, out), (0, summary("beta", "blocked", 0, 0, 2, 0, 0)),
         "blocked import again: 0 new, 0 changed, 2 unchanged", err)
    rc, out, err = c.imp("beta", "B-1\nB-2\n")
    t.eq((rc, out), (0, summary("beta", "allowed", 0, 0, 2, 0, 0)),
         "allowed import of a blocked serial: unchanged", err)
    t.ok("%s: note: 1 listed serial(s) are blocked and stay blocked (an allowed import never "
         "unblocks)\n" % L in err, "... with a note that it stays blocked", err)
    t.eq(serials(gw, "beta").get("B-1"), "blocked", "B-1 is still blocked")


def test_syntax(t, c, gw):
    rc, out, err = c.syntax("beta")
    t.eq((rc, out), (0, "vendor beta: serials of 1..64 bytes, allowed characters: default\n"),
         "serials syntax NAME shows the default", err)
    rc, out, err = c.syntax("beta", "--max-len", "8", "--allow", "A-F0-9")
    t.eq((rc, out), (0, "vendor beta: serials of 1..8 bytes, allowed characters: 0-9A-F\n"),
         "serials syntax --max-len 8 --allow A-F0-9 (shown canonical)", err)
    t.eq(gw.scalar("SELECT serial_max_len || ' ' || serial_charset FROM vendors "
                   "WHERE name = 'beta'"), "8 0-9A-F", "stored on the vendor row")
    t.eq(gw.psql("SELECT event, principal, vendor, detail FROM audit "
                 "WHERE event = 'serial_syntax_set' ORDER BY id DESC LIMIT 1"),
         [["serial_syntax_set", "os:root", "beta", "max-len 8, allow 0-9A-F"]],
         "the syntax change is audited with its principal")
    rc, out, err = c.imp("beta", "00FF\nabc\n123456789\n")
    t.eq(rc, 1, "import under the vendor syntax: refused lines", err)
    t.ok("%s: line 2: character 'a' at column 1 is not allowed\n" % L in err,
         "lower-case hex refused by an upper-case charset", err)
    t.ok("%s: line 3: 9 bytes, longer than the maximum of 8\n" % L in err,
         "9 bytes refused by --max-len 8", err)
    for args, msg in ((["--allow", "Z-A"], "--allow: range \"Z-A\" at position 1 is not "
                       "ascending printable ASCII"),
                      (["--allow", "A B"], "--allow: byte 0x20 at position 2"),
                      (["--max-len", "0"], "--max-len: \"0\" is not 1..256"),
                      (["--max-len", "257"], "--max-len: \"257\" is not 1..256"),
                      (["--max-len", "8x"], "--max-len: \"8x\" is not 1..256")):
        rc, out, err = c.syntax("beta", *args)
        t.ok(rc == 2 and msg in err and not out, "serials syntax %s: exit 2" % " ".join(args),
             "rc %d: %s" % (rc, err))
    t.eq(gw.scalar("SELECT serial_max_len || ' ' || serial_charset FROM vendors "
                   "WHERE name = 'beta'"), "8 0-9A-F", "a refused setting changes nothing")
    rc, out, err = c.syntax("beta", "--allow", "default", "--max-len", "64")
    t.eq((rc, out), (0, "vendor beta: serials of 1..64 bytes, allowed characters: default\n"),
         "--allow default restores the default", err)
    t.eq(gw.scalar("SELECT serial_charset IS NULL FROM vendors WHERE name = 'beta'"), "t",
         "default stored as NULL")
    rc, out, err = c.syntax("nosuch")
    t.eq((rc, err), (1, "cmpgw: unknown vendor \"nosuch\"\n"), "unknown vendor: exit 1")
    rc, out, err = c.imp("nosuch", "X\n")
    t.eq((rc, err), (1, "cmpgw: unknown vendor \"nosuch\"\n"), "import, unknown vendor: exit 1")


def test_sigkill(t, c, gw):
    """A SIGKILL in the middle of a big import leaves the previous state."""
    before = serials(gw, "beta")
    p = subprocess.Popen([cmpgw_bin(), "serials", "import", "--config", gw.config, "beta", "-"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunk = "".join("K-%09d\n" % i for i in range(100000)).encode()
    sent = 0
    for _ in range(10):  # 1,000,000 lines streamed, then the kill before EOF
        p.stdin.write(chunk)
        sent += 100000
    p.stdin.flush()
    time.sleep(0.5)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    p.stdout.close()
    p.stderr.close()
    t.eq(p.returncode, -signal.SIGKILL, "the import was killed (SIGKILL) after %d lines" % sent)
    t.eq(serials(gw, "beta"), before, "SIGKILL mid-import: the previous state, no partial list")
    # the next import is not blocked by the killed one (its transaction is gone)
    rc, out, err = c.imp("beta", "K-1\n")
    t.eq((rc, out), (0, summary("beta", "allowed", 1, 0, 0, 0, 0)),
         "an import after the kill works", err)


def test_enroll(t, c, gw):
    """Serials are compared exactly at enrollment as at import: ACME-0003
    (device 3, not in the demo list) cannot enroll with acme-0003 listed."""
    rc, out, err = c.imp("acme", "acme-0003\n")
    t.eq((rc, out), (0, summary("acme", "allowed", 1, 0, 0, 0, 0)), "acme-0003 imported", err)
    gw.start()
    r = gw.cmp(3)
    t.ok(r.rc != 0 and r.has("device serial is not on the vendor's list"),
         "device ACME-0003 does not enroll when only acme-0003 is listed (exact comparison)",
         repr(r) + r.out)
    rc, out, err = c.imp("acme", "ACME-0003\n")
    t.eq((rc, out), (0, summary("acme", "allowed", 1, 0, 0, 0, 0)), "ACME-0003 imported", err)
    r = gw.cmp(3)
    t.ok(r.rc == 0, "device ACME-0003 enrolls with openssl cmp once imported", repr(r))
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0003'"), "enrolled",
         "ACME-0003 enrolled")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'acme-0003'"), "allowed",
         "acme-0003 untouched")


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=3, name="serials")
    c = Cli(gw)
    gw.must("vendor", "add", "beta")
    test_counts(t, c, gw)
    test_refused(t, c, gw)
    test_blocked(t, c, gw)
    test_syntax(t, c, gw)
    test_sigkill(t, c, gw)
    test_enroll(t, c, gw)


if __name__ == "__main__":
    run(main)
