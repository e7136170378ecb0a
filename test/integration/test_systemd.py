#!/usr/bin/env python3
"""The systemd surface (issue 13): `meson install --destdir` puts the unit,
the sysusers.d/tmpfiles.d snippets, the example configuration and both man
pages in place; `systemd-analyze verify` reports nothing on the installed
unit; the snippets create the cmpgw user and /etc/cmpgw (systemd-sysusers
and systemd-tmpfiles under --root); the example configuration passes
`cmpgw check`; a real `cmpgw serve` run under strace makes no system call,
opens no socket family and makes no memory executable that the unit's
sandbox forbids; and a real `cmpgw serve` speaks the sd_notify protocol on
NOTIFY_SOCKET: no READY=1 while the database is down at start, READY=1
once it is back and the port accepts, RELOADING=1 then READY=1 on SIGHUP
(a refused reload included), STOPPING=1 on SIGTERM. systemd itself does
not run here (no systemd as PID 1 in the test container): verify is the
bar for the unit, strace the check of its sandbox."""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Gateway, Pg, cmpgw_bin, free_port, mktemp, run, sh  # noqa: E402

SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
UNIT_DIRECTIVES = [
    "Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=cmpgw", "Group=cmpgw",
    "StateDirectory=cmpgw", "ConfigurationDirectory=cmpgw", "NoNewPrivileges=yes",
    "ProtectSystem=strict", "PrivateTmp=yes", "ProtectHome=yes", "PrivateDevices=yes",
    "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectControlGroups=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces=yes",
    "LockPersonality=yes", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
    "CapabilityBoundingSet=", "Restart=on-failure",
]


def build_dir():
    """The meson build directory of the cmpgw under test (BUILD/cmd/cmpgw)."""
    b = os.path.dirname(os.path.dirname(os.path.abspath(cmpgw_bin())))
    return b if os.path.isdir(os.path.join(b, "meson-private")) else None


def install(t, tmp):
    """meson install --destdir; returns (destdir, {name: path}) or None."""
    b = build_dir()
    if not b:
        t.skip("meson install --destdir", "CMPGW_BIN is not inside a meson build directory")
        return None
    dest = os.path.join(tmp, "root")
    # --no-rebuild: the test runs inside `meson test`, which built already
    rc, out = sh(["meson", "install", "-C", b, "--no-rebuild", "--destdir", dest],
                 timeout=120)
    t.ok(rc == 0, "meson install --destdir succeeds", out[-3000:])
    found = {}
    for name, pat in (("bin", "**/bin/cmpgw"), ("unit", "**/system/cmpgw.service"),
                      ("man1", "**/man1/cmpgw.1"), ("man5", "**/man5/cmpgw.json.5"),
                      ("sysusers", "**/sysusers.d/cmpgw.conf"),
                      ("tmpfiles", "**/tmpfiles.d/cmpgw.conf"),
                      ("example", "**/examples/cmpgw.json.example")):
        hits = glob.glob(os.path.join(dest, pat), recursive=True)
        t.ok(len(hits) == 1, "installed: %s (%s)" % (name, pat), "\n".join(hits))
        if hits:
            found[name] = hits[0]
    return dest, found


def check_unit(t, dest, f):
    with open(f["unit"]) as fh:
        unit = fh.read()
    lines = [x.strip() for x in unit.splitlines()]
    bindir_cmpgw = "/" + os.path.relpath(f["bin"], dest)
    t.ok("ExecStart=%s serve --config /etc/cmpgw/cmpgw.json" % bindir_cmpgw in lines,
         "ExecStart runs the installed binary (%s) with /etc/cmpgw/cmpgw.json" % bindir_cmpgw,
         unit)
    missing = [d for d in UNIT_DIRECTIVES if d not in lines]
    t.ok(not missing, "the unit has the issue's directives (notify, reload, sandboxing)",
         "missing: %r" % missing)
    stop = re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M)
    t.ok(stop and int(stop.group(1)) > 10, "TimeoutStopSec above http.drain_s's default (10)")
    t.ok("@" not in re.sub(r"@system-service", "", unit.split("[Unit]", 1)[1]),
         "no unsubstituted @VAR@ in the installed unit")

    # verify needs ExecStart's binary to exist: point it into the destdir
    # (the only change), and let it find the man pages of Documentation=
    vdir = os.path.join(os.path.dirname(dest), "verify")
    os.makedirs(vdir, exist_ok=True)
    vunit = os.path.join(vdir, "cmpgw.service")
    with open(vunit, "w") as fh:
        fh.write(unit.replace("=%s " % bindir_cmpgw, "=%s " % f["bin"]))
    mandir = os.path.dirname(os.path.dirname(f["man1"]))
    env = dict(os.environ, MANPATH=mandir, SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="")
    p = subprocess.run(["systemd-analyze", "verify", vunit], capture_output=True, text=True,
                       env=env, timeout=60)
    t.ok(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
         "systemd-analyze verify reports nothing on the installed unit",
         "rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    # systemd's own rating of the sandbox (offline: no manager needed):
    # 0 is fully locked down, 10 unprotected; below 2 is its "OK" band
    p = subprocess.run(["systemd-analyze", "security", "--offline=yes", vunit],
                       capture_output=True, text=True, env=env, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout)
    t.ok(p.returncode == 0 and m and float(m.group(1)) < 2.0,
         "systemd-analyze security --offline: exposure %s (below 2.0, 'OK')"
         % (m.group(1) if m else "?"), p.stdout[-1500:] + p.stderr)
    # the same verify does catch a broken unit (so silence above means something)
    with open(vunit, "w") as fh:
        fh.write(unit.replace("=%s " % bindir_cmpgw, "=%s " % f["bin"])
                 .replace("Type=notify", "Type=notfy"))
    p = subprocess.run(["systemd-analyze", "verify", vunit], capture_output=True, text=True,
                       env=env, timeout=60)
    t.ok("notfy" in p.stdout + p.stderr, "verify reports a broken Type= (control)",
         p.stdout + p.stderr)


def check_man(t, f):
    """cmpgw.json(5) lists every key docs/CONFIG.md lists (test_cfg checks
    that CONFIG.md lists exactly the keys of the code's table)."""
    with open(os.path.join(SRC, "docs", "CONFIG.md")) as fh:
        keys = re.findall(r"^\| `([^`]+)` \|", fh.read(), re.M)
    with open(f["man5"]) as fh:
        page = fh.read()
    tags = set(re.findall(r"^\.TP\n\.B (.+)$", page, re.M))
    tags = {x.replace("\\-", "-").replace("\\e", "\\") for x in tags}
    missing = [k for k in keys if k not in tags]
    t.ok(len(keys) > 50 and not missing,
         "cmpgw.json(5) has an entry for each of the %d keys in docs/CONFIG.md" % len(keys),
         "missing: %r" % missing[:20])
    extra = sorted(tags - set(keys))
    t.ok(not extra, "cmpgw.json(5) has no key docs/CONFIG.md lacks", "extra: %r" % extra)


def check_snippets(t, tmp, f):
    root = os.path.join(tmp, "sysroot")
    os.makedirs(os.path.join(root, "etc"))
    rc, out = sh(["systemd-sysusers", "--root=" + root, f["sysusers"]])
    passwd = open(os.path.join(root, "etc", "passwd")).read() if rc == 0 else ""
    m = re.search(r"^cmpgw:x:(\d+):(\d+):[^:]*:/var/lib/cmpgw:", passwd, re.M)
    t.ok(rc == 0 and m, "sysusers.d: a cmpgw system user with home /var/lib/cmpgw",
         out + passwd)
    rc, out = sh(["systemd-tmpfiles", "--create", "--root=" + root, f["tmpfiles"]])
    st = os.stat(os.path.join(root, "etc", "cmpgw")) if rc == 0 else None
    t.ok(rc == 0 and st and (st.st_mode & 0o7777) == 0o750 and st.st_uid == 0
         and m and st.st_gid == int(m.group(2)),
         "tmpfiles.d: /etc/cmpgw is 0750 root:cmpgw", out)


def check_example(t, tmp, f):
    """The example config loads, given the files it names (from cmpgw init)."""
    d = os.path.join(tmp, "etc-cmpgw")
    rc, out = sh([cmpgw_bin(), "init", "--port", free_port(), "--devices", 2, d])
    shutil.copy(f["example"], os.path.join(d, "cmpgw.json"))
    url = os.path.join(d, "database.url")
    with open(url, "w") as fh:
        fh.write("postgresql://cmpgw@db.example.net/cmpgw?sslmode=verify-full\n")
    os.chmod(url, 0o600)
    rc, out = sh([cmpgw_bin(), "check", "--config", os.path.join(d, "cmpgw.json")])
    t.ok(rc == 0, "the installed example configuration passes cmpgw check", out)
    with open(f["example"]) as fh:
        ex = json.load(fh)
    t.ok(ex.get("data_dir") == "/var/lib/cmpgw" and "url_file" in ex.get("database", {})
         and ex.get("ops", {}).get("address") == "127.0.0.1",
         "the example uses the unit's state dir, an external database and a loopback ops "
         "listener")


class Notify:
    """The service manager's end of sd_notify: a unix datagram socket."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []

    def wait_for(self, field, timeout):
        """Messages until one has field (e.g. "READY=1"); True if it came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                m = self.s.recv(4096).decode("utf-8", "replace")
            except socket.timeout:
                break
            self.msgs.append(m)
            if field in m.split("\n"):
                return True
        return False

    def close(self):
        self.s.close()


def port_accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def check_notify(t, tmp, pg):
    gw = Gateway(t, pg=pg, register=True, name="notify",
                 patch=lambda c: c.setdefault("ops", {}).update(port=free_port()))
    n = Notify(os.path.join(tmp, "notify.sock"))
    env = dict(os.environ, NOTIFY_SOCKET=n.path)
    logf = open(gw.log, "ab")
    # the database is down at start: serve waits for it, not ready yet
    pg.stop()
    p = subprocess.Popen([cmpgw_bin(), "serve", "--config", gw.config], env=env,
                         stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=gw.tmp)
    try:
        early = n.wait_for("READY=1", 3)
        t.ok(not early and p.poll() is None and not port_accepts(gw.port),
             "database down: serve waits, refuses connections and sends no READY=1",
             "messages: %r\n%s" % (n.msgs, gw.log_tail()))
        pg.start()
        ready = n.wait_for("READY=1", 60)
        accepts = port_accepts(gw.port)
        t.ok(ready and accepts, "database back: READY=1, and the CMP port accepts when it "
              "arrives", "messages: %r\n%s" % (n.msgs, gw.log_tail()))
        reload_notify(t, n, p, gw.port, "SIGHUP")
        # a reload that is refused still ends in READY=1 (the running
        # configuration stays), and serve keeps serving
        with open(gw.config) as fh:
            good = fh.read()
        with open(gw.config, "w") as fh:
            fh.write(good.replace('"listen"', '"lissten"', 1))
        reload_notify(t, n, p, gw.port, "SIGHUP with a broken file")
        with open(gw.config, "w") as fh:
            fh.write(good)
        t.ok("configuration not reloaded" in gw.log_tail(200),
             "the refused reload is logged", gw.log_tail())
        n.msgs = []
        p.send_signal(signal.SIGTERM)
        t.ok(n.wait_for("STOPPING=1", 30), "SIGTERM: STOPPING=1",
              "messages: %r" % n.msgs)
        rc = p.wait(timeout=60)
        t.eq(rc, 0, "serve exits 0 after SIGTERM", gw.log_tail())
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        logf.close()
        n.close()


def reload_notify(t, n, p, port, what):
    """SIGHUP: RELOADING=1 (with MONOTONIC_USEC), then READY=1; still serving."""
    n.msgs = []
    p.send_signal(signal.SIGHUP)
    reloading = n.wait_for("RELOADING=1", 30)
    t.ok(reloading and any(x.startswith("MONOTONIC_USEC=")
                            for m in n.msgs for x in m.split("\n")),
          "%s: RELOADING=1 with MONOTONIC_USEC" % what, "messages: %r" % n.msgs)
    t.ok(reloading and n.wait_for("READY=1", 30), "%s: READY=1 again after it" % what,
          "messages: %r" % n.msgs)
    t.ok(p.poll() is None and port_accepts(port), "%s: serve still serves" % what)


def syscall_set(group, seen=None):
    """The system calls of a systemd syscall group, nested groups expanded."""
    seen = set() if seen is None else seen
    p = subprocess.run(["systemd-analyze", "syscall-filter", group], capture_output=True,
                       text=True, timeout=60)
    calls = set()
    for line in p.stdout.splitlines()[1:]:
        x = line.strip()
        if x.startswith("@") and x not in seen:
            seen.add(x)
            calls |= syscall_set(x, seen)
        elif x and not x.startswith("#") and not x.startswith("@"):
            calls.add(x)
    return calls


WRITE_CALLS = ("mkdir", "mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
               "link", "linkat", "symlink", "symlinkat", "truncate", "chmod", "fchmodat",
               "chown", "fchownat", "lchown", "creat")


def check_sandbox(t, tmp, f, pg):
    """What the unit's sandbox forbids, a real serve does not do.

    systemd cannot run the unit here, so serve runs under strace through
    what a node does (start, enrollments with explicit and implicit
    confirmation, the CRL over HTTP and HTTPS, /metrics, /readyz, a
    reload, a drain), with file keys and again with its keys in a SoftHSM2
    token; every system call, socket family, memory protection and file
    write is checked against the installed unit's SystemCallFilter=,
    RestrictAddressFamilies=, MemoryDenyWriteExecute=yes and
    ProtectSystem=strict (no write at all; with SoftHSM2, writes only in
    its token directory: the ReadWritePaths= its drop-in needs)."""
    strace = shutil.which("strace")
    if not strace:
        t.skip("serve within the unit's sandbox rules", "strace is not installed")
        return
    with open(f["unit"]) as fh:
        unit = fh.read()
    rules = {"calls": set(), "families": set(re.search(
        r"^RestrictAddressFamilies=(.*)$", unit, re.M).group(1).split())}
    for m in re.finditer(r"^SystemCallFilter=(.*)$", unit, re.M):
        for g in m.group(1).split():
            rules["calls"] |= syscall_set(g) if g.startswith("@") else {g}
    tls_port = free_port()

    def patch(c):
        c.setdefault("ops", {}).update(port=free_port())
        # a TLS listener too (its certificate is the demo's CMP signer)
        c["listen"].append({"address": "127.0.0.1", "port": tls_port,
                            "tls": {"cert": "pki/cmp-signer.crt", "key": "pki/cmp-signer.key"}})
    gw = Gateway(t, pg=pg, register=True, devices=6, name="sandbox", patch=patch)
    trace = traced_serve(t, strace, gw, tls_port, (1, 2), "file keys")
    if trace:
        analyse(t, trace, rules, "file keys", None)
    hsm, why = hsm_setup(gw)
    if not hsm:
        t.skip("serve within the sandbox rules with keys in SoftHSM2", why)
        return
    trace = traced_serve(t, strace, gw, tls_port, (3, 4), "SoftHSM2 keys")
    if trace:
        analyse(t, trace, rules, "SoftHSM2 keys", hsm)


def hsm_setup(gw):
    """Issuing and CMP keys in a SoftHSM2 token (test_hsm.py's set-up);
    returns (the token directory, None) or (None, why not)."""
    try:
        import test_hsm
    except ImportError as e:
        return None, "test_hsm.py: %s" % e
    for path in (test_hsm.SOFTHSM, test_hsm.ENGINES):
        if not os.path.exists(path):
            return None, "%s missing" % path
    gw.file_cfg = gw.cfg
    test_hsm.make_token(None, gw.tmp)  # sets SOFTHSM2_CONF for serve too
    test_hsm.make_certs(gw)
    pin = gw.path("pin.txt")
    with open(pin, "w") as fh:
        fh.write(test_hsm.PIN + "\n")
    os.chmod(pin, 0o600)
    gw.write_config(test_hsm.hsm_config(gw))
    return os.path.realpath(os.path.join(gw.tmp, "tokens")), None


def traced_serve(t, strace, gw, tls_port, devices, label):
    """serve under strace -f through a node's work; the trace file."""
    trace = os.path.join(gw.tmp, "serve-%s.strace" % re.sub(r"\W+", "-", label))
    # LeakSanitizer cannot run under ptrace: leaks are checked elsewhere
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
    logf = open(gw.log, "ab")
    p = subprocess.Popen([strace, "-f", "-qq", "-o", trace, cmpgw_bin(), "serve", "--config",
                          gw.config], env=env, stdout=logf, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd=gw.tmp)
    try:
        if not t.ok(port_accepts_within(gw.port, 60, p), "%s: serve under strace accepts"
                    % label, gw.log_tail()):
            return None
        serve_pid = int(open("/proc/%d/task/%d/children" % (p.pid, p.pid)).read().split()[0])
        r1 = gw.cmp(devices[0], confirm="explicit")
        r2 = gw.cmp(devices[1], confirm="implicit")
        t.ok(r1.rc == 0 and r2.rc == 0, "%s: enrollments (explicit and implicit confirm) "
             "succeed" % label, repr(r1) + repr(r2))
        got = []
        for url in ("http://127.0.0.1:%d/crl/issuing-ca.crl" % gw.port,
                    "https://127.0.0.1:%d/crl/issuing-ca.crl" % tls_port,
                    "http://127.0.0.1:%d/metrics" % gw.cfg["ops"]["port"],
                    "http://127.0.0.1:%d/readyz" % gw.cfg["ops"]["port"]):
            rc, out = sh(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url])
            got.append(out)
        t.eq(got, ["200"] * 4, "%s: CRL (HTTP and HTTPS), /metrics and /readyz answer 200"
             % label)
        os.kill(serve_pid, signal.SIGHUP)
        time.sleep(1)  # let the reload run before the drain (not asserted)
        os.kill(serve_pid, signal.SIGTERM)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        logf.close()
    return trace


def analyse(t, trace, rules, label, writable):
    calls, fams, wx, writes = set(), set(), [], set()
    with open(trace, errors="replace") as fh:
        for line in fh:
            m = re.match(r"\d+\s+([a-z_0-9]+)\((.*)", line)
            if not m:
                continue
            call, rest = m.group(1), m.group(2)
            calls.add(call)
            failed = re.search(r"\) += -1 ", rest)
            path = re.search(r'"([^"]*)"', rest)
            if call == "socket":
                fams.update(re.findall(r"\b(AF_[A-Z0-9]+)", rest))
            elif call in ("mmap", "mprotect", "pkey_mprotect") and "PROT_EXEC" in rest \
                    and ("PROT_WRITE" in rest or call != "mmap"):
                wx.append(line.strip())
            elif call in ("open", "openat") and re.search(r"O_(WRONLY|RDWR|CREAT|TRUNC)", rest) \
                    and path and not failed and path.group(1) != "/dev/null":
                writes.add(os.path.realpath(path.group(1)))
            elif call in WRITE_CALLS and path and not failed:
                writes.add(os.path.realpath(path.group(1)))
    t.ok(len(calls) > 30, "%s: strace saw serve's system calls (%d distinct)"
         % (label, len(calls)))
    t.ok(calls <= rules["calls"], "%s: every system call serve made is in the unit's "
         "SystemCallFilter" % label, "outside it: %r" % sorted(calls - rules["calls"]))
    t.ok(fams and fams <= rules["families"], "%s: serve opened only RestrictAddressFamilies "
         "sockets (%s)" % (label, " ".join(sorted(fams))),
         "outside them: %r" % sorted(fams - rules["families"]))
    t.ok(not wx, "%s: no writable+executable mapping, no mprotect to executable "
         "(MemoryDenyWriteExecute=yes)" % label, "\n".join(wx[:10]))
    if writable is None:
        t.ok(not writes, "%s: serve writes no file (ProtectSystem=strict)" % label,
             "written: %r" % sorted(writes)[:20])
    else:
        outside = sorted(w for w in writes if not w.startswith(writable + "/"))
        t.ok(not outside, "%s: serve writes only in the token directory (ReadWritePaths= "
             "for SoftHSM2: %d file(s))" % (label, len(writes)), "outside: %r" % outside[:20])


def port_accepts_within(port, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if port_accepts(port):
            return True
        time.sleep(0.1)
    return False


def main(t):
    tmp = mktemp("cmpgw-systemd-")
    got = install(t, tmp)
    pg = Pg()
    if got and len(got[1]) == 7:
        dest, f = got
        check_unit(t, dest, f)
        check_man(t, f)
        check_snippets(t, tmp, f)
        check_example(t, tmp, f)
        check_sandbox(t, tmp, f, pg)
    check_notify(t, tmp, pg)


if __name__ == "__main__":
    run(main)
