#!/usr/bin/env python3
"""Issue 10, findings 1, 2, 4 and 6: names, validity, status pointers.

A vendor whose device serial is the subject CN (serial rule subject_cn)
lets the test choose hostile serials:

- `*` under the SAN template `dns:${serial}.dev.example`: badCertTemplate
  naming the SAN, no CA signature, no certificate row, in CA mode and in RA
  mode (refused before anything is forwarded);
- `42,O=Operator,CN=core-gw`: exactly one CN whose value is the whole
  serial, in CA mode (the issued certificate) and in RA mode (the template
  the upstream CA receives, which also carries the profile's SANs);
- a profile with validity_days 36500: notAfter is the issuing CA's, the ip
  says grantedWithMods, `cmpgw check` warns;
- the demo profile's cRLDistributionPoints and authorityInfoAccess
  (caIssuers) URIs in the certificate, and the caIssuers URL serving the
  issuing CA certificate (DER, application/pkix-cert)."""

import http.server
import os
import socketserver
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (OPENSSL, CmpMsg, Gateway, Pg, add_cleanup, cmpgw,  # noqa: E402
                     der_read, http_post, make_root, openssl, run, sign_cert)

STAR = "*"
COMMA = "42,O=Operator,CN=core-gw"
OID_CN = bytes.fromhex("550403")
OID_SAN = bytes.fromhex("551d11")


class Capture:
    """An 'upstream CA' that records each POST body and answers 500 (the
    test looks at what the RA asked for, not at what it got back)."""

    def __init__(self):
        cap = self
        self.bodies = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                cap.bodies.append(self.rfile.read(n))
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        add_cleanup(self.srv.shutdown)


def template_of(der):
    """CertTemplate Tlv of the first CertReqMsg of an ir/cr/kur."""
    m = CmpMsg(der)
    crm = m.body.children()[0].children()[0]
    return crm.children()[0].children()[1]


def name_attrs(name_seq):
    """[(oid bytes, value bytes)] of a Name (SEQUENCE OF SET OF ATAV)."""
    out = []
    for rdn in name_seq.children():
        for atav in rdn.children():
            oid, val = atav.children()[:2]
            out.append((oid.content, val.content))
    return out


def template_subject(tmpl):
    for f in tmpl.children():
        if f.tag == 0xA5:  # subject [5] EXPLICIT Name
            return name_attrs(f.children()[0])
    return None


def template_san_der(tmpl):
    """extnValue of the template's subjectAltName extension, or None."""
    for f in tmpl.children():
        if f.tag == 0xA9:  # extensions [9] IMPLICIT SEQUENCE OF Extension
            for ext in f.children():
                kids = ext.children()
                if kids[0].content == OID_SAN:
                    return kids[-1].content
    return None


def general_names(der):
    """[(tag, value)] of a GeneralNames DER."""
    top = der_read(der, 0)
    return [(g.tag, g.content) for g in top.children()]


def cert_attr(pem, name="commonName"):
    """Values of attribute name in the certificate's subject, in order."""
    rc, out = openssl("x509", "-in", pem, "-noout", "-subject", "-nameopt",
                      "multiline,utf8,-esc_msb")
    return [ln.split("=", 1)[1].strip() for ln in out.splitlines()
            if ln.strip().split(" ")[0] == name]


def cert_cns(pem):
    return cert_attr(pem, "commonName")


def ip_status(path):
    """PKIStatus of the ip saved by openssl cmp -rspout, or a description."""
    if not os.path.exists(path):
        return "no response saved"
    m = CmpMsg(open(path, "rb").read())
    return m.status_infos()[0][0] if m.body_type == "ip" else m.describe()


def enddate(pem):
    return openssl("x509", "-in", pem, "-noout", "-enddate")[1].strip()


def der_of(pem):
    return subprocess.run([OPENSSL, "x509", "-in", pem, "-outform", "DER"],
                          capture_output=True).stdout


def main(t):
    work = None
    cap = Capture()

    def patch(cfg):
        dev = cfg["profiles"]["device"]
        dev["san"] = ["dns:${serial}.dev.example"]
        plain = dict(dev, san=["uri:urn:dev:${serial}"])
        cfg["profiles"]["plain"] = plain
        cfg["profiles"]["long"] = dict(plain, validity_days=36500)
        base = cfg["aliases"][0]
        base["vendors"] = []
        cfg["aliases"].append(dict(base, label="plain", profile="plain", paths=[]))
        cfg["aliases"].append(dict(base, label="long", profile="long", paths=[],
                                   implicit_confirm=False))

    pg = Pg()
    gw = Gateway(t, pg, devices=4, name="names", patch=patch)
    work = os.path.join(gw.tmp, "work")
    os.makedirs(work)

    # the RA side: an upstream PKI for the RA's own certificate
    up_root, up_key = make_root(work, "up-root", "/O=Upstream/CN=Upstream Root CA")
    ra_crt, ra_key = sign_cert(work, "ra", "/O=Operator/CN=cmpgw RA", up_root, up_key)
    os.chmod(ra_key, 0o600)
    for label, profile in (("ra", "plain"), ("ra-dns", "device")):
        gw.cfg["aliases"].append({
            "label": label, "mode": "ra", "vendors": [], "profile": profile,
            "upstream": {"url": "http://127.0.0.1:%d/pkix/" % cap.port,
                         "trusted": [up_root], "cert": ra_crt, "key": ra_key,
                         "timeout_s": 5}})
    gw.write_config(gw.cfg)

    # vendor "wild": device serial = subject CN, so the test picks serials
    wroot, wkey = make_root(work, "wild-root", "/O=Wild/CN=Wild Vendor Root")
    gw.must("vendor", "add", "--serial-rule", "subject_cn", "wild")
    # the hostile serials below hold characters the default serial syntax
    # refuses at import (docs/SERIALS.md): allow every printable but space
    gw.must("serials", "syntax", "--allow", "!-~", "wild")
    gw.must("vendor", "anchor", "add", "wild", wroot)
    rc, out = cmpgw("serials", "import", "--config", gw.config, "wild", "-",
                    input=("%s\n%s\n" % (STAR, COMMA)).encode())
    t.ok(rc == 0, "serials '*' and '%s' imported for vendor wild" % COMMA, out)
    star_crt, star_key = sign_cert(work, "star", "/O=Wild/CN=*", wroot, wkey)
    comma_crt, comma_key = sign_cert(work, "comma", "/O=Wild/CN=" + COMMA, wroot, wkey)
    t.eq(cert_cns(comma_crt), [COMMA], "the vendor certificate's CN is the hostile serial")

    rc, out = gw.cli("check")
    t.ok(rc == 0, "cmpgw check exits 0 with a profile outliving the CA", out)
    t.ok('profile "long"' in out and "capped" in out,
         "cmpgw check warns that profile long reaches past the issuing CA", out)
    t.ok('profile "device"' not in out, "no warning for a profile within the CA's life", out)

    gw.start()
    path = lambda label: ".well-known/cmp/p/" + label  # noqa: E731
    signatures = lambda: gw.log_text().count("CA signature:")  # noqa: E731
    want_star = 'subjectAltName dNSName "*.dev.example" is not a valid host name'

    # ---- finding 2: '*' never becomes a wildcard dNSName (CA mode) ----------
    before, sigs = gw.counts(), signatures()
    r = gw.cmp(1, cert=star_crt, key=star_key, extracerts=None, path=path("3gpp"))
    t.ok(r.rc != 0 and r.has("badCertTemplate"), "serial '*': badCertTemplate", r.out)
    t.ok(r.has(want_star), "serial '*': statusString names the SAN", r.out)
    t.ok(not os.path.exists(r.certout), "serial '*': no certificate written")
    t.eq(gw.counts()["certificates"], before["certificates"], "serial '*': no certificates row")
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = '*'"), "0",
         "serial '*': nothing stored for the serial")
    t.eq(signatures(), sigs, "serial '*': no CA signature")

    # ---- the comma serial under a dns: SAN is no host name either ----------
    r = gw.cmp(1, cert=comma_crt, key=comma_key, extracerts=None, path=path("3gpp"))
    t.ok(r.rc != 0 and r.has("badCertTemplate") and
         r.has('subjectAltName dNSName "%s.dev.example"' % COMMA),
         "serial '%s' under dns:${serial}.dev.example: badCertTemplate" % COMMA, r.out)

    # ---- finding 2, RA mode: refused before anything is forwarded ----------
    n = len(cap.bodies)
    r = gw.cmp(1, cert=star_crt, key=star_key, extracerts=None, path=path("ra-dns"))
    t.ok(r.rc != 0 and r.has("badCertTemplate") and r.has(want_star),
         "RA mode, serial '*': badCertTemplate naming the SAN", r.out)
    t.eq(len(cap.bodies), n, "RA mode, serial '*': nothing sent upstream")

    # ---- finding 1, RA mode: the template sent upstream ---------------------
    n = len(cap.bodies)
    r = gw.cmp(1, cert=comma_crt, key=comma_key, extracerts=None, path=path("ra"))
    t.ok(r.rc != 0, "RA mode: the capturing upstream gives no certificate", r.out)
    t.eq(len(cap.bodies), n + 1, "RA mode: one request reached the upstream", r.out)
    if len(cap.bodies) == n + 1:
        tmpl = template_of(cap.bodies[-1])
        attrs = template_subject(tmpl) or []
        cns = [v.decode("utf-8", "replace") for o, v in attrs if o == OID_CN]
        t.eq(cns, [COMMA], "RA mode: the upstream is asked for exactly one CN, the serial")
        t.eq(sorted(o.hex() for o, _ in attrs), sorted(["550403", "55040a", "55040b"]),
             "RA mode: subject is CN, O, OU of the template and nothing else")
        san = template_san_der(tmpl)
        t.ok(san is not None and general_names(san) == [(0x86, ("urn:dev:" + COMMA).encode())],
             "RA mode: the template carries the profile's SAN (uri)", repr(san))

    # ---- finding 1, CA mode: the issued certificate --------------------------
    r = gw.cmp(1, cert=comma_crt, key=comma_key, extracerts=None, path=path("plain"))
    t.ok(r.rc == 0, "CA mode: serial '%s' enrolls on a uri: SAN profile" % COMMA, repr(r))
    if r.rc == 0:
        t.eq(cert_cns(r.certout), [COMMA], "CA mode: exactly one CN, the whole serial")
        t.eq(cert_attr(r.certout, "organizationName"), ["wild"],
             "CA mode: the only O is the template's (${vendor}), none from the serial")

    # ---- finding 4: notAfter capped at the CA's, grantedWithMods -------------
    ca_pem = gw.path("pki", "issuing-ca.crt")
    # the device asks for exactly the subject the profile gives, so that
    # only the capped validity can make the answer grantedWithMods
    rsp = [os.path.join(work, "long-ip.der"), os.path.join(work, "long-pkiconf.der")]
    r = gw.cmp(2, path=path("long"), subject="/OU=Devices/O=acme/CN=ACME-0002",
               extra=["-rspout", ",".join(rsp)])
    t.ok(r.rc == 0, "validity_days 36500: enrolled", repr(r))
    if r.rc == 0:
        t.eq(enddate(r.certout), enddate(ca_pem), "notAfter equals the issuing CA's notAfter")
    t.eq(ip_status(rsp[0]), 1, "the ip says grantedWithMods (1) for the capped validity")

    # ---- finding 6: status pointers and the caIssuers URL --------------------
    rsp = [os.path.join(work, "demo-ip.der"), os.path.join(work, "demo-pkiconf.der")]
    r = gw.cmp(3, subject="/OU=Devices/O=acme/CN=ACME-0003", extra=["-rspout", ",".join(rsp)])
    t.ok(r.rc == 0, "demo profile: enrolled", repr(r))
    t.eq(ip_status(rsp[0]), 0, "365 days under the CA, subject as asked: accepted (0)")
    if r.rc == 0:
        t.ok(enddate(r.certout) != enddate(ca_pem), "365 days: not capped")
    crl_url = "http://127.0.0.1:%d/crl/issuing-ca.crl" % gw.port
    cer_url = "http://127.0.0.1:%d/crl/issuing-ca.cer" % gw.port
    if r.rc == 0:
        rc, ext = openssl("x509", "-in", r.certout, "-noout", "-ext",
                          "crlDistributionPoints,authorityInfoAccess")
        t.ok("Full Name:" in ext and "URI:" + crl_url in ext,
             "cRLDistributionPoints fullName is the gateway's CRL URL", ext)
        t.ok("CA Issuers - URI:" + cer_url in ext,
             "authorityInfoAccess caIssuers is the gateway's CA certificate URL", ext)
        t.ok("OCSP" not in ext, "no OCSP entry without profile ocsp URIs", ext)
        rc, txt = openssl("x509", "-in", r.certout, "-noout", "-text")
        t.ok("X509v3 CRL Distribution Points: critical" not in txt and
             "Authority Information Access: critical" not in txt,
             "both extensions are non-critical", txt)
    st, ctype, body = http_post(gw.port, None, path="/crl/issuing-ca.cer", ctype=None,
                                method="GET")
    t.eq(st, 200, "GET /crl/issuing-ca.cer: 200")
    t.eq((ctype or "").split(";")[0].strip(), "application/pkix-cert",
         "GET /crl/issuing-ca.cer: application/pkix-cert")
    t.ok(body == der_of(ca_pem), "GET /crl/issuing-ca.cer: the issuing CA certificate, DER")
    st, _, body = http_post(gw.port, None, path="/crl/issuing-ca.cer", ctype=None,
                            method="HEAD")
    t.ok(st == 200 and body == b"", "HEAD /crl/issuing-ca.cer: 200, no body")
    st, _, _ = http_post(gw.port, b"x", path="/crl/issuing-ca.cer")
    t.eq(st, 405, "POST /crl/issuing-ca.cer: 405")
    st, ctype, body = http_post(gw.port, None, path="/crl/issuing-ca.crl", ctype=None,
                                method="GET")
    t.ok(st == 200 and (ctype or "").startswith("application/pkix-crl") and body,
         "the CRL is still served at crl.path")

    t.ok(gw.alive(), "cmpgw serve survived")
    gw.stop()


if __name__ == "__main__":
    run(main)
