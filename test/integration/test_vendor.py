#!/usr/bin/env python3
"""The vendor registry cannot be set up wrong silently (issue 14).

Against real PostgreSQL, the real `cmpgw` CLI and `cmpgw serve` with the
stock `openssl cmp` client, one check per rule of docs/VENDORS.md, each
with its exact message and exit code (a refusal exits 1 and changes
nothing: the rows of vendors and vendor_certs are counted before and
after; usage errors exit 2):

1. an anchor registered for another vendor is refused naming that vendor;
   the same certificate again for the same vendor is an idempotent success;
2. a PEM file with several certificates registers all of them in one
   transaction, or none (naming the certificate and the reason);
3. an expired or not yet valid CA certificate is refused unless --force;
   one that expires within 90 days is registered with a warning;
4. an intermediate must chain to an anchor of THAT vendor; an anchor must
   be self-signed; both must be fit to issue under the vendor's strictness;
5. a registered vendor the alias does not accept: notAuthorized "vendor X
   is not accepted on alias Y";
6. chain errors name the certificate and the reason (strict X.509
   finding of a vendor CA, expired device certificate);
7. per vendor x509_strict: `vendor add --lenient`, `vendor set`, and the
   registration check that follows it; the device certificate must not be
   a CA and its keyUsage must allow digitalSignature;
8. a root's nameConstraints are honoured on the cached path (one worker:
   the second device of the intermediate takes the validated-intermediate
   cache) as on the full path;
9. every registry change writes an audit row naming the OS principal;
10. the factory dry run `cmpgw vendor check` (a good chain, an enrolled
   device, a clone, a serial not on the list, an untrusted chain, an
   expired device certificate, a non-strict vendor CA, a vendor the alias
   does not accept): each check's verdict and reason in JSON, the readable
   report agreeing, one audit row per run, nothing else changed.
"""

import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Gateway, Pg, capture_request, cmpgw, new_key, openssl, run,  # noqa: E402
                     utc_stamp)

CNF = """\
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
email_in_dn = no
[ pol ]
serialNumber = optional
organizationName = optional
commonName = optional
[ ca_ext ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca_soft ]
basicConstraints = CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca_nc ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nameConstraints = critical,permitted;dirName:nc_dir
[ nc_dir ]
O = NCCo
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ leaf_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ leaf_ka ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyAgreement
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


class Pki:
    """Certificates made with `openssl ca` (explicit dates, any extension
    section of CNF)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0

    def cert(self, name, subj, issuer=None, ext="ca_ext", start=None, end=None, days=3650):
        """issuer: (crt, key) or None for self-signed. Returns (crt, key)."""
        self.n += 1
        d = os.path.join(self.tmp, "pki-%d-%s" % (self.n, name))
        os.makedirs(os.path.join(d, "newcerts"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("%032X\n" % int.from_bytes(os.urandom(15), "big"))
        cnf = os.path.join(d, "ca.cnf")
        with open(cnf, "w") as f:
            f.write(CNF.format(dir=d))
        key = new_key(os.path.join(self.tmp, name + ".key"))
        csr = os.path.join(d, "req.csr")
        rc, out = openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
        assert rc == 0, out
        crt = os.path.join(self.tmp, name + ".crt")
        args = ["ca", "-batch", "-notext", "-preserveDN", "-config", cnf, "-extensions", ext,
                "-in", csr, "-out", crt]
        if issuer:
            args += ["-cert", issuer[0], "-keyfile", issuer[1]]
        else:
            args += ["-selfsign", "-keyfile", key]
        if start:
            args += ["-startdate", start]
        args += ["-enddate", end] if end else ["-days", str(days)]
        rc, out = openssl(*args)
        assert rc == 0, out
        return crt, key


def cat(tmp, name, *paths, extra=""):
    """A PEM file with the given files' contents (and extra text)."""
    out = os.path.join(tmp, name)
    with open(out, "w") as f:
        for p in paths:
            with open(p) as g:
                f.write(g.read())
        f.write(extra)
    return out


def main(t):
    def patch(cfg):
        cfg["workers"] = 1  # rule 8: the second request finds the first one's cache
        cfg["aliases"][0]["vendors"] = ["acme", "strictco", "ncco"]

    pg = Pg()
    gw = Gateway(t, pg, devices=3, name="vendor", patch=patch)
    pki = Pki(gw.tmp)

    def cli(*args):
        """cmpgw vendor|serials WORDS... --config CFG ARGS (words end at the first
        argument that is not a command word)."""
        words = []
        rest = list(args)
        while rest and rest[0] in ("vendor", "serials", "add", "set", "check", "anchor",
                                   "intermediate", "import"):
            words.append(rest.pop(0))
        return cmpgw(*(words + ["--config", gw.config] + rest))

    def counts():
        r = gw.psql("SELECT (SELECT count(*) FROM vendors), (SELECT count(*) FROM vendor_certs),"
                    " (SELECT count(*) FROM vendors WHERE NOT x509_strict)")[0]
        return tuple(int(x) for x in r)

    def ok_cli(name, args, want_out=None, want_err=None):
        rc, out = cli(*args)
        t.eq(rc, 0, "%s: exit 0" % name, out)
        for w in (want_out, want_err):
            if w:
                t.ok(w in out, "%s: says %r" % (name, w), out)
        return out

    def refused(name, args, want, code=1):
        """Exit code, exact message, nothing changed."""
        before = counts()
        rc, out = cli(*args)
        t.eq(rc, code, "%s: exit %d" % (name, code), out)
        t.ok(want in out, "%s: says %r" % (name, want), out)
        t.eq(counts(), before, "%s: vendors and vendor_certs unchanged" % name)
        return out

    def subj(crt):
        rc, out = openssl("x509", "-in", crt, "-noout", "-subject", "-nameopt", "compat")
        return out.strip().split("=", 1)[1].strip()

    # ---- 1. an anchor of another vendor --------------------------------------
    gamma = pki.cert("gamma-root", "/O=Gamma/CN=Gamma Root")
    ok_cli("vendor add gamma", ("vendor", "add", "gamma"), "registered vendor gamma")
    ok_cli("gamma anchor", ("vendor", "anchor", "add", "gamma", gamma[0]),
           "registered anchor %s for vendor gamma" % subj(gamma[0]))
    refused("gamma's anchor for acme", ("vendor", "anchor", "add", "acme", gamma[0]),
            "cmpgw: certificate 1 (%s) is already registered for vendor gamma, not acme; "
            "nothing registered" % subj(gamma[0]))
    ok_cli("gamma's anchor again for gamma", ("vendor", "anchor", "add", "gamma", gamma[0]),
           "anchor %s already registered for gamma" % subj(gamma[0]))

    # ---- 2. several certificates in one PEM file ------------------------------
    r1 = pki.cert("acme-r1", "/O=Acme/CN=Acme Root 1")
    r2 = pki.cert("acme-r2", "/O=Acme/CN=Acme Root 2")
    r3 = pki.cert("acme-r3", "/O=Acme/CN=Acme Root 3")
    leaf = pki.cert("acme-leaf", "/O=Acme/CN=Not a CA", issuer=r3, ext="leaf")
    before = counts()
    out = ok_cli("two anchors in one PEM", ("vendor", "anchor", "add", "acme",
                                           cat(gw.tmp, "two.pem", r1[0], r2[0])))
    t.ok("registered anchor %s" % subj(r1[0]) in out and
         "registered anchor %s" % subj(r2[0]) in out, "two anchors: both reported", out)
    t.eq(counts()[1], before[1] + 2, "two anchors: both registered")
    refused("PEM with a certificate of gamma second",
            ("vendor", "anchor", "add", "acme", cat(gw.tmp, "mixed.pem", r3[0], gamma[0])),
            "cmpgw: certificate 2 (%s) is already registered for vendor gamma, not acme; "
            "nothing registered" % subj(gamma[0]))
    t.eq(gw.scalar("SELECT count(*) FROM vendor_certs WHERE subject LIKE '%Acme Root 3%'"),
         "0", "mixed PEM: its first certificate was not registered either")
    refused("PEM with a non-CA second",
            ("vendor", "anchor", "add", "acme", cat(gw.tmp, "leaf.pem", r3[0], leaf[0])),
            "cmpgw: certificate 2 (%s) is not a CA certificate" % subj(leaf[0]))
    with open(r3[1]) as f:
        key_pem = f.read()
    refused("PEM with a private key block",
            ("vendor", "anchor", "add", "acme", cat(gw.tmp, "key.pem", r3[0], extra=key_pem)),
            'PEM block 2 is "PRIVATE KEY", not a CERTIFICATE')
    with open(r3[0]) as f:
        broken = f.read().replace("M", "*", 1)  # a base64 line that no longer decodes
    refused("PEM with a second block that does not decode",
            ("vendor", "anchor", "add", "acme", cat(gw.tmp, "broken.pem", r1[0], extra=broken)),
            "PEM block 2 does not decode")
    der = os.path.join(gw.tmp, "r3.der")
    rc, o = openssl("x509", "-in", r3[0], "-outform", "DER", "-out", der)
    ok_cli("a DER file holds one", ("vendor", "anchor", "add", "acme", der),
           "registered anchor %s for vendor acme" % subj(r3[0]))

    # ---- 3. validity ------------------------------------------------------------
    old = pki.cert("old-root", "/O=Acme/CN=Acme Old Root", start=utc_stamp(-400 * 86400),
                   end=utc_stamp(-86400))
    young = pki.cert("young-root", "/O=Acme/CN=Acme Future Root",
                     start=utc_stamp(30 * 86400), end=utc_stamp(400 * 86400))
    soon = pki.cert("soon-root", "/O=Acme/CN=Acme Short Root", days=30)
    refused("expired anchor", ("vendor", "anchor", "add", "acme", old[0]),
            "cmpgw: certificate 1 (%s) has expired (register it anyway with --force)"
            % subj(old[0]))
    refused("not yet valid anchor", ("vendor", "anchor", "add", "acme", young[0]),
            "cmpgw: certificate 1 (%s) is not yet valid (register it anyway with --force)"
            % subj(young[0]))
    before = counts()
    ok_cli("expired anchor with --force", ("vendor", "anchor", "add", "--force", "acme", old[0]),
           "cmpgw: warning: certificate 1 (%s) has expired; registered because of --force"
           % subj(old[0]))
    t.eq(counts()[1], before[1] + 1, "--force: registered")
    out = ok_cli("anchor expiring within 90 days", ("vendor", "anchor", "add", "acme", soon[0]),
                 "cmpgw: warning: certificate 1 (%s) expires in " % subj(soon[0]))
    m = re.search(r"expires in (\d+) days", out)
    t.ok(m and 29 <= int(m.group(1)) <= 30, "anchor expiring within 90 days: in 29-30 days "
         "(made with -days 30)", out)

    # ---- 4. an intermediate chains to an anchor of that vendor ------------------
    gamma_ca = pki.cert("gamma-ca", "/O=Gamma/CN=Gamma CA", issuer=gamma)
    refused("gamma's intermediate for acme",
            ("vendor", "intermediate", "add", "acme", gamma_ca[0]),
            "cmpgw: certificate 1 (%s) cannot be an intermediate of vendor acme: does not "
            "chain to an anchor of this vendor (through its registered intermediates)"
            % subj(gamma_ca[0]))
    ok_cli("vendor add empty", ("vendor", "add", "empty"))
    refused("intermediate of a vendor without anchors",
            ("vendor", "intermediate", "add", "empty", gamma_ca[0]),
            "cmpgw: vendor empty has no trust anchor: register its anchor first")
    i1 = pki.cert("acme-i1", "/O=Acme/CN=Acme Sub 1", issuer=r1)
    i2 = pki.cert("acme-i2", "/O=Acme/CN=Acme Sub 2", issuer=i1)
    ok_cli("a sub-CA chain in one file (issuer second)",
           ("vendor", "intermediate", "add", "acme", cat(gw.tmp, "subs.pem", i2[0], i1[0])),
           "registered intermediate %s for vendor acme" % subj(i2[0]))
    i3 = pki.cert("acme-i3", "/O=Acme/CN=Acme Sub 3", issuer=i2)
    ok_cli("an intermediate through a registered one",
           ("vendor", "intermediate", "add", "acme", i3[0]),
           "registered intermediate %s for vendor acme" % subj(i3[0]))

    # ---- 7. x509_strict per vendor ------------------------------------------------
    ok_cli("vendor add --lenient", ("vendor", "add", "--lenient", "legacy"),
           "registered vendor legacy (serial rule subject_serialnumber, lenient X.509)")
    t.eq(gw.scalar("SELECT x509_strict FROM vendors WHERE name = 'legacy'"), "f",
         "vendor add --lenient: x509_strict false")
    sroot = pki.cert("strict-root", "/O=StrictCo/CN=StrictCo Root")
    soft = pki.cert("strict-soft", "/O=StrictCo/CN=StrictCo Legacy CA", issuer=sroot,
                    ext="ca_soft")
    ok_cli("vendor add strictco", ("vendor", "add", "strictco"), "strict X.509")
    ok_cli("strictco anchor", ("vendor", "anchor", "add", "strictco", sroot[0]))
    refused("strict vendor: CA with a non-critical basicConstraints",
            ("vendor", "intermediate", "add", "strictco", soft[0]),
            "cmpgw: certificate 1 (%s) cannot be an intermediate of vendor strictco: "
            "basicConstraints not marked critical (strict X.509)" % subj(soft[0]))
    refused("vendor set without a mode", ("vendor", "set", "strictco"),
            "give exactly one of --strict, --lenient", code=2)
    refused("vendor set with both", ("vendor", "set", "--strict", "--lenient", "strictco"),
            "give exactly one of --strict, --lenient", code=2)
    refused("vendor set of an unknown vendor", ("vendor", "set", "--lenient", "nobody"),
            'cmpgw: unknown vendor "nobody"')
    ok_cli("vendor set --lenient", ("vendor", "set", "--lenient", "strictco"),
           "vendor strictco: lenient X.509")
    ok_cli("lenient vendor: the same CA registers",
           ("vendor", "intermediate", "add", "strictco", soft[0]),
           "registered intermediate %s for vendor strictco" % subj(soft[0]))
    ok_cli("vendor set --strict", ("vendor", "set", "--strict", "strictco"),
           "vendor strictco: strict X.509")
    ok_cli("vendor set --strict again", ("vendor", "set", "--strict", "strictco"),
           "vendor strictco: strict X.509 (unchanged)")
    softroot = pki.cert("soft-root", "/O=Legacy/CN=Legacy Root", ext="ca_soft")
    refused("strict vendor: anchor with a non-critical basicConstraints",
            ("vendor", "anchor", "add", "strictco", softroot[0]),
            "cmpgw: certificate 1 (%s) cannot be an anchor of vendor strictco: "
            "basicConstraints not marked critical (strict X.509)" % subj(softroot[0]))
    ok_cli("lenient vendor: that anchor registers",
           ("vendor", "anchor", "add", "legacy", softroot[0]),
           "registered anchor %s for vendor legacy" % subj(softroot[0]))
    refused("an anchor that is not self-signed", ("vendor", "anchor", "add", "legacy", i1[0]),
            "cmpgw: certificate 1 (%s) cannot be an anchor of vendor legacy: not self-signed"
            % subj(i1[0]))

    # ---- 9. audit rows of registry changes ------------------------------------------
    rows = gw.psql("SELECT event, principal, vendor FROM audit WHERE principal IS NOT NULL"
                   " AND vendor = 'strictco' ORDER BY id")
    events = [r[0] for r in rows]
    t.ok(events[:2] == ["vendor_added", "vendor_anchor_added"] and
         "vendor_strict_set" in events and "vendor_intermediate_added" in events,
         "audit: strictco's changes audited", repr(rows))
    t.ok(all(r[1].startswith("os:") for r in rows), "audit: principal is the OS user",
         repr(rows))

    # ---- enrollment: 5, 6, 7 (leaf rules), 8 --------------------------------------
    gdev = pki.cert("gamma-dev", "/serialNumber=GAMMA-1/O=Gamma/CN=Gamma Router",
                    issuer=gamma_ca, ext="leaf")
    ok_cli("gamma intermediate", ("vendor", "intermediate", "add", "gamma", gamma_ca[0]))
    # strictco: strict again; a device under the (now registered) soft CA,
    # and one under an unregistered soft CA it brings in extraCerts
    soft2 = pki.cert("strict-soft2", "/O=StrictCo/CN=StrictCo Legacy CA 2", issuer=sroot,
                     ext="ca_soft")
    sdev = pki.cert("strict-dev", "/serialNumber=SC-1/O=StrictCo/CN=Router", issuer=soft2,
                    ext="leaf")
    a_ca = (gw.path("vendor", "vendor-ca.crt"), gw.path("vendor", "vendor-ca.key"))
    expired = pki.cert("acme-expired", "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                       issuer=a_ca, ext="leaf", start=utc_stamp(-10 * 86400),
                       end=utc_stamp(-86400))
    ca_leaf = pki.cert("acme-caleaf", "/serialNumber=ACME-0002/O=Acme/CN=Acme Router",
                       issuer=a_ca, ext="leaf_ca")
    ka_leaf = pki.cert("acme-kaleaf", "/serialNumber=ACME-0002/O=Acme/CN=Acme Router",
                       issuer=a_ca, ext="leaf_ka")
    ncroot = pki.cert("nc-root", "/O=NCCo/CN=NCCo Root", ext="ca_nc")
    ncca = pki.cert("nc-ca", "/O=NCCo/CN=NCCo CA", issuer=ncroot)
    nc_in = [pki.cert("nc-in-%d" % k, "/O=NCCo/serialNumber=NC-%d/CN=Router" % k,
                      issuer=ncca, ext="leaf") for k in (1, 2)]
    nc_out = pki.cert("nc-out", "/O=Evil/serialNumber=NC-3/CN=Router", issuer=ncca, ext="leaf")
    ok_cli("vendor add ncco", ("vendor", "add", "ncco"))
    ok_cli("ncco anchor", ("vendor", "anchor", "add", "ncco", ncroot[0]))
    serials = os.path.join(gw.tmp, "nc-serials.txt")
    with open(serials, "w") as f:
        f.write("NC-1\nNC-2\nNC-3\n")
    ok_cli("ncco serials", ("serials", "import", "ncco", serials))

    gw.start()

    def enroll(name, dev, chain, text, fail, subject="/CN=X"):
        r = gw.cmp(cert=dev[0], key=dev[1], extracerts=chain,
                   newkey=new_key(os.path.join(gw.tmp, name + "-new.key")), subject=subject)
        if text is None:
            t.ok(r.rc == 0, "%s: enrolls" % name, repr(r))
            return
        t.ok(r.rc != 0, "%s: refused" % name, repr(r))
        t.ok(r.has(fail), "%s: failInfo %s" % (name, fail), r.out)
        t.ok(r.has(text), "%s: statusString %r" % (name, text), r.out)

    enroll("5 gamma not accepted", gdev, gamma_ca[0],
           "vendor gamma is not accepted on alias 3gpp", "notAuthorized")
    enroll("6 strict: unregistered non-critical CA", sdev, soft2[0],
           "vendor CA certificate at depth 1: basicConstraints not marked critical "
           "(strict X.509)", "signerNotTrusted")
    enroll("6 expired device certificate", expired, a_ca[0], "vendor certificate: expired",
           "signerNotTrusted")
    enroll("7 a CA as device certificate", ca_leaf, a_ca[0],
           "vendor certificate: a CA certificate where an end-entity certificate is required",
           "signerNotTrusted")
    enroll("7 keyUsage without digitalSignature", ka_leaf, a_ca[0],
           "vendor certificate: keyUsage does not allow digitalSignature", "signerNotTrusted")
    enroll("8 inside the root's nameConstraints (full path)", nc_in[0], ncca[0], None, None,
           subject="/CN=NC-1")
    enroll("8 inside the root's nameConstraints (cached path)", nc_in[1], ncca[0], None, None,
           subject="/CN=NC-2")
    enroll("8 outside the root's nameConstraints (cached path)", nc_out, ncca[0],
           "vendor certificate: name not permitted by the nameConstraints of a vendor CA",
           "signerNotTrusted")
    gw.restart()
    enroll("8 outside the root's nameConstraints (full path, fresh cache)", nc_out, ncca[0],
           "vendor certificate: name not permitted by the nameConstraints of a vendor CA",
           "signerNotTrusted")
    # 7 at enrollment: the running gateway follows vendor set (registry notify)
    sc = os.path.join(gw.tmp, "sc-serials.txt")
    with open(sc, "w") as f:
        f.write("SC-1\n")
    ok_cli("strictco serials", ("serials", "import", "strictco", sc))
    enroll("7 strict vendor, non-critical CA in extraCerts", sdev, soft2[0],
           "vendor CA certificate at depth 1: basicConstraints not marked critical "
           "(strict X.509)", "signerNotTrusted")
    ok_cli("vendor set --lenient while serving", ("vendor", "set", "--lenient", "strictco"),
           "vendor strictco: lenient X.509")
    time.sleep(1)  # the registry reload follows the NOTIFY within milliseconds
    enroll("7 lenient vendor: the same chain enrolls", sdev, soft2[0], None, None,
           subject="/CN=SC-1")
    ok_cli("vendor set --strict while serving", ("vendor", "set", "--strict", "strictco"),
           "vendor strictco: strict X.509")
    time.sleep(1)
    enroll("7 strict again: refused again", sdev, soft2[0],
           "vendor CA certificate at depth 1: basicConstraints not marked critical "
           "(strict X.509)", "signerNotTrusted")
    enroll("acme device 1 still enrolls", (gw.dev(1), gw.dev(1, ext="key")),
           gw.path("vendor", "vendor-ca.crt"), None, None, subject="/CN=ACME-0001")
    gw.stop()

    # ---- 10. the factory dry run: cmpgw vendor check ----------------------------------
    ca_pem = gw.path("vendor", "vendor-ca.crt")

    def dry(name, chain, want_rc, steps, alias="3gpp", request=None):
        """steps: {check: (pass, detail substring)}; JSON and text agree."""
        audits = int(gw.scalar("SELECT count(*) FROM audit WHERE event = 'vendor_check'"))
        before = counts()
        req = (request,) if request else ()
        rc, out = cli("vendor", "check", "--json", "--alias", alias, chain, *req)
        t.eq(rc, want_rc, "dry run %s: exit %d" % (name, want_rc), out)
        try:
            doc = json.loads(out)
        except ValueError:
            t.ok(False, "dry run %s: JSON report" % name, out)
            return
        got = {}
        for s in doc["steps"]:
            got.setdefault(s["check"], s)  # the first of a kind (depth 0 of "certificate")
        for check, (ok, text) in steps.items():
            s = got.get(check)
            t.ok(s is not None and s["pass"] == ok and text in s["detail"],
                 "dry run %s: %s %s, %r" % (name, check, "passes" if ok else "fails", text),
                 json.dumps(doc, indent=1))
        t.eq(doc["pass"], want_rc == 0, "dry run %s: overall verdict" % name)
        rc2, text = cli("vendor", "check", "--alias", alias, chain, *req)
        if rc == 0:
            t.diag("readable report of %s:\n%s" % (name, text))
        t.ok(rc2 == rc and ("vendor check on alias %s: %s" % (alias, "PASS" if rc == 0 else "FAIL"))
             in text, "dry run %s: the readable report agrees" % name, text)
        t.eq(int(gw.scalar("SELECT count(*) FROM audit WHERE event = 'vendor_check'")),
             audits + 2, "dry run %s: one audit row per run" % name)
        t.eq(counts(), before, "dry run %s: registry unchanged" % name)

    dry("good chain", cat(gw.tmp, "dev2.pem", gw.dev(2), ca_pem), 0, {
        "chain": (True, "chains to vendor acme"),
        "certificate": (True, "depth 0, vendor certificate"),
        "strictness": (True, "vendor acme is strict X.509; lenient mode would accept"),
        "alias": (True, "vendor acme is accepted on alias 3gpp"),
        "serial": (True, 'device serial "ACME-0002"'),
        "serial list": (True, "on vendor acme's list: allowed"),
        "clone binding": (True, "bound to no key yet"),
        "issuance": (True, "subjectAltNames DNS:ACME-0002.")})
    dry("enrolled device", cat(gw.tmp, "dev1.pem", gw.dev(1), ca_pem), 0, {
        "serial list": (True, "on vendor acme's list: enrolled"),
        "clone binding": (True, "bound to this certificate's key"),
        "re-enrollment": (True, "allows a second enrollment")})
    clone = pki.cert("acme-clone", "/serialNumber=ACME-0001/O=Acme/CN=Acme Router",
                     issuer=a_ca, ext="leaf")
    dry("clone", cat(gw.tmp, "clone.pem", clone[0], ca_pem), 1, {
        "chain": (True, "chains to vendor acme"),
        "clone binding": (False, "bound to another vendor key")})
    unlisted = pki.cert("acme-unlisted", "/serialNumber=ACME-9999/O=Acme/CN=Acme Router",
                        issuer=a_ca, ext="leaf")
    dry("serial not on the list", cat(gw.tmp, "unlisted.pem", unlisted[0], ca_pem), 1, {
        "serial list": (False, "serial \"ACME-9999\" is not on vendor acme's list")})
    rogue = pki.cert("rogue", "/serialNumber=ACME-0002/O=Rogue/CN=Rogue", ext="leaf_ca")
    dry("untrusted chain", rogue[0], 1, {
        "chain": (False, "vendor certificate does not chain to a registered vendor trust "
                         "anchor")})
    dry("expired device certificate", cat(gw.tmp, "expired.pem", expired[0], ca_pem), 1, {
        "chain": (False, "vendor certificate: expired"),
        "certificate": (False, "depth 0, vendor certificate")})
    dry("non-strict vendor CA", cat(gw.tmp, "soft.pem", sdev[0], soft2[0]), 1, {
        "chain": (False, "basicConstraints not marked critical (strict X.509)"),
        "strictness": (True, "lenient mode would accept the chain")})
    dry("vendor not accepted", cat(gw.tmp, "gamma.pem", gdev[0], gamma_ca[0]), 1, {
        "chain": (True, "chains to vendor gamma"),
        "alias": (False, "vendor gamma is not accepted on alias 3gpp")})
    req2 = os.path.join(gw.tmp, "req2.der")
    with open(req2, "wb") as f:
        f.write(capture_request(gw, 2))
    dry("good chain and its request", cat(gw.tmp, "dev2r.pem", gw.dev(2), ca_pem), 0, {
        "request": (True, "ir with one CertReqMsg"),
        "protection": (True, "signed by the vendor certificate; the signature verifies"),
        "pop": (True, "the POP signature verifies for the template key"),
        "key policy": (True, "EC key of 256 bits: accepted by the profile"),
        "issuance": (True, "the certificate would get subject")}, request=req2)
    dry("a request signed by another device", cat(gw.tmp, "dev1r.pem", gw.dev(1), ca_pem), 1, {
        "chain": (True, "chains to vendor acme"),
        "protection": (False, "signed by a certificate other than the vendor certificate "
                              "checked")}, request=req2)
    junk = os.path.join(gw.tmp, "junk.der")
    with open(junk, "wb") as f:
        f.write(b"\x30\x03\x02\x01\x00")
    dry("a request that is no PKIMessage", cat(gw.tmp, "dev2j.pem", gw.dev(2), ca_pem), 1, {
        "request": (False, "not a DER PKIMessage with an ir or cr body")}, request=junk)
    rc, out = cli("vendor", "check", "--alias", "nope", gw.dev(2))
    t.ok(rc == 2 and 'no alias "nope"' in out, "dry run: unknown alias exits 2", out)
    rc, out = cli("vendor", "check", gw.dev(2))
    t.ok(rc == 2 and "--alias is required" in out, "dry run: --alias required (exit 2)", out)


if __name__ == "__main__":
    run(main)
