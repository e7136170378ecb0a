#!/usr/bin/env python3
"""CA and CMP keys in a PKCS#11 token (SoftHSM2 through libp11's engine):
a token initialised here, the issuing CA key and the CMP signing key
generated inside it (sensitive, never extractable), the CA certificate
signed by the demo root; a real enrollment with the stock `openssl cmp`
(ir + certConf) whose certificate verifies; concurrent enrollments; the key
cannot be read out; `cmpgw check` exits 2 with a precise message (and no
PIN) for a wrong PIN, a URI naming no object, a PIN in the URI, no PIN;
the PIN never reaches the log. Then the token is served over p11-kit's RPC
(`p11-kit server` + p11-kit-client.so, like a network HSM): the server is
killed -> the client gets systemUnavail, /readyz says 503 and the gateway
lives; the server comes back -> enrollment works again without a restart
and /readyz says 200."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (OPENSSL, Gateway, Pg, add_cleanup, cmpgw, openssl,  # noqa: E402
                     run, sh)

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
CLIENT = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
ENGINES = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"
PIN = "73915046"  # distinctive, to look for it in logs and messages
SO_PIN = "64100739"
LABEL = "cmpgw-ca"
CA_URI = "pkcs11:token=%s;object=issuing;type=private" % LABEL
CMP_URI = "pkcs11:token=%s;object=cmp;type=private" % LABEL


def tool(*args):
    return sh(["pkcs11-tool", "--module", SOFTHSM, "--token-label", LABEL] + list(args))


def make_token(t, tmp):
    """A SoftHSM2 token in tmp with the issuing and CMP keys generated inside."""
    tokdir = os.path.join(tmp, "tokens")
    os.makedirs(tokdir)
    conf = os.path.join(tmp, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
                % tokdir)
    os.environ["SOFTHSM2_CONF"] = conf
    rc, out = sh(["softhsm2-util", "--init-token", "--free", "--label", LABEL,
                  "--pin", PIN, "--so-pin", SO_PIN])
    if rc != 0:
        raise RuntimeError("softhsm2-util --init-token failed:\n" + out)
    for label, kid in (("issuing", "01"), ("cmp", "02")):
        rc, out = tool("--login", "--pin", PIN, "--keypairgen", "--key-type", "EC:prime256v1",
                       "--label", label, "--id", kid, "--sensitive")
        if rc != 0:
            raise RuntimeError("pkcs11-tool --keypairgen failed:\n" + out)


def engine_env():
    env = dict(os.environ)
    env["PKCS11_MODULE_PATH"] = SOFTHSM
    return env


def make_certs(gw):
    """hsm-ca.crt (token key 'issuing', signed by the demo root) and
    hsm-cmp.crt (token key 'cmp', signed by the HSM CA through the engine)."""
    pki = gw.path("pki")
    exts = os.path.join(pki, "hsm.ext")
    with open(exts, "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:TRUE,pathlen:0\n"
                "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n"
                "[cmp]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=1.3.6.1.5.5.7.3.28\nsubjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid\n")
    env = engine_env()
    # the test's own openssl CLI may carry the PIN in its URI; cmpgw never
    ca_pin = CA_URI + ";pin-value=" + PIN
    steps = [
        [OPENSSL, "req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key", ca_pin,
         "-subj", "/O=Demo Operator/CN=cmpgw HSM Issuing CA", "-out", pki + "/hsm-ca.csr"],
        [OPENSSL, "x509", "-req", "-in", pki + "/hsm-ca.csr", "-CA", pki + "/operator-root.crt",
         "-CAkey", pki + "/operator-root.key", "-set_serial", "0x4853" + os.urandom(6).hex(),
         "-days", "365", "-extfile", exts, "-extensions", "ca", "-out", pki + "/hsm-ca.crt"],
        [OPENSSL, "req", "-new", "-engine", "pkcs11", "-keyform", "engine", "-key",
         CMP_URI + ";pin-value=" + PIN, "-subj", "/O=Demo Operator/CN=cmpgw HSM CMP signer",
         "-out", pki + "/hsm-cmp.csr"],
        [OPENSSL, "x509", "-req", "-engine", "pkcs11", "-in", pki + "/hsm-cmp.csr",
         "-CA", pki + "/hsm-ca.crt", "-CAkeyform", "engine", "-CAkey", ca_pin,
         "-set_serial", "0x434d" + os.urandom(6).hex(), "-days", "365", "-extfile", exts,
         "-extensions", "cmp", "-out", pki + "/hsm-cmp.crt"],
    ]
    for args in steps:
        rc, out = sh(args, env=env)
        if rc != 0:
            raise RuntimeError("%s failed:\n%s" % (" ".join(args[:3]), out))


def hsm_config(gw, module=SOFTHSM, cmp_in_token=True, **pk):
    cfg = dict(gw.file_cfg)
    pki = gw.path("pki")
    ca = dict(cfg["ca"])
    ca["issuing_cert"] = pki + "/hsm-ca.crt"
    ca["issuing_key"] = CA_URI
    ca["chain"] = [pki + "/operator-root.crt"]
    if cmp_in_token:
        ca["cmp_cert"] = pki + "/hsm-cmp.crt"
        ca["cmp_key"] = CMP_URI
        ca["cmp_chain"] = [pki + "/hsm-ca.crt", pki + "/operator-root.crt"]
    cfg["ca"] = ca
    p11 = {"module": module, "pin_file": gw.path("pin.txt")}
    p11.update(pk)
    cfg["pkcs11"] = {k: v for k, v in p11.items() if v is not None}
    return cfg


def check(gw, cfg, env=None):
    path = gw.path("check-%d.json" % int(time.time() * 1e6))
    gw.write_config(cfg, path)
    return cmpgw("check", "--config", path, env=env)


def serial_of(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1].upper().lstrip("0") if rc == 0 else None


def enroll_and_verify(t, gw, k, name):
    r = gw.cmp(k, confirm="explicit")
    t.ok(r.rc == 0 and r.has("sending CERTCONF") and r.has("received PKICONF"),
         "%s: ir + certConf with openssl cmp" % name, repr(r))
    if not os.path.exists(r.certout):
        return None
    rc, out = openssl("verify", "-CAfile", gw.path("pki", "operator-root.crt"),
                      "-untrusted", gw.path("pki", "hsm-ca.crt"), r.certout)
    t.ok(rc == 0 and ": OK" in out, "%s: the certificate verifies to the root through the "
         "HSM CA" % name, out)
    return r.certout


def burst(gw, ks, **kw):
    """Device k's enrollment for every k in ks at once; {k: CmpResult}."""
    results = {}

    def one(k):
        results[k] = gw.cmp(k, **kw)
    threads = [threading.Thread(target=one, args=(k,)) for k in ks]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results


def part_token(t, gw):
    """Direct SoftHSM2: enrollment, concurrency, extractability, bad configs."""
    with open(gw.path("pin.txt"), "w") as f:
        f.write(PIN + "\n")
    os.chmod(gw.path("pin.txt"), 0o600)
    cfg = hsm_config(gw)
    gw.cfg = cfg
    gw.write_config(cfg)
    rc, out = gw.cli("check")
    t.ok(rc == 0, "cmpgw check: both keys as pkcs11: URIs", out)

    gw.start()
    cert = enroll_and_verify(t, gw, 1, "token key")
    if cert:
        rc, iss = openssl("x509", "-noout", "-issuer", "-in", cert)
        t.ok("cmpgw HSM Issuing CA" in iss, "issued by the HSM CA", iss)
        ser = serial_of(cert)
        lines = [ln for ln in gw.log_text().splitlines() if "CA signature" in ln]
        t.ok(any(re.search(r"serial 0*%s\b" % ser, ln) for ln in lines),
             "the issuance log line names the certificate serial %s" % ser, "\n".join(lines))

    # every worker signs with the token key at once (libp11's session pool)
    results = burst(gw, range(2, 8), confirm="implicit")
    bad = {k: r for k, r in results.items() if r.rc != 0}
    t.ok(len(results) == 6 and not bad, "6 concurrent enrollments signed by the token key",
         repr(bad))
    t.ok(gw.alive(), "gateway alive after the concurrent enrollments")

    # a reload makes a new config snapshot on the same engine and session
    for n in (1, 2):
        ln = hup(gw)
        t.ok(ln and "configuration reloaded from" in ln, "SIGHUP %d: reloaded with the token "
             "keys" % n, ln or gw.log_tail())
    enroll_and_verify(t, gw, 12, "after two reloads")
    gw.stop()

    # the private key never leaves the token
    # reading CKA_VALUE is refused (pkcs11-tool does not even try for EC), and
    # what the engine hands out as the private key is a placeholder: its
    # private scalar is zero, the real one never left the token
    rc, out = sh([OPENSSL, "pkey", "-engine", "pkcs11", "-inform", "engine", "-in",
                  CA_URI + ";pin-value=" + PIN, "-text", "-noout"], env=engine_env())
    m = re.search(r"priv:\s*((?:[0-9a-f]{2}:?\s*)+)pub:", out)
    priv = re.sub(r"[^0-9a-f]", "", m.group(1)) if m else ""
    t.ok(m and set(priv) == {"0"}, "the private scalar cannot be read: the engine's export "
         "is all zero", out)
    rc, out = tool("--login", "--pin", PIN, "--list-objects", "--type", "privkey")
    blocks = out.split("Private Key Object")
    attrs = next((b for b in blocks if "label:      issuing" in b), "")
    t.ok("never extractable" in attrs and re.search(r"Access:.*\bsensitive", attrs),
         "the issuing key is CKA_SENSITIVE and never CKA_EXTRACTABLE", out)

    # bad configurations: exit 2, a precise message, never the PIN
    with open(gw.path("wrong-pin.txt"), "w") as f:
        f.write("11111111\n")
    os.chmod(gw.path("wrong-pin.txt"), 0o600)
    cases = [
        ("wrong PIN", hsm_config(gw, pin_file=gw.path("wrong-pin.txt")),
         "ca.issuing_key: %s: the token refused the PIN (CKR_PIN_INCORRECT)" % CA_URI),
        ("URI naming no object", dict(hsm_config(gw), ca=dict(
            hsm_config(gw)["ca"], issuing_key="pkcs11:token=%s;object=nope;type=private" % LABEL)),
         "ca.issuing_key: pkcs11:token=%s;object=nope;type=private: no private key object "
         "matches" % LABEL),
        ("URI naming a missing token", dict(hsm_config(gw), ca=dict(
            hsm_config(gw)["ca"], issuing_key="pkcs11:token=nosuch;object=issuing;type=private")),
         "ca.issuing_key: pkcs11:token=nosuch;object=issuing;type=private: no token labelled "
         "\"nosuch\" (tokens present: \"%s\")" % LABEL),
        ("the token key of another certificate", dict(hsm_config(gw), ca=dict(
            hsm_config(gw)["ca"], issuing_key=CMP_URI)),
         "ca.issuing_key: %s: does not match the certificate in ca.issuing_cert" % CMP_URI),
        ("pin-value in the URI", dict(hsm_config(gw), ca=dict(
            hsm_config(gw)["ca"], issuing_key=CA_URI + "?pin-value=" + PIN)),
         "ca.issuing_key: put the PIN in pkcs11.pin_file or pkcs11.pin_env, not in the URI"),
        ("no PIN configured", hsm_config(gw, pin_file=None),
         "ca.issuing_key: no PIN configured: set pkcs11.pin_file or pkcs11.pin_env"),
        ("unset pin_env", hsm_config(gw, pin_file=None, pin_env="CMPGW_TEST_NO_SUCH_PIN"),
         "pkcs11.pin_env: the environment variable CMPGW_TEST_NO_SUCH_PIN is not set"),
        ("module not loadable", hsm_config(gw, module=gw.path("pki", "hsm-ca.crt")),
         "ca.issuing_key: PKCS#11 module %s:" % gw.path("pki", "hsm-ca.crt")),
    ]
    for name, cfg_bad, want in cases:
        rc, out = check(gw, cfg_bad)
        t.ok(rc == 2 and want in out, "cmpgw check, %s: exit 2 and '%s'" % (name, want),
             "exit %d: %s" % (rc, out))
        t.ok(PIN not in out and "11111111" not in out, "cmpgw check, %s: no PIN in the "
             "message" % name, out)
    env = dict(os.environ, CMPGW_TEST_PIN=PIN)
    rc, out = check(gw, hsm_config(gw, pin_file=None, pin_env="CMPGW_TEST_PIN"), env=env)
    t.ok(rc == 0, "cmpgw check: PIN from pkcs11.pin_env", out)


def start_server(sock):
    """p11-kit server exporting the token on sock, in its own process group
    (it forks one process per client: killing the group drops the client
    like a network HSM going away)."""
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(["p11-kit", "server", "-f", "--provider", SOFTHSM, "-n", sock,
                          "pkcs11:token=" + LABEL],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    return p


def kill_server(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait(timeout=10)


def hup(gw, timeout=20):
    """SIGHUP and wait for its outcome line; returns that line or None."""
    mark = len(gw.log_text())
    gw.proc.send_signal(signal.SIGHUP)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for ln in gw.log_text()[mark:].splitlines():
            if "configuration reloaded from" in ln or "configuration not reloaded from" in ln:
                return ln
        time.sleep(0.05)
    return None


def readyz_until(gw, want, limit=30):
    """/readyz until it answers want (it probes the keys every few seconds);
    bounded. Returns the last (status, body)."""
    deadline = time.monotonic() + limit
    while True:
        st, _, body = gw.ops("/readyz")
        if st == want or time.monotonic() > deadline:
            return st, body
        time.sleep(0.5)


def part_lost(t, gw, srv, cmp_in_token, k, ks):
    """The token over p11-kit's RPC: lost at run time, then back. With
    cmp_in_token the CMP key is lost too: the error goes out unprotected
    (RFC 9483 3.6.4), which `openssl cmp` reads with -unprotected_errors.
    Devices k..k+1, and ks concurrently."""
    what = "CA and CMP keys" if cmp_in_token else "CA key"
    cfg = hsm_config(gw, module=CLIENT, cmp_in_token=cmp_in_token)
    gw.cfg = cfg
    gw.write_config(cfg)
    rc, out = gw.cli("check")
    t.ok(rc == 0, "cmpgw check: %s through p11-kit-client.so" % what, out)
    gw.start()
    enroll_and_verify(t, gw, k, "remote token (%s)" % what)
    st, _, body = gw.ops("/readyz")
    t.eq(st, 200, "/readyz 200 with the token present", body)
    if not cmp_in_token:
        # a reload naming a missing key is refused, and that key is not
        # looked for again when the token comes back
        bad = dict(cfg, ca=dict(cfg["ca"], issuing_key=CA_URI.replace("issuing", "nope")))
        gw.write_config(bad)
        ln = hup(gw)
        t.ok(ln and "configuration not reloaded" in ln and "no private key object matches" in ln,
             "SIGHUP with a URI naming no object: not reloaded, reason named", ln or "")
        gw.write_config(cfg)

    back = gw.log_text().count("the token answers again")
    kill_server(srv[0])
    extra = ("-unprotected_errors",) if cmp_in_token else ()
    for n in ("", " again"):
        r = gw.cmp(k + 1, confirm="explicit", extra=extra)
        t.ok(r.rc != 0 and r.has("systemUnavail"), "%s gone: the client gets systemUnavail%s"
             % (what, n), repr(r))
        t.ok(not r.has("systemFailure") and not r.has("500"), "%s gone: no systemFailure, no "
             "HTTP 500%s" % (what, n), r.out)
    # concurrent signers while the token is gone: each one fails fast
    rs = burst(gw, ks, confirm="explicit", extra=extra)
    bad = {k: r for k, r in rs.items() if r.rc == 0 or not r.has("systemUnavail")}
    t.ok(not bad, "%s gone: %d concurrent enrollments all get systemUnavail" % (what, len(ks)),
         repr(bad))
    t.ok(gw.alive(), "gateway alive while the token is gone")
    st, body = readyz_until(gw, 503)
    t.ok(st == 503 and b"CA key unusable" in body, "/readyz 503 'CA key unusable' while the "
         "token is gone", "%s %r" % (st, body))

    srv[0] = start_server(srv[1])
    ok, tries = False, 0
    while not ok and tries < 10:  # re-initialised at most once per second
        tries += 1
        time.sleep(1.2)
        r = gw.cmp(k + 1, confirm="explicit")
        ok = r.rc == 0
    t.ok(ok, "token back: enrollment works again without a restart (%d tries)" % tries,
         repr(r))
    # and the devices refused meanwhile enroll, concurrently
    rs = burst(gw, ks, confirm="explicit")
    bad = {k: r for k, r in rs.items() if r.rc != 0}
    t.ok(not bad, "token back: %d concurrent enrollments of the refused devices succeed"
         % len(ks), repr(bad))
    st, body = readyz_until(gw, 200)
    t.eq(st, 200, "/readyz 200 again once the token is back", body)
    t.ok(gw.log_text().count("the token answers again") > back,
         "the log says the token came back", gw.log_tail())
    gw.stop()


def main(t):
    for f in (SOFTHSM, ENGINES):
        if not os.path.exists(f):
            t.skip("HSM test", "%s missing" % f)
            return
    pg = Pg()
    gw = Gateway(t, pg, devices=22, name="hsm")
    gw.file_cfg = gw.cfg
    make_token(t, gw.tmp)
    make_certs(gw)
    part_token(t, gw)
    if not shutil.which("p11-kit") or not os.path.exists(CLIENT):
        t.skip("token lost at run time", "p11-kit and %s (packages p11-kit, "
               "p11-kit-modules) needed" % CLIENT)
    else:
        sock = os.path.join(gw.tmp, "p11kit.sock")
        os.environ["P11_KIT_SERVER_ADDRESS"] = "unix:path=" + sock
        # the remote token not reachable at start: check says so, exit 2
        rc, out = check(gw, hsm_config(gw, module=CLIENT, cmp_in_token=False))
        t.ok(rc == 2 and "%s: no private key object matches (the module cannot list its "
             "tokens: is the token reachable?)" % CA_URI in out,
             "cmpgw check with the remote token unreachable: exit 2, reason named",
             "exit %d: %s" % (rc, out))
        srv = [start_server(sock), sock]
        add_cleanup(lambda: kill_server(srv[0]))
        part_lost(t, gw, srv, False, 8, range(13, 17))
        part_lost(t, gw, srv, True, 10, range(17, 21))
    t.ok(PIN not in gw.log_text(), "the PIN never appears in the gateway's log")


if __name__ == "__main__":
    run(main)
