#!/usr/bin/env python3
"""Certificate lifecycle beyond the first enrollment, with the stock
`openssl cmp` client (and cmpreq for what it cannot send): kur with the
operator certificate (old one revoked with reason superseded, the default
of renewal_revokes_old), kur/cr/p10cr from an enrolled device, renewal
refused for revoked, expired and foreign certificates and without
oldCertID, genm, a certConf that rejects the certificate (revoked), and
renewal_revokes_old false (old one only superseded; renewal with it
refused)."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CmpMsg, Gateway, Pg, new_key, openssl, run,  # noqa: E402
                     sign_cert, utc_stamp)

CMPREQ = os.environ.get("CMPREQ_BIN", "cmpreq")


def serial_hex(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1].upper().lstrip("0") if rc == 0 else "?"


def status_of(gw, pem):
    return gw.scalar("SELECT status FROM certificates WHERE ltrim(upper(serial_hex), '0') = '%s'"
                     % serial_hex(pem))


def reason_of(gw, pem):
    return gw.scalar("SELECT revocation_reason FROM certificates"
                     " WHERE ltrim(upper(serial_hex), '0') = '%s'" % serial_hex(pem))


def renew(gw, cmd, cert, key, newkey, **kw):
    """openssl cmp kur/cr/p10cr signed with an operator certificate."""
    return gw.cmp(cmd=cmd, cert=cert, key=key, newkey=newkey, extracerts=None,
                  subject=None, **kw)


def crafted(gw, t, name, *args):
    out = os.path.join(gw.tmp, name + ".der")
    p = subprocess.run([CMPREQ] + list(args) + ["--out", out], capture_output=True, text=True)
    t.ok(p.returncode == 0, name + ": request crafted", p.stderr)
    with open(out, "rb") as f:
        status, ctype, body = gw.post(f.read())
    t.eq(status, 200, name + ": HTTP 200")
    return CmpMsg(body)


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=5, name="renew")
    gw.start()

    r = gw.cmp(1)
    t.ok(r.rc == 0, "device 1 enrolls with its vendor certificate", repr(r))
    op1, k1 = r.certout, gw.dev(1, "new", "key")

    # ---- kur ----------------------------------------------------------------
    k2 = new_key(os.path.join(gw.tmp, "k2.key"))
    r = renew(gw, "kur", op1, k1, k2)
    t.ok(r.rc == 0 and r.has("received KUP") and r.has("received PKICONF"),
         "kur with the operator certificate: kup + pkiConf", repr(r))
    op2 = r.certout
    t.eq(status_of(gw, op1), "revoked", "kur: old certificate revoked after certConf (default)")
    t.eq(reason_of(gw, op1), "4", "kur: revoked with reason superseded (4)")
    t.eq(status_of(gw, op2), "active", "kur: new certificate active")
    t.eq(gw.scalar("SELECT count(DISTINCT device_serial) FROM certificates"), "1",
         "kur: same device identity")
    rc, subj = openssl("x509", "-noout", "-subject", "-in", op2)
    t.ok("CN = ACME-0001" in subj, "kur: subject from the profile for the same serial", subj)

    r = renew(gw, "kur", op1, k1, k2)
    t.ok(r.rc != 0 and r.has("certRevoked"),
         "kur with the certificate it replaced (revoked): certRevoked", repr(r))

    # ---- cr and p10cr with the operator certificate ----------------------------
    k3 = new_key(os.path.join(gw.tmp, "k3.key"))
    r = renew(gw, "cr", op2, k2, k3)
    t.ok(r.rc == 0 and r.has("received CP"), "cr with the operator certificate: cp", repr(r))
    op3 = r.certout
    csr = os.path.join(gw.tmp, "p10.csr")
    openssl("req", "-new", "-key", k3, "-subj", "/CN=anything", "-out", csr)
    r = renew(gw, "p10cr", op3, k3, None, extra=["-csr", csr])
    t.ok(r.rc == 0 and r.has("received CP") and r.has("grantedWithMods"),
         "p10cr: cp, subject replaced by the profile (grantedWithMods)", repr(r))
    op4 = r.certout
    t.eq(status_of(gw, op3), "revoked", "p10cr: previous certificate revoked")
    t.eq(status_of(gw, op2), "revoked", "cr: previous certificate revoked")

    # ---- kur with implicit confirm --------------------------------------------
    k5 = new_key(os.path.join(gw.tmp, "k5.key"))
    r = renew(gw, "kur", op4, k3, k5, confirm="implicit")
    t.ok(r.rc == 0 and not r.has("sending CERTCONF"), "kur with implicitConfirm: no certConf",
         repr(r))
    op5 = r.certout
    t.eq(status_of(gw, op5), "active", "implicit kur: active at once")
    t.eq(status_of(gw, op4), "revoked", "implicit kur: old revoked at once")
    t.eq(reason_of(gw, op4), "4", "implicit kur: reason superseded (4)")

    # ---- refusals ---------------------------------------------------------------
    m = crafted(gw, t, "kur-no-oldcertid", "kur", "--cert", op5, "--key", k5, "--newkey", k2,
                "--no-oldcertid")
    t.ok(m.body_type == "error" and 2 in m.failbits, "kur without oldCertID: badRequest",
         m.describe())
    n = gw.scalar("SELECT count(*) FROM certificates")
    m = crafted(gw, t, "kur-bad-pop", "kur", "--cert", op5, "--key", k5, "--newkey", k2,
                "--bad-pop")
    t.ok(m.body_type == "error" and 9 in m.failbits, "kur with a bad POP: badPOP", m.describe())
    t.eq(gw.scalar("SELECT count(*) FROM certificates"), n, "refused kur wrote no certificate")

    foreign_ca = new_key(os.path.join(gw.tmp, "fca.key"))
    fca = os.path.join(gw.tmp, "fca.crt")
    openssl("req", "-new", "-x509", "-key", foreign_ca, "-subj", "/CN=Foreign CA", "-days", "30",
            "-out", fca)
    fcrt, fkey = sign_cert(gw.tmp, "foreign", "/CN=ACME-0001", fca, foreign_ca)
    r = renew(gw, "kur", fcrt, fkey, k2)
    t.ok(r.rc != 0 and r.has("signerNotTrusted"), "kur with a foreign certificate: signerNotTrusted",
         repr(r))

    ecrt, ekey = sign_cert(gw.tmp, "expired", "/CN=ACME-0002", gw.path("pki", "issuing-ca.crt"),
                           gw.path("pki", "issuing-ca.key"), startdate=utc_stamp(-86400 * 10),
                           enddate=utc_stamp(-86400))
    r = renew(gw, "kur", ecrt, ekey, k2)
    t.ok(r.rc != 0 and r.has("signerNotTrusted") and r.has("expired"),
         "kur with an expired operator certificate: signerNotTrusted, says expired", repr(r))

    gw.psql("UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 1"
            " WHERE ltrim(upper(serial_hex), '0') = '%s'" % serial_hex(op5))
    r = renew(gw, "kur", op5, k5, k2)
    t.ok(r.rc != 0 and r.has("certRevoked"), "kur with a revoked certificate: certRevoked", repr(r))

    # ---- genm ---------------------------------------------------------------------
    r2 = gw.cmp(2)
    t.ok(r2.rc == 0, "device 2 enrolls", repr(r2))
    op_d2, k_d2 = r2.certout, gw.dev(2, "new", "key")
    r = gw.cmp(cmd="genm", cert=op_d2, key=k_d2, extracerts=None, subject=None, newkey=k_d2)
    t.ok(r.rc == 0 and r.has("received GENP") and r.has("no ITAV"), "empty genm: empty genp",
         repr(r))
    r = gw.cmp(cmd="genm", cert=op_d2, key=k_d2, extracerts=None, subject=None, newkey=k_d2,
               extra=["-infotype", "caCerts"])
    t.ok(r.rc == 0 and r.has("id-it-caCerts"), "genm caCerts answered", repr(r))
    r = gw.cmp(cmd="genm", cert=op_d2, key=k_d2, extracerts=None, subject=None, newkey=k_d2,
               extra=["-infotype", "signKeyPairTypes"])
    t.ok(r.rc == 0 and r.has("id-it-signKeyPairTypes"), "genm signKeyPairTypes answered", repr(r))
    r = gw.cmp(cmd="genm", cert=op_d2, key=k_d2, extracerts=None, subject=None, newkey=k_d2,
               extra=["-infotype", "currentCRL"])
    t.ok(r.rc == 0 and r.has("received GENP"), "genm with an unsupported infoType: genp", repr(r))

    # ---- the client rejects the certificate in certConf -> revoked -------------------
    wrong_root = os.path.join(gw.tmp, "fca.crt")
    r = gw.cmp(3, extra=["-out_trusted", wrong_root])
    t.ok(r.rc != 0 and r.has("sending CERTCONF"), "client rejecting the new cert sends certConf",
         repr(r))
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0003'"),
         "revoked", "certificate rejected in certConf is revoked")
    t.eq(gw.scalar("SELECT state FROM transactions t JOIN certificates c ON c.id = t.cert_id"
                   " WHERE c.device_serial = 'ACME-0003'"), "rejected",
         "its transaction is rejected")

    # ---- PKIHeader checks (RFC 4210 5.1.1) ---------------------------------------------
    n = gw.scalar("SELECT count(*) FROM certificates")
    m = crafted(gw, t, "ir-pvno-1", "ir", "--cert", gw.dev(4), "--key", gw.dev(4, ext="key"),
                "--newkey", gw.dev(4, "new", "key"), "--extracerts",
                gw.path("vendor", "vendor-ca.crt"), "--pvno", "1")
    t.ok(m.body_type == "error" and 22 in m.failbits, "pvno 1: unsupportedVersion", m.describe())
    m = crafted(gw, t, "ir-old-time", "ir", "--cert", gw.dev(4), "--key", gw.dev(4, ext="key"),
                "--newkey", gw.dev(4, "new", "key"), "--extracerts",
                gw.path("vendor", "vendor-ca.crt"), "--time-offset", "-3600")
    t.ok(m.body_type == "error" and 3 in m.failbits,
         "messageTime an hour off (skew 300 s): badTime", m.describe())
    t.eq(gw.scalar("SELECT count(*) FROM certificates"), n, "header refusals wrote no certificate")

    # ---- p10cr with a broken CSR signature: badPOP ------------------------------------
    csr2 = os.path.join(gw.tmp, "p10b.csr")
    openssl("req", "-new", "-key", k_d2, "-subj", "/CN=x", "-out", csr2)
    n = gw.scalar("SELECT count(*) FROM certificates")
    m = crafted(gw, t, "p10cr-bad-csr", "p10cr", "--cert", op_d2, "--key", k_d2, "--csr", csr2,
                "--bad-csr-sig")
    t.ok(m.body_type == "error" and 9 in m.failbits, "p10cr with a bad CSR signature: badPOP",
         m.describe())
    t.eq(gw.scalar("SELECT count(*) FROM certificates"), n, "refused p10cr wrote no certificate")

    # ---- an error message from the client closes its transaction ----------------------
    k7 = new_key(os.path.join(gw.tmp, "k7.key"))
    r = renew(gw, "kur", op_d2, k_d2, k7, confirm="disable")
    t.ok(r.rc == 0 and not r.has("sending CERTCONF"), "kur left unconfirmed", repr(r))
    tid = gw.scalar("SELECT encode(tid, 'hex') FROM transactions WHERE state = 'issued'")
    t.ok(tid is not None, "an issued, unconfirmed transaction exists")
    m = crafted(gw, t, "client-error", "error", "--cert", op_d2, "--key", k_d2, "--tid", tid or "00")
    t.eq(m.body_type, "pkiconf", "error from the client answered with pkiConf", m.describe())
    t.eq(gw.scalar("SELECT state FROM transactions WHERE tid = decode('%s', 'hex')" % tid),
         "rejected", "client error: transaction closed (rejected)")
    t.eq(gw.scalar("SELECT c.status FROM certificates c JOIN transactions t ON t.cert_id = c.id"
                   " WHERE t.tid = decode('%s', 'hex')" % tid), "revoked",
         "client error: the unconfirmed certificate is revoked")
    t.eq(status_of(gw, op_d2), "active", "client error: the old certificate stays active")

    # ---- renewal_revokes_old false: the old certificate is only superseded ----------
    gw.cfg["profiles"]["device"]["renewal_revokes_old"] = False
    gw.write_config(gw.cfg)
    gw.restart()
    k6 = new_key(os.path.join(gw.tmp, "k6.key"))
    r = renew(gw, "kur", op_d2, k_d2, k6)
    t.ok(r.rc == 0, "kur with renewal_revokes_old false", repr(r))
    row = gw.psql("SELECT status, revocation_reason FROM certificates"
                  " WHERE ltrim(upper(serial_hex), '0') = '%s'" % serial_hex(op_d2))
    t.eq([list(x) for x in row], [["superseded", None]],
         "renewal_revokes_old false: old certificate superseded, not revoked")
    t.eq(status_of(gw, r.certout), "active", "renewal_revokes_old false: new certificate active")
    r = renew(gw, "kur", op_d2, k_d2, k6)
    t.ok(r.rc != 0 and r.has("notAuthorized") and r.has("superseded"),
         "kur with a superseded certificate: notAuthorized", repr(r))

    # ---- confirm deadline: an unconfirmed certificate is revoked by the sweep ----
    gw.cfg["aliases"][0]["confirm_deadline_s"] = 1
    gw.cfg["sweep_interval_s"] = 1
    gw.write_config(gw.cfg)
    gw.restart()
    r = gw.cmp(4, confirm="disable")
    t.ok(r.rc == 0 and not r.has("sending CERTCONF"), "ir without certConf (-disable_confirm)",
         repr(r))
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0004'"),
         "unconfirmed", "certificate unconfirmed right after the ip")
    state = None
    for _ in range(40):
        state = gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0004'")
        if state == "revoked":
            break
        time.sleep(0.25)
    t.eq(state, "revoked", "unconfirmed certificate revoked after the confirm deadline")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'confirm_timeout'"), "1",
         "confirm timeout audited")
    gw.stop()


if __name__ == "__main__":
    run(main)
