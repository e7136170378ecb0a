#!/usr/bin/env python3
"""CMP over HTTPS (issue 13; RFC 9811 3.6, docs/TLS.md). Certificates made
here with the openssl CLI: a TLS CA, a server certificate for 127.0.0.1
(IP SAN), client certificates from the TLS CA and from another CA.

One CA-mode gateway with three listeners: plain HTTP, TLS, TLS with
client_auth "require" (mutual TLS).

  1. the stock `openssl cmp -tls_used -tls_trusted` enrolls over HTTPS (ir
     + certConf); the plain listener beside it still serves;
  2. mutual TLS: with -tls_cert/-tls_key it enrolls; without a client
     certificate, or with one from another CA, the handshake fails and the
     gateway logs why;
  3. TLS 1.3 and 1.2 both work; TLS 1.1 and 1.0 are refused (openssl
     s_client, allowed to offer them);
  4. HTTP errors over TLS (Python http.client + ssl): 404, 405 with Allow,
     415;
  5. plain HTTP sent to the TLS port never reaches CMP (nothing written,
     the handshake failure logged);
  6. a stalled and a trickled handshake are cut at http.read_deadline_s;
  7. certificate rotation: new files, SIGHUP, new connections get the new
     certificate while a connection opened before keeps working;
  8. `cmpgw check` (and `serve`) exit 2 naming the JSON path: key not
     matching the certificate, key missing, key mode 0644, require without
     client_ca, client_ca without client_auth, https upstream without
     tls.trusted;
 10. a TLS client that goes away while its request waits on the database
     (close_notify, or a reset) is noticed at once and its request dropped;
 11. http.max_connections (lowered by a reload) holds on the TLS port;
     300 connections of garbage and mutated ClientHellos leave the gateway
     serving.
  9. RA mode over https: an RA gateway forwards to the CA gateway's TLS
     listener (and, with a client certificate, to its mutual-TLS one):
     enrollment works; with wrong anchors or a wrong server_name the device
     gets systemUnavail and the RA logs the verify error.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (FAIL_BITS, Gateway, Pg, capture_request, cmpgw,  # noqa: E402
                     free_port, make_root, mktemp, new_key, openssl, run, sign_cert, wait_port)
from test_cancel import ENDED, GONE, Lock, http_bytes, lock_waiters, wait_for  # noqa: E402

EXT = """\
[ server ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
[ client ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""


def tls_cert(work, name, subj, ca_crt, ca_key, ext):
    """A TLS certificate (ext: "server" or "client") and its key (0600)."""
    key = new_key(os.path.join(work, name + ".key"))
    os.chmod(key, 0o600)
    csr = os.path.join(work, name + ".csr")
    crt = os.path.join(work, name + ".crt")
    cnf = os.path.join(work, "tls-ext.cnf")
    with open(cnf, "w") as f:
        f.write(EXT)
    rc, out = openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
    if rc == 0:
        rc, out = openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                          "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                          "-days", "30", "-sha256", "-extfile", cnf, "-extensions", ext,
                          "-out", crt)
    if rc != 0:
        raise RuntimeError("TLS certificate %s: %s" % (name, out))
    return crt, key


def ctx_for(ca, minv=None, maxv=None, cert=None, key=None):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.load_verify_locations(ca)
    if minv:
        c.minimum_version = minv
    if maxv:
        c.maximum_version = maxv
    if cert:
        c.load_cert_chain(cert, key)
    return c


def https(port, ctx, method="GET", path="/", body=None, headers=None):
    """One request over a new TLS connection: (status, headers, body, tls version)."""
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read(), \
            c.sock.version()
    finally:
        c.close()


def handshake_error(port, ctx):
    """The exception a TLS connection and request raise, or None."""
    try:
        https(port, ctx, "GET", "/healthz")
    except (ssl.SSLError, OSError, http.client.HTTPException) as e:
        return e
    return None


def peer_cert(port, ca):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx_for(ca).wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert(binary_form=True)


def client_hello():
    """The first flight of a Python TLS client (a real ClientHello)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl.create_default_context().wrap_bio(inc, out, server_hostname="gw.example")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def log_has(gw, text, since=0, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if text in gw.log_text()[since:]:
            return True
        time.sleep(0.1)
    return False


def hup(gw, timeout=20):
    mark = len(gw.log_text())
    gw.proc.send_signal(signal.SIGHUP)
    end = time.time() + timeout
    while time.time() < end:
        for ln in gw.log_text()[mark:].splitlines():
            if "configuration reloaded from" in ln or "configuration not reloaded" in ln:
                return ln
        time.sleep(0.05)
    return None


def closed_within(port, send, limit):
    """Connect, feed send() (a generator of byte strings, paced by it) and
    return the seconds until the server closed, or None past limit."""
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    t0 = time.time()
    try:
        s.settimeout(0.2)
        for chunk in send():
            if chunk:
                try:
                    s.sendall(chunk)
                except OSError:
                    return time.time() - t0
            try:
                if s.recv(4096) == b"":
                    return time.time() - t0
            except socket.timeout:
                pass
            except OSError:
                return time.time() - t0
            if time.time() - t0 > limit:
                return None
        return None
    finally:
        s.close()


def check_fails(t, gw, cfg, path, want, name, serve=False):
    """`cmpgw check` (and `serve` if asked) on cfg exit 2 naming path."""
    f = gw.path("bad-%d.json" % int(time.time() * 1e6))  # beside the relative paths
    gw.write_config(cfg, f)
    rc, out = cmpgw("check", "--config", f)
    t.ok(rc == 2 and path in out and want in out, "check: %s -> exit 2 naming %s" % (name, path),
         "exit %s:\n%s" % (rc, out))
    if serve:
        rc, out = cmpgw("serve", "--config", f, timeout=30)
        t.ok(rc == 2 and path in out and want in out, "serve: %s -> exit 2" % name,
             "exit %s:\n%s" % (rc, out))


def main(t):
    work = mktemp("cmpgw-tls-")
    ca_crt, ca_key = make_root(work, "tls-ca", "/O=Test/CN=TLS CA")
    other_crt, other_key = make_root(work, "other-ca", "/O=Other/CN=Other CA")
    srv_crt, srv_key = tls_cert(work, "srv", "/CN=cmpgw TLS", ca_crt, ca_key, "server")
    cli_crt, cli_key = tls_cert(work, "cli", "/CN=client", ca_crt, ca_key, "client")
    bad_crt, bad_key = tls_cert(work, "bad", "/CN=stranger", other_crt, other_key, "client")
    # the CMP identity of the RA gateway (9), authorized on the CA below
    ra_root, ra_root_key = make_root(work, "ra-root", "/O=Operator/CN=RA Root")
    ra_crt, ra_key = sign_cert(work, "ra", "/O=Operator/CN=cmpgw RA", ra_root, ra_root_key)
    os.chmod(ra_key, 0o600)

    tls_port, mtls_port = free_port(), free_port()
    tls = {"cert": srv_crt, "key": srv_key}

    def patch(cfg):
        cfg["http"] = dict(cfg.get("http", {}), read_deadline_s=2)
        cfg["listen"] += [
            {"address": "127.0.0.1", "port": tls_port, "tls": dict(tls)},
            {"address": "127.0.0.1", "port": mtls_port,
             "tls": dict(tls, client_ca=ca_crt, client_auth="require")},
        ]
        # RA mode (9): this gateway is the CA the RA forwards to
        cfg["aliases"][0]["ras"] = [{"cert": ra_crt, "vendor": "acme"}]
        cfg["aliases"][0]["ra_identity"] = "subject_cn"

    pg = Pg()
    gw = Gateway(t, pg, devices=10, name="tls", patch=patch)
    gw.start()
    if not wait_port(tls_port, 10) or not wait_port(mtls_port, 10):
        raise RuntimeError("TLS listeners not up:\n" + gw.log_tail())
    t.ok(log_has(gw, "listening on 127.0.0.1:%d (TLS)" % tls_port),
         "the TLS listener is logged as such", gw.log_tail())
    tls_opts = ["-tls_used", "-tls_trusted", ca_crt]

    # ---- 1. openssl cmp over HTTPS; plain beside it -------------------
    r = gw.cmp(1, server="127.0.0.1:%d" % tls_port, extra=tls_opts)
    t.ok(r.rc == 0 and r.has("received PKICONF"), "openssl cmp -tls_used: ir + certConf over HTTPS",
         repr(r) + "\n" + gw.log_tail())
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-0001'"),
         "confirmed", "the HTTPS enrollment is confirmed")
    r = gw.cmp(2)
    t.ok(r.rc == 0 and r.has("received PKICONF"), "the plain listener beside it enrolls too",
         repr(r))
    r = gw.cmp(3, server="127.0.0.1:%d" % tls_port,
               extra=["-tls_used", "-tls_trusted", other_crt])
    t.ok(r.rc != 0, "openssl cmp refuses the server when its TLS anchor is another CA", r.out)

    # ---- 2. mutual TLS -------------------------------------------------
    r = gw.cmp(3, server="127.0.0.1:%d" % mtls_port,
               extra=tls_opts + ["-tls_cert", cli_crt, "-tls_key", cli_key])
    t.ok(r.rc == 0 and r.has("received PKICONF"),
         "mutual TLS: openssl cmp with -tls_cert/-tls_key enrolls", repr(r) + gw.log_tail())
    mark = len(gw.log_text())
    e = handshake_error(mtls_port, ctx_for(ca_crt))
    t.ok(e is not None, "mutual TLS without a client certificate: the handshake fails", repr(e))
    t.ok(log_has(gw, "TLS handshake failed: peer did not return a certificate", mark),
         "the gateway logs why (no client certificate)", gw.log_tail(10))
    mark = len(gw.log_text())
    e = handshake_error(mtls_port, ctx_for(ca_crt, cert=bad_crt, key=bad_key))
    t.ok(e is not None, "mutual TLS with a client certificate from another CA: fails", repr(e))
    t.ok(log_has(gw, "certificate verify failed", mark),
         "the gateway logs why (client certificate not verified)", gw.log_tail(10))
    st, _, _, _ = https(mtls_port, ctx_for(ca_crt, cert=cli_crt, key=cli_key), "GET", "/nope")
    t.eq(st, 404, "mutual TLS with the right client certificate: HTTP served")
    r = gw.cmp(4, server="127.0.0.1:%d" % mtls_port, extra=tls_opts)
    t.ok(r.rc != 0, "openssl cmp without -tls_cert on the mutual-TLS listener: refused", r.out)

    # ---- 3. versions ---------------------------------------------------
    for v, name in ((ssl.TLSVersion.TLSv1_3, "TLSv1.3"), (ssl.TLSVersion.TLSv1_2, "TLSv1.2")):
        st, hdr, _, got = https(tls_port, ctx_for(ca_crt, v, v), "GET", "/.well-known/cmp")
        t.ok(st == 405 and got == name, "%s works (GET on the CMP path: 405)" % name,
             (st, got))
    for flag, name in (("-tls1_1", "TLS 1.1"), ("-tls1", "TLS 1.0")):
        mark = len(gw.log_text())
        # the client is allowed to offer the old version (SECLEVEL 0)
        rc, out = openssl("s_client", "-connect", "127.0.0.1:%d" % tls_port, flag,
                          "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", ca_crt,
                          input=b"", timeout=20)
        t.ok(rc != 0 and "protocol version" in out, "%s refused (protocol version alert)" % name,
             out[-800:])
        t.ok(log_has(gw, "TLS handshake failed: unsupported protocol", mark),
             "%s: the gateway logs why" % name, gw.log_tail(5))

    # ---- 4. HTTP errors over TLS -----------------------------------------
    ctx = ctx_for(ca_crt)
    st, _, body, _ = https(tls_port, ctx, "GET", "/nowhere")
    t.eq(st, 404, "over TLS: unknown path -> 404")
    st, hdr, _, _ = https(tls_port, ctx, "GET", "/.well-known/cmp/p/3gpp")
    t.ok(st == 405 and hdr.get("allow") == "POST", "over TLS: GET on CMP -> 405 with Allow: POST",
         (st, hdr))
    st, _, _, _ = https(tls_port, ctx, "POST", "/.well-known/cmp/p/3gpp", body=b"\x30\x00",
                        headers={"Content-Type": "text/plain"})
    t.eq(st, 415, "over TLS: wrong Content-Type -> 415")

    # ---- 5. plain HTTP to the TLS port -----------------------------------
    before = gw.scalar("SELECT count(*) FROM audit")
    mark = len(gw.log_text())
    s = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
    body = b"0\x00"
    s.sendall(b"POST /.well-known/cmp/p/3gpp HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/pkixcmp\r\nContent-Length: 2\r\n\r\n" + body)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    s.close()
    t.ok(not got.startswith(b"HTTP/"), "plain HTTP to the TLS port: no HTTP answer", got[:80])
    t.ok(log_has(gw, "TLS handshake failed: http request", mark),
         "plain HTTP to the TLS port: logged as a failed handshake", gw.log_tail(5))
    t.eq(gw.scalar("SELECT count(*) FROM audit"), before,
         "plain HTTP to the TLS port: nothing reached CMP")

    # ---- 6. stalled and trickled handshakes -------------------------------
    def silent():
        while True:
            yield b""

    def trickle():
        hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200)
        for b in hello:
            yield bytes([b])

    took = closed_within(tls_port, silent, 8)
    t.ok(took is not None and 1.5 < took < 5,
         "a client that never starts the handshake is cut at read_deadline_s (2 s)", took)
    took = closed_within(tls_port, trickle, 8)
    t.ok(took is not None and 1.5 < took < 5,
         "a client that trickles its ClientHello is cut at read_deadline_s (2 s)", took)
    t.ok("TLS handshake not completed within http.read_deadline_s" in gw.log_text(),
         "the cut is logged", gw.log_tail(10))
    t.ok(gw.alive(), "the gateway is alive after the handshake tests")

    # ---- 7. certificate rotation by SIGHUP --------------------------------
    old_der = peer_cert(tls_port, ca_crt)
    t.eq(old_der, pem_der(srv_crt), "before the rotation: the first certificate")
    keep = http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx_for(ca_crt),
                                       timeout=10)
    keep.request("GET", "/nowhere")
    resp = keep.getresponse()
    resp.read()
    new_crt, new_key = tls_cert(work, "srv2", "/CN=cmpgw TLS rotated", ca_crt, ca_key, "server")
    shutil.copyfile(new_crt, srv_crt)
    shutil.copyfile(new_key, srv_key)
    line = hup(gw)
    t.ok(line and "configuration reloaded" in line, "SIGHUP with the new files: reloaded", line)
    t.eq(peer_cert(tls_port, ca_crt), pem_der(new_crt),
         "after SIGHUP a new connection gets the new certificate")
    t.eq(peer_cert(mtls_port, ca_crt), pem_der(new_crt), "... on the mutual-TLS listener too")
    keep.request("GET", "/nowhere")
    resp = keep.getresponse()
    resp.read()
    t.ok(resp.status == 404 and keep.sock.getpeercert(binary_form=True) == old_der,
         "a connection opened before the reload keeps working (with its certificate)",
         resp.status)
    keep.close()
    r = gw.cmp(5, server="127.0.0.1:%d" % tls_port, extra=tls_opts)
    t.ok(r.rc == 0, "enrollment over HTTPS after the rotation", repr(r))
    # a reload whose key does not match keeps the running certificate
    shutil.copyfile(other_key, srv_key)
    os.chmod(srv_key, 0o600)
    line = hup(gw)
    t.ok(line and "not reloaded" in line and "does not match" in line,
         "a rotation with a mismatched key is refused and logged", line)
    t.eq(peer_cert(tls_port, ca_crt), pem_der(new_crt), "... and the running certificate stays")
    shutil.copyfile(new_key, srv_key)

    # ---- 8. configuration errors -------------------------------------------
    base = json.load(open(gw.config))
    l1 = "listen[1]"

    def with_tls(**kw):
        c = json.loads(json.dumps(base))
        c["listen"][1]["tls"].update(kw)
        for k, v in list(c["listen"][1]["tls"].items()):
            if v is None:
                del c["listen"][1]["tls"][k]
        return c

    check_fails(t, gw, with_tls(key=other_key), l1 + ".tls.key", "does not match " + l1 +
                ".tls.cert", "key of another certificate", serve=True)
    check_fails(t, gw, with_tls(key=os.path.join(work, "missing.key")), l1 + ".tls.key",
                "No such file", "missing key file")
    loose = os.path.join(work, "loose.key")
    shutil.copyfile(srv_key, loose)
    os.chmod(loose, 0o644)
    check_fails(t, gw, with_tls(key=loose), l1 + ".tls.key", "0644", "key mode 0644")
    check_fails(t, gw, with_tls(client_auth="require"), l1 + ".tls.client_auth",
                "\"require\" needs client_ca", "require without client_ca")
    check_fails(t, gw, with_tls(client_ca=ca_crt), l1 + ".tls.client_ca", "client_auth",
                "client_ca without client_auth")
    check_fails(t, gw, with_tls(key=None), l1 + ".tls.key", "required with", "cert without key")
    check_fails(t, gw, with_tls(min_version="1.1"), l1 + ".tls.min_version", "1.2",
                "min_version 1.1")
    c = json.loads(json.dumps(base))
    c["aliases"].append({"label": "up", "mode": "ra", "vendors": ["acme"], "profile": "device",
                         "upstream": {"url": "https://127.0.0.1:%d/" % tls_port,
                                      "trusted": [gw.path("pki", "operator-root.crt")],
                                      "cert": ra_crt, "key": ra_key}})
    n = len(c["aliases"]) - 1
    check_fails(t, gw, c, "aliases[%d].upstream.tls.trusted" % n, "required for an https url",
                "https upstream without tls.trusted", serve=True)
    rc, out = gw.cli("check")
    t.ok(rc == 0, "the running configuration still checks", out)

    # ---- 10. the client goes away while its request waits ---------------------
    n_gone = lambda: gw.log_text().count(GONE)  # noqa: E731
    n_ended = lambda: len(ENDED.findall(gw.log_text()))  # noqa: E731
    irs = [capture_request(gw, k) for k in (8, 9)]
    gone0, ended0 = n_gone(), n_ended()
    lock = Lock(gw, "SELECT 1 FROM serials WHERE serial IN ('ACME-0008', 'ACME-0009') "
                    "FOR UPDATE")
    socks = []
    for ir in irs:
        raw = socket.create_connection(("127.0.0.1", tls_port), timeout=10)
        s = ctx_for(ca_crt).wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(http_bytes("/.well-known/cmp/p/3gpp", ir))
        socks.append(s)
    t.ok(wait_for(lambda: lock_waiters(gw) >= 2), "TLS: both irs wait on the serial lock")
    try:
        socks[0].unwrap()  # close_notify
    except (OSError, ssl.SSLError):
        pass
    socks[0].close()
    socks[1].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    socks[1].close()  # a reset
    t.ok(wait_for(lambda: n_gone() >= gone0 + 2),
         "TLS: both disconnects are noticed while the requests wait", gw.log_tail(8))
    log = gw.log_text()
    t.ok("client disconnected (TLS close_notify)" in log,
         "TLS: the close_notify is named", gw.log_tail(8))
    lock.release()
    t.ok(wait_for(lambda: n_ended() >= ended0 + 2), "TLS: both requests end, dropped",
         gw.log_tail(8))
    r = gw.cmp(8, server="127.0.0.1:%d" % tls_port, extra=tls_opts)
    t.ok(r.rc == 0, "TLS: the gateway enrolls afterwards", repr(r))

    # ---- 9. RA mode over https ----------------------------------------------
    # a port bound but not listening (a connect is refused) and one that
    # listens but never answers
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)

    def ra_alias(label, port, timeout_s=10, **tls_kw):
        return {"label": label, "mode": "ra", "vendors": ["acme"], "profile": "device",
                "upstream": {
                    "url": "https://127.0.0.1:%d/.well-known/cmp/p/3gpp" % port,
                    "trusted": [gw.path("pki", "operator-root.crt")], "signer": [],
                    "cert": ra_crt, "key": ra_key, "timeout_s": timeout_s, "wait_after_s": 8,
                    "tls": dict({"trusted": ca_crt}, **tls_kw)}}

    def patch_ra(cfg):
        cfg["aliases"] += [
            ra_alias("ra-tls", tls_port),
            ra_alias("ra-mtls", mtls_port, cert=cli_crt, key=cli_key),
            ra_alias("ra-anchor", tls_port, trusted=other_crt),
            ra_alias("ra-name", tls_port, server_name="wrong.example"),
            ra_alias("ra-refused", refused.getsockname()[1]),
            ra_alias("ra-plain", gw.port),
            ra_alias("ra-silent", silent.getsockname()[1], timeout_s=2),
        ]

    ra = Gateway(t, pg, devices=8, name="tls_ra", patch=patch_ra)
    ra.start()
    path = lambda label: ".well-known/cmp/p/" + label  # noqa: E731
    r = ra.cmp(6, path=path("ra-tls"))
    t.ok(r.rc == 0 and r.has("received PKICONF"), "RA -> CA over https: ir + certConf",
         repr(r) + "\n--- RA log:\n" + ra.log_tail(20) + "\n--- CA log:\n" + gw.log_tail(20))
    t.eq(gw.scalar("SELECT count(*) FROM certificates c JOIN transactions x ON x.cert_id = c.id "
                   "WHERE c.device_serial = 'ACME-0006' AND x.state = 'confirmed'"), "1",
         "the CA issued and confirmed it (over its TLS listener)")
    r = ra.cmp(7, path=path("ra-mtls"))
    t.ok(r.rc == 0 and r.has("received PKICONF"),
         "RA -> CA over mutual TLS (upstream.tls.cert/key): ir + certConf",
         repr(r) + "\n--- RA log:\n" + ra.log_tail(20))
    unavail = "systemUnavail"
    for label, why, k in (("ra-anchor", "certificate verify failed: unable to get local issuer",
                           4),
                          ("ra-name", "certificate verify failed: hostname mismatch", 4),
                          ("ra-refused", "cannot connect: Connection refused", 4),
                          ("ra-plain", "TLS: wrong version number", 4),
                          ("ra-silent", "no answer in time", 4)):
        mark = len(ra.log_text())
        r = ra.cmp(k, path=path(label))
        t.ok(r.rc != 0 and r.has(unavail), "%s: the device gets systemUnavail" % label, r.out)
        t.ok(log_has(ra, why, mark), "%s: the RA logs why (%s)" % (label, why), ra.log_tail(10))
        t.eq(ra.scalar("SELECT fwd_fail_info FROM transactions WHERE alias = '%s'" % label),
             str(1 << FAIL_BITS[unavail]), "%s: transaction closed as systemUnavail" % label)
    # ---- 11. the connection cap and garbage on the TLS port -----------------
    cfg = json.load(open(gw.config))
    cfg["http"]["max_connections"] = 6
    gw.write_config(cfg)
    line = hup(gw)
    t.ok(line and "configuration reloaded" in line, "http.max_connections 6 by a reload", line)
    mark = len(gw.log_text())
    held = [socket.create_connection(("127.0.0.1", tls_port), timeout=5) for _ in range(16)]
    up = []
    for raw in held:
        try:
            up.append(ctx_for(ca_crt).wrap_socket(raw, server_hostname="127.0.0.1"))
        except (OSError, ssl.SSLError):
            raw.close()
    t.ok(6 <= len(up) <= 12, "TLS: 16 connections to 2 workers of 6: %d handshakes, the rest "
         "closed at once" % len(up), gw.log_tail(5))
    t.ok(log_has(gw, "above http.max_connections 6", mark), "TLS: the cap is logged",
         gw.log_tail(5))
    for c in up:
        c.close()
    rnd = random.Random(13)
    hello = client_hello()
    for i in range(300):
        kind = i % 3
        if kind == 0:
            data = os.urandom(rnd.randrange(0, 600))
        elif kind == 1:  # a record header with any length, then noise
            data = b"\x16\x03" + bytes([rnd.randrange(0, 5)]) + \
                struct.pack(">H", rnd.randrange(0, 65536)) + os.urandom(rnd.randrange(0, 300))
        else:  # a real ClientHello with a few bytes changed, maybe cut short
            b = bytearray(hello)
            for _ in range(rnd.randrange(1, 6)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            data = bytes(b[:rnd.randrange(1, len(b) + 1)])
        try:
            raw = socket.create_connection(("127.0.0.1", tls_port), timeout=5)
            raw.sendall(data)
            if rnd.random() < 0.5:
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        except OSError:
            pass
    time.sleep(0.5)
    t.ok(gw.alive(), "300 connections of garbage: the gateway is alive")
    cfg["http"]["max_connections"] = 1024
    gw.write_config(cfg)
    hup(gw)
    st, _, _, _ = https(tls_port, ctx_for(ca_crt), "GET", "/nowhere")
    t.eq(st, 404, "... and serves TLS")

    # the exchanges' results, by reason (the operations listener's /metrics)
    ops = ra.cfg.get("ops", {}).get("port")
    try:
        c = http.client.HTTPConnection("127.0.0.1", ops, timeout=10)
        c.request("GET", "/metrics")
        resp = c.getresponse()
        text = resp.read().decode()
        c.close()
    except (OSError, TypeError) as e:
        resp, text = None, repr(e)
    if resp is None or resp.status != 200:
        t.skip("upstream failures in /metrics by reason", "no /metrics: %s" % text[:200])
    else:
        want = [("ra-anchor", "tls"), ("ra-name", "tls"), ("ra-refused", "connect"),
                ("ra-plain", "tls"), ("ra-silent", "timeout")]
        missing = [w for w in want if 'cmpgw_upstream_failures_total{alias="%s",reason="%s"} 1'
                   % w not in text]
        t.ok(not missing, "/metrics counts each upstream failure under its reason", missing)
        t.ok('cmpgw_upstream_failures_total{alias="ra-tls"' not in text,
             "/metrics: no failure for the alias that enrolled")
    refused.close()
    silent.close()
    ra.stop()
    gw.stop()
    for g in (gw, ra):
        log = g.log_text()
        t.ok("Sanitizer" not in log and "runtime error" not in log,
             "no sanitizer report in the log of %s" % os.path.basename(g.tmp))


if __name__ == "__main__":
    run(main)
