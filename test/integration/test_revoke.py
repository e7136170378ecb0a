#!/usr/bin/env python3
"""Revocation with the stock `openssl cmp` client against a real cmpgw serve
and PostgreSQL: rr signed by the holder (-> rp accepted, certificate revoked
in the database), a repeated rr (-> certRevoked), an rr for somebody else's
certificate (-> notAuthorized), an rr signed by a configured revoker
certificate (aliases[].revokers), the CRL over HTTP GET/HEAD (content type,
`openssl crl -verify`, listed serials and reasons, growing CRL number), and
`cmpgw cert revoke` / `cmpgw crl` on the command line."""

import json
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, cmpgw, http_post, openssl, run  # noqa: E402

CRL_PATH = "/crl/issuing-ca.crl"


def serial_hex(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1].upper().lstrip("0") if rc == 0 else None


def make_admin(gw):
    """An RA/admin certificate for aliases[].revokers, issued by a throwaway
    CA (openssl cmp leaves a self-signed -cert out of extraCerts)."""
    p = gw.path
    steps = [
        ("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=cmpgw test admin CA", "-days", "2", "-keyout", p("admin-ca.key"),
         "-out", p("admin-ca.crt")),
        ("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=cmpgw test revoker", "-keyout", p("admin.key"), "-out", p("admin.csr")),
        ("x509", "-req", "-in", p("admin.csr"), "-CA", p("admin-ca.crt"), "-CAkey",
         p("admin-ca.key"), "-CAcreateserial", "-days", "2", "-out", p("admin.crt")),
    ]
    for args in steps:
        rc, out = openssl(*args)
        if rc != 0:
            raise RuntimeError("making the admin certificate failed:\n" + out)
    return p("admin.key"), p("admin.crt")


def cli(gw, *args):
    """cmpgw cert revoke / cmpgw crl with --config after the command words."""
    words = [a for a in args[:2] if a in ("cert", "revoke", "crl")]
    return cmpgw(*(words + ["--config", gw.config] + list(args[len(words):])), timeout=120)


def rr(gw, k, oldcert, cert, key, reason=None):
    """openssl cmp -cmd rr as device k: revoke oldcert, protected with cert/key."""
    extra = ["-oldcert", oldcert]
    if reason is not None:
        extra += ["-revreason", str(reason)]
    return gw.cmp(k, cmd="rr", cert=cert, key=key, extracerts=None, subject=None, extra=extra)


def get_crl(t, gw, name, method="GET"):
    st, ctype, body = http_post(gw.port, None, path=CRL_PATH, ctype=None, method=method)
    t.eq(st, 200, "%s: %s %s -> 200" % (name, method, CRL_PATH))
    t.eq(ctype, "application/pkix-crl", "%s: Content-Type application/pkix-crl" % name)
    return body


def crl_text(t, gw, der, name):
    """Write der, verify it with openssl crl against issuing CA + root, return text."""
    path = os.path.join(gw.tmp, "crl-%d.der" % abs(hash(name)))
    with open(path, "wb") as f:
        f.write(der)
    bundle = os.path.join(gw.tmp, "ca-bundle.pem")
    with open(bundle, "w") as f:
        for p in ("issuing-ca.crt", "operator-root.crt"):
            with open(gw.path("pki", p)) as src:
                f.write(src.read())
    rc, out = openssl("crl", "-inform", "DER", "-in", path, "-CAfile", bundle, "-verify",
                      "-noout", "-text")
    t.ok(rc == 0 and "verify OK" in out, "%s: openssl crl -verify OK" % name, out)
    return out


def crl_number(text):
    m = re.search(r"X509v3 CRL Number:\s*\n\s*(\d+)", text)
    return int(m.group(1)) if m else None


def listed(text, serial):
    return re.search(r"Serial Number:\s*0*%s\b" % re.escape(serial), text, re.I) is not None


def main(t):
    pg = Pg()
    admin = {}

    def patch(cfg):
        key, crt = make_admin_early(cfg)
        admin.update(key=key, crt=crt)
        cfg["aliases"][0]["revokers"] = [crt]

    def make_admin_early(cfg):
        # the demo dir exists before the patch runs; reuse make_admin's layout
        class G:
            def path(self, *p):
                return os.path.join(os.path.dirname(cfg["data_dir"]), "demo", *p)
        return make_admin(G())

    gw = Gateway(t, pg, devices=5, name="revoke", patch=patch)
    gw.start()

    certs, keys = {}, {}
    for k in (1, 2, 3, 4):
        r = gw.cmp(k)
        t.ok(r.rc == 0 and os.path.exists(r.certout), "device %d enrolled" % k, repr(r))
        certs[k], keys[k] = r.certout, gw.dev(k, "new", "key")
    ser = {k: serial_hex(certs[k]) for k in certs}

    def status(k):
        return gw.scalar("SELECT status FROM certificates WHERE ltrim(serial_hex, '0') = '%s'"
                         % ser[k])

    # empty CRL first: number 1, nothing listed
    der0 = get_crl(t, gw, "initial CRL")
    text0 = crl_text(t, gw, der0, "initial CRL")
    n0 = crl_number(text0)
    t.ok(n0 is not None and n0 >= 1, "initial CRL has a CRL number", text0)
    t.ok(not listed(text0, ser[1]), "initial CRL does not list device 1", text0)

    # 1. holder revokes its own certificate, reason keyCompromise
    r = rr(gw, 1, certs[1], certs[1], keys[1], reason=1)
    t.ok(r.rc == 0 and r.has("received RP"), "rr by the holder: rp received, exit 0", r.out)
    t.eq(status(1), "revoked", "rr: certificates.status = revoked")
    t.eq(gw.scalar("SELECT revocation_reason FROM certificates WHERE ltrim(serial_hex,'0') = '%s'"
                   % ser[1]), "1", "rr: revocation_reason = 1 (keyCompromise)")
    t.ok(gw.scalar("SELECT revoked_at IS NOT NULL FROM certificates WHERE "
                   "ltrim(serial_hex,'0') = '%s'" % ser[1]) == "t", "rr: revoked_at set")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'revoked' AND detail LIKE "
                   "'%%%s%%'" % ser[1]), "1", "rr: one audit row 'revoked'")

    der1 = get_crl(t, gw, "CRL after rr")
    text1 = crl_text(t, gw, der1, "CRL after rr")
    n1 = crl_number(text1)
    t.ok(listed(text1, ser[1]), "CRL lists the revoked serial", text1)
    t.ok("Key Compromise" in text1, "CRL entry carries reason keyCompromise", text1)
    t.ok(n1 is not None and n0 is not None and n1 > n0, "CRL number increased (%s -> %s)"
         % (n0, n1))
    t.ok("Authority Key Identifier" in text1, "CRL has an authorityKeyIdentifier", text1)
    der1b = get_crl(t, gw, "CRL unchanged")
    t.ok(der1b == der1, "no change -> the same CRL is served again")

    # HEAD: same headers, no body; POST: 405
    st, ctype, body = http_post(gw.port, None, path=CRL_PATH, ctype=None, method="HEAD")
    t.ok(st == 200 and ctype == "application/pkix-crl" and body == b"",
         "HEAD: 200 application/pkix-crl without a body", "%s %s %d" % (st, ctype, len(body)))
    st, _, _ = http_post(gw.port, b"x", path=CRL_PATH, ctype="application/pkixcmp")
    t.eq(st, 405, "POST to the CRL path -> 405")

    # 2. revoking again -> certRevoked
    before = gw.counts()
    r = rr(gw, 1, certs[1], certs[1], keys[1])
    t.ok(r.rc != 0 and r.has("certRevoked"), "rr of a revoked certificate -> certRevoked", r.out)
    after = gw.counts()
    t.eq(after["certificates"], before["certificates"], "rejection: no certificate row added")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'revoked'"), "1",
         "rejection: still one 'revoked' audit row")

    # 3. device 2 tries to revoke device 3's certificate -> notAuthorized
    r = rr(gw, 2, certs[3], certs[2], keys[2])
    t.ok(r.rc != 0 and r.has("notAuthorized"), "rr of someone else's certificate -> notAuthorized",
         r.out)
    t.eq(status(3), "active", "device 3 still active")
    t.eq(status(2), "active", "device 2 still active")

    # 4. a configured revoker may revoke device 3's certificate
    r = rr(gw, 3, certs[3], admin["crt"], admin["key"], reason=5)
    t.ok(r.rc == 0 and r.has("received RP"), "rr signed by aliases[].revokers -> accepted", r.out)
    t.eq(status(3), "revoked", "revoker: device 3 revoked")
    der2 = get_crl(t, gw, "CRL after revoker rr")
    text2 = crl_text(t, gw, der2, "CRL after revoker rr")
    n2 = crl_number(text2)
    t.ok(listed(text2, ser[3]) and listed(text2, ser[1]), "CRL lists devices 1 and 3", text2)
    t.ok("Cessation Of Operation" in text2, "reason cessationOfOperation listed", text2)
    t.ok(n2 is not None and n1 is not None and n2 > n1, "CRL number increased after a second "
         "revocation (%s -> %s)" % (n1, n2))

    # 5. CLI
    rc, out = cli(gw, "cert", "revoke", "--serial", ser[2], "--reason", "superseded")
    t.ok(rc == 0 and "revoked" in out, "cmpgw cert revoke: exit 0", out)
    t.eq(status(2), "revoked", "CLI: device 2 revoked")
    t.eq(gw.scalar("SELECT revocation_reason FROM certificates WHERE ltrim(serial_hex,'0') = '%s'"
                   % ser[2]), "4", "CLI: reason superseded (4)")
    der3 = get_crl(t, gw, "CRL after CLI revoke")
    text3 = crl_text(t, gw, der3, "CRL after CLI revoke")
    t.ok(listed(text3, ser[2]), "CRL lists the serial revoked from the CLI", text3)
    n3 = crl_number(text3)
    t.ok(n3 is not None and n3 > n2, "CRL number increased (%s -> %s)" % (n2, n3))
    rc, out = cli(gw, "cert", "revoke", "--serial", ser[2])
    t.ok(rc == 1 and "already revoked" in out, "CLI: revoking again -> exit 1", out)
    rc, out = cli(gw, "cert", "revoke", "--serial", "0ABCDEF0123")
    t.ok(rc == 1 and "no certificate" in out, "CLI: unknown serial -> exit 1 with a message", out)
    rc, out = cli(gw, "cert", "revoke", "--serial", ser[4], "--reason", "bogus")
    t.eq(rc, 2, "CLI: unknown reason -> exit 2")
    rc, out = cli(gw, "cert", "revoke", "--reason", "keyCompromise")
    t.eq(rc, 2, "CLI: missing --serial -> exit 2")
    rc, out = cli(gw, "cert", "revoke", "--serial", "xyz")
    t.eq(rc, 2, "CLI: non-hex serial -> exit 2")
    t.eq(status(4), "active", "CLI usage errors revoked nothing")

    outf = os.path.join(gw.tmp, "cli.crl")
    rc, out = cli(gw, "crl", "--out", outf)
    t.ok(rc == 0 and os.path.exists(outf), "cmpgw crl --out: exit 0", out)
    if os.path.exists(outf):
        with open(outf, "rb") as f:
            der4 = f.read()
        text4 = crl_text(t, gw, der4, "cmpgw crl")
        t.ok(all(listed(text4, ser[k]) for k in (1, 2, 3)) and not listed(text4, ser[4]),
             "cmpgw crl lists exactly the revoked serials", text4)
        t.ok(der4 == get_crl(t, gw, "served after cmpgw crl"),
             "the gateway serves the CRL the CLI wrote (one CRL in the database)")

    # a revoked certificate can no longer renew / be used: its rr is refused too
    r = rr(gw, 2, certs[2], certs[2], keys[2])
    t.ok(r.rc != 0 and r.has("certRevoked"), "holder rr after CLI revoke -> certRevoked", r.out)
    t.ok(gw.alive(), "gateway still running")
    gw.stop()
    refresh_and_config(t, pg)
    pg.stop()


def raw_head(port):
    """HEAD over a raw socket: everything the server sends."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                   % CRL_PATH).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def refresh_and_config(t, pg):
    """CRL regenerated before nextUpdate; crl.* validation; HEAD sends no body."""
    def patch(cfg):
        cfg["crl"] = {"path": "/pki/crl", "validity_s": 60, "refresh_before_s": 58}
    global CRL_PATH
    CRL_PATH = "/pki/crl"
    gw = Gateway(t, pg, devices=2, name="revoke_refresh", patch=patch)
    gw.start()
    a = crl_number(crl_text(t, gw, get_crl(t, gw, "short-lived CRL"), "short-lived CRL"))
    raw = raw_head(gw.port)
    head, _, body = raw.partition(b"\r\n\r\n")
    t.ok(raw.startswith(b"HTTP/1.1 200") and b"application/pkix-crl" in head and body == b"",
         "HEAD over a raw socket: headers only", repr(raw[:300]))
    time.sleep(3)
    b = crl_number(crl_text(t, gw, get_crl(t, gw, "near nextUpdate"), "near nextUpdate"))
    t.ok(a is not None and b is not None and b > a,
         "less than refresh_before_s before nextUpdate -> regenerated (%s -> %s)" % (a, b))
    st, _, _ = http_post(gw.port, None, path="/crl/issuing-ca.crl", ctype=None, method="GET")
    t.eq(st, 404, "the default CRL path is not served when crl.path is changed")
    gw.stop()

    for name, crl, alias_paths, want in [
        ("refresh_before_s >= validity_s", {"validity_s": 100, "refresh_before_s": 100}, None,
         "crl.refresh_before_s"),
        ("crl.path under /.well-known/cmp", {"path": "/.well-known/cmp/crl"}, None, "crl.path"),
        ("crl.path is an alias path", {"path": "/pkix/"}, ["/pkix/"], "crl.path"),
    ]:
        cfg = json.loads(json.dumps(gw.cfg))
        cfg["crl"] = crl
        if alias_paths:
            cfg["aliases"][0]["paths"] = alias_paths
        path = os.path.join(gw.tmp, "bad.json")
        gw.write_config(cfg, path)
        shutil.copy(path, gw.path("bad.json"))
        rc, out = cmpgw("check", "--config", gw.path("bad.json"))
        t.ok(rc == 2 and want in out, "config: %s -> exit 2 naming %s" % (name, want), out)


if __name__ == "__main__":
    run(main)
