#!/usr/bin/env python3
"""Re-enrollment leaves exactly one valid certificate per device (issue 10,
finding 5), with the stock `openssl cmp` client against a real cmpgw and
PostgreSQL. With profiles.<name>.renewal_revokes_old at its default (true),
confirming a device's new certificate revokes its previous one with reason
superseded (RFC 5280 5.3.1, code 4), and the CRL served over HTTP
(crl.path) lists it: a second ir with the vendor certificate confirmed by
certConf, the same with implicitConfirm, and a renewal by ir signed with the
operator certificate. With the flag false the old certificate is only
superseded and stays off the CRL. A refused ir (bad POP) or a new
certificate the client rejects in certConf revokes nothing else. A
downstream RA's identity without a vendor (vendor_id NULL) follows the same
rule in SQL, and on a database upgraded from 010 a transaction issued before
migration 012 confirms as it would have then (superseded only)."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CmpMsg, Gateway, Pg, http_post, new_key, openssl, run  # noqa: E402
# a 010 database as the binaries of its time built it (function bodies included)
from test_migrate import apply_up_to  # noqa: E402

CMPREQ = os.environ.get("CMPREQ_BIN", "cmpreq")
CRL_PATH = "/crl/reenroll.crl"


def serial_of(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1].upper().lstrip("0") if rc == 0 else None


def device_rows(gw, serial):
    """[serial (no leading zeros), status, revocation_reason or ''] by id."""
    return [[r[0], r[1], r[2] or ""] for r in gw.psql(
        "SELECT ltrim(upper(serial_hex), '0'), status, revocation_reason::text FROM certificates"
        " WHERE device_serial = '%s' ORDER BY id" % serial)]


def active_count(gw, serial):
    return gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = '%s'"
                     " AND status = 'active'" % serial)


def crl_entries(t, gw, name):
    """GET crl.path, parse it with openssl crl: {serial: reason text or ''}, CRL number."""
    st, ctype, der = http_post(gw.port, None, path=CRL_PATH, ctype=None, method="GET")
    t.ok(st == 200 and ctype == "application/pkix-crl", "%s: GET %s -> 200 CRL" % (name, CRL_PATH),
         "%s %s" % (st, ctype))
    path = os.path.join(gw.tmp, "crl-%s.der" % re.sub(r"[^a-z0-9]+", "-", name.lower()))
    with open(path, "wb") as f:
        f.write(der)
    rc, text = openssl("crl", "-inform", "DER", "-in", path, "-noout", "-text")
    t.ok(rc == 0, "%s: openssl crl parses it" % name, text)
    m = re.search(r"X509v3 CRL Number:\s*\n\s*(\d+)", text)
    entries = {}
    for chunk in re.split(r"\n\s*Serial Number:\s*", text)[1:]:
        lines = chunk.splitlines()
        reason = re.search(r"CRL Reason Code:\s*\n\s*(\S[^\n]*)", chunk)
        entries[lines[0].strip().upper().lstrip("0")] = reason.group(1).strip() if reason else ""
    return entries, int(m.group(1)) if m else None


def crafted(gw, t, name, *args):
    out = os.path.join(gw.tmp, name + ".der")
    p = subprocess.run([CMPREQ] + list(args) + ["--out", out], capture_output=True, text=True)
    t.ok(p.returncode == 0, name + ": request crafted", p.stderr)
    with open(out, "rb") as f:
        status, _, body = gw.post(f.read())
    t.eq(status, 200, name + ": HTTP 200")
    return CmpMsg(body)


def revoked_on_reenroll(t, gw, k, confirm, label):
    """Device k enrolls, then enrolls again with its vendor certificate."""
    dev = "ACME-%04d" % k
    r = gw.cmp(k, confirm=confirm)
    t.ok(r.rc == 0, "%s: device %d enrolls" % (label, k), repr(r))
    old = serial_of(r.certout)
    before, n0 = crl_entries(t, gw, label + " CRL before")
    t.ok(old not in before, "%s: the first certificate is not on the CRL yet" % label)
    r = gw.cmp(k, confirm=confirm)
    t.ok(r.rc == 0, "%s: device %d enrolls again with its vendor certificate" % (label, k),
         repr(r))
    if confirm == "implicit":
        t.ok(not r.has("sending CERTCONF"), "%s: no certConf" % label, repr(r))
    new = serial_of(r.certout)
    t.eq(device_rows(gw, dev), [[old, "revoked", "4"], [new, "active", ""]],
         "%s: old certificate revoked with reason superseded (4), the new one active" % label)
    t.eq(active_count(gw, dev), "1", "%s: exactly one active certificate" % label)
    t.eq(gw.scalar("SELECT revoked_at IS NOT NULL AND revoked_at > now() - interval '1 hour'"
                   " FROM certificates WHERE ltrim(upper(serial_hex), '0') = '%s'" % old), "t",
         "%s: revoked_at set to the confirmation time" % label)
    after, n1 = crl_entries(t, gw, label + " CRL after")
    t.eq(after.get(old), "Superseded", "%s: the next CRL lists the old serial, reason superseded"
         % label, after)
    t.ok(new not in after, "%s: the new certificate is not on the CRL" % label, after)
    t.ok(n0 is not None and n1 is not None and n1 > n0,
         "%s: a new CRL was generated (number %s -> %s)" % (label, n0, n1))
    return new


def ra_commit(gw, tid, serial_hex, implicit, revoke_old):
    """cmpgw_ra_ir_commit for identity RA-ID-1 of an RA without a vendor."""
    return gw.scalar(
        "SELECT cmpgw_ra_ir_commit('\\x%s', 'ra', 'ir', NULL, NULL, 'RA-ID-1', '\\x01',"
        " '\\x02', NULL, '\\x03', NULL, 0, '\\x3000', 'CN=RA Test CA', '%s', 'CN=RA-ID-1',"
        " extract(epoch FROM now()), extract(epoch FROM now() + interval '1 year'), '\\x04',"
        " '\\x05', %s, 300, true, %s, 'peer')" % (tid, serial_hex, implicit, revoke_old))


def certconf(gw, tid, alias):
    """An accepting certConf for a transaction made by ra_commit / upgrade()."""
    return gw.scalar("SELECT cmpgw_certconf('\\x%s', '%s', '\\x02', true, '\\x03', 0,"
                     " '\\x05', true, 'peer', 'test')" % (tid, alias))


def ra_rows(gw):
    return gw.psql("SELECT serial_hex, status, coalesce(revocation_reason::text, '')"
                   " FROM certificates WHERE device_serial = 'RA-ID-1' ORDER BY id")


def upgrade(t, pg):
    """010 -> 012 in place; then a downstream RA's identity without a vendor."""
    gw = Gateway(t, pg, devices=2, register=False, name="reenroll_upgrade")
    apply_up_to(gw, 10)
    gw.psql("INSERT INTO vendors(name) VALUES ('old')")
    ids = {}
    for name, status in (("a", "active"), ("b", "unconfirmed")):
        ids[name] = int(gw.scalar(
            "INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after,"
            " status, vendor_id, device_serial, key_fp, alias) SELECT 'CN=Old CA', '0B0%s',"
            " '\\x3000', 'CN=dev', now(), now() + interval '1 year', '%s', id, 'OLD-1', '\\x01',"
            " 'old' FROM vendors WHERE name = 'old' RETURNING id" % (len(ids), status)))
    gw.psql("INSERT INTO transactions(tid, alias, body_type, state, sender_fp, server_nonce,"
            " cert_req_id, cert_id, cert_hash, confirm_deadline, vendor_id, device_serial)"
            " SELECT '\\xbb01', 'old', 'ir', 'issued', '\\x02', '\\x03', 0, %d, '\\x05',"
            " now() + interval '1 hour', id, 'OLD-1' FROM vendors WHERE name = 'old'" % ids["b"])
    gw.register()  # cmpgw migrate
    t.eq(gw.scalar("SELECT max(version) >= 12 FROM schema_migrations"), "t", "upgrade: 012 applied")
    t.eq(gw.psql("SELECT proname, pronargs FROM pg_proc WHERE proname IN"
                 " ('cmpgw_ir_commit', 'cmpgw_ra_ir_commit') ORDER BY 1"),
         [["cmpgw_ir_commit", "25"], ["cmpgw_ra_ir_commit", "25"]],
         "upgrade: one definition each of the ir commits, with p_revoke_old")
    t.eq(certconf(gw, "bb01", "old"), "confirmed", "upgrade: certConf of a pre-012 transaction")
    t.eq(gw.psql("SELECT status, coalesce(revocation_reason::text, '') FROM certificates"
                 " WHERE id IN (%d, %d) ORDER BY id" % (ids["a"], ids["b"])),
         [["superseded", ""], ["active", ""]],
         "upgrade: a transaction issued before 012 supersedes as it did (revoke_old false)")

    # downstream RA, identity without a vendor: vendor_id NULL + device_serial
    t.eq(ra_commit(gw, "cc01", "0C01", "true", "true"), "ok", "RA identity: implicit ir")
    t.eq(ra_commit(gw, "cc02", "0C02", "true", "true"), "ok", "RA identity: implicit ir again")
    t.eq(ra_rows(gw), [["0C01", "revoked", "4"], ["0C02", "active", ""]],
         "RA identity, implicitConfirm: the earlier certificate revoked (superseded)")
    t.eq(ra_commit(gw, "cc03", "0C03", "false", "true"), "ok", "RA identity: explicit ir")
    t.eq(ra_rows(gw)[1:], [["0C02", "active", ""], ["0C03", "unconfirmed", ""]],
         "RA identity: nothing revoked before the certConf")
    t.eq(certconf(gw, "cc03", "ra"), "confirmed", "RA identity: certConf")
    t.eq(ra_rows(gw)[1:], [["0C02", "revoked", "4"], ["0C03", "active", ""]],
         "RA identity, certConf: the earlier certificate revoked (superseded)")
    t.eq(ra_commit(gw, "cc04", "0C04", "true", "false"), "ok", "RA identity: flag false")
    t.eq(ra_rows(gw)[2:], [["0C03", "superseded", ""], ["0C04", "active", ""]],
         "RA identity, flag false: superseded only")
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE status = 'revoked'"
                   " AND (status = 'revoked') <> (revoked_at IS NOT NULL)"), "0",
         "status and revoked_at in step")


def main(t):
    pg = Pg()
    upgrade(t, pg)

    def patch(cfg):
        cfg["crl"] = {"path": CRL_PATH}

    gw = Gateway(t, pg, devices=8, name="reenroll", patch=patch)
    t.ok("renewal_revokes_old" not in gw.cfg["profiles"]["device"],
         "the demo profile leaves renewal_revokes_old at its default")
    gw.start()

    # ---- the default: the previous certificate is revoked -------------------
    revoked_on_reenroll(t, gw, 1, "explicit", "explicit certConf")
    revoked_on_reenroll(t, gw, 2, "implicit", "implicitConfirm")
    t.eq(gw.scalar("SELECT count(*) FROM transactions WHERE device_serial = 'ACME-0001'"
                   " AND revoke_old"), "2", "the flag is kept with each ir transaction")

    # ---- renewal by ir with the operator certificate ------------------------
    r = gw.cmp(3)
    t.ok(r.rc == 0, "device 3 enrolls", repr(r))
    op, opkey = r.certout, gw.dev(3, "new", "key")
    k2 = new_key(os.path.join(gw.tmp, "k3b.key"))
    r = gw.cmp(cmd="ir", cert=op, key=opkey, newkey=k2, extracerts=None, subject=None)
    t.ok(r.rc == 0 and r.has("received IP") and r.has("received PKICONF"),
         "ir signed with the operator certificate: ip + pkiConf", repr(r))
    t.eq(device_rows(gw, "ACME-0003"), [[serial_of(op), "revoked", "4"],
                                         [serial_of(r.certout), "active", ""]],
         "renewal by ir: old certificate revoked (superseded), the new one active")
    entries, _ = crl_entries(t, gw, "renewal by ir")
    t.eq(entries.get(serial_of(op)), "Superseded", "renewal by ir: the CRL lists the old one",
         entries)
    r = gw.cmp(cmd="ir", cert=op, key=opkey, newkey=k2, extracerts=None, subject=None)
    t.ok(r.rc != 0 and r.has("certRevoked"),
         "the revoked operator certificate no longer authenticates a renewal", repr(r))

    # ---- refusals revoke nothing ----------------------------------------------
    r = gw.cmp(4)
    t.ok(r.rc == 0, "device 4 enrolls", repr(r))
    cur = serial_of(r.certout)
    n = gw.scalar("SELECT count(*) FROM certificates")
    m = crafted(gw, t, "ir-bad-pop", "ir", "--cert", gw.dev(4), "--key", gw.dev(4, ext="key"),
                "--newkey", gw.dev(4, "new", "key"), "--extracerts",
                gw.path("vendor", "vendor-ca.crt"), "--bad-pop")
    t.ok(m.body_type == "error" and 9 in m.failbits, "re-enrollment with a bad POP: badPOP",
         m.describe())
    t.eq(gw.scalar("SELECT count(*) FROM certificates"), n, "bad POP: no certificate written")
    t.eq(device_rows(gw, "ACME-0004"), [[cur, "active", ""]],
         "bad POP: the device's certificate stays active")

    wrong_root = os.path.join(gw.tmp, "wrong-root.crt")
    openssl("req", "-new", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", os.path.join(gw.tmp, "wrong-root.key"), "-subj",
            "/CN=Wrong Root", "-days", "2", "-out", wrong_root)
    r = gw.cmp(4, extra=["-out_trusted", wrong_root])
    t.ok(r.rc != 0 and r.has("sending CERTCONF"),
         "re-enrollment whose certificate the client rejects in certConf", repr(r))
    rows = device_rows(gw, "ACME-0004")
    t.eq([x[1:] for x in rows], [["active", ""], ["revoked", "0"]],
         "rejected in certConf: the new one revoked (unspecified), the old one stays active",
         rows)
    t.eq(rows[0][0], cur, "rejected in certConf: the active one is the earlier certificate")
    entries, _ = crl_entries(t, gw, "after a rejected certConf")
    t.ok(cur not in entries, "rejected in certConf: the earlier certificate is not on the CRL",
         entries)

    # ---- renewal_revokes_old false: superseded only, as before ----------------
    gw.cfg["profiles"]["device"]["renewal_revokes_old"] = False
    gw.write_config(gw.cfg)
    gw.restart()
    for k, confirm in ((5, "explicit"), (6, "implicit")):
        dev = "ACME-%04d" % k
        r1 = gw.cmp(k, confirm=confirm)
        r2 = gw.cmp(k, confirm=confirm)
        t.ok(r1.rc == 0 and r2.rc == 0, "flag false, %s: device %d enrolls twice" % (confirm, k),
             repr(r2))
        old, new = serial_of(r1.certout), serial_of(r2.certout)
        t.eq(device_rows(gw, dev), [[old, "superseded", ""], [new, "active", ""]],
             "flag false, %s: old certificate superseded, not revoked" % confirm)
        entries, _ = crl_entries(t, gw, "flag false " + confirm)
        t.ok(old not in entries, "flag false, %s: the old certificate is not on the CRL"
             % confirm, entries)
    t.eq(gw.scalar("SELECT count(*) FROM transactions WHERE device_serial = 'ACME-0005'"
                   " AND NOT revoke_old"), "2", "flag false is kept with the transactions")

    # ---- back to the default: an earlier superseded certificate stays as it is ---
    del gw.cfg["profiles"]["device"]["renewal_revokes_old"]
    gw.write_config(gw.cfg)
    gw.restart()
    before = device_rows(gw, "ACME-0005")
    r = gw.cmp(5)
    t.ok(r.rc == 0, "default again: device 5 enrolls a third time", repr(r))
    t.eq(device_rows(gw, "ACME-0005"),
         [before[0], [before[1][0], "revoked", "4"], [serial_of(r.certout), "active", ""]],
         "default again: the active one revoked, the one superseded earlier left superseded")
    t.eq(active_count(gw, "ACME-0005"), "1", "default again: exactly one active certificate")
    gw.stop()


if __name__ == "__main__":
    run(main)
