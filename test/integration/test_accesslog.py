#!/usr/bin/env python3
"""Issue 13: one JSON access-log line per CMP request (log.access).

1. an enrollment with explicit confirmation: the ir's line says outcome ok,
   status accepted (or grantedWithMods), failInfo null, HTTP 200, alias,
   peer, transactionID, and the serial of the certificate the client got;
   the certConf's line has the same transactionID and no serial.
2. a refusal (raVerified POP from a device): outcome badPOP, failInfo 9,
   status rejection, no serial.
3. a body that is not CMP (HTTP 400), hostile bytes in the path and body
   (quotes, backslashes, control and non-ASCII bytes): every access line
   in the log still parses as JSON, is ASCII, and carries none of those
   bytes raw.
4. log.format json: the access lines parse the same, and the other lines
   too; log.access false: no access line for a new enrollment.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, http_post, openssl, run  # noqa: E402

FIELDS = ("ts", "event", "peer", "alias", "body", "outcome", "failInfo", "status",
          "latency_ms", "tid", "serial", "http")


def access_lines(gw, t, since=0):
    """The access lines of the serve log after byte offset since, parsed;
    a line that does not parse fails the test."""
    out = []
    text = gw.log_text()[since:]
    for line in text.splitlines():
        if '"event":"access"' not in line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError as e:
            t.ok(False, "access line parses as JSON", "%s: %r" % (e, line))
    return out


def cert_serial(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1] if rc == 0 and "=" in out else None


def check_fields(t, name, line):
    t.eq(sorted(k for k in FIELDS if k in line), sorted(FIELDS), name + ": every field present",
         line)
    lat = line.get("latency_ms")
    t.ok(isinstance(lat, (int, float)) and lat >= 0, name + ": latency_ms a number >= 0", line)
    t.ok(isinstance(line.get("peer"), str) and line["peer"].startswith("127.0.0.1:"),
         name + ": peer is the client's address", line)


def enrollment(t, gw):
    mark = len(gw.log_text())
    r = gw.cmp(1)
    t.ok(r.rc == 0 and os.path.exists(r.certout), "device 1 enrolls", repr(r))
    serial = cert_serial(r.certout) if os.path.exists(r.certout) else None
    lines = access_lines(gw, t, mark)
    ir = [x for x in lines if x.get("body") == "ir"]
    cc = [x for x in lines if x.get("body") == "certConf"]
    t.eq(len(ir), 1, "enrollment: one access line for the ir", lines)
    t.eq(len(cc), 1, "enrollment: one access line for the certConf", lines)
    if len(ir) != 1 or len(cc) != 1:
        return
    ir, cc = ir[0], cc[0]
    check_fields(t, "ir", ir)
    t.eq(ir["outcome"], "ok", "ir: outcome ok")
    t.ok(ir["status"] in ("accepted", "grantedWithMods"), "ir: status accepted", ir)
    t.eq(ir["failInfo"], None, "ir: failInfo null")
    t.eq(ir["http"], 200, "ir: HTTP 200")
    t.eq(ir["alias"], "3gpp", "ir: alias label")
    t.ok(serial is not None, "the issued certificate's serial read", r.certout)
    t.eq(ir["serial"], serial, "ir: serial is the issued certificate's")
    t.ok(isinstance(ir["tid"], str) and len(ir["tid"]) >= 32 and
         all(c in "0123456789abcdefABCDEF" for c in ir["tid"]), "ir: tid is hex", ir)
    check_fields(t, "certConf", cc)
    t.eq(cc["tid"], ir["tid"], "certConf: same transactionID as the ir")
    t.eq(cc["outcome"], "ok", "certConf: outcome ok")
    t.eq(cc["serial"], None, "certConf: no serial")
    t.eq(cc["failInfo"], None, "certConf: failInfo null")
    log = gw.log_text()
    t.ok(serial is not None and ("serial %s" % serial) in log,
         "the issuance log line names the certificate serial", gw.log_tail(8))


def refusal(t, gw):
    mark = len(gw.log_text())
    r = gw.cmp(3, extra=["-popo", "0"])
    t.ok(r.rc != 0 and r.has("badPOP"), "raVerified POP refused badPOP", r.out)
    lines = [x for x in access_lines(gw, t, mark) if x.get("body") == "ir"]
    t.eq(len(lines), 1, "refusal: one access line", lines)
    if lines:
        x = lines[0]
        check_fields(t, "refusal", x)
        t.eq(x["outcome"], "badPOP", "refusal: outcome badPOP")
        t.eq(x["failInfo"], 9, "refusal: failInfo bit 9")
        t.eq(x["status"], "rejection", "refusal: status rejection")
        t.eq(x["serial"], None, "refusal: no serial")
        t.eq(x["http"], 200, "refusal: HTTP 200 (a CMP error message)")


HOSTILE = b'"},{"event":"forged\\\n\r\x00\x01\x7f\xff\xc3\xa9 \xe2\x80\xa8'


def hostile(t, gw):
    mark = len(gw.log_text())
    st, _, _ = gw.post(b"this is not CMP " + HOSTILE)
    t.eq(st, 400, "a body that is not CMP: HTTP 400")
    for path in ('/.well-known/cmp/p/3gpp%22%0a%7b%22event%22:%22access%22%7d',
                 '/.well-known/cmp/p/%ff%fe%22%5c', '/%22%0d%0a'):
        st, _, _ = http_post(gw.port, HOSTILE, path)
        t.ok(st in (400, 404), "hostile path %s: HTTP 400/404" % path, st)
    st, _, _ = gw.post(HOSTILE * 50, ctype='application/pkixcmp; x="q\\"')
    t.ok(st in (400, 415), "hostile body and content type: 400/415", st)
    raw = gw.log_text()[mark:]
    lines = access_lines(gw, t, mark)
    for x in lines:
        check_fields(t, "non-CMP line", x)
    nc = [x for x in lines if x.get("outcome") == "not_cmp"]
    t.ok(len(nc) >= 1, "not CMP: an access line with outcome not_cmp", lines[-3:])
    if nc:
        t.eq(nc[0]["http"], 400, "not CMP: the access line says HTTP 400")
        t.eq(nc[0]["failInfo"], None, "not CMP: failInfo null")
    text_lines = [ln for ln in raw.splitlines() if '"event":"access"' in ln]
    t.ok(all(ln.isascii() for ln in text_lines), "access lines are ASCII")
    t.ok(not any("forged" in ln for ln in text_lines),
         "no request bytes in the access lines", text_lines[:3])


def formats(t, gw):
    gw.stop()
    gw.cfg.setdefault("log", {})["format"] = "json"
    gw.write_config(gw.cfg)
    gw.start()
    mark = len(gw.log_text())
    r = gw.cmp(4, confirm="implicit")
    t.ok(r.rc == 0, "log.format json: device 4 enrolls", repr(r))
    new = [ln for ln in gw.log_text()[mark:].splitlines() if ln.startswith("{")]
    bad = []
    for ln in new:
        try:
            json.loads(ln)
        except ValueError:
            bad.append(ln)
    t.eq(bad, [], "log.format json: every line parses")
    acc = [x for x in access_lines(gw, t, mark) if x.get("body") == "ir"]
    t.ok(len(acc) == 1 and acc[0]["outcome"] == "ok" and acc[0]["serial"],
         "log.format json: the ir's access line, with its serial", acc)
    gw.stop()
    gw.cfg["log"]["access"] = False
    gw.write_config(gw.cfg)
    gw.start()
    mark = len(gw.log_text())
    r = gw.cmp(5, confirm="implicit")
    t.ok(r.rc == 0, "log.access false: device 5 enrolls", repr(r))
    t.eq(access_lines(gw, t, mark), [], "log.access false: no access line")
    t.ok("issued certificate serial" in gw.log_text()[mark:],
         "log.access false: the issuance line is still logged")


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=6, name="accesslog")
    gw.start()
    enrollment(t, gw)
    refusal(t, gw)
    hostile(t, gw)
    formats(t, gw)
    gw.stop()


if __name__ == "__main__":
    run(main)
