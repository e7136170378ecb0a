#!/usr/bin/env python3
"""Issue 14: the factory dry run over the admin API,
POST /api/v1/vendors/{vendor}/check (docs/ADMIN.md "Factory dry run").

Real PostgreSQL, real `cmpgw serve` with an admin listener, HTTPS with
Python's http.client + ssl (and curl once):

1. Reports, with a factory:acme key (and an operator key for strictco):
   a good chain (every step passes, the would-be subject), an untrusted
   chain, an expired device certificate, a non-strict (lenient-needed)
   vendor CA, a serial not on the list, a clone (the serial bound to
   another key), a signed ir of the device (request, protection, POP, key
   policy) and one signed by another device. Each report equals what
   `cmpgw vendor check --json` prints for the same inputs.
2. Roles: factory:acme asking for beta -> 404; vendor:acme and auditor
   -> 403; no credentials -> 401.
3. Refusals: a chain of acme posted as beta's -> 422
   chain-of-another-vendor; an unknown alias -> 422; an unknown vendor ->
   404; not JSON, unknown fields, a private key block, more than 10
   certificates, bad base64 -> 400; a wrong Content-Type -> 415.
4. Nothing changes: the certificates and serials rows are the same before
   and after; each dry run writes exactly one audit row (vendor_check)
   naming the API key's principal.
Every response is checked against the OpenAPI document.
"""

import base64
import hashlib
import http.client
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Gateway, Pg, capture_request, cmpgw, free_port, make_root,  # noqa: E402
                     mktemp, run, utc_stamp, wait_port)
from test_tls import ctx_for, tls_cert  # noqa: E402
from test_vendor import Pki, cat  # noqa: E402
import openapi_check  # noqa: E402

KEY_RE = re.compile(r"^key=(cmpgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43}))$", re.M)


def spki_sha256(crt):
    """Hex SHA-256 of the certificate's SubjectPublicKeyInfo (the clone binding key)."""
    p = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-pubkey"],
                       stdout=subprocess.PIPE, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=p.stdout,
                         stdout=subprocess.PIPE, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def main(t):
    work = mktemp("cmpgw-api-check-")
    ca_crt, ca_key = make_root(work, "tls-ca", "/O=Test/CN=Admin TLS CA")
    srv = tls_cert(work, "srv", "/CN=cmpgw admin", ca_crt, ca_key, "server")
    admin_port = free_port()

    def patch(cfg):
        cfg["workers"] = 1
        cfg["aliases"][0]["vendors"] = ["acme", "strictco"]
        cfg["admin"] = {"address": "127.0.0.1", "port": admin_port,
                        "tls": {"cert": srv[0], "key": srv[1], "client_ca": ca_crt}}

    pg = Pg()
    gw = Gateway(t, pg, devices=3, name="apicheck", patch=patch)
    pki = Pki(gw.tmp)
    gw.must("vendor", "add", "beta")
    # strictco: a vendor CA whose basicConstraints is not critical (strict
    # X.509 refuses it; lenient would accept)
    sroot = pki.cert("strict-root", "/O=StrictCo/CN=StrictCo Root")
    soft = pki.cert("strict-soft", "/O=StrictCo/CN=StrictCo Legacy CA", issuer=sroot,
                    ext="ca_soft")
    sdev = pki.cert("strict-dev", "/serialNumber=SC-1/O=StrictCo/CN=Router", issuer=soft,
                    ext="leaf")
    gw.must("vendor", "add", "strictco")
    gw.must("vendor", "anchor", "add", "strictco", sroot[0])
    sl = os.path.join(gw.tmp, "sc.txt")
    with open(sl, "w") as f:
        f.write("SC-1\n")
    gw.must("serials", "import", "strictco", sl)

    a_ca = (gw.path("vendor", "vendor-ca.crt"), gw.path("vendor", "vendor-ca.key"))
    expired = pki.cert("acme-expired", "/serialNumber=ACME-0003/O=Acme/CN=Acme Router",
                       issuer=a_ca, ext="leaf", start=utc_stamp(-10 * 86400),
                       end=utc_stamp(-86400))
    clone = pki.cert("acme-clone", "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                     issuer=a_ca, ext="leaf")
    unlisted = pki.cert("acme-unlisted", "/serialNumber=ACME-9999/O=Acme/CN=Acme Router",
                        issuer=a_ca, ext="leaf")
    oroot = pki.cert("other-root", "/O=Other/CN=Other Root")
    odev = pki.cert("other-dev", "/serialNumber=ACME-0002/O=Other/CN=Router", issuer=oroot,
                    ext="leaf")
    rogue = pki.cert("rogue", "/serialNumber=ACME-0002/O=Rogue/CN=Rogue", ext="leaf_ca")
    gw.start()
    t.ok(wait_port(admin_port, 10), "admin listener accepts")
    r = gw.cmp(1)
    t.ok(r.rc == 0, "device 1 enrolls (its serial is bound to its key)", repr(r))
    req2 = capture_request(gw, 2)

    keys = {}
    for role in ("operator", "auditor", "vendor:acme", "factory:acme"):
        rc, out = cmpgw("apikey", "create", "--config", gw.config, "--role", role)
        m = KEY_RE.search(out)
        t.ok(rc == 0 and m, "apikey create --role %s" % role, out)
        keys[role] = (m.group(1), m.group(2))

    rec = openapi_check.Recorder()
    tls = ctx_for(ca_crt)

    def post(vendor, body, key, ctype="application/json"):
        """POST .../vendors/<vendor>/check; (status, parsed body)."""
        path = "/api/v1/vendors/%s/check" % vendor
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        c = http.client.HTTPSConnection("127.0.0.1", admin_port, context=tls, timeout=30)
        try:
            h = {"Content-Type": ctype}
            if key:
                h["Authorization"] = "Bearer " + key[0]
            c.request("POST", path, body=raw, headers=h)
            resp = c.getresponse()
            data = resp.read()
            ct = resp.getheader("Content-Type")
        finally:
            c.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data
        rec.check("POST", path, resp.status, ct, doc)
        return resp.status, doc

    def pem(*paths):
        return "".join(open(p).read() for p in paths)

    def db_state():
        return (gw.psql("SELECT id, status, serial_hex FROM certificates ORDER BY id"),
                gw.psql("SELECT vendor_id, serial, state, encode(key_fp, 'hex'), enrolled_at "
                        "FROM serials ORDER BY vendor_id, serial"))

    def audits(principal):
        return int(gw.scalar("SELECT count(*) FROM audit WHERE event = 'vendor_check' AND "
                             "principal = 'apikey:%s'" % principal))

    def dry(name, chain_files, steps, want_pass, key=keys["factory:acme"], vendor="acme",
            request=None):
        """One dry run over the API; its steps; equal to the CLI's report;
        one audit row; nothing else changed."""
        body = {"alias": "3gpp", "chain_pem": pem(*chain_files)}
        if request is not None:
            body["request"] = base64.b64encode(request).decode()
        before, n_audit = db_state(), audits(key[1])
        st, doc = post(vendor, body, key)
        t.eq(st, 200, "%s: 200" % name, doc)
        if st != 200:
            return
        t.eq(doc["pass"], want_pass, "%s: verdict %s" % (name, want_pass), doc)
        got = {}
        for s in doc["steps"]:
            got.setdefault(s["check"], s)
        for check, (ok, text) in steps.items():
            s = got.get(check)
            t.ok(s is not None and s["pass"] == ok and text in s["detail"],
                 "%s: %s %s, %r" % (name, check, "passes" if ok else "fails", text),
                 json.dumps(doc, indent=1))
        t.eq(db_state(), before, "%s: certificates and serials unchanged" % name)
        t.eq(audits(key[1]), n_audit + 1, "%s: one audit row naming apikey:%s" % (name, key[1]))
        # the CLI on the same inputs reports the same
        chain = cat(gw.tmp, "chain-%d.pem" % len(got), *chain_files)
        args = ["vendor", "check", "--config", gw.config, "--json", "--alias", "3gpp", chain]
        if request is not None:
            rf = os.path.join(gw.tmp, "req-cli.der")
            with open(rf, "wb") as f:
                f.write(request)
            args.append(rf)
        rc, out = cmpgw(*args)
        try:
            cli_doc = json.loads(out)
        except ValueError:
            cli_doc = out
        t.eq(cli_doc, doc, "%s: the same report as cmpgw vendor check --json" % name)
        return doc

    # ---- 1. reports --------------------------------------------------------------------
    ca_pem = gw.path("vendor", "vendor-ca.crt")
    doc = dry("good chain", (gw.dev(2), ca_pem), {
        "chain": (True, "chains to vendor acme"),
        "certificate": (True, "depth 0, vendor certificate"),
        "strictness": (True, "vendor acme is strict X.509"),
        "alias": (True, "vendor acme is accepted on alias 3gpp"),
        "serial": (True, 'device serial "ACME-0002"'),
        "serial list": (True, "on vendor acme's list: allowed"),
        "clone binding": (True, "bound to no key yet"),
        "issuance": (True, "the certificate would get subject")}, True)
    t.ok(doc and doc["vendor"] == "acme" and doc["serial"] == "ACME-0002" and
         all(s["pass"] for s in doc["steps"]) and
         len([s for s in doc["steps"] if s["check"] == "certificate"]) == 3 and
         any(re.search(r"\d+ days of validity left", s["detail"]) for s in doc["steps"]),
         "good chain: vendor, serial, every step passes, three certificates with days left",
         doc)
    dry("untrusted chain", (rogue[0],), {
        "chain": (False, "does not chain to a registered vendor trust anchor"),
        "certificate": (False, "depth 0 (as sent), /serialNumber=ACME-0002/O=Rogue/CN=Rogue, "
                               "issued by /serialNumber=ACME-0002/O=Rogue/CN=Rogue; ")}, False)
    doc = dry("chain to an unregistered root, root not sent", (odev[0],), {
        "chain": (False, "does not chain to a registered vendor trust anchor"),
        "certificate": (False, "depth 0 (as sent), /serialNumber=ACME-0002/O=Other/CN=Router, "
                               "issued by /O=Other/CN=Other Root; ")}, False)
    t.ok(doc and doc["vendor"] is None and doc["serial"] is None and
         doc["steps"][-1]["detail"].endswith("its issuer was neither sent nor registered for "
                                             "any vendor"),
         "unregistered root: the path breaks off at the device certificate's issuer", doc)
    doc = dry("chain to an unregistered root, root sent", (odev[0], oroot[0]), {
        "chain": (False, "does not chain to a registered vendor trust anchor")}, False)
    cs = [x for x in (doc or {}).get("steps", []) if x["check"] == "certificate"]
    t.ok(len(cs) == 2 and cs[0]["pass"] and not cs[1]["pass"] and
         cs[1]["detail"].startswith("depth 1 (as sent), /O=Other/CN=Other Root") and
         "self-signed, and no vendor registered it as a trust anchor" in cs[1]["detail"],
         "unregistered root sent: depth 0 fine, depth 1 a root no vendor registered", cs)
    dry("expired device certificate", (expired[0], ca_pem), {
        "chain": (False, "vendor certificate: expired"),
        "certificate": (False, "depth 0, vendor certificate")}, False)
    dry("non-strict vendor CA", (sdev[0], soft[0]), {
        "chain": (False, "basicConstraints not marked critical (strict X.509)"),
        "strictness": (True, "lenient mode would accept the chain")}, False,
        key=keys["operator"], vendor="strictco")
    dry("serial not on the list", (unlisted[0], ca_pem), {
        "chain": (True, "chains to vendor acme"),
        "serial list": (False, 'serial "ACME-9999" is not on vendor acme\'s list')}, False)
    dev1_fp = spki_sha256(gw.dev(1))
    cert1 = gw.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0001' "
                      "ORDER BY id DESC LIMIT 1")
    dry("clone", (clone[0], ca_pem), {
        "chain": (True, "chains to vendor acme"),
        "serial list": (True, "enrolled"),
        "clone binding": (False, "bound to another vendor key (a clone of an enrolled device?): "
                                 "key SHA-256 %s…, certificate %s (active); this certificate's "
                                 "key is %s…" % (dev1_fp[:16], cert1, spki_sha256(clone[0])[:16]))},
        False)
    dry("good chain and its signed ir", (gw.dev(2), ca_pem), {
        "request": (True, "ir with one CertReqMsg"),
        "protection": (True, "signed by the vendor certificate; the signature verifies"),
        "pop": (True, "the POP signature verifies for the template key"),
        "key policy": (True, "EC key of 256 bits: accepted by the profile"),
        "issuance": (True, "the certificate would get subject")}, True, request=req2)
    dry("an ir signed by another device", (gw.dev(1), ca_pem), {
        "protection": (False, "signed by a certificate other than the vendor certificate")},
        False, key=keys["operator"], request=req2)
    dry("a request that is no PKIMessage", (gw.dev(2), ca_pem), {
        "request": (False, "not a DER PKIMessage with an ir or cr body")}, False,
        request=b"\x30\x03\x02\x01\x00")

    # ---- 2. roles -----------------------------------------------------------------------
    good = {"alias": "3gpp", "chain_pem": pem(gw.dev(2), ca_pem)}
    before = db_state()
    n_audit = int(gw.scalar("SELECT count(*) FROM audit WHERE event = 'vendor_check'"))
    st, doc = post("beta", good, keys["factory:acme"])
    t.eq(st, 404, "factory:acme asking for beta: 404", doc)
    st, doc = post("acme", good, keys["vendor:acme"])
    t.eq(st, 403, "vendor:acme: 403", doc)
    st, doc = post("acme", good, keys["auditor"])
    t.eq(st, 403, "auditor: 403", doc)
    st, doc = post("acme", good, None)
    t.eq(st, 401, "no credentials: 401", doc)

    # ---- 3. refusals --------------------------------------------------------------------
    st, doc = post("beta", good, keys["operator"])
    t.ok(st == 422 and doc["type"].endswith(":chain-of-another-vendor") and
         "not beta" in doc["detail"] and "acme" not in doc["detail"],
         "acme's chain as beta's: 422 chain-of-another-vendor, naming no other vendor", doc)
    st, doc = post("acme", dict(good, alias="nope"), keys["operator"])
    t.ok(st == 422 and 'no alias "nope"' in doc["detail"], "unknown alias: 422", doc)
    st, doc = post("nosuch", good, keys["operator"])
    t.ok(st == 404 and 'no vendor named "nosuch"' in doc["detail"], "unknown vendor: 404", doc)
    bad = [
        ("not JSON", b"{", "not JSON"),
        ("unknown field", dict(good, extra=1), 'unknown field "extra"'),
        ("no chain_pem", {"alias": "3gpp"}, "chain_pem must be a string"),
        ("alias not a string", dict(good, alias=3), "alias must be a string"),
        ("a private key block", dict(good, chain_pem=pem(gw.dev(2), gw.dev(2, ext="key"))),
         "PEM block 2 is \"PRIVATE KEY\", not a CERTIFICATE"),
        ("11 certificates", dict(good, chain_pem=pem(*([ca_pem] * 11))),
         "more than 10 certificates"),
        ("no PEM", dict(good, chain_pem="hello"), "no PEM CERTIFICATE block"),
        ("bad base64 request", dict(good, request="@@@@"), "request is not base64"),
        ("request not a string", dict(good, request=5), "request must be a base64 string"),
    ]
    for name, body, want in bad:
        st, doc = post("acme", body, keys["operator"])
        t.ok(st == 400 and isinstance(doc, dict) and want in doc.get("detail", ""),
             "%s: 400 saying %r" % (name, want), doc)
    st, doc = post("acme", json.dumps(good).encode(), keys["operator"], ctype="text/plain")
    t.eq(st, 415, "text/plain body: 415", doc)
    t.eq(db_state(), before, "refusals: certificates and serials unchanged")
    t.eq(int(gw.scalar("SELECT count(*) FROM audit WHERE event = 'vendor_check'")),
         n_audit + 1, "refusals: only the 422 of another vendor's chain wrote an audit row")

    # curl as a factory would call it
    bodyf = os.path.join(gw.tmp, "check.json")
    with open(bodyf, "w") as f:
        json.dump(good, f)
    p = subprocess.run(["curl", "-sS", "--cacert", ca_crt, "-H",
                        "Authorization: Bearer " + keys["factory:acme"][0], "-H",
                        "Content-Type: application/json", "--data-binary", "@" + bodyf,
                        "https://127.0.0.1:%d/api/v1/vendors/acme/check" % admin_port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    try:
        cdoc = json.loads(p.stdout)
    except ValueError:
        cdoc = None
    t.ok(p.returncode == 0 and cdoc and cdoc.get("pass") is True,
         "curl --data-binary @check.json as factory:acme: pass", p.stdout)
    rec.report(t)
    gw.stop()


if __name__ == "__main__":
    run(main)
