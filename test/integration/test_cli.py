#!/usr/bin/env python3
"""The command line's conventions (issue 13): `cmpgw --version`; `--help`
on every command and sub-command (usage on stdout, exit 0); `--opt=value`
as well as `--opt value`; an unknown option, a missing value or a wrong
number of arguments exits 2 with a message naming it; CMPGW_CONFIG stands
in for --config (check, migrate, serve, the database commands); a
configuration error exits 2 naming the JSON path. Real `cmpgw` processes
and a real PostgreSQL."""

import json
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import (Gateway, Pg, cmpgw_bin, free_port, mktemp,  # noqa: E402
                     run, wait_port)

SRC = os.path.abspath(os.path.join(HERE, "..", ".."))

# every command and sub-command; each must answer --help (and -h)
COMMANDS = [
    [], ["init"], ["serve"], ["migrate"], ["check"], ["vendor"], ["vendor", "add"],
    ["vendor", "anchor", "add"], ["vendor", "intermediate", "add"], ["serials"],
    ["serials", "import"], ["token"], ["token", "create"], ["token", "list"],
    ["token", "revoke"], ["cert"], ["cert", "revoke"], ["crl"], ["db"], ["db", "stop"],
    ["vendor", "set"], ["vendor", "check"], ["serials", "syntax"], ["apikey"],
    ["apikey", "create"], ["apikey", "list"], ["apikey", "revoke"], ["apikey", "verify"],
    ["vendor", "submissions"], ["vendor", "approve"], ["vendor", "reject"],
]


def cli(*args, env=None, input=None, timeout=120):
    """(exit code, stdout, stderr) of cmpgw ARGS; env is added to ours."""
    e = dict(os.environ)
    e.pop("CMPGW_CONFIG", None)
    e.update(env or {})
    p = subprocess.run([cmpgw_bin()] + [str(a) for a in args], env=e, input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def project_version():
    with open(os.path.join(SRC, "meson.build")) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def check_version(t):
    want = "cmpgw %s" % project_version()
    lib = subprocess.run(["openssl", "version"], capture_output=True, text=True).stdout
    m = re.search(r"\(Library: ([^)]+)\)", lib)
    lib = m.group(1) if m else lib.strip()
    for args in (["--version"], ["version"], ["-V"]):
        rc, out, err = cli(*args)
        lines = out.splitlines()
        t.ok(rc == 0 and lines and lines[0] == want and not err,
             "cmpgw %s: exit 0, first line %r" % (args[0], want), out + err)
        t.ok(lib in lines, "cmpgw %s names the OpenSSL it runs with (%s)" % (args[0], lib), out)
        t.ok(any(re.fullmatch(r"libevent \d+\.\d+\.\d+\S*", x) for x in lines)
             and any(re.fullmatch(r"libpq \d+\.\d+", x) for x in lines),
             "cmpgw %s names the libevent and libpq versions" % args[0], out)
    rc, out, err = cli("version", "extra")
    t.ok(rc == 2 and not out, "cmpgw version with an argument: exit 2", out + err)


def check_help(t):
    with open(os.path.join(SRC, "docs", "man", "cmpgw.1.in")) as f:
        man = f.read().replace("\\-", "-").replace("\\fB", "").replace("\\fR", "")
    for words in COMMANDS:
        for h in ("--help", "-h"):
            rc, out, err = cli(*(words + [h]))
            name = " ".join(["cmpgw"] + words + [h])
            t.ok(rc == 0 and out.startswith("usage: cmpgw") and not err,
                 "%s: usage on stdout, nothing on stderr, exit 0" % name,
                 "rc %d\nstdout: %s\nstderr: %s" % (rc, out, err))
        if words and words[-1] not in ("vendor", "serials", "token", "cert", "db", "apikey"):
            t.ok((".B " + " ".join(words)) in man, "cmpgw(1) documents `cmpgw %s`"
                 % " ".join(words))
        rc, out, err = cli(*(words + ["--help"]))
        undocumented = sorted(o for o in set(re.findall(r"--[a-z][a-z-]*", out))
                              if o not in man)
        t.ok(not undocumented, "cmpgw(1) documents every option of `cmpgw %s --help`"
             % " ".join(words), "undocumented: %r" % undocumented)
    rc, out, _ = cli("help")
    t.ok(rc == 0 and "CMPGW_CONFIG" in out and "--opt=VALUE" in out,
         "cmpgw help: CMPGW_CONFIG and --opt=VALUE documented", out)
    rc, out, _ = cli("check", "--help")
    t.ok("CMPGW_CONFIG" in out, "cmpgw check --help names CMPGW_CONFIG", out)
    rc, out, err = cli()
    t.ok(rc == 2 and "usage: cmpgw" in err and not out, "cmpgw without a command: exit 2")


def check_bad_usage(t, config):
    """Usage errors exit 2 and name the culprit; nothing on stdout."""
    cases = [
        (["serve", "--bogus"], "--bogus"),
        (["check", "--bogus=1", "--config", config], "--bogus"),
        (["migrate", "-x", "--config", config], "-x"),
        (["vendor", "add", "--bogus", "acme", "--config", config], "--bogus"),
        (["vendor", "anchor", "add", "--bogus", "a", "b"], "--bogus"),
        (["serials", "import", "--bogus", "a", "b"], "--bogus"),
        (["token", "create", "--bogus"], "--bogus"),
        (["cert", "revoke", "--bogus"], "--bogus"),
        (["crl", "--bogus"], "--bogus"),
        (["db", "stop", "--bogus"], "--bogus"),
        (["init", "--bogus", "/nonexistent/x"], "--bogus"),
        (["check", "--force", "--config", config], "--force"),
        (["check", "--serial-rule", "subject_cn", "--config", config], "--serial-rule"),
        (["check", "--config"], "--config"),
        (["token", "create", "--alias"], "--alias"),
        (["init", "--port"], "--port"),
        (["crl", "-c"], "-c"),
        (["db", "stop", "--force=yes", "--config", config], "--force"),
        (["init", "--port=0", "/nonexistent/x"], "--port"),
        (["init", "--ops-port=70000", "/nonexistent/x"], "--ops-port"),
        (["vendor", "add", "--serial-rule=nope", "acme", "--config", config], "nope"),
        (["cert", "revoke", "--serial", "xyz", "--config", config], "--serial"),
        (["bogus"], "bogus"),
    ]
    for args, named in cases:
        rc, out, err = cli(*args)
        t.ok(rc == 2 and named in err and not out,
             "cmpgw %s: exit 2, stderr names %s" % (" ".join(args), named),
             "rc %d\nstdout: %s\nstderr: %s" % (rc, out, err))
    # positional arguments: too many, too few
    for args in (["check", "extra", "--config", config], ["migrate", "a", "--config", config],
                 ["vendor", "add", "--config", config],
                 ["vendor", "anchor", "add", "acme", "--config", config],
                 ["serials", "import", "acme", "--config", config],
                 ["token", "revoke", "a", "b", "--config", config],
                 ["crl", "x", "--config", config], ["init"], ["init", "a", "b"],
                 ["vendor", "remove"], ["db", "start"], ["cert", "list"]):
        rc, out, err = cli(*args)
        t.ok(rc == 2 and err and not out, "cmpgw %s: exit 2 (arguments)" % " ".join(args),
             "rc %d\nstdout: %s\nstderr: %s" % (rc, out, err))
    # no --config and no CMPGW_CONFIG
    for args in (["check"], ["migrate"], ["serve"], ["token", "list"], ["crl"],
                 ["db", "stop"], ["vendor", "add", "acme"]):
        rc, out, err = cli(*args)
        t.ok(rc == 2 and "--config" in err and "CMPGW_CONFIG" in err,
             "cmpgw %s without a config: exit 2, names --config and CMPGW_CONFIG"
             % " ".join(args), err)


def check_init(t, tmp):
    port = free_port()
    d = os.path.join(tmp, "init-eq")
    rc, out, err = cli("init", "--port=%d" % port, "--devices=2", d)
    with open(os.path.join(d, "cmpgw.json")) as f:
        cfg = json.load(f)
    t.ok(rc == 0 and cfg["listen"][0]["port"] == port,
         "cmpgw init --port=N --devices=N (=value form) works", out + err)
    t.eq(cfg.get("ops"), {"address": "127.0.0.1", "port": port + 1},
         "cmpgw init writes an ops listener on 127.0.0.1, port+1")
    rc, out, err = cli("init", "--force", "--port", port, "--ops-port", 0, "-n", 2, d)
    with open(os.path.join(d, "cmpgw.json")) as f:
        cfg = json.load(f)
    t.ok(rc == 0 and cfg.get("ops", {}).get("port") == 0,
         "cmpgw init --ops-port 0: no ops listener", out + err)
    rc, out, err = cli("init", "--port", port, "--ops-port", port, os.path.join(tmp, "x"))
    t.ok(rc == 2 and "--ops-port" in err, "cmpgw init --ops-port equal to --port: exit 2", err)


def check_config_errors(t, gw):
    """A configuration error exits 2 with the JSON path (check and serve)."""
    def bad(name, mod, path):
        cfg = json.loads(json.dumps(gw.cfg))
        mod(cfg)
        # next to cmpgw.json: relative paths resolve against its directory
        f = gw.path("bad-%s.json" % re.sub(r"[^a-z0-9]+", "-", name))
        with open(f, "w") as fh:
            json.dump(cfg, fh)
        for cmd in ("check", "serve"):
            rc, out, err = cli(cmd, "--config=%s" % f, timeout=30)
            t.ok(rc == 2 and path in err, "cmpgw %s with %s: exit 2 naming %s" % (cmd, name, path),
                 "rc %d\n%s%s" % (rc, out, err))

    def tls_key(c):
        c["listen"][0]["tls"] = {"cert": gw.path("pki", "cmp-signer.crt"),
                                 "key": os.path.join(gw.tmp, "no-such.key")}
    bad("an unreadable listen[0].tls.key", tls_key, "listen[0].tls.key")
    # a key group/other may read is refused too (mode 0644)
    open_key = os.path.join(gw.tmp, "open.key")
    with open(gw.path("pki", "cmp-signer.key"), "rb") as src, open(open_key, "wb") as dst:
        dst.write(src.read())
    os.chmod(open_key, 0o644)
    bad("a listen[0].tls.key of mode 0644",
        lambda c: c["listen"][0].update(tls={"cert": gw.path("pki", "cmp-signer.crt"),
                                             "key": open_key}),
        "listen[0].tls.key")
    bad("ops.port 70000", lambda c: c["ops"].update(port=70000), "ops.port")
    bad("ops.port \"x\"", lambda c: c["ops"].update(port="x"), "ops.port")
    bad("ops.port equal to the CMP port",
        lambda c: c["ops"].update(port=c["listen"][0]["port"]), "ops.port")


def check_env_config(t, gw):
    env = {"CMPGW_CONFIG": gw.config}
    rc, out, err = cli("check", env=env)
    t.ok(rc == 0 and gw.config in out, "CMPGW_CONFIG: cmpgw check reads it", out + err)
    rc, out, err = cli("check", "--config", gw.config, env={"CMPGW_CONFIG": "/nonexistent"})
    t.ok(rc == 0, "--config wins over CMPGW_CONFIG", out + err)
    rc, out, err = cli("check", env={"CMPGW_CONFIG": "/nonexistent/cmpgw.json"})
    t.ok(rc == 2 and "/nonexistent/cmpgw.json" in err,
         "CMPGW_CONFIG naming a missing file: exit 2 naming it", err)
    rc, out, err = cli("migrate", env=env)
    t.ok(rc == 0 and "schema is at version" in out, "CMPGW_CONFIG: cmpgw migrate", out + err)
    rc, out, err = cli("vendor", "add", "--serial-rule=subject_cn", "acme", env=env)
    t.ok(rc == 0 and "serial rule subject_cn" in out,
         "CMPGW_CONFIG + --serial-rule=VALUE: cmpgw vendor add", out + err)
    rc, out, err = cli("serials", "import", "acme", "-", env=env, input=b"SER-1\nSER-2\n")
    t.ok(rc == 0 and "2 new" in out, "cmpgw serials import NAME - reads stdin", out + err)
    rc, out, err = cli("token", "list", env=env)
    t.ok(rc == 0 and out.startswith("REF"), "CMPGW_CONFIG: cmpgw token list", out + err)
    crl = os.path.join(gw.tmp, "ca.crl")
    rc, out, err = cli("crl", "--out=%s" % crl, env=env)
    p = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", crl, "-noout", "-issuer"],
                       capture_output=True, text=True)
    t.ok(rc == 0 and p.returncode == 0 and "Issuing CA" in p.stdout,
         "CMPGW_CONFIG + --out=FILE: cmpgw crl writes a DER CRL", out + err + p.stderr)

    # serve: started with only CMPGW_CONFIG, accepts, SIGTERM stops it (0)
    e = dict(os.environ, CMPGW_CONFIG=gw.config)
    with open(gw.log, "ab") as logf:
        p = subprocess.Popen([cmpgw_bin(), "serve"], env=e, stdout=logf,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=gw.tmp)
        try:
            up = wait_port(gw.port, 30, p)
            t.ok(up, "CMPGW_CONFIG: cmpgw serve (no --config) accepts on the configured port",
                 gw.log_tail())
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=30)
            t.eq(rc, 0, "cmpgw serve stops with exit 0 on SIGTERM")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def main(t):
    tmp = mktemp("cmpgw-cli-")
    check_version(t)
    check_help(t)
    check_init(t, tmp)
    pg = Pg()
    gw = Gateway(t, pg=pg, register=False, name="cli",
                 patch=lambda c: c.setdefault("ops", {}).update(port=free_port()))
    check_bad_usage(t, gw.config)
    check_config_errors(t, gw)
    check_env_config(t, gw)


if __name__ == "__main__":
    run(main)
