#!/usr/bin/env python3
"""RA mode (aliases[].mode "ra", issue 4 RA side): the stock `openssl cmp`
client enrolls at a cmpgw alias that forwards to an upstream CA. The
upstream here is OpenSSL's own mock CMP server (`openssl cmp -port`), an
independent implementation, which accepts the RA's raVerified request.

Checks: ir + certConf succeed through the RA (certificate stored, both
sides confirmed); an upstream certificate for another key is rejected
(nothing stored); a stopped upstream gives systemUnavail; a slow upstream
(a delaying proxy) gives status waiting, the client polls, and the
enrollment completes. Every failure closes the transaction with an audit
row. PBMAC protection towards the upstream (mock with -srv_secret).

Then device -> cmpgw RA -> second cmpgw in CA mode, in both forwarding
styles: "reprotect" (gateway B, which authorizes the RA certificate) and
"nested" (gateway C, which knows the devices' vendor and sees their own
messages inside the RA's nested ones): ir/certConf, kur/certConf and rr end
to end, both databases agreeing; an RA certificate gateway C does not
authorize is refused there and the refusal relayed. Also measures the
forwarding overhead once (diagnostic only)."""

import http.server
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (OPENSSL, Gateway, Pg, add_cleanup, openssl,  # noqa: E402
                     make_root, mktemp, run, sign_cert, wait_port)

CMPREQ = os.environ.get("CMPREQ_BIN", "cmpreq")


class Mock:
    """OpenSSL's mock CMP server returning rsp_cert for any request;
    with secret, PBMAC-protected both ways (-srv_secret)."""

    def __init__(self, work, up, rsp_cert, port, secret=None, extra=()):
        self.port = port
        self.log = os.path.join(work, "mock-%d.log" % self.port)
        prot = (["-srv_secret", "pass:" + secret, "-srv_ref", "cmpgw-ra"] if secret else
                ["-srv_cert", up["srv_crt"], "-srv_key", up["srv_key"],
                 "-srv_trusted", up["root_crt"]])
        self.proc = subprocess.Popen(
            [OPENSSL, "cmp", "-port", str(self.port)] + prot +
            ["-rsp_cert", rsp_cert, "-rsp_capubs", up["root_crt"], "-accept_raverified"] +
            list(extra),
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        add_cleanup(self.stop)
        if not wait_port(self.port, 10, self.proc):
            raise RuntimeError("mock server did not start:\n" + open(self.log).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class DelayProxy:
    """Forwards each POST to target after delay_s (an upstream that is slow)."""

    def __init__(self, target_port, delay_s):
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(proxy.delay_s)
                req = urllib.request.Request(
                    "http://127.0.0.1:%d/" % target_port, data=body,
                    headers={"Content-Type": "application/pkixcmp"})
                with urllib.request.urlopen(req, timeout=30) as r:
                    data = r.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/pkixcmp")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.delay_s = delay_s
        self.srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        add_cleanup(self.srv.shutdown)


def upstream_pki(work):
    root_crt, root_key = make_root(work, "up-root", "/O=Upstream/CN=Upstream Root CA")
    srv_crt, srv_key = sign_cert(work, "up-srv", "/O=Upstream/CN=Upstream CMP", root_crt, root_key)
    ra_crt, ra_key = sign_cert(work, "ra", "/O=Operator/CN=cmpgw RA", root_crt, root_key)
    for k in (root_key, srv_key, ra_key):
        os.chmod(k, 0o600)
    return {"root_crt": root_crt, "root_key": root_key, "srv_crt": srv_crt,
            "srv_key": srv_key, "ra_crt": ra_crt, "ra_key": ra_key}


def newkey(work, name):
    path = os.path.join(work, name + ".key")
    rc, out = openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                      "-out", path)
    if rc != 0:
        raise RuntimeError("genpkey failed: " + out)
    return path


def pub_of(path, cert=True):
    """PEM SubjectPublicKeyInfo of a certificate or private key file."""
    args = (["x509", "-in", path, "-noout", "-pubkey"] if cert else
            ["pkey", "-in", path, "-pubout"])
    return openssl(*args)[1].strip()


def der_hex(pem_path):
    return subprocess.run([OPENSSL, "x509", "-in", pem_path, "-outform", "DER"],
                          capture_output=True).stdout.hex()


def make_csr(work, key):
    path = os.path.join(work, "p10.csr")
    rc, out = openssl("req", "-new", "-key", key, "-subj", "/CN=ACME-0005", "-out", path)
    if rc != 0:
        raise RuntimeError("req failed: " + out)
    return path


def rr(gw, k, path, oldcert, cert, key, reason=None):
    """openssl cmp -cmd rr as device k: revoke oldcert, protected with cert/key."""
    extra = ["-oldcert", oldcert] + (["-revreason", str(reason)] if reason is not None else [])
    return gw.cmp(k, cmd="rr", path=path, cert=cert, key=key, extracerts=None, subject=None,
                  extra=extra)


def device_cert(work, gw, up, k, key_of=None):
    """What the upstream returns for device k: the profile's subject, the
    new key of device key_of (default k)."""
    subj = "/OU=Devices/O=acme/CN=ACME-%04d" % k
    crt, _ = sign_cert(work, "rsp-%d-%d" % (k, key_of or k), subj, up["root_crt"],
                       up["root_key"], key=gw.dev(key_of or k, "new", "key"))
    return crt


def main(t):
    work = mktemp("cmpgw-ra-up-")
    up = upstream_pki(work)
    # Ports held bound (not listening) until a mock takes them: no gateway
    # started meanwhile can get them, and a connect to them is refused.
    held = {}
    for name in ("mock", "down", "slow", "mac", "poll"):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        held[name] = s
    mock_port, down_port, slow_port, mac_port, poll_port = (
        held[n].getsockname()[1] for n in ("mock", "down", "slow", "mac", "poll"))
    # a second RA certificate, which gateway C does not authorize
    ra2_crt, ra2_key = sign_cert(work, "ra2", "/O=Operator/CN=cmpgw RA 2", up["root_crt"],
                                 up["root_key"])
    os.chmod(ra2_key, 0o600)
    mac_secret = os.path.join(work, "upstream.secret")
    with open(mac_secret, "w") as f:
        f.write("ra-upstream-shared-secret")
    os.chmod(mac_secret, 0o600)
    proxy = DelayProxy(slow_port, 4)

    def alias(label, port, **kw):
        # the mock's signer is an end entity without a CMP EKU: pinned
        u = {"url": "http://127.0.0.1:%d/pkix/" % port, "trusted": [up["root_crt"]],
             "signer": [up["srv_crt"]], "cert": up["ra_crt"], "key": up["ra_key"],
             "timeout_s": 10, "wait_after_s": 2}
        u.update(kw)
        return {"label": label, "mode": "ra", "vendors": ["acme"], "profile": "device",
                "upstream": u}

    # gateway B: a CA-mode cmpgw that accepts this RA (its certificate,
    # device identities from the template CN on acme's serial list)
    def patch_b(cfg):
        cfg["aliases"][0]["ras"] = [{"cert": up["ra_crt"], "vendor": "acme"}]
        cfg["aliases"][0]["ra_identity"] = "subject_cn"

    # gateway C: a CA-mode cmpgw that takes this RA's nested messages; it
    # knows the devices' vendor itself (registered below, once gateway A,
    # whose demo vendor PKI the devices use, exists)
    def patch_c(cfg):
        cfg["aliases"][0]["ras"] = [{"cert": up["ra_crt"]}]

    pg = Pg()
    gwb = Gateway(t, pg, devices=8, name="ra_upstream_b", patch=patch_b)
    gwb.start()
    gwc = Gateway(t, pg, devices=8, name="ra_upstream_c", patch=patch_c, register=False)

    def patch(cfg):
        cfg["sweep_interval_s"] = 1
        cfg["aliases"] += [alias("ra", mock_port), alias("ra-down", down_port, timeout_s=3),
                           alias("ra-slow", proxy.port)]
        cfg["aliases"].append(alias("ra-untrusted", mock_port,
                                    trusted=[gwb.path("pki", "operator-root.crt")]))
        # the mock's signer chains to trusted but is neither pinned nor a CA
        # nor marked id-kp-cmcCA/cmcRA; then pinned to another certificate
        cfg["aliases"].append(alias("ra-nopin", mock_port, signer=[]))
        cfg["aliases"].append(alias("ra-otherpin", mock_port, signer=[ra2_crt]))
        b = alias("ra-b", gwb.port)
        b["upstream"]["url"] = "http://127.0.0.1:%d/.well-known/cmp/p/3gpp" % gwb.port
        b["upstream"]["trusted"] = [gwb.path("pki", "operator-root.crt")]
        b["upstream"]["signer"] = []  # cmpgw's CMP signer carries id-kp-cmcRA
        cfg["aliases"].append(b)
        cfg["aliases"].append(alias("ra-mac", mac_port, cert=None, key=None,
                                    secret_file=mac_secret, signer=[]))
        cfg["aliases"].append(alias("ra-poll", poll_port, wait_after_s=1))
        for label, crt, key in (("ra-n", up["ra_crt"], up["ra_key"]),
                                ("ra-n-bad", ra2_crt, ra2_key)):
            n = alias(label, gwc.port, style="nested", cert=crt, key=key)
            n["upstream"]["url"] = "http://127.0.0.1:%d/.well-known/cmp/p/3gpp" % gwc.port
            n["upstream"]["trusted"] = [gwc.path("pki", "operator-root.crt")]
            n["upstream"]["signer"] = []
            cfg["aliases"].append(n)

    gw = Gateway(t, pg, devices=8, name="ra", patch=patch)
    gw.start()
    gwc.must("migrate")
    gwc.must("vendor", "add", "acme")
    gwc.must("vendor", "anchor", "add", "acme", gw.path("vendor", "vendor-root.crt"))
    gwc.must("vendor", "intermediate", "add", "acme", gw.path("vendor", "vendor-ca.crt"))
    gwc.must("serials", "import", "acme", gw.path("vendor", "serials.txt"))
    gwc.start()
    path = lambda label: ".well-known/cmp/p/" + label  # noqa: E731

    # ---- 1. ir + certConf through the RA to the mock upstream ----------
    rsp1 = device_cert(work, gw, up, 1)
    held["mock"].close()
    mock = Mock(work, up, rsp1, mock_port)
    r = gw.cmp(1, path=path("ra"))
    t.ok(r.rc == 0, "ir through the RA to the OpenSSL mock CA: openssl cmp exits 0", repr(r))
    t.ok(r.has("sending CERTCONF") and r.has("received PKICONF"),
         "certConf answered with pkiConf", r.out)
    same = os.path.exists(r.certout) and open(r.certout).read().split("-----")[2] == \
        open(rsp1).read().split("-----")[2]
    t.ok(same, "the device got the upstream's certificate", repr(r))
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'ACME-0001'"),
         "active", "certificate row stored and active after certConf")
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0001'"),
         "confirmed", "transaction confirmed")
    t.eq(gw.scalar("SELECT string_agg(event, ',' ORDER BY id) FROM audit "
                   "WHERE device_serial = 'ACME-0001'"),
         "forwarded,issued,confirmed", "audit: forwarded, issued, confirmed")
    mlog = open(mock.log, errors="replace").read()
    # the pkiConf above only leaves the RA once the upstream answered our
    # certConf with pkiConf: two POSTs, ir then certConf
    t.eq(mlog.count("Received request"), 2, "the RA forwarded the certConf to the upstream",
         mlog[-2000:])
    mock.stop()

    # ---- 2. upstream returns a certificate for another key --------------
    mock = Mock(work, up, rsp1, mock_port)  # device 1's key, asked by device 2
    r = gw.cmp(2, path=path("ra"))
    t.ok(r.rc != 0 and r.has("another public key"),
         "certificate for another key: refused with the reason", r.out)
    t.ok(r.has("badMessageCheck"), "certificate for another key: badMessageCheck", r.out)
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-0002'"), "0",
         "certificate for another key: nothing stored")
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0002'"), "closed",
         "certificate for another key: transaction closed")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE device_serial = 'ACME-0002' "
                   "AND event = 'upstream_failed'"), "1", "certificate for another key: audited")
    t.eq(gw.scalar("SELECT key_fp IS NULL FROM serials WHERE serial = 'ACME-0002'"), "t",
         "certificate for another key: serial not bound")
    mock.stop()

    # ---- 2b. upstream answer protected by a key outside upstream.trusted -
    mock = Mock(work, up, device_cert(work, gw, up, 6), mock_port)
    r = gw.cmp(6, path=path("ra-untrusted"))
    t.ok(r.rc != 0 and r.has("badMessageCheck") and r.has("protection does not verify"),
         "upstream not trusted: badMessageCheck", r.out)
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0006'"), "closed",
         "upstream not trusted: transaction closed, nothing issued")
    mock.stop()

    # ---- 2d. protected by a certificate that chains but may not speak for
    # the upstream (any certificate the upstream issued would do as well)
    mock = Mock(work, up, device_cert(work, gw, up, 2), mock_port)
    for label, what in (("ra-nopin", "signer neither pinned nor a CA nor cmcCA/cmcRA"),
                        ("ra-otherpin", "signer not the pinned one")):
        r = gw.cmp(2, path=path(label))
        t.ok(r.rc != 0 and r.has("badMessageCheck") and r.has("protection does not verify"),
             "%s: badMessageCheck" % what, r.out)
        t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0002' "
                       "AND alias = '%s'" % label), "closed", "%s: transaction closed" % what)
        t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-0002'"),
             "0", "%s: nothing stored" % what)
    mock.stop()

    # ---- 2c. a replayed transactionID is refused before anything is sent
    tid = gw.scalar("SELECT encode(tid, 'hex') FROM transactions WHERE device_serial = 'ACME-0001'")
    out = os.path.join(gw.tmp, "replay.der")
    p = subprocess.run([CMPREQ, "ir", "--cert", gw.dev(7), "--key", gw.dev(7, ext="key"),
                        "--newkey", gw.dev(7, "new", "key"), "--extracerts",
                        gw.path("vendor", "vendor-ca.crt"), "--tid", tid, "--out", out],
                       capture_output=True, text=True)
    st, _, body = gw.post(open(out, "rb").read() if p.returncode == 0 else b"",
                          path="/" + path("ra"))
    ans = os.path.join(gw.tmp, "replay-answer.der")
    open(ans, "wb").write(body)
    shown = subprocess.run([CMPREQ, "show", ans], capture_output=True, text=True).stdout
    t.ok(p.returncode == 0 and st == 200 and "body=error" in shown and "failinfo=" in shown
         and "failinfo=21" in shown and "transactionID already in use" in shown,
         "replayed transactionID: transactionIdInUse, not forwarded", shown + p.stderr)

    # ---- 3. upstream stopped -> systemUnavail ---------------------------
    r = gw.cmp(3, path=path("ra-down"))
    t.ok(r.rc != 0 and r.has("systemUnavail"), "upstream down: systemUnavail", r.out)
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0003'"), "closed",
         "upstream down: transaction closed")
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-0003'"), "0",
         "upstream down: nothing issued")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE device_serial = 'ACME-0003' "
                   "AND event = 'upstream_failed'"), "1", "upstream down: audited")
    # the device may try again (new transactionID) once the upstream is back
    held["down"].close()
    mock = Mock(work, up, device_cert(work, gw, up, 3), down_port)
    r = gw.cmp(3, path=path("ra-down"))
    t.ok(r.rc == 0, "upstream back: the same device enrolls",
         r.out + "\n--- gateway log:\n" + gw.log_tail(40) + "\n--- mock log:\n" +
         open(mock.log, errors="replace").read()[-1500:])
    mock.stop()

    # ---- 4. slow upstream -> waiting, polling, success ------------------
    held["slow"].close()
    mock = Mock(work, up, device_cert(work, gw, up, 4), slow_port)
    t0 = time.time()
    r = gw.cmp(4, path=path("ra-slow"))
    t.ok(r.rc == 0, "slow upstream: enrollment completes", repr(r))
    t.ok(r.has("POLLREQ") or r.has("pollReq") or r.has("polling"),
         "slow upstream: the client polled", r.out)
    t.ok(time.time() - t0 >= 4, "slow upstream: took at least the upstream's delay")
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0004'"),
         "confirmed", "slow upstream: transaction confirmed")
    mock.stop()

    # ---- 4a. PBMAC towards the upstream (mock with -srv_secret) ---------
    held["mac"].close()
    mock = Mock(work, up, device_cert(work, gw, up, 2), mac_port,
                secret="ra-upstream-shared-secret")
    r = gw.cmp(2, path=path("ra-mac"))
    t.ok(r.rc == 0 and r.has("received PKICONF"),
         "PBMAC-protected exchange with the upstream (mock -srv_secret): ir/certConf",
         r.out + "\n--- RA log:\n" + gw.log_tail(20) + "\n--- mock log:\n" +
         open(mock.log, errors="replace").read()[-1500:])
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0002' "
                   "AND alias = 'ra-mac'"), "confirmed", "PBMAC upstream: transaction confirmed")
    mock.stop()

    # ---- 4c. the upstream itself answers waiting: the RA polls it -------
    # first with the certificate the RA already holds (device 1's): refused
    held["poll"].close()
    mock = Mock(work, up, rsp1, poll_port, extra=["-poll_count", "2", "-check_after", "1"])
    r = gw.cmp(1, path=path("ra-poll"))
    t.ok(r.rc != 0 and r.has("badMessageCheck") and r.has("serial number is already used"),
         "upstream returns a certificate already held: badMessageCheck", r.out)
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0001' "
                   "AND alias = 'ra-poll'"), "closed", "duplicate certificate: transaction closed")
    mock.stop()
    fresh, _ = sign_cert(work, "rsp-poll", "/OU=Devices/O=acme/CN=ACME-0001", up["root_crt"],
                         up["root_key"], key=gw.dev(1, "new", "key"))
    mock = Mock(work, up, fresh, poll_port, extra=["-poll_count", "2", "-check_after", "1"])
    r = gw.cmp(1, path=path("ra-poll"))
    mlog = open(mock.log, errors="replace").read()
    t.ok(r.rc == 0 and r.has("received PKICONF"),
         "upstream answers waiting: the RA polls it, the device polls the RA, enrollment completes",
         r.out + "\n--- RA log:\n" + gw.log_tail(20) + "\n--- mock log:\n" + mlog[-1500:])
    poll_cert = r.certout
    # ir, pollReq (-> pollRep), pollReq (-> ip), certConf
    t.eq(mlog.count("Received request"), 4, "the RA polled the upstream twice, then confirmed",
         mlog[-2000:])
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0001' "
                   "AND alias = 'ra-poll' AND state <> 'closed'"), "confirmed",
         "upstream polling: transaction confirmed (certConf after the polled ip)")
    mock.stop()

    # ---- 4b. a pending request whose node died is closed by the sweep ---
    gw.psql("INSERT INTO transactions(tid, alias, body_type, state, sender_fp, server_nonce, "
            "cert_req_id, fwd_deadline) VALUES ('\\xdead', 'ra', 'ir', 'pending', "
            "'\\x00', '\\x00', 0, now() - interval '1 minute')")
    for _ in range(50):
        if gw.scalar("SELECT state FROM transactions WHERE tid = '\\xdead'") == "closed":
            break
        time.sleep(0.2)
    t.eq(gw.scalar("SELECT state || '/' || fwd_fail_info FROM transactions WHERE tid = '\\xdead'"),
         "closed/%d" % (1 << 24), "orphaned pending request: closed by the sweep as systemUnavail")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE tid = '\\xdead' AND event = 'upstream_failed'"),
         "1", "orphaned pending request: audited")

    # ---- 5. device -> cmpgw RA -> cmpgw CA (reprotect), ir + certConf ---
    r = gw.cmp(5, path=path("ra-b"))
    t.ok(r.rc == 0 and r.has("received PKICONF"), "device -> RA -> cmpgw CA: ir/certConf", repr(r))
    ser_a = gw.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0005'")
    ser_b = gwb.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0005'")
    t.ok(ser_a and ser_a == ser_b, "RA and CA store the same certificate", (ser_a, ser_b))
    t.eq(gw.scalar("SELECT t.state || '/' || c.status FROM transactions t JOIN certificates c "
                   "ON c.id = t.cert_id WHERE t.device_serial = 'ACME-0005'"),
         "confirmed/active", "RA side: confirmed, active")
    t.eq(gwb.scalar("SELECT t.state || '/' || c.status FROM transactions t JOIN certificates c "
                    "ON c.id = t.cert_id WHERE t.device_serial = 'ACME-0005'"),
         "confirmed/active", "CA side: the RA's certConf confirmed it too")
    t.eq(gwb.scalar("SELECT state FROM serials WHERE serial = 'ACME-0005'"), "enrolled",
         "CA side: serial enrolled")
    cert5 = r.certout

    # ---- 5b. kur through the RA (reprotect) -----------------------------
    k5 = newkey(work, "kur5")
    r = gw.cmp(5, cmd="kur", path=path("ra-b"), cert=cert5, key=gw.dev(5, "new", "key"),
               newkey=k5, extracerts=None, subject=None)
    t.ok(r.rc == 0 and r.has("received PKICONF"), "kur through the RA (reprotect): kup, certConf",
         repr(r) + "\n--- RA log:\n" + gw.log_tail(30) + "\n--- CA log:\n" + gwb.log_tail(30))
    t.ok(os.path.exists(r.certout) and pub_of(r.certout) == pub_of(k5, cert=False),
         "kur (reprotect): the new certificate carries the new key")
    chain = "SELECT string_agg(status, ',' ORDER BY id) FROM certificates " \
            "WHERE device_serial = '%s'"
    t.eq(gw.scalar(chain % "ACME-0005"), "superseded,active",
         "kur (reprotect): RA side, old superseded, new active after certConf")
    # the upstream CA (CA mode) revokes the renewed one (renewal_revokes_old);
    # the RA leaves revocation to it and only marks its copy superseded
    t.eq(gwb.scalar(chain % "ACME-0005"), "revoked,active",
         "kur (reprotect): CA side too (the RA forwarded the certConf), old one revoked there")
    t.eq(gw.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0005' "
                   "AND status = 'active'"),
         gwb.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0005' "
                    "AND status = 'active'"), "kur (reprotect): same new certificate on both sides")
    cert5b = r.certout
    # the superseded certificate can no longer renew: refused by the RA
    r = gw.cmp(5, cmd="kur", path=path("ra-b"), cert=cert5, key=gw.dev(5, "new", "key"),
               newkey=newkey(work, "kur5x"), extracerts=None, subject=None)
    t.ok(r.rc != 0 and r.has("notAuthorized") and r.has("superseded"),
         "kur with the superseded certificate: notAuthorized", r.out)
    # a certificate obtained through another alias is not renewed here
    r = gw.cmp(1, cmd="kur", path=path("ra-b"), cert=poll_cert, key=gw.dev(1, "new", "key"),
               newkey=newkey(work, "kur1"), extracerts=None, subject=None)
    t.ok(r.rc != 0 and r.has("signerNotTrusted") and r.has("not obtained through this RA alias"),
         "kur with a certificate of another alias: signerNotTrusted", r.out)

    # ---- 5c. rr through the RA (reprotect) ------------------------------
    r = rr(gw, 5, path("ra-b"), cert5b, cert5b, k5, reason=1)
    t.ok(r.rc == 0 and r.has("received RP"), "rr through the RA (reprotect): rp accepted",
         r.out + "\n--- RA log:\n" + gw.log_tail(20))
    t.eq(gw.scalar(chain % "ACME-0005"), "superseded,revoked", "rr (reprotect): RA side revoked")
    t.eq(gwb.scalar(chain % "ACME-0005"), "revoked,revoked", "rr (reprotect): CA side revoked")
    t.eq(gwb.scalar("SELECT revocation_reason FROM certificates WHERE device_serial = 'ACME-0005' "
                    "AND status = 'revoked' ORDER BY id DESC LIMIT 1"), "1",
         "rr (reprotect): reason keyCompromise upstream")
    r = rr(gw, 5, path("ra-b"), cert5b, cert5b, k5)
    t.ok(r.rc != 0 and r.has("certRevoked"), "repeated rr: certRevoked", r.out)
    # a holder certificate the RA never obtained (the device's vendor
    # certificate revoking itself): refused by the RA, nothing forwarded
    r = rr(gw, 3, path("ra-b"), gw.dev(3), gw.dev(3), gw.dev(3, ext="key"))
    t.ok(r.rc != 0 and r.has("badCertId") and r.has("not obtained through this RA alias"),
         "rr for a certificate the RA never obtained: badCertId", r.out)
    r = gw.cmp(5, cmd="kur", path=path("ra-b"), cert=cert5b, key=k5,
               newkey=newkey(work, "kur5y"), extracerts=None, subject=None)
    t.ok(r.rc != 0 and r.has("certRevoked"), "kur with the revoked certificate: certRevoked", r.out)
    # p10cr stays refused on an RA alias, and nothing is issued locally
    r = gw.cmp(5, cmd="p10cr", path=path("ra-b"), cert=cert5b, key=k5,
               newkey=newkey(work, "p10"), extracerts=None, subject="/CN=ACME-0005",
               extra=["-csr", make_csr(work, k5)])
    t.ok(r.rc != 0 and r.has("badRequest") and r.has("p10cr is not forwarded"),
         "p10cr on an RA alias: badRequest", r.out)

    # ---- 6. nested style: device -> RA -> gateway C ---------------------
    r = gw.cmp(7, path=path("ra-n"))
    t.ok(r.rc == 0 and r.has("received PKICONF"), "nested: ir/certConf through the RA",
         repr(r) + "\n--- RA log:\n" + gw.log_tail(30) + "\n--- CA log:\n" + gwc.log_tail(30))
    t.eq(gwc.scalar("SELECT encode(sender_cert, 'hex') FROM transactions "
                    "WHERE device_serial = 'ACME-0007' AND body_type = 'ir'"), der_hex(gw.dev(7)),
         "nested: the CA saw the device's own ir (signed with its vendor certificate)")
    t.eq(gw.scalar(chain % "ACME-0007"), "active", "nested: RA side active after certConf")
    t.eq(gwc.scalar(chain % "ACME-0007"), "active",
         "nested: CA side active (the device's certConf reached it)")
    t.eq(gw.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0007'"),
         gwc.scalar("SELECT serial_hex FROM certificates WHERE device_serial = 'ACME-0007'"),
         "nested: same certificate on both sides")
    cert7 = r.certout
    k7 = newkey(work, "kur7")
    r = gw.cmp(7, cmd="kur", path=path("ra-n"), cert=cert7, key=gw.dev(7, "new", "key"),
               newkey=k7, extracerts=None, subject=None)
    t.ok(r.rc == 0 and r.has("received PKICONF"), "nested: kur/certConf through the RA",
         repr(r) + "\n--- RA log:\n" + gw.log_tail(30) + "\n--- CA log:\n" + gwc.log_tail(30))
    t.eq(gwc.scalar("SELECT encode(sender_cert, 'hex') FROM transactions "
                    "WHERE device_serial = 'ACME-0007' AND body_type = 'kur'"), der_hex(cert7),
         "nested: the CA saw the device's own kur (signed with its operator certificate)")
    t.eq(gw.scalar(chain % "ACME-0007"), "superseded,active", "nested kur: RA side")
    t.eq(gwc.scalar(chain % "ACME-0007"), "revoked,active", "nested kur: CA side")
    cert7b = r.certout
    r = rr(gw, 7, path("ra-n"), cert7b, cert7b, k7, reason=4)
    t.ok(r.rc == 0 and r.has("received RP"), "nested: rr through the RA",
         r.out + "\n--- RA log:\n" + gw.log_tail(20) + "\n--- CA log:\n" + gwc.log_tail(20))
    t.eq(gw.scalar(chain % "ACME-0007"), "superseded,revoked", "nested rr: RA side revoked")
    t.eq(gwc.scalar(chain % "ACME-0007"), "revoked,revoked", "nested rr: CA side revoked")
    # an RA certificate gateway C does not authorize: refused there, relayed
    r = gw.cmp(6, path=path("ra-n-bad"))
    t.ok(r.rc != 0 and r.has("signerNotTrusted"),
         "nested by an unauthorized RA: the CA's signerNotTrusted relayed", r.out)
    t.eq(gwc.scalar("SELECT count(*) FROM certificates WHERE device_serial = 'ACME-0006'"), "0",
         "unauthorized RA: nothing issued by the CA")
    t.eq(gw.scalar("SELECT state FROM transactions t WHERE device_serial = 'ACME-0006' "
                   "AND alias = 'ra-n-bad'"), "closed", "unauthorized RA: RA transaction closed")
    # implicitConfirm asked by the device reaches the CA unchanged; granted
    # there, granted here (device 6, refused above, not bound to its key)
    r = gw.cmp(6, path=path("ra-n"), confirm="implicit")
    t.ok(r.rc == 0 and not r.has("sending CERTCONF"),
         "nested: implicitConfirm granted by the CA, no certConf", r.out)
    t.eq(gw.scalar("SELECT t.state || '/' || c.status FROM transactions t JOIN certificates c "
                   "ON c.id = t.cert_id WHERE t.device_serial = 'ACME-0006' AND t.alias = 'ra-n'"),
         "confirmed/active", "nested implicitConfirm: RA side confirmed and active")
    t.eq(gwc.scalar("SELECT t.state || '/' || c.status FROM transactions t JOIN certificates c "
                    "ON c.id = t.cert_id WHERE t.device_serial = 'ACME-0006'"),
         "confirmed/active", "nested implicitConfirm: CA side confirmed and active")

    n = int(os.environ.get("CMPGW_RA_BENCH", "0"))
    if n:
        overhead(t, gw, gwb, path, n)
    gw.stop()
    gwb.stop()
    gwc.stop()


def overhead(t, gw, gwb, path, n):
    """Diagnostic only: ir+certConf latency direct to B vs through the
    RA in reprotect (nested) style."""
    def series(g, p):
        out = []
        for _ in range(n):
            t0 = time.time()
            r = g.cmp(7, path=p)
            out.append(time.time() - t0)
            t.ok(r.rc == 0 and r.has("received PKICONF"), "bench: ir/certConf via %s" % p, r.out)
        out.sort()
        return out
    direct = series(gwb, ".well-known/cmp/p/3gpp")
    via = series(gw, path("ra-b"))
    nested = series(gw, path("ra-n"))
    for name, s in (("direct to CA", direct), ("through RA, reprotect", via),
                    ("through RA, nested", nested)):
        t.diag("%s: n=%d median %.1f ms p90 %.1f ms" % (name, n, 1000 * s[n // 2],
                                                      1000 * s[int(n * 0.9)]))


if __name__ == "__main__":
    run(main)
