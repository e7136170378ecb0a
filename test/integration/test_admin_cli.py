#!/usr/bin/env python3
"""Issue 14: admin commands without private keys, principals in the audit,
API keys, against real PostgreSQL and the real cmpgw binary.

1. The demo's private keys are root-owned 0600; an unprivileged user
   (nobody) with a readable config runs vendor add, serials import,
   migrate, token list, apikey create and cert revoke, while `cmpgw check`
   (and `token create`, which seals with tokens.key) fail for that user
   naming the unreadable key.
2. Every admin change made here (token create/revoke, cert revoke, apikey
   create/revoke) writes an audit row whose principal is the OS user
   ("os:nobody", "os:root", "os:root (sudo by alice)").
3. `cmpgw apikey create` prints the key once: list never shows it, the
   api_keys table holds neither the key nor its secret (only a 16-byte
   salt and a 32-byte HMAC), nor does the audit; `cmpgw apikey verify`
   (key on stdin, store_apikey_verify) accepts the key and refuses a wrong
   secret, an unknown id, a malformed key, a revoked and an expired key;
   roles are validated (vendor:NAME must be a registered vendor).

Runs as root (needs an unprivileged user to switch to)."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IS_ROOT, Gateway, Pg, cmpgw_bin, run, sh  # noqa: E402

KEY_RE = re.compile(r"^key=(cmpgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43}))$", re.M)


def cli(gw, *args, user=None, input=None, env=None):
    """cmpgw WORDS --config CFG REST as user (None: root)."""
    words = []
    rest = list(args)
    while rest and rest[0] in ("vendor", "add", "serials", "import", "token", "create",
                               "list", "revoke", "apikey", "verify", "cert", "check",
                               "migrate"):
        words.append(rest.pop(0))
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    e.update(env or {})
    return sh([cmpgw_bin()] + words + ["--config", gw.config] + rest, user=user,
              input=input.encode() if input is not None else None, env=e)


def audit(gw, event):
    return gw.psql("SELECT principal, detail FROM audit WHERE event = '%s' ORDER BY id"
                   % event)


def readable_by_all(gw):
    """The config, certificates and vendor files readable by anyone; every
    private key file stays root-owned 0600 (as cmpgw init wrote it)."""
    keys = []
    for root, dirs, files in os.walk(gw.dir):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            p = os.path.join(root, f)
            if f.endswith(".key"):
                os.chmod(p, 0o600)
                keys.append(p)
            else:
                os.chmod(p, 0o644)
    return keys


def test_unprivileged(t, gw):
    keys = readable_by_all(gw)
    t.ok(any(k.endswith("tokens.key") for k in keys) and
         all(os.stat(k).st_uid == 0 and os.stat(k).st_mode & 0o777 == 0o600 for k in keys),
         "every private key is root-owned 0600 (%d files)" % len(keys))
    rc, out = sh(["cat", gw.path("pki", "issuing-ca.key")], user="nobody")
    t.ok(rc != 0, "nobody cannot read the issuing CA key", out)

    rc, out = cli(gw, "check", user="nobody")
    t.ok(rc == 2 and re.search(r"(tokens\.key_file|ca\.issuing_key): .*\.key.*"
                               r"(Permission denied|permission)", out, re.I),
         "check as nobody: exit 2 naming the unreadable key", out)
    rc, out = cli(gw, "check")
    t.eq(rc, 0, "check as root: exit 0", out)

    rc, out = cli(gw, "migrate", user="nobody")
    t.ok(rc == 0, "migrate as nobody", out)
    rc, out = cli(gw, "vendor", "add", "beta", user="nobody")
    t.ok(rc == 0, "vendor add as nobody", out)
    serials = os.path.join(gw.tmp, "beta-serials.txt")
    with open(serials, "w") as f:
        f.write("BETA-0001\nBETA-0002\n")
    os.chmod(serials, 0o644)
    rc, out = cli(gw, "serials", "import", "beta", serials, user="nobody")
    t.ok(rc == 0, "serials import as nobody (issue 14: failed on tokens.key)", out)
    t.eq(gw.scalar("SELECT count(*) FROM serials s JOIN vendors v ON v.id = s.vendor_id"
                   " WHERE v.name = 'beta'"), "2", "nobody's import is in the database")
    rc, out = cli(gw, "token", "list", user="nobody")
    t.ok(rc == 0 and "REF" in out, "token list as nobody", out)
    rc, out = cli(gw, "token", "create", "--alias", "token", "--identity", "n-1",
                  user="nobody")
    t.ok(rc == 2 and "tokens.key_file" in out and "ca.issuing_key" not in out,
         "token create as nobody: exit 2 naming tokens.key_file (it seals)", out)
    t.eq(gw.scalar("SELECT count(*) FROM tokens"), "0", "nothing stored by the refused create")


def test_token_principals(t, gw):
    rc, out = cli(gw, "token", "create", "--alias", "token", "--identity", "n-2")
    ref = re.search(r"^ref=([0-9a-f]{32})$", out, re.M)
    t.ok(rc == 0 and ref, "token create as root", out)
    rows = audit(gw, "admin_token_create")
    t.ok(len(rows) == 1 and rows[0][0] == "os:root" and ref and ref.group(1) in rows[0][1],
         "token create audited with principal os:root", rows)
    if not ref:
        return
    rc, out = cli(gw, "token", "revoke", ref.group(1), user="nobody",
                  env={"SUDO_USER": "alice"})
    t.ok(rc == 0, "token revoke as nobody (no key needed)", out)
    rows = audit(gw, "admin_token_revoke")
    t.ok(len(rows) == 1 and rows[0][0] == "os:nobody (sudo by alice)",
         "token revoke audited with principal os:nobody (sudo by alice)", rows)
    rc, out = cli(gw, "token", "revoke", ref.group(1))
    t.ok(rc == 1 and "already revoked" in out and len(audit(gw, "admin_token_revoke")) == 1,
         "revoking again: exit 1 'already revoked', no second audit row", out)


def test_cert_revoke(t, gw):
    gw.start()
    r = gw.cmp(1)
    t.ok(r.rc == 0, "device 1 enrolled", r)
    ser = gw.scalar("SELECT serial_hex FROM certificates ORDER BY id DESC LIMIT 1")
    rc, out = cli(gw, "cert", "revoke", "--serial", ser or "00", "--reason", "superseded",
                  user="nobody")
    t.ok(rc == 0 and "revoked" in out, "cert revoke as nobody (records only, no key)", out)
    t.eq(gw.scalar("SELECT revoked_at IS NOT NULL FROM certificates WHERE serial_hex = '%s'"
                   % ser), "t", "certificate revoked in the database")
    rows = audit(gw, "admin_cert_revoke")
    t.ok(len(rows) == 1 and rows[0][0] == "os:nobody" and "superseded" in rows[0][1],
         "cert revoke audited with principal os:nobody", rows)
    gw.stop()


def create_key(t, gw, role, user=None, comment=None):
    args = ["apikey", "create", "--role", role]
    if comment:
        args += ["--comment", comment]
    rc, out = cli(gw, *args, user=user)
    m = KEY_RE.search(out)
    t.ok(rc == 0 and m, "apikey create --role %s" % role, out)
    return m


def verify(gw, key):
    return cli(gw, "apikey", "verify", input=key + "\n")


def test_apikeys(t, gw):
    m = create_key(t, gw, "operator", user="nobody", comment="ci robot")
    if not m:
        return
    key, kid, secret = m.group(1), m.group(2), m.group(3)
    rows = audit(gw, "admin_apikey_create")
    t.ok(len(rows) == 1 and rows[0][0] == "os:nobody" and kid in rows[0][1],
         "apikey create audited with principal os:nobody", rows)

    rc, out = cli(gw, "apikey", "list")
    t.ok(rc == 0 and kid in out and "ci robot" in out and "operator" in out and
         "os:nobody" in out, "list shows id, role, creator and comment", out)
    t.ok(secret not in out and key not in out, "list never shows the key or its secret")
    dump = gw.scalar("SELECT string_agg(row_to_json(k)::text, ' ') FROM api_keys k")
    t.ok(secret not in dump and key not in dump, "api_keys holds neither key nor secret", dump)
    t.eq(gw.psql("SELECT octet_length(salt), octet_length(hash), role FROM api_keys"
                 " WHERE key_id = '%s'" % kid), [["16", "32", "operator"]],
         "api_keys keeps a 16-byte salt and a 32-byte hash")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE detail LIKE '%%%s%%'" % secret), "0",
         "the secret is not in the audit")

    rc, out = verify(gw, key)
    t.ok(rc == 0 and ("valid id=%s role=operator" % kid) in out, "verify: the key is valid",
         out)
    t.ok(gw.scalar("SELECT last_used_at IS NOT NULL FROM api_keys WHERE key_id = '%s'"
                   % kid) == "t", "verify records last_used_at")
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    rc, out = verify(gw, wrong)
    t.ok(rc == 1 and "refused: wrong" in out, "verify: one character off -> wrong", out)
    rc, out = verify(gw, "cmpgw_0123456789abcdef_" + secret)
    t.ok(rc == 1 and "refused: unknown" in out, "verify: unknown key id -> unknown", out)
    for bad in ("", "Bearer " + key, key + "x", key.replace("cmpgw_", "cmpgx_"),
                key[:30] + "!" + key[31:]):
        rc, out = verify(gw, bad)
        t.ok(rc == 1 and "refused: malformed" in out, "verify: malformed %r" % bad[:40], out)

    rc, out = cli(gw, "apikey", "revoke", kid)
    t.ok(rc == 0 and "revoked" in out, "apikey revoke", out)
    rows = audit(gw, "admin_apikey_revoke")
    t.ok(len(rows) == 1 and rows[0][0] == "os:root" and kid in rows[0][1],
         "apikey revoke audited with principal os:root", rows)
    rc, out = verify(gw, key)
    t.ok(rc == 1 and "refused: revoked" in out, "verify: revoked key refused", out)
    rc, out = verify(gw, wrong)
    t.ok(rc == 1 and "refused: wrong" in out,
         "verify: a wrong secret for a revoked key says wrong, not revoked", out)
    rc, out = cli(gw, "apikey", "revoke", kid)
    t.ok(rc == 1 and "already revoked" in out and len(audit(gw, "admin_apikey_revoke")) == 1,
         "revoke again: exit 1, no second audit row", out)
    rc, out = cli(gw, "apikey", "revoke", "0123456789abcdef")
    t.ok(rc == 1 and "no such key" in out, "revoke an unknown id: exit 1", out)

    m2 = create_key(t, gw, "vendor:acme")
    create_key(t, gw, "factory:beta")
    create_key(t, gw, "auditor")
    if m2:
        gw.psql("UPDATE api_keys SET expires_at = now() - interval '1 second'"
                " WHERE key_id = '%s'" % m2.group(2))
        rc, out = verify(gw, m2.group(1))
        t.ok(rc == 1 and "refused: expired" in out, "verify: expired key refused", out)
    n = gw.scalar("SELECT count(*) FROM api_keys")
    for role, want in (("vendor:nosuch", "no vendor \"nosuch\""), ("factory:", "--role"),
                       ("admin", "--role"), ("vendor:a b", "--role")):
        rc, out = cli(gw, "apikey", "create", "--role", role)
        t.ok(rc == 2 and want in out, "create --role %r: exit 2" % role, out)
    rc, out = cli(gw, "apikey", "create", "--role", "operator", "--comment", "a\x01b")
    t.ok(rc == 2 and "--comment" in out, "create with a control character in the comment",
         out)
    t.eq(gw.scalar("SELECT count(*) FROM api_keys"), n, "refused creates stored nothing")


def main(t):
    if not IS_ROOT:
        t.skip("admin CLI as an unprivileged user", "needs root to switch users")
        return
    pg = Pg()

    def patch(cfg):
        cfg["aliases"].append({"label": "token", "mode": "ca", "profile": "device",
                               "auth": ["token"]})
    gw = Gateway(t, pg=pg, devices=2, name="admincli", patch=patch)
    test_unprivileged(t, gw)
    test_token_principals(t, gw)
    test_cert_revoke(t, gw)
    test_apikeys(t, gw)


if __name__ == "__main__":
    run(main)
