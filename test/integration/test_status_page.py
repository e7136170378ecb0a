#!/usr/bin/env python3
"""Issue 14: the operator status page of the admin listener
(docs/ADMIN.md "Operator status page").

A seeded database (three enrollments with `openssl cmp` this hour, two
refusals, an issued row three hours ago and one 30 hours ago, two vendors
with serials in every state, an audit detail holding markup), then:

1. GET /api/v1/status as operator and auditor: the hour buckets (24,
   oldest first; this hour 3 issued and 2 refused with their reasons; 3
   hours ago 1; the row of 30 hours ago not counted), the totals, the
   vendors with serial counts by state, the CA / CMP signer expiry with
   the days left openssl computes, the latest audit events (at most 50,
   newest first). vendor and factory keys: 403; no credentials: 401.
2. GET /status, /status.js, /status.css need no credentials and hold no
   data; the page has a strict Content-Security-Policy (script-src
   'self', no inline script).
3. Headless Debian chromium loads the page with the key in the URL
   fragment: the DOM shows the seeded figures (this hour's enrollments,
   vendor names and counts, the CA's days left), the markup of the audit
   detail is shown as text (never parsed), and --screenshot writes a PNG.
Every admin API response is checked against the OpenAPI document.
"""

import datetime
import html.parser
import http.client
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Gateway, Pg, cmpgw, free_port, make_root, mktemp, openssl,  # noqa: E402
                     run, wait_port)
from test_tls import ctx_for, tls_cert  # noqa: E402
import openapi_check  # noqa: E402

KEY_RE = re.compile(r"^key=(cmpgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43}))$", re.M)
XSS = '<img id="xss" src="/x" onerror="document.title=1">'


class Dom(html.parser.HTMLParser):
    """Text by element id, table rows as lists of cell texts, ids seen."""

    def __init__(self):
        super().__init__()
        self.ids, self.text, self.tables, self.attrs = set(), {}, {}, {}
        self.stack, self.table, self.row, self.cell = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
            self.attrs[a["id"]] = a
        if tag == "body":
            self.attrs["body"] = a
        self.stack.append(a.get("id"))
        if tag == "table":
            self.table = a.get("id")
            self.tables[self.table] = []
        elif tag == "tr" and self.table:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data):
        for i in self.stack:
            if i:
                self.text[i] = self.text.get(i, "") + data
        if self.cell is not None:
            self.cell += data


def days_left(crt):
    rc, out = openssl("x509", "-in", crt, "-noout", "-enddate")
    end = datetime.datetime.strptime(out.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    return (end - datetime.datetime.utcnow()).days


def main(t):
    work = mktemp("cmpgw-status-page-")
    ca_crt, ca_key = make_root(work, "tls-ca", "/O=Test/CN=Admin TLS CA")
    srv = tls_cert(work, "srv", "/CN=127.0.0.1", ca_crt, ca_key, "server")
    audcert = tls_cert(work, "aud", "/O=Audit/CN=bob", ca_crt, ca_key, "client")
    vencert = tls_cert(work, "ven", "/O=Acme/CN=vendor", ca_crt, ca_key, "client")
    admin_port = free_port()

    def patch(cfg):
        cfg["workers"] = 1
        cfg["admin"] = {"address": "127.0.0.1", "port": admin_port,
                        "tls": {"cert": srv[0], "key": srv[1], "client_ca": ca_crt},
                        "principals": [{"cert": audcert[0], "role": "auditor"},
                                       {"cert": vencert[0], "role": "vendor:acme"}]}

    pg = Pg()
    gw = Gateway(t, pg, devices=6, name="statuspage", patch=patch)
    gw.must("vendor", "add", "beta")
    bl = os.path.join(gw.tmp, "beta.txt")
    with open(bl, "w") as f:
        f.write("B-1\nB-2\nB-3\nB-4\nB-5\n")
    gw.must("serials", "import", "beta", bl)
    gw.psql("UPDATE serials SET state = 'blocked' WHERE serial IN ('B-1', 'B-2')")
    ser = open(gw.path("vendor", "serials.txt")).read().split()
    gw.psql("UPDATE serials SET state = 'blocked' WHERE serial = '%s'" % ser[3])
    gw.psql("DELETE FROM serials WHERE serial = '%s'" % ser[4])
    # older device traffic, written first so that ids and times agree
    gw.psql("INSERT INTO audit(ts, event, detail) VALUES"
            " (now() - interval '30 hours', 'issued', 'seed 30h')")
    gw.psql("INSERT INTO audit(ts, event, detail) VALUES"
            " (now() - interval '3 hours', 'issued', 'seed 3h')")
    gw.start()
    t.ok(wait_port(admin_port, 10), "admin listener accepts")

    # ---- seed: 3 enrollments, 2 refusals this hour, older rows ------------------------
    for k in (1, 2, 3):
        r = gw.cmp(k)
        t.ok(r.rc == 0, "device %d enrolls" % k, repr(r))
    r = gw.cmp(4)
    t.ok(r.rc != 0, "device 4 (blocked serial) is refused", repr(r))
    r = gw.cmp(5)
    t.ok(r.rc != 0, "device 5 (serial not on the list) is refused", repr(r))
    # the hour may have turned during the seeding: count this hour's rows as the server will
    this_hour = int(gw.scalar(
        "SELECT count(*) FROM audit WHERE event = 'issued' AND principal IS NULL AND "
        "ts >= date_trunc('hour', now())"))
    refused_hour = int(gw.scalar(
        "SELECT count(*) FROM audit WHERE event IN ('rejected', 'clone_suspected', "
        "'auth_failed', 'token_rejected') AND principal IS NULL AND "
        "ts >= date_trunc('hour', now())"))
    t.diag("this hour: %d issued, %d refused" % (this_hour, refused_hour))

    keys = {}
    for role in ("operator", "auditor", "vendor:acme", "factory:acme"):
        rc, out = cmpgw("apikey", "create", "--config", gw.config, "--role", role)
        m = KEY_RE.search(out)
        t.ok(rc == 0 and m, "apikey create --role %s" % role, out)
        keys[role] = m.group(1)

    # an admin row whose detail holds markup: the page must show it as text
    gw.psql("INSERT INTO audit(event, principal, detail) VALUES ('seed_markup', 'os:test', "
            "'%s')" % XSS.replace("'", "''"))
    rec = openapi_check.Recorder()
    tls = ctx_for(ca_crt)

    def get(path, key=None, cert=None):
        ctx = ctx_for(ca_crt, cert=cert[0], key=cert[1]) if cert else tls
        c = http.client.HTTPSConnection("127.0.0.1", admin_port, context=ctx, timeout=30)
        try:
            c.request("GET", path, headers={"Authorization": "Bearer " + key} if key else {})
            r = c.getresponse()
            body = r.read()
            hdr = dict((k.lower(), v) for k, v in r.getheaders())
        finally:
            c.close()
        doc = body
        if hdr.get("content-type", "").startswith("application/"):
            try:
                doc = json.loads(body)
            except ValueError:
                pass
        if path.startswith("/api/v1/"):
            rec.check("GET", path, r.status, hdr.get("content-type"), doc)
        return r.status, hdr, doc

    # ---- 1. GET /api/v1/status -----------------------------------------------------------
    st, _, s = get("/api/v1/status", keys["operator"])
    t.eq(st, 200, "operator: GET /api/v1/status 200", s)
    st2, _, s2 = get("/api/v1/status", keys["auditor"])
    t.eq(st2, 200, "auditor: GET /api/v1/status 200", s2)
    hours = s["hours"]
    t.eq(len(hours), 24, "24 hour buckets")
    now_h = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:00:00Z")
    t.eq(hours[-1]["hour"], now_h, "the last bucket is the current hour (UTC)")
    t.ok(all(hours[i]["hour"] < hours[i + 1]["hour"] for i in range(23)),
         "buckets oldest first")
    t.eq(hours[-1]["enrollments"], this_hour, "this hour: the enrollments of the audit")
    t.ok(this_hour >= 3 or hours[-2]["enrollments"] + this_hour >= 3,
         "the three enrollments are counted")
    t.eq(hours[-1]["refusals"], refused_hour, "this hour: the refusals of the audit")
    seed_h = gw.scalar("SELECT to_char(date_trunc('hour', ts AT TIME ZONE 'UTC'), "
                       "'YYYY-MM-DD\"T\"HH24\":00:00Z\"') FROM audit WHERE detail = 'seed 3h'")
    t.eq([h["enrollments"] for h in hours if h["hour"] == seed_h], [1],
         "three hours ago (%s): the seeded row" % seed_h)
    t.eq(s["totals"]["enrollments"], 4, "24 h: 3 enrollments + the row of 3 h ago "
         "(not the one of 30 h ago)")
    t.eq(s["totals"]["refusals"], 2, "24 h: 2 refusals")
    reasons = [r["reason"] for r in s["totals"]["reasons"]]
    t.ok(len(reasons) == 2 and any("blocked" in r for r in reasons) and
         any("serial_unknown" in r for r in reasons),
         "refusals by reason: the blocked serial and the serial not on the list", reasons)
    t.eq(sum(r["count"] for r in s["totals"]["reasons"]), 2, "reason counts add up")
    vendors = {v["name"]: v for v in s["vendors"]}
    listed = len(ser)
    t.eq(vendors.get("acme", {}).get("serials"),
         {"allowed": listed - 5, "blocked": 1, "enrolled": 3}, "acme: serial counts by state")
    t.eq(vendors.get("beta", {}).get("serials"), {"allowed": 3, "blocked": 2, "enrolled": 0},
         "beta: serial counts by state")
    exp = {x["what"]: x for x in s["expiry"]}
    ca_days = days_left(gw.path("pki", "issuing-ca.crt"))
    t.ok("issuing CA" in exp and abs(exp["issuing CA"]["days_left"] - ca_days) <= 1,
         "issuing CA: days left as openssl says (%d)" % ca_days, s["expiry"])
    t.ok("CMP signer" in exp and abs(exp["CMP signer"]["days_left"] -
                                     days_left(gw.path("pki", "cmp-signer.crt"))) <= 1,
         "CMP signer: days left", s["expiry"])
    ev = s["events"]
    live = [e["ts"] for e in ev if not (e.get("detail") or "").startswith("seed ")]
    t.ok(0 < len(ev) <= 50 and all(live[i] >= live[i + 1] for i in range(len(live) - 1)),
         "at most 50 events, newest first (the backdated seed rows aside)", ev)
    t.ok(ev and ev[0]["event"] == "seed_markup" and ev[0]["detail"] == XSS,
         "the newest event is the last row written, detail as stored", ev[:2])
    t.ok(any(e["event"] == "issued" and e["device_serial"] == ser[0] for e in ev),
         "an issued event of device 1", ev)
    for role in ("vendor:acme", "factory:acme"):
        st, _, b = get("/api/v1/status", keys[role])
        t.eq(st, 403, "%s: 403" % role, b)
    st, _, b = get("/api/v1/status")
    t.eq(st, 401, "no credentials: 401", b)
    # what the page's fetch sends when the browser has a client certificate
    st, _, b = get("/api/v1/status", cert=audcert)
    t.ok(st == 200 and b["totals"] == s["totals"] and b["vendors"] == s["vendors"],
         "auditor's client certificate: 200, the same figures", b)
    st, _, b = get("/api/v1/status", cert=vencert)
    t.eq(st, 403, "vendor:acme's client certificate: 403", b)

    # ---- 2. the page's files ------------------------------------------------------------
    st, hdr, page = get("/status")
    csp = hdr.get("content-security-policy", "")
    t.ok(st == 200 and hdr.get("content-type", "").startswith("text/html"),
         "GET /status without credentials: 200 text/html", (st, hdr))
    t.ok("script-src 'self'" in csp and "default-src 'none'" in csp and
         "unsafe-inline" not in csp, "strict Content-Security-Policy", csp)
    scripts = re.findall(rb"<script([^>]*)>(.*?)</script>", page, re.S)
    t.ok(scripts and all(b'src="' in a and not body.strip() for a, body in scripts) and
         not re.search(rb"\son[a-z]+\s*=", page) and b"style=" not in page,
         "no inline script, event handler or style in the page", scripts)
    t.ok(b"cmpgw_" not in page.replace(b'placeholder="cmpgw_', b"") and b"acme" not in page,
         "the page holds no data", page[:200])
    st, hdr, js = get("/status.js")
    t.ok(st == 200 and "javascript" in hdr.get("content-type", "") and b"innerHTML" not in js
         and b"textContent" in js, "GET /status.js: the script, textContent only", st)
    st, hdr, css = get("/status.css")
    t.ok(st == 200 and hdr.get("content-type", "").startswith("text/css"), "GET /status.css",
         st)
    st, _, _ = get("/status.txt")
    t.eq(st, 401, "an unknown path outside /api/v1 asks for credentials first")

    # ---- 3. headless chromium -----------------------------------------------------------
    chromium = shutil.which("chromium")
    if not chromium:
        t.skip("the page in headless chromium", "chromium is not installed")
    else:
        url = "https://127.0.0.1:%d/status#key=%s" % (admin_port, keys["auditor"])
        base = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--ignore-certificate-errors", "--no-first-run", "--disable-extensions",
                "--user-data-dir=" + os.path.join(work, "chrome"),
                "--virtual-time-budget=15000", "--window-size=1280,1800"]

        def chrome(*args):
            p = subprocess.run(base + list(args), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode(
                "utf-8", "replace")

        rc, dom_text, err = chrome("--dump-dom", url)
        dom = Dom()
        dom.feed(dom_text)
        t.ok(rc == 0 and dom.attrs.get("body", {}).get("data-state") == "loaded",
             "chromium: the page loaded the status (data-state loaded)",
             (rc, dom.text.get("state"), err[-2000:], dom_text[:3000]))
        t.eq((dom.text.get("enrollments-hour") or "").strip(), str(this_hour),
             "page: this hour's enrollments")
        t.eq((dom.text.get("enrollments-24h") or "").strip(), "4", "page: 24 h enrollments")
        t.eq((dom.text.get("refusals-24h") or "").strip(), "2", "page: 24 h refusals")
        vrows = {r[0]: r for r in dom.tables.get("vendors", [])[1:]}
        t.eq(vrows.get("acme"), ["acme", "strict", str(listed - 5), "3", "1"],
             "page: acme's serial counts", dom.tables.get("vendors"))
        t.eq(vrows.get("beta"), ["beta", "strict", "3", "0", "2"], "page: beta's serial counts")
        erows = {r[0]: r for r in dom.tables.get("expiry", [])[1:]}
        t.ok("issuing CA" in erows and abs(int(erows["issuing CA"][3]) - ca_days) <= 1,
             "page: the issuing CA's days left", dom.tables.get("expiry"))
        t.eq(len(dom.tables.get("hours", [])) - 1, 24, "page: 24 hour rows")
        t.ok("xss" not in dom.ids and any(XSS in " ".join(r) for r in dom.tables.get("events", [])),
             "page: markup in an audit detail is shown as text, not parsed",
             dom.tables.get("events", [])[:3])
        t.ok(keys["auditor"] not in dom_text, "page: the key is not in the DOM (nor in the URL)")

        png = os.path.join(work, "status.png")
        rc, out, err = chrome("--screenshot=" + png, url)
        data = open(png, "rb").read() if os.path.exists(png) else b""
        t.ok(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000,
             "chromium --screenshot: a PNG of %d bytes (%s)" % (len(data), png),
             (rc, err[-1500:]))
        keep = os.environ.get("CMPGW_STATUS_PNG")
        if keep and data:
            shutil.copyfile(png, keep)

        # without a key the page says why
        rc, dom_text, err = chrome("--dump-dom", "https://127.0.0.1:%d/status" % admin_port)
        dom = Dom()
        dom.feed(dom_text)
        t.ok(dom.attrs.get("body", {}).get("data-state") == "error" and
             "401" in dom.text.get("state", ""), "page without a key: error 401 shown",
             dom.text.get("state"))
    rec.report(t)
    gw.stop()


if __name__ == "__main__":
    run(main)
