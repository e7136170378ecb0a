#!/usr/bin/env python3
"""Rejections: untrusted vendor chain, expired vendor certificate, serial not
on the list, blocked serial, tampered protection, bad POP (raVerified and a
wrong POPO signature), replayed transactionID. Each must be answered with
the right PKIFailureInfo bit and write nothing but audit rows."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAIL_BITS, CmpMsg, Gateway, Pg, capture_request,  # noqa: E402
                     cmpgw, flip_byte, make_root, popo_signature, resign, run,
                     sign_cert, utc_stamp)

DEVICES = 8  # ACME-0008 is not on the serial list


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=DEVICES, name="reject")
    gw.start()

    def nothing_written(name, before, tid=None, audit=True):
        after = gw.counts()
        t.eq(after["certificates"], before["certificates"], name + ": no certificates row")
        t.eq(after["transactions"], before["transactions"], name + ": no transactions row")
        t.eq(after["serials_touched"], before["serials_touched"],
             name + ": no serial state/binding changed")
        if audit:
            t.ok(after["audit"] > before["audit"], name + ": an audit row records the rejection",
                 gw.psql("SELECT event, detail FROM audit ORDER BY id DESC LIMIT 3"))
        else:
            # the sender is not authenticated: an audit row is optional (the
            # serve log carries the reason); nothing else may be written
            t.diag("%s: %d audit row(s) written" % (name, after["audit"] - before["audit"]))
        if tid is not None:
            t.eq(gw.scalar("SELECT count(*) FROM transactions WHERE tid = '\\x%s'" % tid.hex()),
                 "0", name + ": its transactionID is not stored")

    def cmp_rejected(name, fail, r, text=None):
        t.ok(r.rc != 0, name + ": openssl cmp fails", repr(r))
        t.ok(r.has(fail), "%s: failure info %s in the client output" % (name, fail), r.out)
        if text:
            t.ok(r.has(text), "%s: statusString mentions %r" % (name, text), r.out)
        t.ok(not os.path.exists(r.certout), name + ": no certificate written")

    def raw_rejected(name, req, fail):
        """POST req raw; the answer must be HTTP 200 pkixcmp with failInfo bit."""
        status, ctype, body = gw.post(req)
        t.eq(status, 200, name + ": HTTP 200")
        t.eq((ctype or "").split(";")[0].strip().lower(), "application/pkixcmp",
             name + ": Content-Type application/pkixcmp")
        try:
            m = CmpMsg(body)
        except Exception as e:  # noqa
            t.ok(False, name + ": response is a PKIMessage", "%s: %r" % (e, body[:64]))
            return None
        t.ok(m.body_type == "error" or (m.body_type == "ip" and m.status_infos()
                                        and m.status_infos()[0][0] == 2),
             name + ": answered with error (or ip rejection)", m.describe())
        t.ok(FAIL_BITS[fail] in m.failbits, "%s: PKIFailureInfo %s(%d)" % (name, fail, FAIL_BITS[fail]),
             m.describe())
        t.ok(m.transaction_id == CmpMsg(req).transaction_id,
             name + ": response echoes the transactionID")
        t.ok(m.protection is not None, name + ": the error answer is protected (signed by cmpgw)")
        texts = " ".join(m.texts)
        t.ok(texts.strip() != "", name + ": statusString names the reason", m.describe())
        leaks = [w for w in ("SELECT", "INSERT", "plpgsql", "postgres", gw.tmp, "/tmp/", ".c:")
                 if w.lower() in texts.lower()]
        t.eq(leaks, [], name + ": no internal detail (SQL, paths) in the statusString", texts)
        return m

    # ---- untrusted vendor chain -------------------------------------------
    evil_root, evil_key = make_root(gw.tmp, "evil-root", "/O=Evil/CN=Evil Root CA")
    evil_crt, evil_dev_key = sign_cert(gw.tmp, "evil-0001", "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                                       evil_root, evil_key)
    before = gw.counts()
    r = gw.cmp(1, cert=evil_crt, key=evil_dev_key, extracerts=evil_root)
    cmp_rejected("untrusted chain", "signerNotTrusted", r)
    nothing_written("untrusted chain", before)

    # ---- expired vendor certificate (signed by the real vendor CA) ---------
    exp_crt, exp_key = sign_cert(gw.tmp, "expired-0001", "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                                 gw.path("vendor", "vendor-ca.crt"), gw.path("vendor", "vendor-ca.key"),
                                 startdate=utc_stamp(-400 * 86400), enddate=utc_stamp(-86400))
    before = gw.counts()
    r = gw.cmp(1, cert=exp_crt, key=exp_key)
    cmp_rejected("expired vendor cert", "signerNotTrusted", r, text="expired")
    nothing_written("expired vendor cert", before)

    # ---- serial not on the list --------------------------------------------
    before = gw.counts()
    r = gw.cmp(DEVICES)
    cmp_rejected("serial not on the list", "notAuthorized", r)
    nothing_written("serial not on the list", before)

    # ---- blocked serial -------------------------------------------------------
    rc, out = cmpgw("serials", "import", "--config", gw.config, "--blocked", "acme", "-",
                    input=b"ACME-0002\n")
    t.ok(rc == 0, "serials import --blocked ACME-0002", out)
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0002'"), "blocked",
         "ACME-0002 is blocked in the database")
    before = gw.counts()
    r = gw.cmp(2)
    cmp_rejected("blocked serial", "notAuthorized", r)
    nothing_written("blocked serial", before)
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0002'"), "blocked",
         "blocked serial stays blocked")

    # ---- tampered protection ---------------------------------------------------
    req = capture_request(gw, 3)
    m = CmpMsg(req)
    t.eq(m.body_type, "ir", "captured request is an ir")
    t.ok(m.protection is not None, "captured ir is protected")
    if m.protection is not None:
        # BIT STRING inside [0]: flip a byte well inside the ECDSA r value
        bs = m.protection.children()[0]
        bad = flip_byte(req, bs.cstart + 8, 0x40)
        before = gw.counts()
        raw_rejected("tampered protection", bad, "badMessageCheck")
        nothing_written("tampered protection", before, m.transaction_id, audit=False)
        tid_hex = m.transaction_id.hex()
        t.ok(any(tid_hex in line and "reject" in line.lower() for line in gw.log_text().splitlines()),
             "tampered protection: the serve log carries the rejection for that tid",
             gw.log_tail(8))

    # ---- bad POP: raVerified from a device ----------------------------------------
    before = gw.counts()
    r = gw.cmp(3, extra=["-popo", "0"])
    cmp_rejected("raVerified POP", "badPOP", r)
    nothing_written("raVerified POP", before)

    # ---- bad POP: wrong POPO signature, valid protection ---------------------------
    # control first: a captured ir re-protected by us (unchanged) is accepted,
    # which proves the re-signing below produces a valid protection.
    ctl = resign(capture_request(gw, 4), gw.dev(4, ext="key"))
    status, ctype, body = gw.post(ctl)
    try:
        cm = CmpMsg(body)
        ok = cm.body_type == "ip" and cm.status_infos() and cm.status_infos()[0][0] in (0, 1)
    except Exception as e:  # noqa
        cm, ok = None, False
    t.ok(status == 200 and ok, "control: re-protected captured ir is accepted (ip)",
         "HTTP %s %s" % (status, cm.describe() if cm else body[:80]))

    req = capture_request(gw, 3)
    m = CmpMsg(req)
    sig = popo_signature(m)
    t.ok(sig is not None, "captured ir carries a signature POPO")
    if sig is not None:
        bad = resign(flip_byte(req, sig.cstart + 8, 0x40), gw.dev(3, ext="key"))
        before = gw.counts()
        raw_rejected("wrong POPO signature", bad, "badPOP")
        nothing_written("wrong POPO signature", before, m.transaction_id)

    # ---- replayed transactionID -----------------------------------------------------
    req = capture_request(gw, 5)
    tid = CmpMsg(req).transaction_id
    before = gw.counts()
    status, ctype, body = gw.post(req)
    try:
        first = CmpMsg(body)
        ok = first.body_type == "ip" and first.status_infos()[0][0] in (0, 1)
    except Exception as e:  # noqa
        first, ok = None, False
    t.ok(status == 200 and ok, "replay: the first ir is accepted (ip)",
         "HTTP %s %s" % (status, first.describe() if first else body[:80]))
    mid = gw.counts()
    t.eq(mid["certificates"], before["certificates"] + 1, "replay: first ir wrote one certificate")
    raw_rejected("replayed transactionID", req, "transactionIdInUse")
    after = gw.counts()
    t.eq(after["certificates"], mid["certificates"], "replayed transactionID: no certificates row")
    t.eq(after["transactions"], mid["transactions"], "replayed transactionID: no transactions row")
    t.ok(after["audit"] > mid["audit"], "replayed transactionID: an audit row records it")
    t.eq(gw.scalar("SELECT count(*) FROM transactions WHERE tid = '\\x%s'" % tid.hex()), "1",
         "replayed transactionID: still exactly one transaction with that tid")

    # the rejected devices' serials are untouched
    t.eq(gw.psql("SELECT serial, state, key_fp IS NULL FROM serials "
                 "WHERE serial IN ('ACME-0001', 'ACME-0002', 'ACME-0003') ORDER BY serial"),
         [["ACME-0001", "allowed", "t"], ["ACME-0002", "blocked", "t"],
          ["ACME-0003", "allowed", "t"]],
         "serials of rejected devices: state and key binding unchanged")
    t.eq(gw.scalar("SELECT count(*) FROM serials WHERE serial = 'ACME-%04d'" % DEVICES), "0",
         "the unlisted serial was not added")

    t.ok(gw.alive(), "cmpgw serve survived all rejections")
    gw.stop()


if __name__ == "__main__":
    run(main)
