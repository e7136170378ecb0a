#!/usr/bin/env python3
"""Admit before signing (issue 10, finding 3) and racing duplicates
(finding 10), against a real cmpgw serve and PostgreSQL.

Finding 3: every kind of refusal that PostgreSQL decides (serial not on the
list, blocked serial, clone = the serial with another vendor key,
re-enrollment denied for a --no-reenroll vendor, transactionID reused, a
renewal with a revoked operator certificate, a renewal for a blocked
serial, a renewal reusing a transactionID, a downstream RA's request for an
unlisted or blocked serial) is answered with its exact PKIFailureInfo bit
and costs no CA signature: the gateway log gains no "CA signature:" line
(ra_issue logs one per signature), and the audit row the commit would have
written is there. An accepted enrollment costs exactly one.

Finding 10: eight concurrent irs from eight listed devices with one
transactionID: exactly one ip, seven transactionIdInUse, no systemUnavail,
one transactions row. And deterministically: a commit that waits on another
session's uncommitted row with its transactionID gets transactionIdInUse
once that commits.

ra_ir_send_rep: an ip whose subject the profile set and whose notAfter was
capped at the issuing CA's (finding 4) is grantedWithMods naming both."""

import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAIL_BITS, CmpMsg, Gateway, Pg, cmpgw, http_post,  # noqa: E402
                     make_root, new_key, openssl, run, sign_cert)

CMPREQ = os.environ.get("CMPREQ_BIN", "cmpreq")
DEVICES = 17   # ACME-0017 is not on the serial list
RACE = range(8, 16)  # ACME-0008..0015: one transactionID, concurrently
HELD = 16  # ACME-0016: loses to a transactionID held by another session
EKU_CMC_RA = "1.3.6.1.5.5.7.3.28"
TID_REUSED = bytes.fromhex("0a0d0a0d0a0d0a0d0a0d0a0d0a0d0a0d")
TID_RACE = bytes.fromhex("5ace5ace5ace5ace5ace5ace5ace5ace")


def must(*args):
    rc, out = openssl(*args)
    if rc != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (args[0], out))


def make_ra(d):
    """An RA certificate (cmcRA) from a CA of its own: (crt, key)."""
    ca_key, ca_crt = os.path.join(d, "ra-ca.key"), os.path.join(d, "ra-ca.crt")
    must("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=cmpgw test ra-ca", "-days", "2",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", ca_key, "-out", ca_crt)
    ext = os.path.join(d, "ra.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
                "extendedKeyUsage=%s\n" % EKU_CMC_RA)
    key, csr, crt = (os.path.join(d, "ra" + x) for x in (".key", ".csr", ".crt"))
    must("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/O=Operator/CN=ra1", "-keyout", key, "-out", csr)
    must("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-extfile", ext, "-out", crt)
    return crt, key


def main(t):
    ra = {}

    def patch(cfg):
        d = os.path.join(os.path.dirname(cfg["data_dir"]), "demo", "ra")
        os.makedirs(d)
        ra["cert"] = make_ra(d)
        cfg["aliases"][0]["ras"] = [{"cert": ra["cert"][0], "vendor": "acme"}]
        cfg["aliases"][0]["vendors"] = ["acme", "beta"]
        # a profile outliving the issuing CA: notAfter capped (finding 4)
        cfg["profiles"]["long"] = dict(cfg["profiles"]["device"], validity_days=36500)
        cfg["aliases"].append(dict(cfg["aliases"][0], label="long", profile="long", paths=[],
                                   ras=[]))

    pg = Pg()
    gw = Gateway(t, pg, devices=DEVICES, name="admit", patch=patch)
    # vendor beta refuses re-enrollment; its device certificates are signed
    # by its root directly
    beta_root, beta_key = make_root(gw.tmp, "beta-root", "/O=Beta/CN=Beta Root CA")
    beta = sign_cert(gw.tmp, "beta-0001", "/serialNumber=BETA-0001/O=Beta/CN=Beta Router",
                     beta_root, beta_key)
    gw.must("vendor", "add", "--no-reenroll", "beta")
    gw.must("vendor", "anchor", "add", "beta", beta_root)
    serials = os.path.join(gw.tmp, "beta-serials.txt")
    with open(serials, "w") as f:
        f.write("BETA-0001\n")
    gw.must("serials", "import", "beta", serials)
    gw.start()

    def sigs():
        return gw.log_text().count("CA signature:")

    def audit_rows(event, detail):
        return int(gw.scalar("SELECT count(*) FROM audit WHERE event = '%s' AND detail = '%s'"
                             % (event, detail)))

    def block(serial):
        rc, out = cmpgw("serials", "import", "--config", gw.config, "--blocked", "acme", "-",
                        input=(serial + "\n").encode())
        t.eq(rc, 0, "serials import --blocked " + serial, out)

    def key(name):
        return new_key(os.path.join(gw.tmp, name + ".key"))

    def refused(name, fail, text, attempt, audit=None):
        """attempt() -> (failed, output); asserts the bit, 0 signatures, the
        audit row (event, detail) the commit would have written."""
        before, a0 = sigs(), audit_rows(*audit) if audit else 0
        failed, out = attempt()
        t.ok(failed and fail in out and text in out,
             "%s: %s (%s)" % (name, fail, text), out)
        t.eq(sigs() - before, 0, name + ": no CA signature", gw.log_tail(6))
        if audit:
            t.eq(audit_rows(*audit) - a0, 1, "%s: audit row %s %r" % (name, audit[0], audit[1]),
                 gw.psql("SELECT event, detail FROM audit ORDER BY id DESC LIMIT 3"))

    def via_cmp(**kw):
        def attempt():
            r = gw.cmp(**kw)
            return r.rc != 0 and not os.path.exists(r.certout), r.out
        return attempt

    def crafted(name, *args):
        out = os.path.join(gw.tmp, name + ".der")
        p = subprocess.run([CMPREQ] + list(args) + ["--out", out], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise RuntimeError("cmpreq %s failed:\n%s" % (args[0], p.stderr))
        with open(out, "rb") as f:
            return f.read()

    def via_cmpreq(name, *args):
        def attempt():
            status, _, body = gw.post(crafted(name, *args))
            if status != 200:
                return False, "HTTP %d" % status
            m = CmpMsg(body)
            return m.body_type == "error", " ".join(
                [m.describe()] + [n for n, b in FAIL_BITS.items() if b in m.failbits])
        return attempt

    # ---- accepted: exactly one CA signature ------------------------------------
    before = sigs()
    r = gw.cmp(1)
    t.ok(r.rc == 0 and os.path.exists(r.certout), "device 1 enrolls", repr(r))
    t.eq(sigs() - before, 1, "an accepted enrollment costs exactly one CA signature")

    # ---- vendor-certificate ir refusals ------------------------------------------
    refused("serial not on the list", "notAuthorized", "not on the vendor's list",
            via_cmp(k=DEVICES), ("rejected", "ir: serial_unknown"))
    block("ACME-0002")
    refused("blocked serial", "notAuthorized", "blocked", via_cmp(k=2),
            ("rejected", "ir: serial_blocked"))
    clone = sign_cert(gw.tmp, "clone-0001", "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                      gw.path("vendor", "vendor-ca.crt"), gw.path("vendor", "vendor-ca.key"))
    refused("clone (ACME-0001 with another vendor key)", "notAuthorized",
            "bound to another vendor key", via_cmp(k=1, cert=clone[0], key=clone[1]),
            ("clone_suspected", "ir: clone"))

    kb1, kb2 = key("beta-new-1"), key("beta-new-2")
    before = sigs()
    r = gw.cmp(cert=beta[0], key=beta[1], newkey=kb1, extracerts=None, subject="/CN=BETA-0001")
    t.ok(r.rc == 0, "--no-reenroll vendor: first enrollment", repr(r))
    t.eq(sigs() - before, 1, "--no-reenroll vendor: first enrollment costs one CA signature")
    refused("re-enrollment denied", "notAuthorized", "re-enrollment not allowed",
            via_cmp(cert=beta[0], key=beta[1], newkey=kb2, extracerts=None,
                    subject="/CN=BETA-0001"), ("rejected", "ir: reenroll_denied"))

    vca = gw.path("vendor", "vendor-ca.crt")
    before = sigs()
    status, _, body = gw.post(crafted("tid-first", "ir", "--cert", gw.dev(3), "--key",
                                      gw.dev(3, ext="key"), "--newkey", gw.dev(3, "new", "key"),
                                      "--extracerts", vca, "--tid", TID_REUSED.hex()))
    m = CmpMsg(body) if status == 200 else None
    t.ok(m is not None and m.body_type == "ip", "ir with a chosen transactionID: ip",
         m.describe() if m else status)
    t.eq(sigs() - before, 1, "ir with a chosen transactionID: one CA signature")
    refused("transactionID reused (another device)", "transactionIdInUse",
            "transactionID already in use",
            via_cmpreq("tid-again", "ir", "--cert", gw.dev(4), "--key", gw.dev(4, ext="key"),
                       "--newkey", gw.dev(4, "new", "key"), "--extracerts", vca,
                       "--tid", TID_REUSED.hex()), ("rejected", "ir: tid_in_use"))

    # ---- renewal refusals -----------------------------------------------------------
    ops = {}
    for k in (5, 6, 7):
        r = gw.cmp(k)
        t.ok(r.rc == 0, "device %d enrolls" % k, repr(r))
        ops[k] = r.certout
    knew = key("renew-new")

    def renew(k, **kw):
        return via_cmp(cmd="kur", cert=ops[k], key=gw.dev(k, "new", "key"), newkey=knew,
                       extracerts=None, subject=None, **kw)

    gw.psql("UPDATE certificates SET status = 'revoked', revoked_at = now(),"
            " revocation_reason = 1 WHERE device_serial = 'ACME-0005'")
    refused("renewal with a revoked operator certificate", "certRevoked",
            "certificate has been revoked", renew(5), ("rejected", "kur (renewal): old_revoked"))
    block("ACME-0006")
    refused("renewal for a blocked serial", "notAuthorized", "device serial is blocked",
            renew(6), ("rejected", "kur (renewal): serial_blocked"))
    refused("renewal reusing a transactionID", "transactionIdInUse",
            "transactionID already in use",
            via_cmpreq("kur-tid", "kur", "--cert", ops[7], "--key", gw.dev(7, "new", "key"),
                       "--newkey", knew, "--tid", TID_REUSED.hex()),
            ("rejected", "kur (renewal): tid_in_use"))

    # ---- downstream RA (entry bound to vendor acme: its serial list applies) --------
    kra = key("ra-new")

    def ra_ir(serial):
        return via_cmp(cert=ra["cert"][0], key=ra["cert"][1], newkey=kra, extracerts=None,
                       subject="/CN=Acme Router/serialNumber=%s" % serial, extra=["-popo", "0"])

    refused("downstream RA, serial not on the list", "notAuthorized",
            "not on the vendor's list", ra_ir("ACME-9999"),
            ("rejected", "ir (downstream RA): serial_unknown"))
    refused("downstream RA, blocked serial", "notAuthorized", "device serial is blocked",
            ra_ir("ACME-0002"), ("rejected", "ir (downstream RA): serial_blocked"))
    before = sigs()
    r = ra_ir("ACME-0004")()
    t.ok(r[0] is False, "downstream RA, listed serial: issued", r[1])
    t.eq(sigs() - before, 1, "downstream RA, listed serial: one CA signature")

    # ---- finding 10: racing duplicates ------------------------------------------------
    reqs = [crafted("race-%d" % k, "ir", "--cert", gw.dev(k), "--key", gw.dev(k, ext="key"),
                    "--newkey", gw.dev(k, "new", "key"), "--extracerts", vca,
                    "--tid", TID_RACE.hex()) for k in RACE]
    answers = [None] * len(reqs)
    go = threading.Barrier(len(reqs))

    def fire(i):
        go.wait()
        try:
            answers[i] = http_post(gw.port, reqs[i], timeout=60)
        except Exception as e:  # noqa
            answers[i] = (0, None, repr(e).encode())

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(reqs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(90)
    kinds = []
    for status, _, body in answers:
        try:
            m = CmpMsg(body)
        except Exception:  # noqa
            kinds.append("HTTP %s %r" % (status, body[:60]))
            continue
        if m.body_type == "ip" and m.status_infos() and m.status_infos()[0][0] in (0, 1):
            kinds.append("ip")
        else:
            kinds.append(",".join(n for n, b in FAIL_BITS.items() if b in m.failbits) or
                         m.describe())
    t.eq(kinds.count("ip"), 1, "race: exactly one of %d concurrent irs with one transactionID "
         "gets an ip" % len(reqs), kinds)
    t.eq(kinds.count("transactionIdInUse"), len(reqs) - 1,
         "race: every other one gets transactionIdInUse", kinds)
    t.ok(not any("systemUnavail" in k or "systemFailure" in k for k in kinds),
         "race: no systemUnavail / systemFailure", kinds)
    t.eq(gw.scalar("SELECT count(*) FROM transactions WHERE tid = '\\x%s'" % TID_RACE.hex()),
         "1", "race: one transactions row")
    t.eq(gw.scalar("SELECT count(*) FROM certificates c JOIN transactions x ON x.cert_id = c.id"
                   " WHERE x.tid = '\\x%s'" % TID_RACE.hex()), "1",
         "race: one certificate stored for it")

    held_commit(t, gw, pg, vca)

    # ---- the answer names every modification: subject and capped validity --------
    status, _, body = gw.post(crafted("capped", "ir", "--cert", gw.dev(4), "--key",
                                      gw.dev(4, ext="key"), "--newkey", key("capped"),
                                      "--extracerts", vca, "--subject", "/CN=ACME-0004"),
                              path="/.well-known/cmp/p/long")
    m = CmpMsg(body) if status == 200 else None
    t.ok(m is not None and m.body_type == "ip" and m.status_infos()[0][0] == 1 and
         "subject set by the operator profile; validity capped at the issuing CA's notAfter"
         in " ".join(m.texts), "capped validity and profile subject: grantedWithMods naming both",
         m.describe() if m else status)
    gw.stop()


def held_commit(t, gw, pg, vca):
    """The loser of the race deterministically: another session holds an
    uncommitted transactions row with the request's transactionID, so
    admission and the commit's check both pass, the commit's INSERT waits
    on the primary key, and fails with unique_violation once the holder
    commits: the answer is transactionIdInUse, not systemUnavail."""
    tid = bytes.fromhex("401d401d401d401d401d401d401d401d")
    out = os.path.join(gw.tmp, "held.der")
    p = subprocess.run([CMPREQ, "ir", "--cert", gw.dev(HELD), "--key", gw.dev(HELD, ext="key"),
                        "--newkey", new_key(os.path.join(gw.tmp, "held.key")),
                        "--extracerts", vca, "--tid", tid.hex(), "--out", out],
                       capture_output=True, text=True)
    t.ok(p.returncode == 0, "held commit: request crafted", p.stderr)
    with open(out, "rb") as f:
        req = f.read()
    holder = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                               "-h", pg.sock, "-p", str(pg.port), "-U", pg.USER, "-d", gw.db],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    answer = []
    try:
        holder.stdin.write("BEGIN;\nINSERT INTO transactions(tid, alias, body_type, state,"
                           " sender_fp, server_nonce, cert_req_id) VALUES ('\\x%s', '3gpp',"
                           " 'ir', 'issued', '\\x00', '\\x00', 0);\nSELECT 'held';\n"
                           % tid.hex())
        holder.stdin.flush()
        line = holder.stdout.readline().strip()
        t.eq(line, "held", "held commit: another session holds the transactionID uncommitted")
        th = threading.Thread(target=lambda: answer.append(http_post(gw.port, req, timeout=60)))
        th.start()
        waiting = False
        for _ in range(600):  # until the commit's INSERT waits on the holder
            waiting = gw.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                " current_database() AND wait_event_type = 'Lock'") != "0"
            if waiting or not th.is_alive():
                break
            time.sleep(0.05)
        t.ok(waiting, "held commit: the request's commit waits on the transactionID")
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        holder.wait(30)
        th.join(60)
    finally:
        if holder.poll() is None:
            holder.kill()
    m = CmpMsg(answer[0][2]) if answer and answer[0][0] == 200 else None
    t.ok(m is not None and m.body_type == "error" and
         FAIL_BITS["transactionIdInUse"] in m.failbits,
         "held commit: the loser gets transactionIdInUse", m.describe() if m else answer)
    t.ok("transactionID taken by a concurrent request" in gw.log_text(),
         "held commit: the unique violation was mapped, not logged as a database error",
         gw.log_tail(6))
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-%04d'" % HELD),
         "0",
         "held commit: nothing of the loser's commit is stored")


if __name__ == "__main__":
    run(main)
