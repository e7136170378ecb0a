#!/usr/bin/env python3
"""Issue 10 finding 7: unauthenticated bytes cost almost nothing.

Against a real cmpgw serve and PostgreSQL (one worker, log.level debug, so
that the gateway logs "PBMAC key derivation" at its one key derivation
call site and the per-worker limits are the process's):
(a) bodies that are not a PKIMessage (garbage, a DER length bomb, 10,000
    nested SEQUENCEs, a certificate) -> HTTP 400, no CMP answer, alive;
(g) a token enrollment with `openssl cmp -ref/-secret` still works;
(b) an ir with an unknown token reference and iterationCount 100,000 ->
    badMessageCheck "unknown token reference", signed, no key derivation;
(c) iterationCount above tokens.max_iterations with a real token ->
    badMessageCheck naming tokens.max_iterations, no key derivation;
(e) more than limits.max_extra_certs extraCerts -> badRequest;
(f) 100 unauthenticated refusals from one peer -> 60 audit rows and one
    audit_suppressed row;
(d) 10 wrong secrets for one reference: each one key derivation; the 11th
    request, and any for that reference from another peer, and any from
    that peer for another (good) token -> notAuthorized "too many failed
    MAC attempts; retry later" without key derivation; a third peer with
    the good token still enrolls.
Peers are told apart by source address (127.0.0.x all reach the gateway
on 127.0.0.1)."""

import base64
import http.client
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CmpMsg, Gateway, Pg, run  # noqa: E402
from test_token import Client, create  # noqa: E402
from test_token import patch as token_patch  # noqa: E402

CMPREQ = os.environ.get("CMPREQ_BIN", "cmpreq")
PBM_OID = bytes.fromhex("06092a864886f67d07420d")  # id-PasswordBasedMac
KDF = "PBMAC key derivation"
RATE_TEXT = "too many failed MAC attempts; retry later"


def patch(cfg):
    token_patch(cfg)
    cfg.setdefault("log", {})["level"] = "debug"
    cfg["workers"] = 1  # the limits are per worker thread (docs/CONFIG.md)
    cfg.setdefault("tokens", {})["max_iterations"] = 100000


def post_from(gw, src, body, path="/.well-known/cmp/p/token"):
    """POST body from source address src; (status, content-type, body)."""
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30, source_address=(src, 0))
    try:
        c.request("POST", path, body=body,
                  headers={"Content-Type": "application/pkixcmp", "Connection": "close"})
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()


def nested(depth):
    der = b"\x30\x00"
    for _ in range(depth):
        n = len(der)
        if n < 0x80:
            hdr = bytes([0x30, n])
        elif n < 0x100:
            hdr = bytes([0x30, 0x81, n])
        elif n < 0x10000:
            hdr = bytes([0x30, 0x82, n >> 8, n & 0xFF])
        else:
            hdr = bytes([0x30, 0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF])
        der = hdr + der
    return der


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=2, name="unauth", patch=patch)
    gw.start()
    work = os.path.join(gw.tmp, "unauth")
    os.makedirs(work, exist_ok=True)
    seq = [0]

    def kdfs():
        return gw.log_text().count(KDF)

    def cmpreq(*args):
        seq[0] += 1
        out = os.path.join(work, "req%d.der" % seq[0])
        p = subprocess.run([CMPREQ] + list(args) + ["--out", out], capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("cmpreq %s: %s" % (" ".join(args), p.stderr))
        with open(out, "rb") as f:
            return f.read()

    def token_ir(ref, secret, iterations=500):
        return cmpreq("ir", "--ref", ref, "--secret", secret, "--iterations", str(iterations),
                      "--newkey", gw.dev(1, "new", "key"), "--subject", "requested")

    def answer(name, status, ctype, body):
        t.eq(status, 200, name + ": HTTP 200")
        try:
            return CmpMsg(body)
        except Exception as e:  # noqa
            t.ok(False, name + ": answer is a PKIMessage", "%s %r" % (e, body[:40]))
            return None

    def refused(name, src, body, bit, text, path="/.well-known/cmp/p/token", kdf=0):
        k0, a0 = kdfs(), gw.counts()
        m = answer(name, *post_from(gw, src, body, path))
        if m is None:
            return None
        t.eq(m.failnames, [bit], name + ": failInfo " + bit, m.describe())
        t.ok(text in " ".join(m.texts), name + ": statusString says %r" % text, m.texts)
        t.eq(kdfs() - k0, kdf, name + ": %d key derivation(s)" % kdf)
        a1 = gw.counts()
        t.eq((a1["certificates"], a1["transactions"]), (a0["certificates"], a0["transactions"]),
             name + ": no certificate or transaction written")
        return m

    # ---- (a) not a PKIMessage -> HTTP 400 -----------------------------------
    with open(gw.path("pki", "operator-root.crt")) as f:
        pem = f.read()
    cert_der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
    bodies = [
        ("random garbage", b"\x00" + os.urandom(300)),
        ("DER length bomb", bytes.fromhex("30847fffffff") + b"\x02\x01\x00"),
        ("10,000 nested SEQUENCEs", nested(10000)),
        ("a certificate as the body", cert_der),
    ]
    t.ok(len(nested(10000)) <= 65536, "the nested body fits http.max_body")
    for name, body in bodies:
        status, ctype, rsp = gw.post(body)
        t.eq(status, 400, name + ": HTTP 400")
        t.ok("pkixcmp" not in (ctype or ""), name + ": not application/pkixcmp", ctype)
        t.ok(gw.alive(), name + ": gateway alive")

    # ---- (g) a good token enrollment (openssl cmp) ---------------------------
    c = Client(gw)
    ref, secret = create(gw, identity="node-0001")
    k0 = kdfs()
    rc, out, certout, msgs = c.ir(ref, secret)
    t.ok(rc == 0 and os.path.exists(certout), "openssl cmp -ref/-secret enrolls", out)
    t.eq(kdfs() - k0, 2, "good enrollment: two key derivations (ir, certConf)")

    # ---- (b) unknown reference, 100,000 iterations -------------------------
    m = refused("unknown reference, 100000 iterations", "127.0.0.1",
                token_ir("0123456789abcdef0123456789abcdef", "x" * 24, 100000),
                "badMessageCheck", "unknown token reference")
    if m:
        t.ok(PBM_OID not in m.der, "unknown reference: the answer is signed, not MAC-protected")

    # ---- (c) iterationCount above tokens.max_iterations, real token ----------
    ref2, secret2 = create(gw, identity="node-0002")
    refused("iterationCount 100001 > tokens.max_iterations", "127.0.0.1",
            token_ir(ref2, secret2, 100001), "badMessageCheck", "tokens.max_iterations")
    t.eq(gw.scalar("SELECT state FROM tokens WHERE ref = '%s'" % ref2), "active",
         "refused parameters leave the token active")

    # ---- (e) too many extraCerts ---------------------------------------------
    extra = []
    for _ in range(10):
        extra += ["--extracerts", gw.path("vendor", "vendor-ca.crt")]
    body = cmpreq("ir", "--cert", gw.dev(1), "--key", gw.dev(1, ext="key"),
                  "--newkey", gw.dev(1, "new", "key"), *extra)
    refused("11 extraCerts", "127.0.0.1", body, "badRequest",
            "too many certificates in extraCerts", path="/.well-known/cmp/p/3gpp")

    # ---- (f) 100 unauthenticated refusals from one peer ----------------------
    peer = "127.0.0.4"
    body = token_ir("fedcba9876543210fedcba9876543210", "y" * 24, 100000)
    a0 = int(gw.scalar("SELECT coalesce(max(id), 0) FROM audit"))
    k0 = kdfs()
    bits = set()
    for _ in range(100):
        status, ctype, rsp = post_from(gw, peer, body)
        bits.add((status, tuple(CmpMsg(rsp).failnames) if status == 200 else None))
    t.eq(bits, {(200, ("badMessageCheck",))}, "100 refusals: each badMessageCheck")
    t.eq(kdfs() - k0, 0, "100 refusals: no key derivation")
    rows = gw.psql("SELECT event, count(*) FROM audit WHERE id > %d AND peer LIKE '%s%%'"
                   " GROUP BY event ORDER BY event" % (a0, peer))
    t.eq(rows, [["audit_suppressed", "1"], ["token_rejected", "60"]],
         "100 refusals from one peer: 60 audit rows and one audit_suppressed row")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE id > %d" % a0), "61",
         "no other audit rows")

    # ---- (d) failed MAC attempts per peer and per reference --------------------
    ref3, secret3 = create(gw, identity="node-0003")
    ref4, secret4 = create(gw, identity="node-0004")
    bad = token_ir(ref3, "A" * 24 if secret3 != "A" * 24 else "B" * 24)
    for i in range(10):
        refused("wrong secret %d" % (i + 1), "127.0.0.1", bad, "badMessageCheck",
                "does not verify", kdf=1)
    refused("11th wrong secret", "127.0.0.1", bad, "notAuthorized", RATE_TEXT)
    refused("right secret for the blocked reference from another peer", "127.0.0.2",
            token_ir(ref3, secret3), "notAuthorized", RATE_TEXT)
    refused("another token from the blocked peer", "127.0.0.1", token_ir(ref4, secret4),
            "notAuthorized", RATE_TEXT)
    k0 = kdfs()
    status, ctype, rsp = post_from(gw, "127.0.0.3", token_ir(ref4, secret4))
    m = answer("another peer, another token", status, ctype, rsp)
    t.ok(m is not None and m.body_type == "ip" and m.failnames == [],
         "another peer with another token: ip", m.describe() if m else "")
    t.eq(kdfs() - k0, 1, "another peer, another token: one key derivation")
    t.ok(gw.alive(), "gateway alive at the end")
    gw.stop()


if __name__ == "__main__":
    run(main)
