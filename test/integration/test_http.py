#!/usr/bin/env python3
"""HTTP details (issue 10 finding 8): a 405 names the allowed methods in
`Allow` (POST on CMP paths; GET, HEAD on the CRL path) and keeps the
connection usable; error answers carry a short text/plain body; repeated
slashes in a path count as one (README, Endpoints) for CMP aliases, the
CRL and 404s alike; a path that decodes to a NUL byte is 400."""

import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, http_post, read_response, run  # noqa: E402

CMP_PATH = "/.well-known/cmp/p/3gpp"


def raw(method, path, body=b"", ctype="application/pkixcmp"):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    if body or method == "POST":
        h += ["Content-Type: %s" % ctype, "Content-Length: %d" % len(body)]
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def exchange(port, method, path, body=b"", head_only=False):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw(method, path, body))
        return read_response(s, head_only)


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=4, name="http")
    gw.start()
    crl = gw.cfg.get("crl", {}).get("path") or "/crl/issuing-ca.crl"
    garbage = b"\x30\x03\x02\x01\x05" + b"not a PKIMessage"

    # ---- 405 with Allow --------------------------------------------------------
    for method in ("GET", "PUT", "DELETE"):
        st, hd, body = exchange(gw.port, method, CMP_PATH, b"x" if method == "PUT" else b"")
        t.eq(st, 405, "%s on a CMP path -> 405" % method)
        t.eq(hd.get("allow"), "POST", "%s on a CMP path: Allow: POST" % method, hd)
    t.eq(hd.get("content-type", "").split(";")[0], "text/plain",
         "405 has a text/plain body", hd)
    t.ok(body.startswith(b"405 "), "405 body names the status", body)
    st, hd, body = exchange(gw.port, "HEAD", CMP_PATH, head_only=True)
    t.eq((st, hd.get("allow")), (405, "POST"), "HEAD on a CMP path -> 405, Allow: POST", hd)
    st, hd, _ = exchange(gw.port, "GET", "/.well-known/cmp")
    t.eq((st, hd.get("allow")), (405, "POST"), "GET on the default alias -> 405, Allow: POST")
    st, hd, _ = exchange(gw.port, "POST", crl, garbage)
    t.eq(st, 405, "POST on the CRL path -> 405")
    t.eq(hd.get("allow"), "GET, HEAD", "POST on the CRL path: Allow: GET, HEAD", hd)
    st, hd, body = exchange(gw.port, "GET", crl)
    t.eq((st, hd.get("content-type")), (200, "application/pkix-crl"), "GET on the CRL path -> CRL")

    # ---- an error answer keeps the connection usable -----------------------------
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            got = []
            for m, p, b in (("GET", CMP_PATH, b""), ("POST", "/nope", garbage),
                            ("POST", CMP_PATH, garbage), ("GET", crl, b"")):
                s.sendall(raw(m, p, b))
                got.append(read_response(s)[0])
        t.eq(got, [405, 404, 400, 200],
             "HTTP/1.1: 405, 404, 400 and the CRL on one connection")
    except Exception as e:  # noqa
        t.ok(False, "HTTP/1.1: 405, 404, 400 and the CRL on one connection", repr(e))

    # ---- 404 -----------------------------------------------------------------------
    for p in ("/nope", "/.well-known/cmp/p/nosuchalias", "/.well-known/cmp/p/3gpp/x",
              "//nope//"):
        st, hd, body = exchange(gw.port, "POST", p, garbage)
        t.eq(st, 404, "POST %s -> 404" % p)
    t.eq(hd.get("content-type", "").split(";")[0], "text/plain", "404 has a text/plain body")
    st, _, _ = exchange(gw.port, "POST", "/.well-known/cmp/p/3gpp%00x", garbage)
    t.eq(st, 400, "a path with %00 -> 400")

    # ---- repeated slashes count as one --------------------------------------------
    for p in ("//.well-known//cmp/p/3gpp", "/.well-known///cmp//p//3gpp//",
              "//.well-known/cmp"):
        st, _, _ = exchange(gw.port, "POST", p, garbage)
        t.eq(st, 400, "POST %s reaches the alias (garbage -> 400, not 404)" % p)
        st, hd, _ = exchange(gw.port, "GET", p)
        t.eq((st, hd.get("allow")), (405, "POST"), "GET %s -> 405 as the alias" % p)
    st, hd, _ = exchange(gw.port, "GET", "/" + crl.replace("/", "//"))
    t.eq((st, hd.get("content-type")), (200, "application/pkix-crl"),
         "GET %s -> the CRL" % ("/" + crl.replace("/", "//")))
    st, _, _ = http_post(gw.port, garbage, "//pkix//")
    t.eq(st, 400, "POST //pkix// reaches the legacy alias path /pkix/")

    r = gw.cmp(1, path="/.well-known//cmp/p//3gpp", confirm="explicit")
    t.ok(r.rc == 0, "openssl cmp -path /.well-known//cmp/p//3gpp enrolls (ir + certConf)",
         repr(r))
    r = gw.cmp(2, path="pkix//", confirm="implicit")
    t.ok(r.rc == 0, "openssl cmp -path pkix// enrolls at the legacy alias", repr(r))
    t.eq(gw.psql("SELECT device_serial, status FROM certificates ORDER BY device_serial"),
         [["ACME-0001", "active"], ["ACME-0002", "active"]],
         "both enrollments stored under their alias")

    t.ok(gw.alive(), "cmpgw serve is still running")
    gw.stop()


if __name__ == "__main__":
    run(main)
