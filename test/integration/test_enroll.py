#!/usr/bin/env python3
"""Enrollment with the stock `openssl cmp` client against a real cmpgw serve
and PostgreSQL: explicit confirm, implicit confirm, re-enrollment with the
same vendor key (old cert revoked, reason superseded), and a cloned serial with another
vendor key (rejected notAuthorized, audited clone_suspected)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Gateway, Pg, cert_subject, openssl, run,  # noqa: E402
                     sign_cert)


def verify_chain(t, gw, pem, name):
    rc, out = openssl("verify", "-CAfile", gw.path("pki", "operator-root.crt"),
                      "-untrusted", gw.path("pki", "issuing-ca.crt"), pem)
    t.ok(rc == 0 and ": OK" in out, name + ": chain verifies to the operator root", out)


def cert_serial_hex(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1].upper() if rc == 0 else None


def norm_hex(h):
    return (h or "").upper().lstrip("0")


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=5, name="enroll")
    gw.start()

    # ---- 1. ir + explicit certConf ---------------------------------------
    r = gw.cmp(1, confirm="explicit")
    t.ok(r.rc == 0, "ir with explicit confirm: openssl cmp exits 0", repr(r))
    t.ok(r.has("sending CERTCONF") and r.has("received PKICONF"),
         "explicit confirm: certConf sent, pkiConf received", r.out)
    t.ok(os.path.exists(r.certout), "explicit confirm: certificate written", repr(r))
    cert1 = r.certout
    if os.path.exists(cert1):
        verify_chain(t, gw, cert1, "explicit confirm")
        subj = cert_subject(cert1) or ""
        t.ok("CN=ACME-0001" in subj.split(","), "subject carries CN=ACME-0001 (profile template)", subj)
        t.ok("OU=Devices" in subj.split(","), "subject carries OU=Devices (profile template)", subj)
        rc, text = openssl("x509", "-noout", "-text", "-in", cert1)
        t.ok("dns:acme-0001.devices.example.net" in text.lower(),
             "SAN from the profile template", text)
        rc, iss = openssl("x509", "-noout", "-issuer", "-in", cert1)
        t.ok("cmpgw Demo Issuing CA" in iss, "issued by the issuing CA", iss)
    ser1 = cert_serial_hex(cert1) if os.path.exists(cert1) else None

    rows = gw.psql("SELECT id, status, device_serial, serial_hex, subject FROM certificates "
                   "WHERE device_serial = 'ACME-0001' ORDER BY id")
    t.eq(len(rows), 1, "explicit confirm: one certificate row for ACME-0001", rows)
    if rows:
        t.eq(rows[0][1], "active", "explicit confirm: certificates.status = active")
        t.eq(norm_hex(rows[0][3]), norm_hex(ser1), "certificates.serial_hex = issued serial")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0001'"), "enrolled",
         "explicit confirm: serials.state = enrolled")
    t.ok(gw.scalar("SELECT key_fp IS NOT NULL FROM serials WHERE serial = 'ACME-0001'") == "t",
         "explicit confirm: serial bound to the vendor key (key_fp set)")
    tx = gw.psql("SELECT state, implicit_confirm FROM transactions WHERE device_serial = 'ACME-0001'")
    t.eq(tx, [["confirmed", "f"]], "explicit confirm: transaction confirmed, not implicit")
    ev = [x[0] for x in gw.psql("SELECT event FROM audit WHERE device_serial = 'ACME-0001' "
                                "OR tid IN (SELECT tid FROM transactions WHERE device_serial = 'ACME-0001') "
                                "ORDER BY id")]
    t.ok("issued" in ev and "confirmed" in ev, "audit has issued and confirmed", ev)

    # ---- 2. ir with implicitConfirm --------------------------------------
    r = gw.cmp(2, confirm="implicit")
    t.ok(r.rc == 0, "ir with -implicit_confirm: openssl cmp exits 0", repr(r))
    t.ok(not r.has("sending CERTCONF"), "implicit confirm granted: no certConf sent", r.out)
    if os.path.exists(r.certout):
        verify_chain(t, gw, r.certout, "implicit confirm")
        subj = cert_subject(r.certout) or ""
        t.ok("CN=ACME-0002" in subj.split(","), "implicit confirm: subject CN=ACME-0002", subj)
    else:
        t.ok(False, "implicit confirm: certificate written", repr(r))
    t.eq(gw.psql("SELECT status FROM certificates WHERE device_serial = 'ACME-0002'"),
         [["active"]], "implicit confirm: certificate active immediately")
    t.eq(gw.psql("SELECT state, implicit_confirm FROM transactions WHERE device_serial = 'ACME-0002'"),
         [["confirmed", "t"]], "implicit confirm: transaction confirmed")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0002'"), "enrolled",
         "implicit confirm: serials.state = enrolled")

    # ---- 3. re-enrollment with the same vendor key -------------------------
    r = gw.cmp(1, confirm="explicit")
    t.ok(r.rc == 0, "re-enrollment (same vendor key): openssl cmp exits 0", repr(r))
    ser2 = cert_serial_hex(r.certout) if os.path.exists(r.certout) else None
    t.ok(ser2 is not None and ser2 != ser1, "re-enrollment: a new certificate", (ser1, ser2))
    rows = gw.psql("SELECT serial_hex, status FROM certificates WHERE device_serial = 'ACME-0001' "
                   "ORDER BY id")
    t.eq([x[1] for x in rows], ["revoked", "active"],
         "re-enrollment: old certificate revoked (renewal_revokes_old default), new one active",
         rows)
    if len(rows) == 2:
        t.eq(norm_hex(rows[1][0]), norm_hex(ser2), "re-enrollment: the active row is the new cert")
    t.eq(gw.scalar("SELECT count(*) FROM transactions WHERE device_serial = 'ACME-0001' "
                   "AND state = 'confirmed'"), "2", "re-enrollment: second transaction confirmed")

    # ---- 4. clone: same serial, another vendor key -------------------------
    before = gw.counts()
    fp_before = gw.scalar("SELECT encode(key_fp, 'hex') FROM serials WHERE serial = 'ACME-0001'")
    clone_crt, clone_key = sign_cert(gw.tmp, "clone-0001",
                                     "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                                     gw.path("vendor", "vendor-ca.crt"),
                                     gw.path("vendor", "vendor-ca.key"))
    rc, vout = openssl("verify", "-CAfile", gw.path("vendor", "vendor-root.crt"),
                       "-untrusted", gw.path("vendor", "vendor-ca.crt"), clone_crt)
    t.ok(rc == 0, "clone vendor certificate itself chains to the vendor root", vout)
    r = gw.cmp(1, cert=clone_crt, key=clone_key, confirm="explicit")
    t.ok(r.rc != 0, "clone: openssl cmp fails", repr(r))
    t.ok(r.has("notAuthorized"), "clone: failure info notAuthorized in the client output", r.out)
    t.ok(not os.path.exists(r.certout), "clone: no certificate written")
    after = gw.counts()
    t.eq(after["certificates"], before["certificates"], "clone: no certificates row written")
    t.eq(after["transactions"], before["transactions"], "clone: no transactions row written")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'clone_suspected' "
                   "AND device_serial = 'ACME-0001'"), "1", "clone: audit clone_suspected",
         gw.psql("SELECT event, device_serial, detail FROM audit ORDER BY id"))
    t.eq(gw.scalar("SELECT encode(key_fp, 'hex') FROM serials WHERE serial = 'ACME-0001'"),
         fp_before, "clone: serial still bound to the original vendor key")
    t.eq(gw.psql("SELECT status FROM certificates WHERE device_serial = 'ACME-0001' ORDER BY id"),
         [["revoked"], ["active"]], "clone: the genuine device's certificates untouched")

    # the genuine device still enrolls after the clone attempt
    r = gw.cmp(1, confirm="implicit")
    t.ok(r.rc == 0, "genuine device still enrolls after a clone attempt", repr(r))

    gw.stop()
    log = gw.log_text()
    t.ok(any("rejected" in l and "notAuthorized" in l for l in log.splitlines()),
         "serve log carries the clone rejection with its reason", gw.log_tail())


if __name__ == "__main__":
    run(main)
