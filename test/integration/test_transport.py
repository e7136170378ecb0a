#!/usr/bin/env python3
"""HTTP transport (RFC 6712 / RFC 9811): wrong method 405, wrong content type
415, oversize body 413, unknown path 404, a body that is not a PKIMessage
-> HTTP 400 (nothing signed), keep-alive on HTTP/1.0 and HTTP/1.1 with a
decodable but rejected PKIMessage (a CMP error answer each time), an HTTP
error that leaves the connection usable, the default and legacy alias
paths."""

import http.client
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAIL_BITS, CmpMsg, Gateway, Pg, capture_request, read_response,  # noqa: E402
                     flip_byte, http_post, run)

CMP_PATH = "/.well-known/cmp/p/3gpp"


def raw_request(path, body, version="HTTP/1.0", keep_alive=True,
                ctype="application/pkixcmp"):
    h = ["POST %s %s" % (path, version), "Host: 127.0.0.1",
         "Content-Type: %s" % ctype, "Content-Length: %d" % len(body)]
    if keep_alive:
        h.append("Connection: keep-alive")
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def is_cmp_error(t, name, status, ctype, body, bit=None):
    t.eq(status, 200, name + ": HTTP 200")
    t.eq((ctype or "").split(";")[0].strip().lower(), "application/pkixcmp",
         name + ": Content-Type application/pkixcmp")
    try:
        m = CmpMsg(body)
    except Exception as e:  # noqa
        t.ok(False, name + ": body is a PKIMessage", "%s: %r" % (e, body[:80]))
        return
    t.eq(m.body_type, "error", name + ": error body", m.describe())
    if bit:
        t.ok(FAIL_BITS[bit] in m.failbits, "%s: PKIFailureInfo %s" % (name, bit), m.describe())


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=4, name="transport")
    gw.start()
    garbage = b"\x30\x03\x02\x01\x05" + b"not a PKIMessage"
    # a real ir whose signature does not verify: decodes, gets a protected
    # CMP error (badMessageCheck), stores nothing; can be sent repeatedly
    ir = capture_request(gw, 4)
    prot = CmpMsg(ir).protection
    badsig = flip_byte(ir, prot.end - 1)

    # ---- HTTP-level errors ---------------------------------------------------------
    status, _, _ = http_post(gw.port, None, CMP_PATH, ctype=None, method="GET")
    t.eq(status, 405, "GET -> 405")
    status, _, _ = http_post(gw.port, b"x", CMP_PATH, ctype=None, method="PUT")
    t.eq(status, 405, "PUT -> 405")
    status, _, _ = http_post(gw.port, garbage, CMP_PATH, ctype="text/plain")
    t.eq(status, 415, "POST text/plain -> 415")
    status, _, _ = http_post(gw.port, garbage, CMP_PATH, ctype=None)
    t.eq(status, 415, "POST without Content-Type -> 415")
    status, _, _ = http_post(gw.port, b"\x30" * 70000, CMP_PATH)
    t.eq(status, 413, "POST 70000 bytes (> http.max_body 65536) -> 413")
    status, _, _ = http_post(gw.port, garbage, "/nope")
    t.eq(status, 404, "POST /nope -> 404")
    status, _, _ = http_post(gw.port, garbage, "/.well-known/cmp/p/nosuchalias")
    t.eq(status, 404, "POST to an unknown alias label -> 404")

    # ---- not a PKIMessage at all: HTTP 400, nothing signed --------------------------
    status, ctype, body = http_post(gw.port, garbage, CMP_PATH)
    t.eq(status, 400, "garbage DER -> HTTP 400")
    t.ok(not (ctype or "").startswith("application/pkixcmp"), "garbage DER: no CMP answer", ctype)
    status, ctype, body = http_post(gw.port, b"\x00\x01\x02", CMP_PATH)
    t.eq(status, 400, "non-DER bytes -> HTTP 400")

    # ---- keep-alive, HTTP/1.0 as openssl cmp sends it ----------------------------------
    try:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
            answers = []
            for _ in range(2):
                s.sendall(raw_request(CMP_PATH, badsig, "HTTP/1.0", keep_alive=True))
                answers.append(read_response(s))
        t.eq([a[0] for a in answers], [200, 200],
             "HTTP/1.0 keep-alive: two requests on one connection both answered")
        for i, (st, hd, bd) in enumerate(answers):
            is_cmp_error(t, "HTTP/1.0 keep-alive answer %d" % (i + 1), st,
                         hd.get("content-type"), bd, "badMessageCheck")
    except Exception as e:  # noqa
        t.ok(False, "HTTP/1.0 keep-alive: two requests on one connection both answered", repr(e))

    # ---- keep-alive, HTTP/1.1 (persistent by default) --------------------------------
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    try:
        got = []
        for _ in range(2):
            c.request("POST", CMP_PATH, body=badsig,
                      headers={"Content-Type": "application/pkixcmp"})
            r = c.getresponse()
            is_cmp_error(t, "HTTP/1.1 answer %d" % (len(got) + 1), r.status,
                         r.getheader("Content-Type"), r.read(), "badMessageCheck")
            got.append(r.status)
        t.eq(got, [200, 200], "HTTP/1.1: two requests on one connection both answered")
    except Exception as e:  # noqa
        t.ok(False, "HTTP/1.1: two requests on one connection both answered", repr(e))
    finally:
        c.close()

    # ---- HTTP errors on a keep-alive connection do not wedge it ----------------------
    for version in ("HTTP/1.0", "HTTP/1.1"):
        try:
            with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
                got = []
                for body, ctype in ((garbage, "text/plain"), (garbage, "application/pkixcmp"),
                                    (badsig, "application/pkixcmp")):
                    s.sendall(raw_request(CMP_PATH, body, version, keep_alive=True, ctype=ctype))
                    got.append(read_response(s)[0])
            t.eq(got, [415, 400, 200],
                 "%s: 415, 400, then a CMP answer on the same connection" % version)
        except Exception as e:  # noqa
            t.ok(False, "%s: 415, 400, then a CMP answer on the same connection" % version,
                 repr(e))

    # ---- the default and the legacy alias paths, with the real client -----------------
    r = gw.cmp(1, path=".well-known/cmp", confirm="explicit")
    t.ok(r.rc == 0, "openssl cmp on /.well-known/cmp (default alias) enrolls", repr(r))
    r = gw.cmp(2, path="pkix/", confirm="explicit")
    t.ok(r.rc == 0, "openssl cmp on the legacy alias path /pkix/ enrolls", repr(r))
    t.eq(gw.psql("SELECT device_serial, status FROM certificates ORDER BY device_serial"),
         [["ACME-0001", "active"], ["ACME-0002", "active"]],
         "both enrollments confirmed (certConf on its own connection)")

    t.ok(gw.alive(), "cmpgw serve is still running")
    gw.stop()


if __name__ == "__main__":
    run(main)
