#!/usr/bin/env python3
"""The CA side of RA mode (issue 4, RFC 9483 5.2): a CA-mode alias listing
downstream RAs in aliases[].ras, driven by the stock `openssl cmp` client
acting as the RA (-cert ra.crt -popo 0 = raVerified) and by cmpreq for
nested messages, against a real cmpgw serve and PostgreSQL.

Checked: an ir with raVerified from an authorized RA is issued for the
identity in the template's serialNumber and confirmed by the RA's certConf;
the original signature POP is verified; an RA entry with a vendor enforces
that vendor's serial list; an unlisted RA certificate (signerNotTrusted) and
an RA certificate without the required EKU (notAuthorized) are refused with
only an audit row written; raVerified from a device stays badPOP; nested
(one inner vendor-signed ir) from an authorized RA gets a nested answer with
the ip inside and the rows of a direct ir; nested from an unlisted RA is
refused; a nested kur renews an RA-enrolled certificate; kur by the RA
with the device certificate in extraCerts (certConf by the RA); rr by the RA on
behalf of a device (and refused from an unlisted RA); ra_identity
subject_cn and an RA subject restriction on a second alias; an RA entry
whose issuer is the issuing CA does not stop operator-certificate kur;
config validation of aliases[].ras and ra_identity."""

import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CmpMsg, Gateway, Pg, cmpgw, openssl, run  # noqa: E402

CMPREQ = os.environ.get("CMPREQ_BIN", "cmpreq")
EKU_CMC_RA = "1.3.6.1.5.5.7.3.28"
BIT = {"badPOP": 9, "signerNotTrusted": 20, "notAuthorized": 23}


def must(*args):
    rc, out = openssl(*args)
    if rc != 0:
        raise RuntimeError("openssl %s failed:\n%s" % (args[0], out))


def make_ca(d, name):
    must("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=cmpgw test %s" % name, "-days", "2",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-keyout", os.path.join(d, name + ".key"), "-out", os.path.join(d, name + ".crt"))


def make_ra(d, name, ca, eku):
    """RA certificate name.crt/.key issued by ca with the given EKU."""
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
                "extendedKeyUsage=%s\n" % eku)
    key, csr, crt = (os.path.join(d, name + x) for x in (".key", ".csr", ".crt"))
    must("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/O=Operator/CN=%s" % name, "-keyout", key, "-out", csr)
    must("x509", "-req", "-in", csr, "-CA", os.path.join(d, ca + ".crt"), "-CAkey",
         os.path.join(d, ca + ".key"), "-CAcreateserial", "-days", "2", "-extfile", ext,
         "-out", crt)
    return crt, key


def new_key(path):
    must("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    return path


def ra_ir(gw, ra, serial, newkey, popo="0", **kw):
    """openssl cmp as the RA: ir for device `serial`, raVerified by default."""
    return gw.cmp(cert=ra[0], key=ra[1], newkey=newkey, extracerts=None,
                  subject="/CN=Acme Router/serialNumber=%s" % serial,
                  extra=["-popo", popo], **kw)


def crafted(t, gw, name, *args):
    out = os.path.join(gw.tmp, name + ".der")
    p = subprocess.run([CMPREQ] + list(args) + ["--out", out], capture_output=True, text=True)
    t.ok(p.returncode == 0, name + ": crafted", p.stderr)
    return out


def show(path):
    p = subprocess.run([CMPREQ, "show", path], capture_output=True, text=True)
    return p.stdout


def refused(t, gw, name, r, bit, text):
    t.ok(r.rc != 0 and r.has(bit) and r.has(text), "%s: %s (%s)" % (name, bit, text), repr(r))
    t.ok(not os.path.exists(r.certout), name + ": no certificate")


def check_config(t, gw):
    """aliases[].ras / ra_identity validation: cmpgw check exits 2 naming the key."""
    cases = [
        ("cert and issuer", lambda a: a["ras"][1].update(cert=a["ras"][0]["cert"]),
         "aliases[0].ras[1]: needs exactly one of cert or issuer"),
        ("neither cert nor issuer", lambda a: a["ras"].append({"eku": "cmcRA"}),
         "aliases[0].ras[2]: needs exactly one of cert or issuer"),
        ("eku on a cert entry", lambda a: a["ras"][0].update(eku="cmcRA"),
         "aliases[0].ras[0]: subject and eku apply to issuer entries only"),
        ("bad eku", lambda a: a["ras"][1].update(eku="raAuth"), "aliases[0].ras[1].eku"),
        ("missing file", lambda a: a["ras"][1].update(issuer="nope.pem"), "aliases[0].ras[1]"),
        ("unknown key", lambda a: a["ras"][1].update(vendors=["acme"]), "aliases[0].ras[1]"),
        ("bad ra_identity", lambda a: a.update(ra_identity="cn"), "aliases[0].ra_identity"),
    ]
    for i, (name, change, want) in enumerate(cases):
        cfg = copy.deepcopy(gw.cfg)
        change(cfg["aliases"][0])
        path = gw.path("bad-ras-%d.json" % i)
        gw.write_config(cfg, path)
        rc, out = cmpgw("check", "--config", path)
        t.ok(rc == 2 and want in out, "config %s: check exits 2 naming %s" % (name, want), out)
    rc, out = cmpgw("check", "--config", gw.config)
    t.eq(rc, 0, "config with ras on two aliases: check exits 0", out)


def main(t):
    ras = {}

    def patch(cfg):
        d = os.path.join(os.path.dirname(cfg["data_dir"]), "demo", "ra")
        os.makedirs(d)
        make_ca(d, "ra-ca")
        make_ca(d, "other-ca")
        ras["ra1"] = make_ra(d, "ra1", "ra-ca", EKU_CMC_RA)
        ras["vendor"] = make_ra(d, "ra-vendor", "ra-ca", EKU_CMC_RA)
        ras["noeku"] = make_ra(d, "ra-noeku", "ra-ca", "clientAuth")
        ras["other"] = make_ra(d, "ra-other", "other-ca", EKU_CMC_RA)
        cfg["aliases"][0]["ras"] = [
            {"cert": ras["vendor"][0], "vendor": "acme"},
            {"issuer": os.path.join(d, "ra-ca.crt"), "eku": "cmcRA"},
        ]
        # a second alias: identity from the CN, one RA subject only
        cn = copy.deepcopy(cfg["aliases"][0])
        cn.update(label="cn", ra_identity="subject_cn", paths=[],
                  ras=[{"issuer": os.path.join(d, "ra-ca.crt"), "subject": "CN=ra1,O=Operator"},
                       {"issuer": os.path.join(d, "..", "pki", "issuing-ca.crt"),
                        "eku": "cmcRA"}])
        cfg["aliases"].append(cn)

    pg = Pg()
    gw = Gateway(t, pg, devices=7, name="downstream_ra", patch=patch)
    check_config(t, gw)
    gw.start()
    keys = {n: new_key(os.path.join(gw.tmp, n + ".key")) for n in ("a", "b", "c", "d", "e", "f", "g")}

    # ---- ir with raVerified by an authorized RA, certConf by the RA ----------
    r = ra_ir(gw, ras["ra1"], "ACME-0001", keys["a"])
    op1 = r.certout
    t.ok(r.rc == 0 and r.has("received IP") and r.has("received PKICONF"),
         "RA ir with raVerified: ip, RA's certConf -> pkiConf", repr(r))
    rc, subj = openssl("x509", "-noout", "-subject", "-in", r.certout)
    t.ok(rc == 0 and "CN = ACME-0001" in subj, "issued for the template's serialNumber", subj)
    t.eq(gw.psql("SELECT status, vendor_id IS NULL FROM certificates "
                 "WHERE device_serial = 'ACME-0001'"), [["active", "t"]],
         "RA ir: certificate active after the RA's certConf, no vendor")
    t.eq(gw.psql("SELECT state, body_type FROM transactions WHERE device_serial = 'ACME-0001'"),
         [["confirmed", "ir"]], "RA ir: transaction confirmed")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'issued' "
                   "AND detail LIKE 'ir (downstream RA)%' AND device_serial = 'ACME-0001'"), "1",
         "RA ir: audit row names the downstream RA")

    # ---- the original signature POP through the RA is verified ----------------
    r = ra_ir(gw, ras["ra1"], "ACME-0004", keys["b"], popo="1")
    t.ok(r.rc == 0 and r.has("received IP"), "RA ir with the device's signature POP", repr(r))
    op4 = r.certout

    # ---- alias "cn": identity from the template CN, RA subject restricted --------
    cn = ".well-known/cmp/p/cn"
    r = gw.cmp(cert=ras["ra1"][0], key=ras["ra1"][1], newkey=keys["c"], extracerts=None,
               subject="/CN=ACME-0005/serialNumber=IGNORED", extra=["-popo", "0"], path=cn)
    t.ok(r.rc == 0, "alias cn: RA ir issued", repr(r))
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-0005' "
                   "AND alias = 'cn'"), "1", "ra_identity subject_cn: identity from the CN")
    r = gw.cmp(cert=ras["vendor"][0], key=ras["vendor"][1], newkey=keys["c"], extracerts=None,
               subject="/CN=ACME-0005", extra=["-popo", "0"], path=cn)
    refused(t, gw, "alias cn: RA with another subject", r, "notAuthorized", "subject")

    # ---- RA entry with a vendor: that vendor's serial list applies ------------
    r = ra_ir(gw, ras["vendor"], "ACME-0002", keys["c"])
    t.ok(r.rc == 0, "RA with vendor acme: listed serial ACME-0002 issued", repr(r))
    t.eq(gw.scalar("SELECT v.name FROM certificates c JOIN vendors v ON v.id = c.vendor_id "
                   "WHERE c.device_serial = 'ACME-0002'"), "acme",
         "RA with vendor: certificate bound to vendor acme")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0002'"), "enrolled",
         "RA with vendor: serial enrolled after certConf")
    before = gw.counts()
    r = ra_ir(gw, ras["vendor"], "ACME-9999", keys["d"])
    refused(t, gw, "RA with vendor, unlisted serial", r, "notAuthorized",
            "not on the vendor's list")
    after = gw.counts()
    t.eq((after["certificates"], after["transactions"]),
         (before["certificates"], before["transactions"]), "unlisted serial: nothing written")

    # ---- unauthorized RAs ---------------------------------------------------------
    before = gw.counts()
    r = ra_ir(gw, ras["other"], "ACME-0003", keys["d"])
    refused(t, gw, "unlisted RA certificate", r, "signerNotTrusted", "not an authorized RA")
    r = ra_ir(gw, ras["noeku"], "ACME-0003", keys["d"])
    refused(t, gw, "RA certificate without cmcRA", r, "notAuthorized", "extendedKeyUsage")
    after = gw.counts()
    t.eq((after["certificates"], after["transactions"], after["serials_touched"]),
         (before["certificates"], before["transactions"], before["serials_touched"]),
         "unauthorized RAs: no certificate, transaction or serial written")
    t.eq(after["audit"], before["audit"] + 2, "unauthorized RAs: one audit row each")

    # ---- raVerified from a device stays badPOP ------------------------------------
    r = gw.cmp(5, extra=["-popo", "0"])
    refused(t, gw, "raVerified from a device", r, "badPOP", "raVerified")

    # ---- nested (RFC 9483 5.2.2.1): device's vendor-signed ir inside -------------
    inner = crafted(t, gw, "inner-ir", "ir", "--cert", gw.dev(3), "--key",
                    gw.dev(3, ext="key"), "--newkey", keys["e"], "--extracerts",
                    gw.path("vendor", "vendor-ca.crt"), "--tid", "00112233445566778899aabbccddeeff")
    nested = crafted(t, gw, "nested", "nested", "--cert", ras["ra1"][0], "--key", ras["ra1"][1],
                     "--in", inner)
    with open(nested, "rb") as f:
        status, _, body = gw.post(f.read())
    t.eq(status, 200, "nested: HTTP 200")
    ans = os.path.join(gw.tmp, "nested-answer.der")
    with open(ans, "wb") as f:
        f.write(body)
    lines = show(ans).splitlines()
    t.ok(len(lines) == 2 and lines[0].startswith("body=nested"), "nested answered with nested",
         lines)
    t.ok(len(lines) == 2 and lines[1].startswith("inner: body=ip tid=00112233445566778899aabb")
         and " status=0 " in lines[1], "nested: inner ip for the inner transaction, accepted",
         lines)
    t.eq(gw.psql("SELECT c.status, t.state, v.name FROM transactions t JOIN certificates c "
                 "ON c.id = t.cert_id JOIN vendors v ON v.id = c.vendor_id "
                 "WHERE t.tid = '\\x00112233445566778899aabbccddeeff'"),
         [["unconfirmed", "issued", "acme"]], "nested: rows of a direct vendor ir for ACME-0003")
    t.ok(gw.scalar("SELECT encode(key_fp, 'hex') FROM serials WHERE serial = 'ACME-0003'")
         is not None, "nested: serial bound to the device's vendor key as in a direct ir")

    # a batch (RFC 9483 5.2.2.2): each inner message processed and answered
    # on its own, the answers in the order of the requests - a fresh ir of
    # device 6, then the replayed ir above (transactionIdInUse)
    inner6 = crafted(t, gw, "inner-ir6", "ir", "--cert", gw.dev(6), "--key",
                     gw.dev(6, ext="key"), "--newkey", keys["g"], "--extracerts",
                     gw.path("vendor", "vendor-ca.crt"), "--tid", "66" * 16)
    two = crafted(t, gw, "nested-two", "nested", "--cert", ras["ra1"][0], "--key", ras["ra1"][1],
                  "--in", inner6, "--in", inner)
    with open(two, "rb") as f:
        status, _, body = gw.post(f.read())
    with open(ans, "wb") as f:
        f.write(body)
    lines = show(ans).splitlines()
    t.ok(len(lines) == 3 and lines[0].startswith("body=nested"),
         "nested with two inner messages: nested answer with two", lines)
    t.ok(len(lines) == 3 and lines[1].startswith("inner: body=ip tid=" + "66" * 16)
         and " status=0 " in lines[1], "batch: first answer is the ip of device 6", lines)
    t.ok(len(lines) == 3 and lines[2].startswith("inner: body=error tid=00112233445566778899aabb")
         and "failinfo=21" in lines[2], "batch: second answer is transactionIdInUse", lines)
    t.eq(gw.scalar("SELECT state FROM transactions WHERE tid = '\\x" + "66" * 16 + "'"),
         "issued", "batch: device 6's transaction stored like a direct ir")
    # more than 16 inner messages: refused as a whole
    many = crafted(t, gw, "nested-many", "nested", "--cert", ras["ra1"][0], "--key",
                   ras["ra1"][1], *(["--in", inner] * 17))
    with open(many, "rb") as f:
        status, _, body = gw.post(f.read())
    m = CmpMsg(body)
    t.ok("badRequest" in m.failnames and any("1 to 16 inner" in x for x in m.texts),
         "nested with 17 inner messages: badRequest", m.describe())

    before = gw.counts()
    inner2 = crafted(t, gw, "inner-ir2", "ir", "--cert", gw.dev(4), "--key",
                     gw.dev(4, ext="key"), "--newkey", keys["d"], "--extracerts",
                     gw.path("vendor", "vendor-ca.crt"))
    nested2 = crafted(t, gw, "nested-other", "nested", "--cert", ras["other"][0], "--key",
                      ras["other"][1], "--in", inner2)
    with open(nested2, "rb") as f:
        status, _, body = gw.post(f.read())
    m = CmpMsg(body)
    t.ok("signerNotTrusted" in m.failnames, "nested from an unlisted RA: signerNotTrusted",
         m.describe())
    after = gw.counts()
    t.eq((after["certificates"], after["transactions"]),
         (before["certificates"], before["transactions"]), "nested from unlisted RA: nothing written")

    # ---- renewal of an RA-enrolled device: its kur wrapped in nested ---------
    kur = crafted(t, gw, "inner-kur", "kur", "--cert", op4, "--key", keys["b"], "--newkey",
                  keys["f"])
    nested3 = crafted(t, gw, "nested-kur", "nested", "--cert", ras["ra1"][0], "--key",
                      ras["ra1"][1], "--in", kur)
    with open(nested3, "rb") as f:
        status, _, body = gw.post(f.read())
    with open(ans, "wb") as f:
        f.write(body)
    lines = show(ans).splitlines()
    t.ok(len(lines) == 2 and lines[1].startswith("inner: body=kup") and " status=0 " in lines[1],
         "nested kur of an RA-enrolled device: inner kup accepted", lines)
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-0004'"), "2",
         "nested kur: a second certificate for ACME-0004")

    # ---- kur by the RA on behalf of the device (device cert in extraCerts) -----
    r = gw.cmp(cmd="kur", cert=ras["ra1"][0], key=ras["ra1"][1], newkey=keys["g"],
               extracerts=None, subject=None, extra=["-oldcert", op4, "-popo", "0"])
    refused(t, gw, "kur by the RA without the device certificate", r, "badCertId", "extraCerts")
    r = gw.cmp(cmd="kur", cert=ras["ra1"][0], key=ras["ra1"][1], newkey=keys["g"],
               extracerts=op4, subject=None, extra=["-oldcert", op4, "-popo", "0"])
    t.ok(r.rc == 0 and r.has("received KUP") and r.has("received PKICONF"),
         "kur by the RA (raVerified, oldCertID = device cert): kup, RA's certConf", repr(r))
    t.eq(gw.psql("SELECT status FROM certificates WHERE device_serial = 'ACME-0004' ORDER BY id"),
         [["revoked"], ["unconfirmed"], ["active"]],
         "kur by the RA: device's old certificate revoked (superseded), the new one active")
    r = gw.cmp(cmd="kur", cert=ras["ra1"][0], key=ras["ra1"][1], newkey=keys["g"],
               extracerts=op4, subject=None, extra=["-oldcert", op4, "-popo", "0"])
    t.ok(r.rc != 0 and r.has("certRevoked"),
         "kur by the RA for the replaced (revoked) certificate: certRevoked", repr(r))

    # ---- an RA entry whose issuer is our issuing CA leaves renewals alone ------
    r = gw.cmp(5)
    t.ok(r.rc == 0, "device 5 enrolls with its vendor certificate", repr(r))
    r = gw.cmp(5, cmd="kur", cert=r.certout, key=gw.dev(5, "new", "key"), newkey=keys["f"],
               extracerts=None, subject=None, path=cn)
    t.ok(r.rc == 0 and r.has("received KUP"),
         "kur with the operator certificate on an alias whose RA issuer is the issuing CA",
         repr(r))

    # ---- rr by the RA on behalf of a device ------------------------------------
    r = gw.cmp(cmd="rr", cert=ras["other"][0], key=ras["other"][1], extracerts=None,
               subject=None, extra=["-oldcert", op1])
    t.ok(r.rc != 0 and r.has("notAuthorized"), "rr by an unlisted RA: notAuthorized", repr(r))
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0001'"), "active",
         "rr by an unlisted RA: certificate still active")
    r = gw.cmp(cmd="rr", cert=ras["ra1"][0], key=ras["ra1"][1], extracerts=None,
               subject=None, extra=["-oldcert", op1])
    t.ok(r.rc == 0 and r.has("received RP"), "rr by the authorized RA: rp accepted", repr(r))
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0001'"),
         "revoked", "rr by the RA: the device's certificate revoked")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE detail LIKE '%by downstream RA%'"), "1",
         "rr by the RA: audited as by downstream RA",
         gw.psql("SELECT event, detail FROM audit ORDER BY id DESC LIMIT 3"))
    gw.stop()


if __name__ == "__main__":
    run(main)
