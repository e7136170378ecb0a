#!/usr/bin/env python3
"""Issue 14: certificates, one-time tokens and the audit trail in the
admin HTTPS API (docs/ADMIN.md "Certificates and tokens", "Audit").

Real PostgreSQL, real `cmpgw serve` with an admin listener, devices
enrolled with the stock `openssl cmp`, HTTPS with Python's http.client
and curl, API keys per role:

1. GET /certificates: every filter (device serial, vendor, status, the
   validity window, issue time, serial), role scoping (vendor:X sees only
   X's certificates; ?vendor=B is an empty list; factory 403), cursor
   pagination with no duplicate and no gap while a device enrolls between
   pages, bad parameters 400 with a precise detail.
2. GET /certificates/{serial}: JSON (with PEM), PEM and DER by Accept and
   by ?format=; the DER parses with `openssl x509 -inform DER` and equals
   the PEM; serial spellings; 404 for unknown and for another vendor's.
3. POST /certificates/{serial}/revoke: auditor, vendor, factory 403;
   operator with a reason: the gateway's CRL lists the serial with that
   reason; a second revoke 409 with the existing revocation; audit rows
   name the API principal; `cmpgw cert revoke` still works.
4. Tokens: create (secret once) -> `openssl cmp -ref -secret` enrolls ->
   the list shows it used, never a secret; revoke -> enrollment refused;
   409 / 404 / 422 / 400 answers.
5. GET /audit: by time range, transactionID (from an enrollment),
   device serial, event, principal, vendor; newest first; pagination;
   vendor and factory 403; bad parameters 400.
Every response is validated against the OpenAPI document.
"""

import datetime
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Gateway, Pg, cmpgw, free_port, http_post, make_root, mktemp,  # noqa: E402
                     openssl, run, wait_port)
from test_tls import tls_cert  # noqa: E402
from test_token import Client as TokenClient  # noqa: E402
import openapi_check  # noqa: E402

KEY_RE = re.compile(r"^key=(cmpgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43}))$", re.M)
CRL_PATH = "/crl/issuing-ca.crl"


class Api:
    """HTTPS calls to the admin listener, each checked against openapi.json."""

    def __init__(self, t, port, ca):
        self.t, self.port = t, port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.ctx.load_verify_locations(ca)
        self.rec = openapi_check.Recorder()

    def call(self, method, path, key=None, body=None, headers=None, want=None, name=None,
             ctype="application/json"):
        """(status, headers lower-cased, raw body, parsed JSON or None)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=30)
        h = dict(headers or {})
        if key:
            h["Authorization"] = "Bearer " + key
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype
        try:
            c.request(method, "/api/v1/" + path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdr = dict((k.lower(), v) for k, v in r.getheaders())
        finally:
            c.close()
        ct = hdr.get("content-type", "")
        try:
            js = json.loads(raw) if raw and "json" in ct else None
        except ValueError:
            js = None
        self.rec.check(method, "/api/v1/" + path, r.status, ct or None,
                       js if js is not None else raw)
        if want is not None:
            self.t.eq(r.status, want, name or "%s %s" % (method, path), raw[:600])
        if r.status >= 400:
            ok = (ct.startswith("application/problem+json") and isinstance(js, dict) and
                  js.get("status") == r.status and "detail" in js)
            self.t.ok(ok, "%s: problem+json" % (name or path), (ct, raw[:300]))
        return r.status, hdr, raw, js

    def get(self, path, key, **kw):
        return self.call("GET", path, key, **kw)


def create_key(t, gw, role):
    rc, out = cmpgw("apikey", "create", "--config", gw.config, "--role", role)
    m = KEY_RE.search(out)
    t.ok(rc == 0 and m, "apikey create --role %s" % role, out)
    return m.group(1), m.group(2)


def serial_of(pem):
    rc, out = openssl("x509", "-noout", "-serial", "-in", pem)
    return out.strip().split("=", 1)[1].upper() if rc == 0 else "?"


def der_of_pem(pem_path, tmp):
    out = os.path.join(tmp, "x.der")
    rc, _ = openssl("x509", "-in", pem_path, "-outform", "DER", "-out", out)
    with open(out, "rb") as f:
        return f.read()


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def patch_for(admin_port, srv, ca_crt):
    def patch(cfg):
        base = {"mode": "ca", "profile": "device", "confirm_deadline_s": 300}
        cfg["aliases"].append(dict(base, label="token", auth=["token"]))
        cfg["admin"] = {"address": "127.0.0.1", "port": admin_port,
                        "tls": {"cert": srv[0], "key": srv[1], "client_ca": ca_crt}}
    return patch


def bad(t, api, path, key, want_detail, name):
    st, _, _, js = api.get(path, key, want=400, name=name + ": 400")
    t.ok(js and want_detail in js.get("detail", ""), name + ": detail says %r" % want_detail, js)


def certificates(t, gw, api, keys, certs, devser):
    op, aud = keys["operator"][0], keys["auditor"][0]
    allser = sorted(certs[k]["serial"] for k in certs)

    def serials(path, key=op, name=None):
        st, _, _, js = api.get(path, key, want=200, name=name)
        return sorted(c["serial"] for c in js["certificates"]) if st == 200 else None

    # ---- roles and scope ----------------------------------------------
    t.eq(serials("certificates"), allser, "operator lists every certificate")
    t.eq(serials("certificates", aud), allser, "auditor lists every certificate")
    acme = sorted(certs[k]["serial"] for k in certs if k != 5)
    t.eq(serials("certificates", keys["vendor:acme"][0]), acme,
         "vendor:acme lists only acme's certificates")
    t.eq(serials("certificates", keys["vendor:beta"][0]), [certs[5]["serial"]],
         "vendor:beta lists only beta's certificate")
    t.eq(serials("certificates?vendor=beta", keys["vendor:acme"][0]), [],
         "vendor:acme asking for vendor=beta: an empty list")
    api.get("certificates", keys["factory:acme"][0], want=403, name="factory: 403")
    api.get("certificates", None, want=401, name="no credentials: 401")

    # ---- one row's fields -----------------------------------------------
    st, _, _, js = api.get("certificates?device_serial=" + devser[1], op, want=200,
                           name="by device serial")
    rows = js["certificates"] if js else []
    t.eq([r["serial"] for r in rows], [certs[1]["serial"]],
         "device_serial=%s: exactly device 1's certificate" % devser[1])
    if rows:
        r = rows[0]
        t.ok(r["vendor"] == "acme" and r["device_serial"] == devser[1] and
             r["alias"] == "3gpp" and r["status"] == "active" and r["revoked_at"] is None and
             r["revocation_reason"] is None and "CN=ACME-0001" in r["subject"] and
             r["issuer"] and r["not_before"] < r["not_after"],
             "device 1's row: vendor, device serial, alias, status, subject, issuer", r)

    # ---- filters ---------------------------------------------------------
    t.eq(serials("certificates?vendor=acme"), acme, "vendor=acme")
    t.eq(serials("certificates?vendor=nobody"), [], "vendor=nobody: empty")
    t.eq(serials("certificates?status=active"), allser, "status=active: all")
    t.eq(serials("certificates?status=revoked"), [], "status=revoked: none yet")
    t.eq(serials("certificates?serial=" + certs[2]["serial"].lower()), [certs[2]["serial"]],
         "serial= (lower case) finds that certificate")
    now = datetime.datetime.now(datetime.timezone.utc)
    t.eq(serials("certificates?valid_at=" + iso(now)), allser, "valid_at=now: all")
    t.eq(serials("certificates?valid_at=2001-01-01T00:00:00Z"), [], "valid_at=2001: none")
    t.eq(serials("certificates?valid_at=" + iso(now + datetime.timedelta(days=36500))), [],
         "valid_at=+100 years: none")
    t.eq(serials("certificates?not_after_before=2001-01-01T00:00:00%2B02:00"), [],
         "not_after_before=2001 (with an offset): none")
    t.eq(serials("certificates?not_after_after=2001-01-01T00:00:00.5Z"), allser,
         "not_after_after=2001 (with a fraction): all")
    t.eq(serials("certificates?issued_before=" + iso(now + datetime.timedelta(hours=1))),
         allser, "issued_before=in an hour: all")
    t.eq(serials("certificates?issued_after=" + iso(now + datetime.timedelta(hours=1))), [],
         "issued_after=in an hour: none")
    st, _, _, js = api.get("certificates?serial=" + certs[3]["serial"], op)
    t3 = js["certificates"][0]["issued_at"]
    later = sorted(certs[k]["serial"] for k in certs
                   if certs[k]["issued_at"] >= t3)
    t.eq(serials("certificates?issued_after=" + t3), later,
         "issued_after=device 3's issue time: device 3 and later")

    # ---- bad parameters ---------------------------------------------------
    bad(t, api, "certificates?limit=0", op, "limit must be an integer 1..100", "limit=0")
    bad(t, api, "certificates?limit=101", op, "1..100", "limit=101")
    bad(t, api, "certificates?cursor=v1.zz", op, "cursor", "forged cursor")
    bad(t, api, "certificates?status=valid", op, "status must be one of", "status=valid")
    bad(t, api, "certificates?valid_at=2026-13-01T00:00:00Z", op, "valid_at must be an RFC 3339",
        "valid_at month 13")
    bad(t, api, "certificates?issued_after=2026-02-29T00:00:00Z", op, "issued_after",
        "issued_after 29 February of a common year")
    bad(t, api, "certificates?not_after_before=yesterday", op, "not_after_before",
        "not_after_before=yesterday")
    bad(t, api, "certificates?valid_at=2026-12-03%2010:00:00Z", op, "valid_at",
        "valid_at with a space")
    bad(t, api, "certificates?serial=xyz", op, "hexadecimal", "serial=xyz")
    bad(t, api, "certificates?devise_serial=1", op, "unknown query parameter \"devise_serial\"",
        "misspelt filter")
    bad(t, api, "certificates?device_serial=" + "x" * 300, op, "device_serial is longer",
        "device_serial of 300 bytes")


def pagination(t, gw, api, keys, certs, enroll):
    op = keys["operator"][0]
    st, _, _, js = api.get("certificates?limit=100", op)
    full = [c["serial"] for c in js["certificates"]]
    t.ok(js["next_cursor"] is None, "one page of 100 holds them all: next_cursor null", js)
    got, cursor, pages = [], None, 0
    while pages < 20:
        path = "certificates?limit=2" + ("&cursor=" + cursor if cursor else "")
        st, _, _, js = api.get(path, op, want=200, name="page %d" % (pages + 1))
        if st != 200:
            break
        got += [c["serial"] for c in js["certificates"]]
        pages += 1
        if pages == 1:
            new = enroll(6)  # a device enrolls between the first and second page
        cursor = js["next_cursor"]
        if cursor is None:
            break
    t.eq(got, full + [new], "pages of 2: every certificate once, in order, the one "
         "enrolled meanwhile last (no duplicate, no gap)")
    t.eq(pages, (len(full) + 1 + 1) // 2, "pages of 2: %d pages" % ((len(full) + 2) // 2))


def show(t, gw, api, keys, certs):
    op = keys["operator"][0]
    c1 = certs[1]
    ser = c1["serial"]
    with open(c1["pem"]) as f:
        pem_file = f.read()
    st, hdr, _, js = api.get("certificates/" + ser, op, want=200, name="show JSON")
    t.ok(js and js["serial"] == ser and js["pem"].strip() == pem_file.strip(),
         "JSON has the serial and the PEM the device received", js)
    for how, path, h in (("Accept", "certificates/" + ser,
                          {"Accept": "application/x-pem-file"}),
                         ("?format=pem", "certificates/" + ser + "?format=pem", {})):
        st, hdr, raw, _ = api.get(path, op, headers=h, want=200, name="PEM by " + how)
        t.eq(hdr.get("content-type"), "application/x-pem-file", "PEM by %s: type" % how)
        t.eq(raw.decode().strip(), pem_file.strip(), "PEM by %s: the device's certificate" % how)
    want_der = der_of_pem(c1["pem"], gw.tmp)
    for how, path, h in (("Accept", "certificates/" + ser,
                          {"Accept": "application/pkix-cert"}),
                         ("?format=der", "certificates/" + ser + "?format=der", {})):
        st, hdr, raw, _ = api.get(path, op, headers=h, want=200, name="DER by " + how)
        t.eq(hdr.get("content-type"), "application/pkix-cert", "DER by %s: type" % how)
        t.ok(raw == want_der, "DER by %s: equals the PEM's DER" % how)
    p = os.path.join(gw.tmp, "api.der")
    with open(p, "wb") as f:
        f.write(raw)
    rc, out = openssl("x509", "-inform", "DER", "-in", p, "-noout", "-serial")
    t.ok(rc == 0 and out.strip().upper().endswith(ser.lstrip("0") or "0"),
         "openssl x509 -inform DER parses it (same serial)", out)
    # curl with the key, Accept: PEM
    pr = subprocess.run(["curl", "-sS", "--cacert", api.ca_path, "-H",
                         "Authorization: Bearer " + op, "-H", "Accept: application/x-pem-file",
                         "https://127.0.0.1:%d/api/v1/certificates/%s" % (api.port, ser)],
                        capture_output=True, text=True, timeout=30)
    t.eq(pr.stdout.strip(), pem_file.strip(), "curl: the PEM by Accept")
    # spellings of the serial
    colon = ":".join(ser[i:i + 2] for i in range(0, len(ser), 2)).lower()
    api.get("certificates/0x" + ser.lower(), op, want=200, name="serial 0x... lower case")
    api.get("certificates/" + colon, op, want=200, name="serial aa:bb:..")
    api.get("certificates/ABCDEF0123", op, want=404, name="unknown serial: 404")
    api.get("certificates/not-hex", op, want=400, name="non-hex serial: 400")
    api.get("certificates/%s?format=xml" % ser, op, want=400, name="format=xml: 400")
    # the same serial from a second issuer (as in RA mode): ambiguous without ?issuer=
    gw.psql("INSERT INTO certificates (issuer, serial_hex, der, subject, not_before, not_after,"
            " status, vendor_id, device_serial, key_fp, alias) SELECT 'CN=Other CA', serial_hex,"
            " der, subject, not_before, not_after, status, vendor_id, device_serial,"
            " sha256(key_fp), alias FROM certificates WHERE serial_hex = '%s'" % ser)
    st, _, _, js = api.get("certificates/" + ser, op, want=409, name="two issuers: 409")
    t.ok(js and js["type"].endswith(":ambiguous-serial") and "?issuer=" in js["detail"],
         "409 ambiguous-serial says to add ?issuer=", js)
    st, _, _, js = api.get("certificates/%s?issuer=CN%%3DOther%%20CA" % ser, op, want=200,
                           name="?issuer= picks one")
    t.eq(js and js["issuer"], "CN=Other CA", "?issuer=CN=Other CA: that issuer's certificate")
    gw.psql("DELETE FROM certificates WHERE issuer = 'CN=Other CA'")
    # scope
    api.get("certificates/" + ser, keys["vendor:acme"][0], want=200, name="vendor:acme: own")
    api.get("certificates/" + ser, keys["vendor:beta"][0], want=404,
            name="vendor:beta: acme's certificate is 404")
    api.get("certificates/" + ser, keys["auditor"][0], want=200, name="auditor: 200")
    api.get("certificates/" + ser, keys["factory:acme"][0], want=403, name="factory: 403")


def revoke(t, gw, api, keys, certs):
    op, opid = keys["operator"]
    ser = certs[2]["serial"]
    path = "certificates/%s/revoke" % ser
    before = gw.counts()
    for role in ("auditor", "vendor:acme", "factory:acme"):
        api.call("POST", path, keys[role][0], body={"reason": "keyCompromise"}, want=403,
                 name="revoke as %s: 403" % role)
    api.call("POST", path, op, body={"reason": "stolen"}, want=400, name="unknown reason: 400")
    api.call("POST", path, op, body={"reason": "keyCompromise", "x": 1}, want=400,
             name="unknown member: 400")
    api.call("POST", path, op, body=b"reason=1", ctype="text/plain", want=415,
             name="not JSON: 415")
    api.call("POST", "certificates/ABCDEF0123/revoke", op, body={}, want=404,
             name="revoke an unknown serial: 404")
    t.eq(gw.scalar("SELECT status FROM certificates WHERE serial_hex = '%s'" % ser), "active",
         "refused revocations changed nothing")
    t.eq(gw.counts()["certificates"], before["certificates"], "no certificate row added")
    st, _, _, js = api.call("POST", path, op, body={"reason": "keyCompromise"}, want=200,
                            name="operator revokes with keyCompromise")
    t.ok(js and js["status"] == "revoked" and js["revocation_reason"] == "keyCompromise" and
         js["revoked_at"], "the answer is the revoked certificate", js)
    st, _, _, js = api.call("POST", path, op, body={"reason": "superseded"}, want=409,
                            name="second revoke: 409")
    t.ok(js and js.get("certificate", {}).get("revocation_reason") == "keyCompromise" and
         "already revoked (keyCompromise" in js.get("detail", ""),
         "409 carries the existing revocation (keyCompromise, unchanged)", js)
    st, _, _, js = api.get("certificates?status=revoked", op)
    t.eq([c["serial"] for c in js["certificates"]], [ser], "status=revoked finds it")
    # the CRL the gateway serves on its CMP listener lists it, with the reason
    st, ctype, der = http_post(gw.port, None, path=CRL_PATH, ctype=None, method="GET")
    p = os.path.join(gw.tmp, "api-crl.der")
    with open(p, "wb") as f:
        f.write(der or b"")
    rc, text = openssl("crl", "-inform", "DER", "-in", p, "-noout", "-text")
    listed = re.search(r"Serial Number:\s*0*%s\b" % re.escape(ser.lstrip("0")), text, re.I)
    t.ok(st == 200 and rc == 0 and listed, "the gateway's CRL lists %s" % ser, text[-800:])
    t.ok("Key Compromise" in text, "the CRL entry has reason keyCompromise", text[-800:])
    n = gw.scalar("SELECT count(*) FROM audit WHERE event = 'admin_cert_revoke' AND "
                  "principal = 'apikey:%s' AND detail LIKE '%%%s%%keyCompromise'" % (opid, ser))
    t.eq(n, "1", "one admin_cert_revoke audit row names the API principal")
    # an empty body: reason unspecified (as the CLI's default)
    ser4 = certs[4]["serial"]
    st, _, _, js = api.call("POST", "certificates/%s/revoke" % ser4, op, want=200,
                            name="revoke without a body")
    t.ok(js and js["revocation_reason"] == "unspecified", "no body: reason unspecified", js)
    # the CLI keeps working on the same store function
    ser3 = certs[3]["serial"]
    rc, out = cmpgw("cert", "revoke", "--config", gw.config, "--serial", ser3, "--reason",
                    "superseded")
    t.ok(rc == 0 and "revoked" in out, "cmpgw cert revoke still works", out)
    st, _, _, js = api.get("certificates/" + ser3, op)
    t.eq(js and js["revocation_reason"], "superseded", "the API shows the CLI's revocation")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'admin_cert_revoke' AND "
                   "principal LIKE 'os:%%' AND detail LIKE '%%%s%%'" % ser3), "1",
         "the CLI's audit row names the OS user")
    api.call("POST", "certificates/%s/revoke" % ser3, op, body={"reason": "keyCompromise"},
             want=409, name="API revoke of a CLI-revoked certificate: 409")


def tokens(t, gw, api, keys):
    op, opid = keys["operator"]
    aud = keys["auditor"][0]
    c = TokenClient(gw)
    body = {"alias": "token", "identity": "node-0001", "ttl": "1h"}
    api.call("POST", "tokens", aud, body=body, want=403, name="token create as auditor: 403")
    api.call("POST", "tokens", keys["vendor:acme"][0], body=body, want=403,
             name="token create as vendor: 403")
    api.call("POST", "tokens", op, body=dict(body, alias="nosuch"), want=422,
             name="unknown alias: 422")
    st, _, _, js = api.call("POST", "tokens", op, body=dict(body, alias="3gpp"), want=422,
                            name="alias without token auth: 422")
    t.ok(js and "does not accept tokens" in js["detail"], "422 says the alias does not accept "
         "tokens", js)
    api.call("POST", "tokens", op, body=dict(body, ttl="forever"), want=400, name="bad ttl: 400")
    api.call("POST", "tokens", op, body={"alias": "token"}, want=400, name="no identity: 400")
    api.call("POST", "tokens", op, body=dict(body, identity="a\nb"), want=400,
             name="identity with a control character: 400")
    api.call("POST", "tokens", op, body=dict(body, secret="x"), want=400,
             name="unknown member: 400")
    t.eq(gw.scalar("SELECT count(*) FROM tokens"), "0", "refused creations stored nothing")
    st, _, _, js = api.call("POST", "tokens", op, body=body, want=201, name="token create")
    ref, secret = (js["ref"], js["secret"]) if st == 201 else ("?", "?")
    t.ok(st == 201 and js["alias"] == "token" and js["identity"] == "node-0001" and
         js["ttl"] == 3600 and js["expires_at"], "201 names ref, alias, identity, ttl, expiry",
         js)
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'admin_token_create' AND "
                   "principal = 'apikey:%s' AND detail LIKE 'token %s %%'" % (opid, ref)), "1",
         "admin_token_create audit row names the API principal")
    st, _, raw, js = api.get("tokens", aud, want=200, name="token list as auditor")
    row = [x for x in js["tokens"] if x["ref"] == ref] if js else []
    t.ok(row and row[0]["state"] == "active" and row[0]["used_at"] is None,
         "the list shows the token active", js)
    t.ok(secret.encode() not in raw, "the list never shows the secret")
    api.get("tokens", keys["vendor:acme"][0], want=403, name="token list as vendor: 403")
    rc, out, certout, _ = c.ir(ref, secret)
    t.ok(rc == 0 and os.path.exists(certout), "openssl cmp -ref/-secret enrolls with the API's "
         "token", out[-600:])
    st, _, _, js = api.get("tokens", op)
    row = [x for x in js["tokens"] if x["ref"] == ref]
    t.ok(row and row[0]["state"] == "used" and row[0]["used_at"], "the list shows it used", row)
    api.call("DELETE", "tokens/" + ref, op, want=409, name="revoking a used token: 409")
    # revoke -> enrollment refused
    st, _, _, js = api.call("POST", "tokens", op, body=dict(body, identity="node-0002",
                                                            ttl=600), want=201,
                            name="second token (ttl in seconds)")
    ref2, secret2 = js["ref"], js["secret"]
    api.call("DELETE", "tokens/" + ref2, aud, want=403, name="token revoke as auditor: 403")
    api.call("DELETE", "tokens/" + ref2, op, want=204, name="token revoke")
    api.call("DELETE", "tokens/" + ref2, op, want=409, name="revoke again: 409")
    api.call("DELETE", "tokens/" + "f" * 32, op, want=404, name="revoke unknown token: 404")
    rc, out, _, msgs = c.ir(ref2, secret2)
    t.ok(rc != 0 and msgs and "notAuthorized" in (msgs[0].failnames or []),
         "enrollment with the revoked token refused (notAuthorized)",
         msgs[0].describe() if msgs else out[-400:])
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'admin_token_revoke' AND "
                   "principal = 'apikey:%s' AND detail = 'token %s'" % (opid, ref2)), "1",
         "admin_token_revoke audit row names the API principal")
    st, _, _, js = api.get("tokens?limit=1", op, want=200, name="tokens page 1")
    p1 = [x["ref"] for x in js["tokens"]]
    st, _, _, js2 = api.get("tokens?limit=1&cursor=" + (js["next_cursor"] or ""), op, want=200,
                            name="tokens page 2")
    t.eq(p1 + [x["ref"] for x in js2["tokens"]], [ref, ref2], "token pages: oldest first")
    t.ok(js2["next_cursor"] is None, "last token page: next_cursor null", js2)
    bad(t, api, "tokens?cursor=v1.3132", op, "cursor", "tokens: forged cursor")
    bad(t, api, "tokens?state=active", op, "unknown query parameter", "tokens: unknown filter")
    return ref


def audit(t, gw, api, keys, devser, start):
    op, opid = keys["operator"]
    aud = keys["auditor"][0]
    for role in ("vendor:acme", "factory:acme"):
        api.get("audit", keys[role][0], want=403, name="audit as %s: 403" % role)
    st, _, _, js = api.get("audit?limit=100", aud, want=200, name="audit as auditor")
    ev = js["events"] if js else []
    t.ok(len(ev) > 10 and all((a["ts"], a["id"]) >= (b["ts"], b["id"])
                              for a, b in zip(ev, ev[1:])), "newest first", ev[:3])

    def events(q, key=op, name=None):
        st, _, _, js = api.get("audit?limit=100&" + q, key, want=200, name=name or q)
        return js["events"] if st == 200 else []

    e = events("event=issued")
    t.ok(len(e) >= 6 and all(x["event"] == "issued" for x in e), "event=issued: only issued",
         len(e))
    e = events("device_serial=" + devser[1])
    t.ok(e and all(x["device_serial"] == devser[1] for x in e) and
         {"issued", "confirmed"} <= set(x["event"] for x in e),
         "device_serial: that device's issued and confirmed", e)
    tid = gw.scalar("SELECT encode(t.tid, 'hex') FROM transactions t JOIN certificates c"
                    " ON c.id = t.cert_id WHERE c.device_serial = '%s'" % devser[1])
    e = events("transaction_id=" + tid)
    t.ok(e and all(x["transaction_id"] == tid for x in e) and
         "issued" in [x["event"] for x in e], "transaction_id (from the enrollment): its rows",
         (tid, e))
    colon = ":".join(tid[i:i + 2] for i in range(0, len(tid), 2)).upper()
    t.eq(len(events("transaction_id=" + colon)), len(e), "transaction_id upper case with colons")
    e = events("principal=apikey:" + opid)
    kinds = set(x["event"] for x in e)
    t.ok({"admin_cert_revoke", "admin_token_create", "admin_token_revoke"} <= kinds and
         all(x["principal"] == "apikey:" + opid for x in e),
         "principal=apikey:<operator>: the API's changes", kinds)
    e = events("vendor=acme&event=issued")
    t.ok(e and all(x["vendor"] == "acme" and x["event"] == "issued" for x in e),
         "vendor=acme&event=issued", len(e))
    e = events("alias=token")
    t.ok(e and all(x["alias"] == "token" for x in e) and
         {"token_created", "admin_token_create"} <= set(x["event"] for x in e),
         "alias=token: the token alias's rows", e[:4])
    t.eq(events("alias=nosuch"), [], "alias=nosuch: nothing")
    future = iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    t.eq(events("from=" + future), [], "from=in an hour: nothing")
    e = events("from=%s&to=%s" % (start, future))
    t.ok(e and all(start <= x["ts"][:19] + "Z" for x in e), "from/to window: rows in it", len(e))
    t.eq(events("to=" + start + "&event=issued"), [], "to=before the enrollments: no issued")
    # pagination: pages of 3 of event=issued equal the full list
    full = [x["id"] for x in events("event=issued")]
    got, cur = [], None
    for _ in range(30):
        st, _, _, js = api.get("audit?event=issued&limit=3" + ("&cursor=" + cur if cur else ""),
                               aud)
        got += [x["id"] for x in js["events"]]
        cur = js["next_cursor"]
        if not cur:
            break
    t.eq(got, full, "audit pages of 3: every row once, newest first")
    bad(t, api, "audit?from=yesterday", op, "from must be an RFC 3339", "from=yesterday")
    bad(t, api, "audit?to=2026-04-31T00:00:00Z", op, "to must be", "to=31 April")
    bad(t, api, "audit?transaction_id=xyz", op, "transaction_id must be hexadecimal",
        "transaction_id=xyz")
    bad(t, api, "audit?transaction_id=abc", op, "even number", "odd-length transaction_id")
    bad(t, api, "audit?cursor=v1.41", op, "cursor", "forged cursor")
    bad(t, api, "audit?evnt=issued", op, "unknown query parameter \"evnt\"", "misspelt filter")
    bad(t, api, "audit?limit=x", op, "limit", "limit=x")


def main(t):
    work = mktemp("cmpgw-api-certs-")
    ca_crt, ca_key = make_root(work, "tls-ca", "/O=Test/CN=Admin TLS CA")
    srv = tls_cert(work, "srv", "/CN=cmpgw admin", ca_crt, ca_key, "server")
    admin_port = free_port()
    pg = Pg()
    gw = Gateway(t, pg, devices=7, name="apicerts", patch=patch_for(admin_port, srv, ca_crt))
    gw.must("vendor", "add", "beta")
    start = iso(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2))
    time.sleep(2.1)
    gw.start()
    t.ok(wait_port(admin_port, 10), "admin listener accepts")
    api = Api(t, admin_port, ca_crt)
    api.ca_path = ca_crt
    keys = {r: create_key(t, gw, r)
            for r in ("operator", "auditor", "vendor:acme", "vendor:beta", "factory:acme")}

    certs, devser = {}, {}

    def enroll(k):
        r = gw.cmp(k)
        t.ok(r.rc == 0 and os.path.exists(r.certout), "device %d enrolled" % k, repr(r))
        ser = serial_of(r.certout)
        row = gw.psql("SELECT serial_hex, device_serial, " +
                      "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                      " FROM certificates WHERE ltrim(serial_hex, '0') = '%s'"
                      % ser.lstrip("0"))[0]
        certs[k] = {"pem": r.certout, "serial": row[0], "issued_at": row[2]}
        devser[k] = row[1]
        return row[0]

    for k in (1, 2, 3, 4, 5):
        enroll(k)
        time.sleep(1.05)  # distinct issue seconds for the issued_after test
    # device 5's certificate belongs to vendor beta (a second vendor's device)
    gw.psql("UPDATE certificates SET vendor_id = (SELECT id FROM vendors WHERE name = 'beta')"
            " WHERE serial_hex = '%s'" % certs[5]["serial"])

    certificates(t, gw, api, keys, certs, devser)
    pagination(t, gw, api, keys, {k: certs[k] for k in (1, 2, 3, 4, 5)}, enroll)
    show(t, gw, api, keys, certs)
    revoke(t, gw, api, keys, certs)
    tokens(t, gw, api, keys)
    audit(t, gw, api, keys, devser, start)
    api.rec.report(t)
    gw.stop()


if __name__ == "__main__":
    run(main)
