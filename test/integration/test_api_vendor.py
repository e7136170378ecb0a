#!/usr/bin/env python3
"""Issue 14: vendors, serial states and trust-anchor approval in the admin
API (docs/ADMIN.md, docs/VENDORS.md).

Real PostgreSQL, real `cmpgw serve` with an admin listener, HTTPS with
Python's http.client + ssl and curl, enrollments with the stock
`openssl cmp`:

1. Vendors: POST /vendors (operator; 201, 409 for a taken name, 400 for a
   bad body, 403 for other roles), PATCH /vendors/{vendor} (strictness;
   vendor_strict_set audit row only on a change).
2. Role enforcement: unauthenticated 401; vendor:A on B's serials and
   certificates 404 (read and change); a factory blocking 403; an auditor
   approving 403.
3. Block/unblock: an enrolled serial blocked through the API is refused
   at enrollment (serial_blocked, real `openssl cmp`); unblocked it
   enrolls again and is back to enrolled; an allowed one goes back to
   allowed; an unlisted one is added blocked (its syntax checked: 422);
   unblock of an unlisted one 404; audit rows name the API principal.
4. The serial list: state and prefix filters, cursor pages that add up to
   the whole list, 400s; the text export, its pages and Cmpgw-Next-Cursor.
5. Submissions: a vendor submits its root; enrollments under it are still
   refused; an intermediate cannot be submitted before its anchor is
   trusted (422); the operator approves (registered, the running gateway
   reloads) and a device enrolls; precise 422s for an expired anchor, an
   anchor that is not self-signed, another vendor's anchor, an
   intermediate that does not chain; a duplicate pending 409; reject with
   a reason; withdraw; a decided submission is 409; the CLI's
   submissions/approve/reject on the same rows.
6. Every response validated against the OpenAPI document
   (openapi_check.Recorder).
"""

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, cmpgw, free_port, make_root, mktemp, new_key, run, utc_stamp, wait_port  # noqa: E402,E501
from test_tls import ctx_for, tls_cert  # noqa: E402
from test_vendor import Pki  # noqa: E402
from test_admin_api import create_key  # noqa: E402
import openapi_check  # noqa: E402

PROBLEM_FIELDS = ("type", "title", "status", "detail")


class Api:
    """HTTPS calls with a bearer key; every response checked against the
    OpenAPI document and, for errors, the problem+json shape."""

    def __init__(self, t, port, ca):
        self.t, self.port, self.ca = t, port, ca
        self.rec = openapi_check.Recorder()
        self.ctx = ctx_for(ca)

    def call(self, method, path, key=None, body=None, want=None, name=None, ctype=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        h = {"Authorization": "Bearer " + key} if key else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            h["Content-Type"] = ctype or "application/json"
        try:
            c.request(method, "/api/v1" + path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdr = dict((k.lower(), v) for k, v in r.getheaders())
        finally:
            c.close()
        ct = hdr.get("content-type", "")
        parsed = raw
        if "json" in ct and raw:
            parsed = json.loads(raw)
        self.rec.check(method, "/api/v1" + path, r.status, ct, parsed)
        label = name or "%s %s" % (method, path)
        if want is not None:
            self.t.eq(r.status, want, label, parsed)
        if r.status >= 400:
            ok = (ct.startswith("application/problem+json") and isinstance(parsed, dict) and
                  all(f in parsed for f in PROBLEM_FIELDS) and parsed["status"] == r.status)
            self.t.ok(ok, "%s: problem+json" % label, (hdr, parsed))
        return r.status, hdr, parsed


def detail(body):
    return body.get("detail", "") if isinstance(body, dict) else str(body)


def pem(path):
    with open(path) as f:
        return f.read()


def main(t):
    work = mktemp("cmpgw-api-vendor-")
    ca_crt, ca_key = make_root(work, "tls-ca", "/O=Test/CN=Admin TLS CA")
    srv = tls_cert(work, "srv", "/CN=cmpgw admin", ca_crt, ca_key, "server")
    admin_port = free_port()

    def patch(cfg):
        cfg["workers"] = 1
        cfg["aliases"][0]["vendors"] = ["acme", "newco", "beta"]
        cfg["admin"] = {"address": "127.0.0.1", "port": admin_port,
                        "tls": {"cert": srv[0], "key": srv[1], "client_ca": ca_crt},
                        "principals": []}

    pg = Pg()
    gw = Gateway(t, pg, devices=4, name="apivendor", patch=patch)
    pki = Pki(gw.tmp)
    gw.start()
    t.ok(wait_port(admin_port, 10), "admin listener accepts")
    api = Api(t, admin_port, ca_crt)
    keys = {}
    for role in ("operator", "auditor", "vendor:acme", "factory:acme"):
        keys[role] = create_key(t, gw, role)
    op, aud = keys["operator"][0], keys["auditor"][0]
    va, fa = keys["vendor:acme"][0], keys["factory:acme"][0]

    def audit(event, vendor=None):
        sql = ("SELECT principal, coalesce(device_serial, ''), coalesce(detail, '') FROM audit"
               " WHERE event = '%s'" % event)
        if vendor:
            sql += " AND vendor = '%s'" % vendor
        return gw.psql(sql + " ORDER BY id")

    # ---- 1. vendors ---------------------------------------------------------
    st, _, body = api.call("POST", "/vendors", op, {"name": "beta", "strictness": "lenient"},
                           want=201, name="POST /vendors beta (lenient)")
    t.ok(isinstance(body, dict) and body.get("name") == "beta" and
         body.get("strictness") == "lenient" and body.get("anchors") == 0,
         "the new vendor, as GET shows it", body)
    t.eq(gw.scalar("SELECT x509_strict FROM vendors WHERE name = 'beta'"), "f",
         "beta is lenient in the database")
    rows = audit("vendor_added", "beta")
    t.ok(len(rows) == 1 and rows[0][0] == "apikey:" + keys["operator"][1],
         "vendor_added audit row names the operator's key", rows)
    api.call("POST", "/vendors", op, {"name": "beta"}, want=409, name="a taken name: 409")
    for bad, why in (({"name": "a/b"}, "slash in name"), ({"name": ""}, "empty name"),
                     ({"name": "x", "serial_rule": "dn"}, "unknown serial rule"),
                     ({"name": "x", "strictness": "loose"}, "unknown strictness"),
                     ({"name": "x", "colour": "red"}, "unknown field"),
                     ({"name": "x", "reenroll": "yes"}, "reenroll not boolean")):
        api.call("POST", "/vendors", op, bad, want=400, name="POST /vendors: %s: 400" % why)
    api.call("POST", "/vendors", op, b"name=x", ctype="application/x-www-form-urlencoded",
             want=415, name="POST /vendors as a form: 415")
    t.eq(gw.scalar("SELECT count(*) FROM vendors WHERE name = 'x'"), "0",
         "refused bodies created nothing")
    for role in ("auditor", "vendor:acme", "factory:acme"):
        api.call("POST", "/vendors", keys[role][0], {"name": "sneaky"}, want=403,
                 name="POST /vendors as %s: 403" % role)
    st, _, body = api.call("POST", "/vendors", op,
                           {"name": "newco", "serial_rule": "subject_serialnumber",
                            "strictness": "strict", "reenroll": True}, want=201,
                           name="POST /vendors newco")
    st, _, body = api.call("PATCH", "/vendors/beta", op, {"strictness": "strict"}, want=200,
                           name="PATCH beta strict")
    t.ok(body and body.get("strictness") == "strict", "PATCH answers the vendor, strict", body)
    api.call("PATCH", "/vendors/beta", op, {"strictness": "strict"}, want=200,
             name="PATCH beta strict again")
    t.eq(len(audit("vendor_strict_set", "beta")), 1, "one vendor_strict_set row: only a change "
         "is audited")
    api.call("PATCH", "/vendors/beta", op, {"strictness": "x"}, want=400, name="PATCH bad: 400")
    api.call("PATCH", "/vendors/nosuch", op, {"strictness": "strict"}, want=404,
             name="PATCH unknown vendor: 404")
    api.call("PATCH", "/vendors/acme", va, {"strictness": "lenient"}, want=403,
             name="PATCH as vendor:acme: 403")

    for role in ("vendor:beta", "vendor:newco"):  # keys of vendors the API created
        keys[role] = create_key(t, gw, role)
    vb, vn = keys["vendor:beta"][0], keys["vendor:newco"][0]

    # ---- 2. role enforcement ---------------------------------------------------
    ser = open(gw.path("vendor", "serials.txt")).read().split()
    api.call("GET", "/vendors/acme/serials", want=401, name="no credentials: 401")
    api.call("POST", "/vendors/acme/serials/%s/block" % ser[2], want=401,
             name="block without credentials: 401")
    api.call("GET", "/vendors/acme/serials", vb, want=404, name="vendor:beta lists acme: 404")
    api.call("GET", "/vendors/acme/serials.txt", vb, want=404,
             name="vendor:beta exports acme: 404")
    api.call("POST", "/vendors/acme/serials/%s/block" % ser[2], vb, want=404,
             name="vendor:beta blocks acme's serial: 404")
    api.call("GET", "/vendors/acme/certificates", vb, want=404,
             name="vendor:beta reads acme's certificates: 404")
    api.call("POST", "/vendors/acme/certificates", vb,
             {"kind": "anchor", "pem": pem(gw.path("vendor", "vendor-root.crt"))}, want=404,
             name="vendor:beta submits for acme: 404")
    api.call("POST", "/vendors/acme/serials/%s/block" % ser[2], fa, want=403,
             name="factory:acme blocks: 403")
    api.call("POST", "/vendors/acme/serials/%s/unblock" % ser[2], aud, want=403,
             name="auditor unblocks: 403")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = '%s'" % ser[2]), "allowed",
         "refused block calls changed nothing")

    # ---- 3. block / unblock and enrollment ------------------------------------------
    r = gw.cmp(1)
    t.ok(r.rc == 0, "device 1 enrolls", repr(r))
    op1 = r.certout
    st, _, body = api.call("POST", "/vendors/acme/serials/%s/block" % ser[0], va, want=200,
                           name="vendor:acme blocks its enrolled serial 1")
    t.ok(body and body["state"] == "blocked" and body["certificate"] and
         body["enrolled_at"], "blocked: the answer keeps its certificate and enrolled_at", body)
    r = gw.cmp(1, newkey=new_key(os.path.join(gw.tmp, "d1-again.key")))
    t.ok(r.rc != 0 and r.has("blocked"), "blocked enrolled serial: the next ir is refused",
         r.out)
    r = gw.cmp(1, cmd="kur", cert=op1, key=gw.dev(1, "new", "key"), extracerts=None,
               subject=None, newkey=new_key(os.path.join(gw.tmp, "d1-kur.key")))
    t.ok(r.rc != 0 and r.has("blocked"), "blocked enrolled serial: its renewal (kur with the "
         "operator certificate) is refused too", r.out)
    st, _, body = api.call("POST", "/vendors/acme/serials/%s/unblock" % ser[0], op, want=200,
                           name="operator unblocks serial 1")
    t.ok(body and body["state"] == "enrolled", "unblocked: enrolled again (it had enrolled)",
         body)
    r = gw.cmp(1, newkey=new_key(os.path.join(gw.tmp, "d1-third.key")))
    t.ok(r.rc == 0, "unblocked serial enrolls again", repr(r))
    st, _, body = api.call("POST", "/vendors/acme/serials/%s/block" % ser[1], op, want=200,
                           name="block allowed serial 2")
    r = gw.cmp(2)
    t.ok(r.rc != 0 and r.has("blocked"), "blocked serial 2: its first ir is refused", r.out)
    st, _, body = api.call("POST", "/vendors/acme/serials/%s/unblock" % ser[1], va, want=200,
                           name="unblock serial 2")
    t.ok(body and body["state"] == "allowed", "unblocked: allowed (never enrolled)", body)
    r = gw.cmp(2)
    t.ok(r.rc == 0, "serial 2 enrolls once unblocked", repr(r))
    st, _, body = api.call("POST", "/vendors/acme/serials/STOLEN-1/block", op, want=200,
                           name="block an unlisted serial")
    t.ok(body and body["state"] == "blocked", "an unlisted serial is added blocked", body)
    st, _, body = api.call("POST", "/vendors/acme/serials/BAD*ONE/block", op, want=422,
                           name="block an unlisted serial with a bad character: 422")
    t.ok("'*'" in detail(body) and "not allowed" in detail(body),
         "422 names the refused character", body)
    t.eq(gw.scalar("SELECT count(*) FROM serials WHERE serial = 'BAD*ONE'"), "0",
         "the refused serial was not added")
    api.call("POST", "/vendors/acme/serials/NEVER-SEEN/unblock", op, want=404,
             name="unblock an unlisted serial: 404")
    api.call("POST", "/vendors/nosuch/serials/X/block", op, want=404,
             name="block in an unknown vendor: 404")
    rows = audit("serial_blocked", "acme")
    t.ok(len(rows) == 3 and rows[0][0] == "apikey:" + keys["vendor:acme"][1] and
         rows[0][1] == ser[0] and "enrolled -> blocked" in rows[0][2] and
         rows[2][2] == "unlisted -> blocked",
         "serial_blocked rows: principal, serial, transition", rows)
    rows = audit("serial_unblocked", "acme")
    t.ok(len(rows) == 2 and rows[0][0] == "apikey:" + keys["operator"][1] and
         rows[0][2] == "blocked -> enrolled", "serial_unblocked rows", rows)
    api.call("POST", "/vendors/acme/serials/STOLEN-1/block", op, want=200,
             name="block again (no change)")
    t.eq(len(audit("serial_blocked", "acme")), 3, "no audit row without a change")

    # ---- 4. list, filters, pages, export ---------------------------------------------
    allser = sorted(ser + ["STOLEN-1"], key=lambda s: s.encode())
    st, _, body = api.call("GET", "/vendors/acme/serials", aud, want=200, name="list all")
    t.eq([s["serial"] for s in body["serials"]], allser, "the list: every serial, byte order")
    t.ok(body["next_cursor"] is None, "one page: no cursor", body)
    st, _, body = api.call("GET", "/vendors/acme/serials?state=enrolled", va, want=200,
                           name="list enrolled")
    t.eq(sorted(s["serial"] for s in body["serials"]), sorted(ser[:2]),
         "state=enrolled: serials 1 and 2")
    t.ok(all(s["enrolled_at"] for s in body["serials"]), "enrolled ones carry enrolled_at", body)
    st, _, body = api.call("GET", "/vendors/acme/serials?state=blocked", op, want=200,
                           name="list blocked")
    t.eq([s["serial"] for s in body["serials"]], ["STOLEN-1"], "state=blocked: STOLEN-1")
    st, _, body = api.call("GET", "/vendors/acme/serials?prefix=STO", op, want=200,
                           name="list prefix")
    t.eq([s["serial"] for s in body["serials"]], ["STOLEN-1"], "prefix=STO")
    st, _, body = api.call("GET", "/vendors/acme/serials?prefix=" + urllib.parse.quote("%"),
                           op, want=200, name="list prefix %")
    t.eq(body["serials"], [], "prefix % is a literal percent sign, not a wildcard")
    pages, cursor = [], None
    for _ in range(10):
        st, _, body = api.call("GET", "/vendors/acme/serials?limit=2" +
                               ("&cursor=" + cursor if cursor else ""), op, want=200,
                               name="page %d" % (len(pages) + 1))
        pages.append([s["serial"] for s in body["serials"]])
        cursor = body["next_cursor"]
        if not cursor:
            break
    t.eq(sum(pages, []), allser, "pages of 2 add up to the list")
    t.ok(all(len(p) == 2 for p in pages[:-1]), "every page but the last is full", pages)
    for q, why in (("state=gone", "bad state"), ("limit=0", "limit 0"),
                   ("limit=1001", "limit over 1000"), ("cursor=zz", "bad cursor"),
                   ("prefix=", "empty prefix")):
        api.call("GET", "/vendors/acme/serials?" + q, op, want=400, name="list %s: 400" % why)
    api.call("GET", "/vendors/nosuch/serials", op, want=404, name="list unknown vendor: 404")
    st, hdr, body = api.call("GET", "/vendors/acme/serials.txt", aud, want=200, name="export")
    t.ok(hdr.get("content-type", "").startswith("text/plain"), "export is text/plain", hdr)
    t.eq(body.decode().split("\n"), allser + [""], "export: one serial a line, byte order")
    t.ok("cmpgw-next-cursor" not in hdr, "whole export: no Cmpgw-Next-Cursor", hdr)
    t.eq(hdr.get("transfer-encoding"), "chunked", "whole export: a chunked answer")
    got, cursor, n = [], None, 0
    while n < 10:
        n += 1
        st, hdr, body = api.call("GET", "/vendors/acme/serials.txt?limit=3" +
                                 ("&cursor=" + cursor if cursor else ""), va, want=200,
                                 name="export page %d" % n)
        got += body.decode().split()
        cursor = hdr.get("cmpgw-next-cursor")
        if not cursor:
            break
    t.eq(got, allser, "export pages of 3 (Cmpgw-Next-Cursor) add up to the list")
    st, hdr, body = api.call("GET", "/vendors/acme/serials.txt?state=allowed", op, want=200,
                             name="export allowed")
    t.eq(body.decode().split(), [s for s in allser if s not in ser[:2] and s != "STOLEN-1"],
         "export state=allowed")
    p = subprocess.run(["curl", "-sS", "-f", "--cacert", ca_crt, "-H", "Authorization: Bearer " +
                        op, "https://127.0.0.1:%d/api/v1/vendors/acme/serials.txt" % admin_port],
                       capture_output=True, text=True, timeout=30)
    t.eq(p.stdout.split("\n"), allser + [""], "curl: the export", p.stderr)
    # a list longer than one database page (20,000) streams whole, in order
    api.call("POST", "/vendors", op, {"name": "bulk"}, want=201, name="POST /vendors bulk")
    bulk = ["B%06d" % i for i in range(45001)]
    bfile = os.path.join(gw.tmp, "bulk.txt")
    with open(bfile, "w") as f:
        f.write("\n".join(reversed(bulk)) + "\n")
    gw.must("serials", "import", "bulk", bfile)
    st, hdr, body = api.call("GET", "/vendors/bulk/serials.txt", op, want=200,
                             name="export of 45,001 serials")
    t.ok(body.decode().split("\n") == bulk + [""], "45,001 serials streamed whole, in order",
         (len(body), body[:40], body[-40:]))
    st, hdr, body = api.call("GET", "/vendors/bulk/serials.txt?prefix=B0200", op, want=200,
                             name="export with a prefix")
    t.eq(body.decode().split(), ["B0200%02d" % i for i in range(100)],
         "prefix B0200: its 100 serials")
    st, hdr, body = api.call("HEAD", "/vendors/bulk/serials.txt", op, want=200,
                             name="HEAD of the export")
    t.ok(not body, "HEAD: no body", body)
    api.call("GET", "/vendors/nosuch/serials.txt", op, want=404, name="export unknown vendor: 404")
    st, _, body = api.call("GET", "/vendors/acme", aud, want=200, name="acme counts")
    t.ok(body and body["serials"] == {"allowed": len(allser) - 3, "blocked": 1, "enrolled": 2},
         "the vendor's counts agree with the list", body)

    # ---- 5. submissions and approval -------------------------------------------------
    nroot = pki.cert("newco-root", "/O=NewCo/CN=NewCo Root")
    nca = pki.cert("newco-ca", "/O=NewCo/CN=NewCo CA", issuer=nroot)
    ndev = pki.cert("newco-dev", "/serialNumber=NC-0001/O=NewCo/CN=Router", issuer=nca,
                    ext="leaf")
    sfile = os.path.join(gw.tmp, "newco-serials.txt")
    with open(sfile, "w") as f:
        f.write("NC-0001\n")
    gw.must("serials", "import", "newco", sfile)

    def enroll_newco():
        return gw.cmp(cert=ndev[0], key=ndev[1], extracerts=nca[0],
                      newkey=new_key(os.path.join(gw.tmp, "nc-%f.key" % time.time())),
                      subject="/CN=NC-0001")

    def vcerts():
        return int(gw.scalar("SELECT count(*) FROM vendor_certs"))

    n0 = vcerts()
    st, _, sub = api.call("POST", "/vendors/newco/certificates", vn,
                          {"kind": "anchor", "pem": pem(nroot[0])}, want=201,
                          name="vendor:newco submits its root")
    t.ok(sub and sub["state"] == "pending" and sub["kind"] == "anchor" and
         sub["submitted_by"] == "apikey:" + keys["vendor:newco"][1] and
         sub["decided_by"] is None, "the submission is pending, by the vendor's key", sub)
    t.eq(vcerts(), n0, "a submission registers nothing")
    time.sleep(1)
    r = enroll_newco()
    t.ok(r.rc != 0 and r.has("signerNotTrusted"),
         "submitted but not approved: the device is refused", r.out)
    api.call("POST", "/vendors/newco/certificates", vn, {"kind": "anchor", "pem": pem(nroot[0])},
             want=409, name="the same root again: 409 (already pending)")
    st, _, body = api.call("POST", "/vendors/newco/certificates", vn,
                           {"kind": "intermediate", "pem": pem(nca[0])}, want=422,
                           name="intermediate before its anchor is trusted: 422")
    t.ok("vendor newco has no trust anchor" in detail(body), "422 says there is no anchor", body)
    api.call("POST", "/vendors/newco/certificates/%d/approve" % sub["id"], vn, want=403,
             name="vendor:newco approves its own: 403")
    api.call("POST", "/vendors/newco/certificates/%d/approve" % sub["id"], aud, want=403,
             name="auditor approves: 403")
    api.call("POST", "/vendors/acme/certificates/%d/approve" % sub["id"], op, want=404,
             name="approve under another vendor's path: 404")
    api.call("GET", "/vendors/newco/certificates/%d" % sub["id"], va, want=404,
             name="vendor:acme reads newco's submission: 404")
    st, _, one = api.call("GET", "/vendors/newco/certificates/%d" % sub["id"], aud, want=200,
                          name="auditor reads the submission")
    t.ok(one and one["pem"].strip() == pem(nroot[0]).strip(), "GET one: its PEM", one)
    st, _, body = api.call("POST", "/vendors/newco/certificates/%d/approve" % sub["id"], op,
                           want=200, name="operator approves the root")
    t.ok(body and body["state"] == "approved" and
         body["decided_by"] == "apikey:" + keys["operator"][1], "approved, by the operator", body)
    t.eq(vcerts(), n0 + 1, "approval registered the root")
    api.call("POST", "/vendors/newco/certificates/%d/approve" % sub["id"], op, want=409,
             name="approve twice: 409")
    st, _, isub = api.call("POST", "/vendors/newco/certificates", vn,
                           {"kind": "intermediate", "pem": pem(nca[0])}, want=201,
                           name="intermediate now: submitted")
    api.call("POST", "/vendors/newco/certificates/%d/approve" % isub["id"], op, want=200,
             name="operator approves the intermediate")
    time.sleep(1)  # the registry reload follows the NOTIFY
    r = enroll_newco()
    t.ok(r.rc == 0, "approved: the device enrolls", repr(r))
    rows = audit("vendor_cert_submitted", "newco")
    t.ok(len(rows) == 2 and rows[0][0] == "apikey:" + keys["vendor:newco"][1],
         "vendor_cert_submitted rows name the vendor's key", rows)
    rows = audit("vendor_cert_approved", "newco") + audit("vendor_anchor_added", "newco")
    t.ok(len(rows) == 3 and all(x[0] == "apikey:" + keys["operator"][1] for x in rows),
         "approval and registration rows name the operator's key", rows)

    # precise refusals
    old = pki.cert("old-root", "/O=NewCo/CN=NewCo Old Root", start=utc_stamp(-400 * 86400),
                   end=utc_stamp(-86400))
    other = pki.cert("other-ca", "/O=Gamma/CN=Gamma CA", issuer=pki.cert("gr", "/CN=Gamma R"))
    for kind, path, want, name in (
            ("anchor", old[0], "has expired", "expired anchor"),
            ("anchor", nca[0], "not self-signed: a trust anchor is a vendor root CA",
             "anchor not self-signed"),
            ("anchor", gw.path("vendor", "vendor-root.crt"),
             "is already registered for vendor acme, not newco", "another vendor's anchor"),
            ("intermediate", other[0], "does not chain to an anchor of this vendor",
             "intermediate not chaining"),
            ("anchor", ndev[0], "is not a CA certificate", "a device certificate")):
        n1 = int(gw.scalar("SELECT count(*) FROM vendor_submissions"))
        st, _, body = api.call("POST", "/vendors/newco/certificates", vn,
                               {"kind": kind, "pem": pem(path)}, want=422, name=name + ": 422")
        t.ok(want in detail(body), "%s: says %r" % (name, want), body)
        t.eq(int(gw.scalar("SELECT count(*) FROM vendor_submissions")), n1,
             name + ": nothing recorded")
    st, _, body = api.call("POST", "/vendors/newco/certificates", vn,
                           {"kind": "anchor", "pem": pem(nroot[0]) + pem(old[0])}, want=422,
                           name="two certificates: 422")
    t.ok("one certificate" in detail(body), "two certificates: says one per submission", body)
    api.call("POST", "/vendors/newco/certificates", vn, {"kind": "root", "pem": "x"}, want=400,
             name="bad kind: 400")
    st, _, body = api.call("POST", "/vendors/newco/certificates", vn,
                           {"kind": "anchor", "pem": "hello"}, want=422, name="no PEM: 422")
    api.call("POST", "/vendors/newco/certificates", fa, {"kind": "anchor", "pem": pem(old[0])},
             want=403, name="factory submits: 403")

    # reject, withdraw
    r2 = pki.cert("newco-root2", "/O=NewCo/CN=NewCo Root 2")
    r3 = pki.cert("newco-root3", "/O=NewCo/CN=NewCo Root 3")
    st, _, s2 = api.call("POST", "/vendors/newco/certificates", vn,
                         {"kind": "anchor", "pem": pem(r2[0])}, want=201, name="submit root 2")
    st, _, s3 = api.call("POST", "/vendors/newco/certificates", vn,
                         {"kind": "anchor", "pem": pem(r3[0])}, want=201, name="submit root 3")
    api.call("POST", "/vendors/newco/certificates/%d/reject" % s2["id"], op, {}, want=400,
             name="reject without a reason: 400")
    st, _, body = api.call("POST", "/vendors/newco/certificates/%d/reject" % s2["id"], op,
                           {"reason": "not your production root"}, want=200, name="reject")
    t.ok(body and body["state"] == "rejected" and body["reason"] == "not your production root",
         "rejected with its reason", body)
    api.call("DELETE", "/vendors/newco/certificates/%d" % s2["id"], vn, want=409,
             name="withdraw a rejected one: 409")
    api.call("DELETE", "/vendors/newco/certificates/%d" % s3["id"], vb, want=404,
             name="vendor:beta withdraws newco's: 404")
    st, _, body = api.call("DELETE", "/vendors/newco/certificates/%d" % s3["id"], vn, want=200,
                           name="vendor withdraws its pending submission")
    t.ok(body and body["state"] == "withdrawn", "withdrawn", body)
    api.call("GET", "/vendors/newco/certificates/999999", op, want=404,
             name="unknown submission: 404")
    api.call("GET", "/vendors/newco/certificates/0x1", op, want=404, name="bad id: 404")
    st, _, body = api.call("GET", "/vendors/newco/certificates", vn, want=200, name="list")
    t.ok(body and len(body["registered"]) == 2 and
         [s["state"] for s in body["submissions"]] == ["withdrawn", "rejected", "approved",
                                                       "approved"],
         "list: 2 registered, submissions newest first", body)
    st, _, body = api.call("GET", "/vendors/newco/certificates?state=approved&limit=1", op,
                           want=200, name="list approved, page 1")
    t.ok(body and len(body["submissions"]) == 1 and body["next_cursor"], "page 1 + cursor", body)
    st, _, b2 = api.call("GET", "/vendors/newco/certificates?state=approved&limit=1&cursor=" +
                         body["next_cursor"], op, want=200, name="list approved, page 2")
    t.ok(b2 and len(b2["submissions"]) == 1 and b2["next_cursor"] is None and
         b2["submissions"][0]["id"] < body["submissions"][0]["id"], "page 2: the older one", b2)

    # the CLI on the same rows
    r4 = pki.cert("newco-root4", "/O=NewCo/CN=NewCo Root 4")
    st, _, s4 = api.call("POST", "/vendors/newco/certificates", vn,
                         {"kind": "anchor", "pem": pem(r4[0])}, want=201, name="submit root 4")
    rc, out = cmpgw("vendor", "submissions", "--config", gw.config, "--vendor", "newco",
                    "--state", "pending")
    t.ok(rc == 0 and ("%d  pending" % s4["id"]) in out and "NewCo Root 4" in out,
         "cmpgw vendor submissions lists the pending one", out)
    rc, out = cmpgw("vendor", "reject", "--config", gw.config, str(s4["id"]))
    t.ok(rc == 2 and "--reason" in out, "cmpgw vendor reject without --reason: exit 2", out)
    rc, out = cmpgw("vendor", "approve", "--config", gw.config, str(s4["id"]))
    t.ok(rc == 0 and "approved" in out, "cmpgw vendor approve", out)
    t.eq(gw.scalar("SELECT count(*) FROM vendor_certs WHERE subject LIKE '%NewCo Root 4%'"), "1",
         "the CLI's approval registered it")
    rc, out = cmpgw("vendor", "approve", "--config", gw.config, str(s4["id"]))
    t.ok(rc == 1 and "no longer pending" in out, "approve again: exit 1, no longer pending", out)
    rows = gw.psql("SELECT principal FROM audit WHERE event = 'vendor_cert_approved'"
                   " ORDER BY id DESC LIMIT 1")
    t.ok(rows and rows[0][0].startswith("os:"), "the CLI's approval row names the OS user", rows)

    api.rec.report(t)
    gw.stop()


if __name__ == "__main__":
    run(main)
