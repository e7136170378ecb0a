#!/usr/bin/env python3
"""Shared-secret (PasswordBasedMac) enrollment with one-time tokens, with
the stock `openssl cmp -ref REF -secret pass:SECRET` client against a real
cmpgw serve and PostgreSQL: success (ip and pkiConf MAC-protected, chain in
extraCerts), token used and certificate for its identity in the database;
reuse -> notAuthorized, signed (no key derivation for a spent token);
wrong secret -> badMessageCheck; unknown reference -> badMessageCheck
"unknown token reference", signed (issue 10 finding 7: no key derivation
before the token is known to be usable); expired -> notAuthorized; other
alias -> notAuthorized; alias without "token" -> wrongIntegrity; revoke;
iterationCount above tokens.max_iterations refused before the lookup (so
also for an unknown reference); the secret is never stored or logged in clear; every
refusal is audited and writes nothing else; tokens.* config checks."""

import copy
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (OPENSSL, CmpMsg, Gateway, Pg, cert_subject, cmpgw,  # noqa: E402
                     new_key, openssl, run, sh)


def patch(cfg):
    base = {"mode": "ca", "profile": "device", "confirm_deadline_s": 300}
    cfg["aliases"].append(dict(base, label="token", auth=["token"]))
    cfg["aliases"].append(dict(base, label="token2", auth=["vendor_cert", "token"],
                               implicit_confirm=True))


def create(gw, alias="token", identity="node-0001", ttl="1h"):
    rc, out = cmpgw("token", "create", "--config", gw.config, "--alias", alias,
                    "--identity", identity, "--ttl", ttl)
    ref = re.search(r"^ref=([0-9a-f]{32})$", out, re.M)
    sec = re.search(r"^secret=([A-Za-z0-9_-]{24})$", out, re.M)
    if rc != 0 or not ref or not sec:
        raise RuntimeError("token create failed (%d):\n%s" % (rc, out))
    return ref.group(1), sec.group(1)


class Client:
    def __init__(self, gw):
        self.gw = gw
        self.n = 0
        self.out = os.path.join(gw.tmp, "tok")
        os.makedirs(self.out, exist_ok=True)

    def ir(self, ref, secret, alias="token", extra=()):
        """openssl cmp ir with MAC protection; returns (rc, output, certout, CmpMsg list)."""
        self.n += 1
        key = os.path.join(self.out, "k%d.pem" % self.n)
        new_key(key)
        certout = os.path.join(self.out, "c%d.pem" % self.n)
        rsp = [os.path.join(self.out, "r%d-%d.der" % (self.n, i)) for i in (1, 2)]
        args = [OPENSSL, "cmp", "-cmd", "ir",
                "-server", "127.0.0.1:%d" % self.gw.port,
                "-path", ".well-known/cmp/p/" + alias,
                "-ref", ref, "-secret", "pass:" + secret,
                "-newkey", key, "-subject", "/CN=requested",
                "-out_trusted", self.gw.path("pki", "operator-root.crt"),
                "-certout", certout, "-rspout", ",".join(rsp),
                "-unprotected_errors",
                "-msg_timeout", "20", "-total_timeout", "30"] + list(extra)
        rc, out = sh(args, timeout=45)
        msgs = []
        for p in rsp:
            if os.path.exists(p):
                with open(p, "rb") as f:
                    msgs.append(CmpMsg(f.read()))
        return rc, out, certout, msgs


def failnames(msgs):
    return msgs[0].failnames if msgs else None


def texts(msgs):
    return " ".join(msgs[0].texts) if msgs else ""


def refused(t, gw, c, ref, secret, want_bit, want_text, name, alias="token"):
    before = gw.counts()
    rc, out, _, msgs = c.ir(ref, secret, alias=alias)
    t.ok(rc != 0, name + ": openssl cmp fails", out)
    t.eq(failnames(msgs), [want_bit], name + ": failInfo " + want_bit,
         msgs[0].describe() if msgs else out)
    t.ok(want_text in texts(msgs), name + ": statusString says %r" % want_text, texts(msgs))
    after = gw.counts()
    t.eq((after["certificates"], after["transactions"]),
         (before["certificates"], before["transactions"]),
         name + ": no certificate or transaction written")
    t.eq(after["audit"], before["audit"] + 1, name + ": exactly one audit row")
    return msgs


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=2, name="token", patch=patch)
    gw.start()
    c = Client(gw)

    # ---- CLI --------------------------------------------------------------
    t.eq(oct(os.stat(gw.path("pki", "tokens.key")).st_mode & 0o777), "0o600",
         "cmpgw init wrote pki/tokens.key with mode 0600")
    t.eq(os.path.getsize(gw.path("pki", "tokens.key")), 32, "token key is 32 bytes")
    rc, out = cmpgw("token", "create", "--config", gw.config, "--alias", "3gpp",
                    "--identity", "x")
    t.ok(rc == 2 and "does not accept tokens" in out,
         "token create for an alias without \"token\" auth: exit 2", out)
    rc, out = cmpgw("token", "create", "--config", gw.config, "--alias", "token",
                    "--identity", "x", "--ttl", "1y")
    t.ok(rc == 2 and "--ttl" in out, "token create with a bad --ttl: exit 2", out)

    ref, secret = create(gw, identity="node-0001")
    t.eq(gw.scalar("SELECT state || ',' || alias || ',' || identity FROM tokens WHERE ref = '%s'"
                   % ref), "active,token,node-0001", "token row: active, alias, identity")
    enc = gw.scalar("SELECT encode(secret_enc, 'hex') FROM tokens WHERE ref = '%s'" % ref) or ""
    t.ok(len(enc) > 0 and secret.encode().hex() not in enc,
         "secret_enc does not contain the secret bytes")
    t.eq(gw.scalar("SELECT count(*) FROM tokens WHERE position(convert_to('%s', 'UTF8') IN "
                   "secret_enc) > 0 OR position(convert_to('%s', 'UTF8') IN "
                   "convert_to(ref || alias || identity, 'UTF8')) > 0" % (secret, secret)), "0",
         "no column of the tokens table holds the secret in clear")
    rc, out = cmpgw("token", "list", "--config", gw.config)
    t.ok(rc == 0 and ref in out and "active" in out and secret not in out,
         "token list shows the token as active, without its secret", out)

    # ---- 1. enrollment with the token (explicit confirm) ------------------
    rc, out, certout, msgs = c.ir(ref, secret)
    t.ok(rc == 0, "ir with -ref/-secret: openssl cmp exits 0", out)
    t.ok("received PKICONF" in out, "certConf sent and pkiConf received", out)
    t.ok(len(msgs) == 2 and all(m.header_field(1) is not None for m in msgs),
         "ip and pkiConf carry protectionAlg")
    if msgs:
        raw = msgs[0].der
        # id-PasswordBasedMac 1.2.840.113533.7.66.13
        pbm = bytes.fromhex("06092a864886f67d07420d")
        t.ok(pbm in raw, "ip is protected with PasswordBasedMac")
        t.ok(len(msgs) > 1 and pbm in msgs[1].der, "pkiConf is protected with PasswordBasedMac")
    if os.path.exists(certout):
        subj = cert_subject(certout) or ""
        t.ok("CN=node-0001" in subj.split(","), "subject CN is the token's identity", subj)
        t.ok("O=token" in subj.split(","), "${vendor} is \"token\"", subj)
        rc2, v = openssl("verify", "-CAfile", gw.path("pki", "operator-root.crt"),
                         "-untrusted", gw.path("pki", "issuing-ca.crt"), certout)
        t.ok(rc2 == 0, "certificate verifies to the operator root", v)
    else:
        t.ok(False, "certificate written", out)
    row = gw.psql("SELECT state, used_at IS NOT NULL FROM tokens WHERE ref = '%s'" % ref)
    t.eq(row, [["used", "t"]], "token is used after the enrollment")
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'node-0001'"),
         "active", "certificate for node-0001 is active (confirmed)")
    t.eq(gw.scalar("SELECT state || ',' || token_ref FROM transactions WHERE token_ref = '%s'"
                   % ref), "confirmed," + ref, "transaction confirmed, bound to the token")

    # ---- 2. reuse -----------------------------------------------------------
    msgs = refused(t, gw, c, ref, secret, "notAuthorized", "token already used", "reuse")
    if msgs:
        t.ok(bytes.fromhex("06092a864886f67d07420d") not in msgs[0].der,
             "reuse: the error is signed, not MAC-protected (no key derivation for a spent "
             "token)")

    # ---- 3. wrong secret / unknown reference --------------------------------
    ref2, secret2 = create(gw, identity="node-0002")
    bad = "A" * 24 if secret2 != "A" * 24 else "B" * 24
    refused(t, gw, c, ref2, bad, "badMessageCheck", "does not verify", "wrong secret")
    refused(t, gw, c, "0" * 32, secret2, "badMessageCheck", "unknown token reference",
            "unknown reference")
    t.eq(gw.scalar("SELECT state FROM tokens WHERE ref = '%s'" % ref2), "active",
         "wrong secret leaves the token unused")

    # ---- 4. alias binding -----------------------------------------------------
    refused(t, gw, c, ref2, secret2, "notAuthorized", "not valid for this alias",
            "token of alias token on alias token2", alias="token2")
    refused(t, gw, c, ref2, secret2, "wrongIntegrity", "signature protection",
            "MAC-protected ir on an alias without token auth", alias="3gpp")

    # the right secret on the right alias still works, with implicitConfirm
    ref3, secret3 = create(gw, alias="token2", identity="node-0003")
    rc, out, certout, msgs = c.ir(ref3, secret3, alias="token2", extra=["-implicit_confirm"])
    t.ok(rc == 0 and "sending CERTCONF" not in out, "implicitConfirm enrollment on token2", out)
    t.eq(gw.scalar("SELECT status FROM certificates WHERE device_serial = 'node-0003'"),
         "active", "implicitConfirm: certificate active at once")

    # ---- 5. expiry --------------------------------------------------------------
    ref4, secret4 = create(gw, identity="node-0004", ttl="1s")
    time.sleep(2)
    refused(t, gw, c, ref4, secret4, "notAuthorized", "token expired", "expired token")
    rc, out = cmpgw("token", "list", "--config", gw.config)
    t.ok(re.search(ref4 + r"\s+token\s+node-0004\s+expired", out) is not None,
         "token list: expired", out)

    # ---- 6. revoke ----------------------------------------------------------------
    rc, out = cmpgw("token", "revoke", "--config", gw.config, ref2)
    t.ok(rc == 0 and "revoked" in out, "token revoke", out)
    rc, out = cmpgw("token", "revoke", "--config", gw.config, ref)
    t.ok(rc == 1 and "already used" in out, "revoking a used token: exit 1", out)
    refused(t, gw, c, ref2, secret2, "notAuthorized", "token revoked", "revoked token")

    # ---- audit and logs -------------------------------------------------------------
    t.ok(int(gw.scalar("SELECT count(*) FROM audit WHERE event = 'token_rejected'")) >= 7,
         "refusals are audited as token_rejected")
    leaks = [s for s in (secret, secret2, secret3, secret4)
             if gw.scalar("SELECT count(*) FROM audit WHERE detail LIKE '%%%s%%'" % s) != "0"
             or s in gw.log_text()]
    t.eq(leaks, [], "no secret in the audit table or the gateway log")

    # ---- 7. a second token for the same identity (issue 10, finding 5) ---------------
    # Confirming the new certificate revokes the identity's earlier one with
    # reason superseded (renewal_revokes_old, default true): explicit certConf
    # on alias "token", then implicitConfirm on alias "token2".
    def identity_rows(ident):
        return gw.psql("SELECT status, coalesce(revocation_reason::text, '') FROM certificates"
                       " WHERE device_serial = '%s' ORDER BY id" % ident)

    ref6, secret6 = create(gw, identity="node-0001")
    rc, out, _c, _m = c.ir(ref6, secret6)
    t.ok(rc == 0, "second token for node-0001: enrolled (explicit confirm)", out)
    t.eq(identity_rows("node-0001"), [["revoked", "4"], ["active", ""]],
         "second token, certConf: the first certificate revoked (superseded), one active")
    ref7, secret7 = create(gw, alias="token2", identity="node-0001")
    rc, out, _c, _m = c.ir(ref7, secret7, alias="token2", extra=["-implicit_confirm"])
    t.ok(rc == 0, "third token for node-0001: enrolled with implicitConfirm", out)
    t.eq(identity_rows("node-0001"), [["revoked", "4"], ["revoked", "4"], ["active", ""]],
         "third token, implicitConfirm: the second certificate revoked too, one active")
    gw.stop()

    # ---- iteration bound: openssl cmp uses 500 iterations ---------------------------
    gw.cfg["tokens"]["max_iterations"] = 100
    gw.write_config(gw.cfg)
    gw.start()
    ref5, secret5 = create(gw, identity="node-0005")
    refused(t, gw, c, ref5, secret5, "badMessageCheck", "iterationCount",
            "iterationCount above tokens.max_iterations")
    refused(t, gw, c, "f" * 32, secret5, "badMessageCheck", "iterationCount",
            "unknown reference with too many iterations: same answer")
    t.eq(gw.scalar("SELECT state FROM tokens WHERE ref = '%s'" % ref5), "active",
         "refused MAC parameters leave the token unused")
    gw.stop()

    # ---- configuration checks -------------------------------------------------------
    check_config(t, gw)


def check_config(t, gw):
    key = gw.path("pki", "tokens.key")
    cases = []
    c = copy.deepcopy(gw.cfg)
    del c["tokens"]
    cases.append(("alias with token auth but no key_file", c, "needs tokens.key_file"))
    c = copy.deepcopy(gw.cfg)
    c["aliases"][1]["auth"] = ["password"]
    cases.append(("unknown auth method", c, 'unknown authentication method "password"'))
    c = copy.deepcopy(gw.cfg)
    loose = gw.path("pki", "loose.key")
    with open(key, "rb") as f, open(loose, "wb") as g:
        g.write(f.read())
    os.chmod(loose, 0o644)
    c["tokens"]["key_file"] = loose
    cases.append(("key file readable by others", c, "permissions 0644"))
    c = copy.deepcopy(gw.cfg)
    short = gw.path("pki", "short.key")
    with open(short, "wb") as g:
        g.write(b"x" * 31)
    os.chmod(short, 0o600)
    c["tokens"]["key_file"] = short
    cases.append(("key file of 31 bytes", c, "exactly 32 random bytes"))
    for name, cfg, want in cases:
        path = gw.path("bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        rc, out = cmpgw("check", "--config", path)
        t.ok(rc == 2 and want in out, "config: %s -> exit 2, %r" % (name, want), out)


if __name__ == "__main__":
    run(main)
