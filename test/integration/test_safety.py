#!/usr/bin/env python3
"""Issue 10, findings 12 and 13: the protecting certificate must be the key
senderKID names (a senderKID that differs from the certificate's
subjectKeyIdentifier, or a senderKID with a certificate that has none, is
badMessageCheck), and aliases[].message_time_skew_s 0 means messageTime is
not checked (any other value bounds it: badTime). Requests are captured from
the stock `openssl cmp` client, their header edited and re-signed with the
device key, and posted raw."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAIL_BITS, CmpMsg, Gateway, Pg, capture_request, der_tlv,  # noqa: E402
                     openssl, resign, run)


def with_header(der, edit):
    """der with its PKIHeader's children replaced by edit(list of Tlv raws
    keyed by tag); the protection is left as it was (resign afterwards)."""
    msg = CmpMsg(der)
    kids = [(c.tag, c.raw) for c in msg.header.children()]
    kids = edit(kids)
    header = der_tlv(0x30, b"".join(raw for _tag, raw in kids))
    rest = b"".join(p.raw for p in msg.parts[1:])
    return der_tlv(0x30, header + rest)


def set_field(tag, content_tlv):
    """An edit that sets the header's EXPLICIT [tag & 0x1f] field, keeping
    the fields in tag order (RFC 4210 5.1.1)."""
    def edit(kids):
        out = [k for k in kids if k[0] != tag]
        new = (tag, der_tlv(tag, content_tlv))
        for i, (t, _raw) in enumerate(out):
            if i >= 3 and t > tag:
                return out[:i] + [new] + out[i:]
        return out + [new]
    return edit


def gentime(offset_s):
    import time
    s = time.strftime("%Y%m%d%H%M%SZ", time.gmtime(time.time() + offset_s))
    return der_tlv(0x18, s.encode())


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=4, name="safety")
    gw.start()
    dev_key = gw.dev(1, ext="key")

    def answer(name, der):
        status, ctype, body = gw.post(der)
        t.eq(status, 200, name + ": HTTP 200")
        try:
            return CmpMsg(body)
        except Exception as e:  # noqa
            t.ok(False, name + ": answer is a PKIMessage", "%r %r" % (e, body[:64]))
            return None

    def refused(name, der, bit, text):
        before = gw.counts()
        sigs = gw_log().count("CA signature:")
        m = answer(name, der)
        if m is None:
            return
        t.ok(m.body_type == "error" and FAIL_BITS[bit] in m.failbits,
             "%s: error with PKIFailureInfo %s" % (name, bit), m.describe())
        t.ok(any(text in x for x in m.texts), "%s: statusString says %r" % (name, text),
             m.texts)
        after = gw.counts()
        t.eq((after["certificates"], after["transactions"]),
             (before["certificates"], before["transactions"]),
             name + ": no certificate or transaction row")
        t.eq(gw_log().count("CA signature:"), sigs, name + ": no CA signature")

    def gw_log():
        with open(gw.log, errors="replace") as f:
            return f.read()

    # ---- finding 12: senderKID must name the protecting certificate's key ----
    req = capture_request(gw, 1)
    kid = CmpMsg(req).header_field(2)
    t.ok(kid is not None and kid.tag == 0x04, "openssl cmp sends senderKID (the device SKI)")
    other = bytes(b ^ 0x5A for b in kid.content) if kid is not None else b"\x01" * 20
    bad = resign(with_header(req, set_field(0xA2, der_tlv(0x04, other))), dev_key)
    refused("senderKID differs from the certificate's SKI", bad, "badMessageCheck",
            "senderKID does not match")

    # a protecting certificate without subjectKeyIdentifier, with a senderKID
    nokid_key = os.path.join(gw.tmp, "noski.key")
    nokid_crt = os.path.join(gw.tmp, "noski.crt")
    csr = os.path.join(gw.tmp, "noski.csr")
    ext = os.path.join(gw.tmp, "noski.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "subjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n")
    rc, out = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", nokid_key)
    rc2, out2 = openssl("req", "-new", "-key", nokid_key, "-subj",
                        "/serialNumber=ACME-0002/O=Acme/CN=Acme Router", "-out", csr)
    rc3, out3 = openssl("x509", "-req", "-in", csr, "-CA", gw.path("vendor", "vendor-ca.crt"),
                        "-CAkey", gw.path("vendor", "vendor-ca.key"), "-CAcreateserial",
                        "-days", "30", "-extfile", ext, "-out", nokid_crt)
    t.ok(rc == rc2 == rc3 == 0, "a vendor certificate without subjectKeyIdentifier made",
         out + out2 + out3)
    rc, text = openssl("x509", "-in", nokid_crt, "-noout", "-text")
    t.ok("Subject Key Identifier" not in text, "it really has no subjectKeyIdentifier")
    req2 = capture_request(gw, 2, cert=nokid_crt, key=nokid_key)
    t.ok(CmpMsg(req2).header_field(2) is None,
         "openssl cmp sends no senderKID for a certificate without SKI")
    bad2 = resign(with_header(req2, set_field(0xA2, der_tlv(0x04, b"\x11" * 20))), nokid_key)
    refused("senderKID with a protecting certificate without SKI", bad2, "badMessageCheck",
            "no subjectKeyIdentifier")

    # control: the unmodified request re-signed is accepted (so the edit is
    # what was refused, not the re-signing)
    m = answer("unmodified request", resign(req, dev_key))
    t.ok(m is not None and m.body_type == "ip", "the same request without the edit gets an ip",
         m.describe() if m else None)

    # ---- finding 13: message_time_skew_s ----------------------------------
    req3 = capture_request(gw, 3)
    late = resign(with_header(req3, set_field(0xA0, gentime(-7200))), gw.dev(3, ext="key"))
    refused("messageTime 2 h old with the default skew (300 s)", late, "badTime",
            "messageTime")
    gw.cfg["aliases"][0]["message_time_skew_s"] = 0
    gw.write_config(gw.cfg)
    gw.restart()
    m = answer("messageTime 2 h old with message_time_skew_s 0", late)
    t.ok(m is not None and m.body_type == "ip" and m.status_infos()[0][0] in (0, 1),
         "message_time_skew_s 0: messageTime is not checked (ip granted)",
         m.describe() if m else None)

    t.ok(gw.alive(), "cmpgw serve is still running")
    gw.stop()


if __name__ == "__main__":
    run(main)
