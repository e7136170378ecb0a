#!/usr/bin/env python3
"""Configuration validation: malformed configs make `cmpgw check` and
`cmpgw serve` exit 2 with a message naming the JSON path; a good config
passes `cmpgw check`."""

import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import cmpgw, cmpgw_bin, free_port, mktemp, port_closed, run  # noqa: E402


def serve_bounded(config, timeout=20):
    """cmpgw serve with a bad config must exit by itself; returns (rc, out)."""
    p = subprocess.Popen([cmpgw_bin(), "serve", "--config", config],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=10)
        return "still running after %ds" % timeout, out.decode("utf-8", "replace")


def main(t):
    tmp = mktemp("cmpgw-config-")
    demo = os.path.join(tmp, "demo")
    port = free_port()
    rc, out = cmpgw("init", "--port", port, "--devices", 2, demo)
    t.ok(rc == 0, "cmpgw init writes a demo", out)
    with open(os.path.join(demo, "cmpgw.json")) as f:
        good = json.load(f)
    good["data_dir"] = os.path.join(tmp, "state")

    def write(name, cfg):
        p = os.path.join(demo, name)  # same directory: relative PEM paths resolve
        with open(p, "w") as f:
            if isinstance(cfg, str):
                f.write(cfg)
            else:
                json.dump(cfg, f, indent=2)
        return p

    # ---- a good config ----------------------------------------------------------
    rc, out = cmpgw("check", "--config", write("good.json", good))
    t.eq(rc, 0, "good config: cmpgw check exits 0", out)

    # ---- malformed configs ----------------------------------------------------------
    cases = []

    c = copy.deepcopy(good)
    c["aliases"][0]["implicit_confirmm"] = True
    cases.append(("unknown key", c, ("aliases[0]", "implicit_confirmm")))

    c = copy.deepcopy(good)
    c["aliases"][0]["profile"] = "no-such-profile"
    cases.append(("alias references an unknown profile", c, "aliases[0].profile"))

    c = copy.deepcopy(good)
    c["listen"][0]["port"] = str(port)
    cases.append(("port of the wrong type", c, "listen[0].port"))

    c = copy.deepcopy(good)
    c["profiles"]["device"]["validity_days"] = 0
    cases.append(("value out of range", c, "profiles.device.validity_days"))

    def names(out, jpath):
        # "a.b.c: ..." or, for an unknown key, "a.b: unknown key \"c\""
        if isinstance(jpath, tuple):
            return "%s.%s" % jpath in out or ("%s:" % jpath[0] in out and jpath[1] in out)
        return jpath in out

    for i, (name, cfg, jpath) in enumerate(cases):
        path = write("bad-%d.json" % i, cfg)
        rc, out = cmpgw("check", "--config", path)
        t.eq(rc, 2, "%s: cmpgw check exits 2" % name, out)
        t.ok(names(out, jpath), "%s: check names %s" % (name, jpath), out)
        rc, out = serve_bounded(path)
        t.eq(rc, 2, "%s: cmpgw serve exits 2" % name, out)
        t.ok(names(out, jpath), "%s: serve names %s" % (name, jpath), out)
        t.ok(port_closed(port), "%s: nothing listening afterwards" % name)

    # the unknown-profile message names the profile it could not find
    rc, out = cmpgw("check", "--config", os.path.join(demo, "bad-1.json"))
    t.ok("no-such-profile" in out, "unknown profile: message names the profile", out)

    # ---- JSON syntax error: line and column -------------------------------------------
    text = json.dumps(good, indent=2).replace('"workers": 0', '"workers": 0,,', 1)
    rc, out = cmpgw("check", "--config", write("syntax.json", text))
    t.eq(rc, 2, "JSON syntax error: cmpgw check exits 2", out)
    t.ok("syntax.json:" in out, "JSON syntax error: message names the file and position", out)

    # ---- usage errors exit 2 -------------------------------------------------------------
    rc, out = cmpgw("serve")
    t.eq(rc, 2, "serve without --config exits 2", out)
    rc, out = cmpgw("no-such-command")
    t.eq(rc, 2, "unknown command exits 2", out)


if __name__ == "__main__":
    run(main)
