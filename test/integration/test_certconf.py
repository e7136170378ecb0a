#!/usr/bin/env python3
"""certConf checks, each answered with its exact PKIFailureInfo bit and
statusString and leaving the transaction untouched: unknown transactionID,
another signer, a bad protection signature, a wrong recipNonce, certReqId
or certHash, and the order in which they are checked when several are wrong
(RFC 4210 5.1.1 / 5.3.18). Then the good certConf confirms (pkiConf), a
repeat gets pkiConf again, a certConf without extraCerts is checked against
the stored signer, and one past its deadline (transaction revoked by the
sweep) is refused.

`openssl cmp` runs through a small proxy that forwards the ir and keeps the
certConf instead of forwarding it: the test then posts variants of that
real certConf, re-signed with the device key where the change would
otherwise break the signature."""

import http.client
import http.server
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAIL_BITS, CmpMsg, Gateway, Pg, add_cleanup, der_tlv,  # noqa: E402
                     flip_byte, free_port, openssl, resign, run)


class HoldCertConf:
    """HTTP proxy: forwards everything but certConf, which it keeps and
    answers with HTTP 502."""

    def __init__(self, gw):
        self.gw = gw
        self.held = []
        self.port = free_port()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                try:
                    kind = CmpMsg(body).body_type
                except Exception:  # noqa
                    kind = "?"
                if kind == "certConf":
                    proxy.held.append(body)
                    self.send_error(502)
                    return
                c = http.client.HTTPConnection("127.0.0.1", proxy.gw.port, timeout=30)
                try:
                    c.request("POST", self.path, body=body,
                              headers={"Content-Type": self.headers.get("Content-Type", "")})
                    r = c.getresponse()
                    data = r.read()
                    status = r.status
                    ctype = r.getheader("Content-Type") or "application/octet-stream"
                finally:
                    c.close()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        add_cleanup(self.close)

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def cert_der(pem):
    rc, out = openssl("x509", "-in", pem, "-outform", "DER", "-out", pem + ".der")
    if rc != 0:
        raise RuntimeError(out)
    with open(pem + ".der", "rb") as f:
        return f.read()


def cert_status(m):
    """The single CertStatus Tlv of a certConf."""
    return m.body.children()[0].children()[0]


def with_extra(der, certs):
    """der without protection and with extraCerts = certs (list of DER),
    or without extraCerts when certs is empty."""
    m = CmpMsg(der)
    out = m.header.raw + m.body.raw
    if certs:
        out += der_tlv(0xA1, der_tlv(0x30, b"".join(certs)))
    return der_tlv(0x30, out)


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=4, name="certconf")
    gw.start()
    proxy = HoldCertConf(gw)
    key = {k: gw.dev(k, ext="key") for k in (1, 2, 3)}

    def held_certconf(k):
        before = len(proxy.held)
        r = gw.cmp(k, server="127.0.0.1:%d" % proxy.port, timeout=20)
        t.ok(len(proxy.held) == before + 1, "device %d: ir answered, certConf held" % k, repr(r))
        return proxy.held[-1] if len(proxy.held) > before else None

    def tx_state(k):
        return gw.psql("SELECT t.state, c.status FROM transactions t JOIN certificates c"
                       " ON c.id = t.cert_id WHERE t.device_serial = 'ACME-%04d'"
                       " ORDER BY t.created_at DESC LIMIT 1" % k)

    def answer(der):
        status, _ctype, body = gw.post(der)
        try:
            return status, CmpMsg(body)
        except Exception:  # noqa
            return status, None

    def refused(name, der, fail, text, k=1):
        before = gw.counts()
        status, m = answer(der)
        t.ok(status == 200 and m is not None and m.body_type == "error",
             name + ": answered with an error message",
             "HTTP %s %s" % (status, m.describe() if m else None))
        if m is None:
            return
        t.eq(m.failnames, [fail], name + ": PKIFailureInfo " + fail)
        t.ok(any(text in s for s in m.texts), "%s: statusString %r" % (name, text), m.texts)
        after = gw.counts()
        t.eq((after["certificates"], after["transactions"], after["serials_touched"]),
             (before["certificates"], before["transactions"], before["serials_touched"]),
             name + ": nothing written")
        t.eq(tx_state(k), [["issued", "unconfirmed"]], name + ": transaction still issued")

    def accepted(name, der):
        status, m = answer(der)
        t.ok(status == 200 and m is not None and m.body_type == "pkiconf",
             name + ": pkiConf", "HTTP %s %s" % (status, m.describe() if m else None))

    cc = held_certconf(1)
    if cc is None:
        return
    m = CmpMsg(cc)
    t.eq(tx_state(1), [["issued", "unconfirmed"]], "device 1: transaction issued, certificate unconfirmed")

    # single faults, each re-signed by the device (a valid signature)
    tid = m.header_field(4)
    nonce = m.header_field(6)
    st = cert_status(m)
    chash, crid = st.children()[0], st.children()[1]
    bad_tid = resign(flip_byte(cc, tid.cstart), key[1])
    bad_nonce = resign(flip_byte(cc, nonce.cstart), key[1])
    bad_crid = resign(flip_byte(cc, crid.cstart), key[1])
    bad_hash = resign(flip_byte(cc, chash.cstart), key[1])
    dev2 = cert_der(gw.dev(2))
    other = resign(with_extra(cc, [dev2]), key[2])
    # a bad signature: the last byte of the ECDSA signature's s
    p = CmpMsg(cc).protection
    bad_sig = flip_byte(cc, p.end - 1)

    refused("unknown transactionID", bad_tid, "badRequest", "unknown transactionID")
    refused("signed by another device", other, "notAuthorized",
            "certConf not protected by the sender of the request")
    refused("bad protection signature", bad_sig, "badMessageCheck",
            "protection signature does not verify")
    refused("wrong recipNonce", bad_nonce, "badRecipientNonce",
            "recipNonce does not match the senderNonce of the response")
    refused("wrong certReqId", bad_crid, "badCertId", "certReqId does not match the request")
    refused("wrong certHash", bad_hash, "badCertId",
            "certHash does not match the issued certificate")

    # several faults: the first check in order decides the answer
    nonce_hash = flip_byte(flip_byte(cc, nonce.cstart), chash.cstart)
    refused("another signer and a wrong recipNonce",
            resign(with_extra(nonce_hash, [dev2]), key[2]), "notAuthorized",
            "certConf not protected by the sender of the request")
    signed = resign(nonce_hash, key[1])  # ECDSA: each signature differs, sign once
    refused("bad signature and a wrong recipNonce",
            flip_byte(signed, CmpMsg(signed).protection.end - 1), "badMessageCheck",
            "protection signature does not verify")
    refused("wrong recipNonce and certHash", resign(nonce_hash, key[1]), "badRecipientNonce",
            "recipNonce does not match the senderNonce of the response")
    refused("wrong certReqId and certHash",
            resign(flip_byte(flip_byte(cc, crid.cstart), chash.cstart), key[1]), "badCertId",
            "certReqId does not match the request")
    refused("unknown transactionID from another signer",
            resign(with_extra(flip_byte(cc, tid.cstart), [dev2]), key[2]), "badRequest",
            "unknown transactionID")

    accepted("the device's own certConf", cc)
    t.eq(tx_state(1), [["confirmed", "active"]], "certConf: transaction confirmed, certificate active")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0001'"), "enrolled",
         "certConf: serial enrolled")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'confirmed'"), "1",
         "certConf: one 'confirmed' audit row")
    accepted("a repeated certConf", cc)
    t.eq(tx_state(1), [["confirmed", "active"]], "repeated certConf: transaction still confirmed")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'confirmed'"), "1",
         "repeated certConf: no second audit row")

    # without extraCerts: checked against the signer stored with the ir
    cc2 = held_certconf(2)
    if cc2 is not None:
        bare = resign(with_extra(cc2, []), key[2])
        t.ok(CmpMsg(bare).extra is None, "certConf without extraCerts built")
        p3 = CmpMsg(bare).protection
        refused("no extraCerts, bad signature", flip_byte(bare, p3.end - 1), "badMessageCheck",
                "protection signature does not verify", k=2)
        accepted("certConf without extraCerts", bare)
        t.eq(tx_state(2), [["confirmed", "active"]],
             "certConf without extraCerts: transaction confirmed")

    # past the deadline: the sweep revoked the transaction
    cc3 = held_certconf(3)
    if cc3 is not None:
        gw.psql("UPDATE transactions SET state = 'revoked' WHERE device_serial = 'ACME-0003'")
        status, m3 = answer(cc3)
        t.ok(status == 200 and m3 is not None and m3.failnames == ["badRequest"] and
             any("confirmation deadline passed" in s for s in m3.texts),
             "certConf after the deadline: badRequest, deadline passed",
             m3.describe() if m3 else status)
        t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0003'"),
             "unconfirmed", "certConf after the deadline: certificate not activated")

    t.ok(FAIL_BITS["badRequest"] == 2, "fail bit table sane")
    proxy.close()
    gw.stop()


if __name__ == "__main__":
    run(main)
