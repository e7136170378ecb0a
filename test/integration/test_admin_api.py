#!/usr/bin/env python3
"""Issue 14: the admin HTTPS API (admin.*, docs/ADMIN.md).

Real PostgreSQL, real `cmpgw serve` with an admin listener, real HTTPS
clients (Python's http.client + ssl, and curl):

1. No credentials: 401 with WWW-Authenticate: Bearer; a malformed or
   unknown key: 401 (no database work for a malformed one); a client
   certificate that maps to no principal (and no key): 403; a mapped one
   (exact certificate, and issuer + subject pattern) authenticates.
2. An API key per role (`cmpgw apikey create`): whoami names the
   principal and role; operator and auditor list every vendor; vendor:A
   lists only A and gets 404 for B (list and item, and B's serials);
   factory gets 403 on the vendors; a revoked key 401.
3. Vendors: counts of serials by state and of anchors/intermediates;
   cursor pagination (limit, next_cursor, a bad cursor 400); a serial's
   state and its certificate after an enrollment.
4. Every error is application/problem+json with type, title, status,
   detail; a write method is 405; unknown paths 404; the ops paths and
   CMP are not served there.
5. GET /api/v1/openapi.json parses, is OpenAPI 3, names every path called
   here, and the responses carry the fields its schemas require.
6. TLS is mandatory: plain HTTP to the admin port gets no HTTP answer;
   config errors (port without TLS, clash with listen/ops, bad role, bad
   principal) exit 2 naming the path.
"""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, cmpgw, free_port, make_root, mktemp, run, wait_port  # noqa: E402
from test_tls import ctx_for, handshake_error, hup, tls_cert  # noqa: E402
import authz_table  # noqa: E402
import openapi_check  # noqa: E402

KEY_RE = re.compile(r"^key=(cmpgw_([0-9a-f]{16})_([A-Za-z0-9_-]{43}))$", re.M)
PROBLEM_FIELDS = ("type", "title", "status", "detail")


def request(port, ctx, path, key=None, method="GET"):
    """(status, headers lower-cased, parsed JSON body or raw bytes)."""
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=15)
    try:
        h = {"Authorization": "Bearer " + key} if key else {}
        c.request(method, path, headers=h)
        r = c.getresponse()
        body = r.read()
        hdr = dict((k.lower(), v) for k, v in r.getheaders())
        try:
            return r.status, hdr, json.loads(body) if body else None
        except ValueError:
            return r.status, hdr, body
    finally:
        c.close()


class Api:
    def __init__(self, t, port, ca):
        self.t, self.port, self.ca = t, port, ca
        self.paths = set()
        self.rec = openapi_check.Recorder()

    def call(self, path, key=None, cert=None, method="GET", want=None, name=None):
        ctx = ctx_for(self.ca, cert=cert[0] if cert else None, key=cert[1] if cert else None)
        st, hdr, body = request(self.port, ctx, path, key, method)
        self.paths.add(path.split("?")[0])
        if path.startswith("/api/v1/"):
            self.rec.check(method, path, st, hdr.get("content-type"), body)
        if want is not None:
            self.t.eq(st, want, name or "%s %s" % (method, path), body)
        if st >= 400:
            ok = (hdr.get("content-type", "").startswith("application/problem+json") and
                  isinstance(body, dict) and all(f in body for f in PROBLEM_FIELDS) and
                  body.get("status") == st and body["type"].startswith("urn:cmpgw:problem:"))
            self.t.ok(ok, "%s: problem+json with type, title, status, detail" % (name or path),
                      (hdr, body))
        return st, hdr, body


def create_key(t, gw, role):
    rc, out = cmpgw("apikey", "create", "--config", gw.config, "--role", role)
    m = KEY_RE.search(out)
    t.ok(rc == 0 and m, "apikey create --role %s" % role, out)
    return m.group(1), m.group(2)


def check_schema(t, spec, name, obj):
    """obj has every field the schema requires (one level, and nested objects)."""
    sch = spec["components"]["schemas"][name]
    missing = [f for f in sch.get("required", []) if f not in obj]
    t.ok(not missing, "response has the fields %s requires" % name, (missing, obj))


def config_errors(t, gw, srv, ca):
    base = json.loads(json.dumps(gw.cfg))

    def check(patch, path, want, name):
        cfg = json.loads(json.dumps(base))
        patch(cfg)
        f = gw.path("bad-admin.json")
        gw.write_config(cfg, f)
        rc, out = cmpgw("check", "--config", f)
        t.ok(rc == 2 and path in out and want in out, "check: %s -> exit 2 naming %s"
             % (name, path), "exit %s:\n%s" % (rc, out))

    def a(**kw):
        def p(cfg):
            cfg["admin"].update(kw)
        return p

    check(a(tls={}), "admin.tls.cert", "HTTPS only", "admin.port without TLS")
    check(a(port=gw.port), "admin.port", "listen[0]", "admin.port = listen port")
    check(a(port=gw.ops_port), "admin.port", "ops.port", "admin.port = ops.port")
    check(a(principals=[{"cert": srv[0], "role": "boss"}]), "admin.principals[0].role",
          "operator", "unknown role")
    check(a(principals=[{"cert": srv[0], "issuer": ca, "subject": "CN=x", "role": "auditor"}]),
          "admin.principals[0]", "exactly one", "cert and issuer")
    check(a(principals=[{"issuer": ca, "role": "auditor"}]), "admin.principals[0]",
          "subject is required", "issuer without subject")
    check(a(principals=[{"cert": srv[0], "role": "vendor:"}]), "admin.principals[0].role",
          "1..128", "empty vendor name")


def main(t):
    t.eq(authz_table.doc_table(), authz_table.table(),
         "docs/ADMIN.md's authorisation table is the route tables of cmd/api*.c "
         "(python3 test/integration/authz_table.py --update)")
    work = mktemp("cmpgw-admin-api-")
    ca_crt, ca_key = make_root(work, "tls-ca", "/O=Test/CN=Admin TLS CA")
    other_crt, other_key = make_root(work, "other-ca", "/O=Other/CN=Other CA")
    srv = tls_cert(work, "srv", "/CN=cmpgw admin", ca_crt, ca_key, "server")
    opcert = tls_cert(work, "op", "/O=Ops/CN=alice", ca_crt, ca_key, "client")
    audcert = tls_cert(work, "aud", "/O=Audit/CN=bob", ca_crt, ca_key, "client")
    nobody = tls_cert(work, "nobody", "/O=Nobody/CN=carol", ca_crt, ca_key, "client")
    stranger = tls_cert(work, "stranger", "/O=Ops/CN=alice", other_crt, other_key, "client")
    admin_port = free_port()

    def patch(cfg):
        cfg["workers"] = 1  # one worker: the refused-key counter below is per worker
        cfg["admin"] = {"address": "127.0.0.1", "port": admin_port,
                        "tls": {"cert": srv[0], "key": srv[1], "client_ca": ca_crt},
                        "principals": [{"cert": opcert[0], "role": "operator"},
                                       {"issuer": ca_crt, "subject": "CN=bob,O=Aud*",
                                        "role": "auditor"}]}

    pg = Pg()
    gw = Gateway(t, pg, devices=6, name="adminapi", patch=patch)
    gw.must("vendor", "add", "beta")
    gw.start()
    t.ok(wait_port(admin_port, 10), "admin listener accepts")
    api = Api(t, admin_port, ca_crt)

    # ---- 1. authentication --------------------------------------------
    st, hdr, body = api.call("/api/v1/whoami", want=401, name="no credentials: 401")
    t.ok(hdr.get("www-authenticate", "").startswith("Bearer"), "401 carries WWW-Authenticate: Bearer",
         hdr)
    api.call("/api/v1/whoami", key="not-a-key", want=401, name="malformed key: 401")
    api.call("/api/v1/whoami", key="cmpgw_0123456789abcdef_" + "A" * 43, want=401,
             name="unknown key: 401")
    api.call("/api/v1/whoami", cert=nobody, want=403, name="unmapped client certificate: 403")
    st, _, body = api.call("/api/v1/whoami", cert=opcert, want=200, name="mapped certificate")
    t.ok(body == {"principal": "cert:CN=alice,O=Ops", "role": "operator"},
         "whoami: exact-certificate principal is operator", body)
    st, _, body = api.call("/api/v1/whoami", cert=audcert, want=200,
                           name="issuer + subject pattern")
    t.ok(body and body.get("role") == "auditor" and body["principal"] == "cert:CN=bob,O=Audit",
         "whoami: issuer + subject pattern maps to auditor", body)

    # ---- 2. API keys per role ------------------------------------------
    keys = {}
    for role in ("operator", "auditor", "vendor:acme", "vendor:beta", "factory:acme"):
        keys[role] = create_key(t, gw, role)
    for role, (key, kid) in keys.items():
        st, _, body = api.call("/api/v1/whoami", key=key, want=200, name="whoami as " + role)
        t.ok(body == {"principal": "apikey:" + kid, "role": role},
             "whoami names apikey:<id> and role " + role, body)
    # a client certificate that maps to nothing, with a valid key: the key counts
    api.call("/api/v1/whoami", key=keys["auditor"][0], cert=nobody, want=200,
             name="unmapped certificate + valid key: 200")
    api.call("/api/v1/whoami", key="cmpgw_0123456789abcdef_" + "A" * 43, cert=nobody, want=403,
             name="unmapped certificate + unknown key: 403")

    # ---- 3. vendors ----------------------------------------------------
    st, _, spec = api.call("/api/v1/openapi.json", key=keys["auditor"][0], want=200,
                           name="openapi.json")
    t.ok(isinstance(spec, dict) and spec.get("openapi", "").startswith("3."),
         "openapi.json is an OpenAPI 3 document", str(spec)[:200])
    t.ok(openapi_check.load_spec() == spec,
         "served document is docs/openapi.json with docs/openapi/*.json merged")

    for role in ("operator", "auditor"):
        st, _, body = api.call("/api/v1/vendors", key=keys[role][0], want=200,
                               name="vendors as " + role)
        names = [v["name"] for v in body["vendors"]] if st == 200 else []
        t.eq(names, ["acme", "beta"], role + " lists every vendor")
    check_schema(t, spec, "VendorList", body)
    acme = [v for v in body["vendors"] if v["name"] == "acme"][0]
    check_schema(t, spec, "Vendor", acme)
    listed = len(open(gw.path("vendor", "serials.txt")).read().split())
    t.ok(acme["serials"] == {"allowed": listed, "blocked": 0, "enrolled": 0} and
         acme["anchors"] == 1 and acme["intermediates"] == 1 and acme["strictness"] == "strict",
         "acme: every imported serial allowed, 1 anchor, 1 intermediate, strict", acme)

    st, _, body = api.call("/api/v1/vendors", key=keys["vendor:acme"][0], want=200,
                           name="vendors as vendor:acme")
    t.eq([v["name"] for v in body["vendors"]], ["acme"], "vendor:acme lists only acme")
    api.call("/api/v1/vendors/beta", key=keys["vendor:acme"][0], want=404,
             name="vendor:acme reading beta: 404")
    api.call("/api/v1/vendors/beta/serials/X", key=keys["vendor:acme"][0], want=404,
             name="vendor:acme reading beta's serial: 404")
    st, _, body = api.call("/api/v1/vendors/acme", key=keys["vendor:acme"][0], want=200,
                           name="vendor:acme reads acme")
    check_schema(t, spec, "Vendor", body or {})
    api.call("/api/v1/vendors/nosuch", key=keys["operator"][0], want=404,
             name="unknown vendor: 404")
    api.call("/api/v1/vendors", key=keys["factory:acme"][0], want=403,
             name="factory reading vendors: 403")

    # pagination
    st, _, p1 = api.call("/api/v1/vendors?limit=1", key=keys["operator"][0], want=200,
                         name="page 1")
    t.ok(p1 and len(p1["vendors"]) == 1 and p1["next_cursor"], "page 1: one vendor and a cursor",
         p1)
    st, _, p2 = api.call("/api/v1/vendors?limit=1&cursor=" + p1["next_cursor"],
                         key=keys["operator"][0], want=200, name="page 2")
    t.ok(p2 and [v["name"] for v in p2["vendors"]] == ["beta"] and p2["next_cursor"] is None,
         "page 2: beta, last page", p2)
    api.call("/api/v1/vendors?limit=0", key=keys["operator"][0], want=400, name="limit=0: 400")
    api.call("/api/v1/vendors?limit=1000", key=keys["operator"][0], want=400,
             name="limit=1000: 400")
    api.call("/api/v1/vendors?cursor=zz", key=keys["operator"][0], want=400,
             name="bad cursor: 400")

    # serials: enroll device 1, block device 2 in the database
    r = gw.cmp(1)
    t.ok(r.rc == 0, "device 1 enrolls", repr(r))
    ser = open(gw.path("vendor", "serials.txt")).read().split()
    gw.psql("UPDATE serials SET state = 'blocked' WHERE serial = '%s'" % ser[1])
    st, _, body = api.call("/api/v1/vendors/acme/serials/" + ser[0], key=keys["auditor"][0],
                           want=200, name="enrolled serial")
    check_schema(t, spec, "Serial", body or {})
    t.ok(body and body["state"] == "enrolled" and body["certificate"] and
         re.fullmatch(r"[0-9A-Fa-f]+", body["certificate"]["serial"]),
         "serial 1: enrolled, with its certificate serial", body)
    st, _, body = api.call("/api/v1/vendors/acme/serials/" + ser[1], key=keys["vendor:acme"][0],
                           want=200, name="blocked serial")
    t.ok(body and body["state"] == "blocked" and body["certificate"] is None,
         "serial 2: blocked, no certificate", body)
    api.call("/api/v1/vendors/acme/serials/NOPE-404", key=keys["auditor"][0], want=404,
             name="unlisted serial: 404")

    # ---- 4. errors, methods, other paths --------------------------------
    st, hdr, body = api.call("/api/v1/whoami", key=keys["operator"][0], method="HEAD", want=200,
                             name="HEAD whoami: 200")
    t.ok(not body, "HEAD: no body", body)
    st, hdr, _ = api.call("/api/v1/whoami", key=keys["operator"][0], method="POST", want=405,
                          name="POST whoami: 405")
    t.eq(hdr.get("allow"), "GET, HEAD", "405 names Allow: GET, HEAD")
    st, hdr, _ = api.call("/api/v1/vendors", key=keys["operator"][0], method="DELETE",
                          want=405, name="DELETE vendors: 405")
    t.ok("GET, HEAD" in hdr.get("allow", "") and "POST" in hdr.get("allow", ""),
         "405 names every method the path allows (GET, HEAD, POST)", hdr)
    api.call("/api/v1/nothing", key=keys["operator"][0], want=404, name="unknown path: 404")
    api.call("/metrics", key=keys["operator"][0], want=404, name="ops path not served: 404")
    api.call("/.well-known/cmp/p/3gpp", key=keys["operator"][0], want=404,
             name="CMP not served: 404")

    # revoked key
    rc, out = cmpgw("apikey", "revoke", "--config", gw.config, keys["auditor"][1])
    t.ok(rc == 0, "apikey revoke auditor", out)
    st, hdr, body = api.call("/api/v1/whoami", key=keys["auditor"][0], want=401,
                             name="revoked key: 401")
    t.ok(body and "revoked" in body.get("detail", ""), "detail says revoked", body)

    # expired key
    rc, out = cmpgw("apikey", "create", "--config", gw.config, "--role", "auditor", "--ttl", "1s")
    m = KEY_RE.search(out)
    t.ok(rc == 0 and m, "apikey create --ttl 1s", out)
    time.sleep(1.5)
    st, hdr, body = api.call("/api/v1/whoami", key=m.group(1), want=401, name="expired key: 401")
    t.ok(body and "expired" in body.get("detail", "") and
         'error="invalid_token"' in hdr.get("www-authenticate", ""),
         "detail says expired; WWW-Authenticate error=invalid_token", (hdr, body))

    # curl
    p = subprocess.run(["curl", "-sS", "--cacert", ca_crt, "-H",
                        "Authorization: Bearer " + keys["operator"][0],
                        "https://127.0.0.1:%d/api/v1/whoami" % admin_port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    t.ok(p.returncode == 0 and json.loads(p.stdout).get("role") == "operator",
         "curl with a bearer key: whoami operator", p.stdout)
    p = subprocess.run(["curl", "-sS", "--cacert", ca_crt, "--cert", opcert[0], "--key",
                        opcert[1], "https://127.0.0.1:%d/api/v1/vendors" % admin_port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    t.ok(p.returncode == 0 and len(json.loads(p.stdout).get("vendors", [])) == 2,
         "curl with the operator's client certificate lists vendors", p.stdout)

    # ---- 5. every path called is in the OpenAPI document -----------------
    documented = [re.compile("^/api/v1" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$")
                  for p in spec["paths"]]
    ok_paths = [p for p in api.paths if p.startswith("/api/v1/") and p != "/api/v1/nothing"]
    missing = [p for p in ok_paths if not any(d.match(p) for d in documented)]
    t.ok(not missing, "every API path called is in openapi.json", missing)
    for p in ("/whoami", "/vendors", "/vendors/{vendor}", "/vendors/{vendor}/serials/{serial}",
              "/openapi.json"):
        t.ok(p in spec["paths"], "openapi.json documents " + p)

    # ---- refused keys per peer: 429 past admin.key_failures_per_minute (10)
    seen = None
    for i in range(12):
        st, hdr, body = api.call("/api/v1/whoami", key="cmpgw_%016x_" % (0xabc0 + i) + "B" * 43)
        if st == 429:
            seen = (i, hdr, body)
            break
    t.ok(seen and seen[2]["type"] == "urn:cmpgw:problem:too-many-failures" and
         seen[1].get("retry-after") == "60",
         "refused keys past the limit: 429 too-many-failures, Retry-After: 60", seen)
    st, _, _ = api.call("/api/v1/whoami", key=keys["operator"][0], want=429,
                        name="a valid key from that peer: 429 until the minute ends")
    api.call("/api/v1/whoami", cert=opcert, want=200, name="client certificates still work")
    api.call("/api/v1/whoami", key="junk", want=401, name="malformed key: 401 (not counted)")

    # a client certificate of another CA: the handshake fails
    e = handshake_error(admin_port, ctx_for(ca_crt, cert=stranger[0], key=stranger[1]))
    t.ok(e is not None, "client certificate from another CA: TLS handshake refused", e)

    # SIGHUP: admin.principals reload (carol becomes an auditor)
    cfg = json.loads(json.dumps(gw.cfg))
    cfg["admin"]["principals"].append({"cert": nobody[0], "role": "auditor"})
    gw.write_config(cfg)
    line = hup(gw)
    t.ok(line and "configuration reloaded" in line, "SIGHUP reloads", line)
    body = None
    for _ in range(50):
        st, _, body = api.call("/api/v1/whoami", cert=nobody)
        if st == 200:
            break
        time.sleep(0.1)
    t.ok(st == 200 and body.get("role") == "auditor",
         "after the reload carol's certificate maps to auditor", body)
    gw.write_config(gw.cfg)

    # ---- 6. TLS mandatory; config errors -----------------------------------
    c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
    try:
        c.request("GET", "/api/v1/whoami")
        r = c.getresponse()
        plain = r.status
    except (OSError, http.client.HTTPException):
        plain = None
    finally:
        c.close()
    t.ok(plain is None, "plain HTTP to the admin port gets no HTTP answer", plain)
    api.rec.report(t)
    p = subprocess.run(["curl", "-sS", "http://127.0.0.1:%d/api/v1/whoami" % admin_port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    t.ok(p.returncode != 0, "curl over plain HTTP fails", p.stdout)
    gw.stop()
    config_errors(t, gw, srv, ca_crt)
    cfg = json.loads(json.dumps(gw.cfg))
    cfg["admin"]["tls"] = {}
    f = gw.path("bad-admin-serve.json")
    gw.write_config(cfg, f)
    rc, out = cmpgw("serve", "--config", f, timeout=30)
    t.ok(rc == 2 and "admin.tls.cert" in out, "serve: admin.port without TLS -> exit 2", out)
    rc, out = cmpgw("check", "--config", gw.config)
    t.eq(rc, 0, "the test's own config checks", out)
    init_admin(t, pg)


def init_admin(t, pg):
    """`cmpgw init` writes a working admin listener: its TLS certificate
    verifies for 127.0.0.1 and localhost against pki/admin-ca.crt, and the
    operator client certificate it writes is the operator."""
    gw = Gateway(t, pg, devices=2, name="initadmin", register=False, admin=True)
    t.ok(gw.admin_port and gw.cfg["admin"]["principals"][0]["role"] == "operator",
         "cmpgw init writes an admin section with an operator principal", gw.cfg.get("admin"))
    gw.start()
    t.ok(wait_port(gw.admin_port, 10), "init's admin listener accepts")
    pki = gw.path("pki")
    for host in ("127.0.0.1", "localhost"):
        p = subprocess.run(["curl", "-sS", "--cacert", os.path.join(pki, "admin-ca.crt"),
                            "--cert", os.path.join(pki, "admin-operator.crt"),
                            "--key", os.path.join(pki, "admin-operator.key"),
                            "--resolve", "localhost:%d:127.0.0.1" % gw.admin_port,
                            "https://%s:%d/api/v1/whoami" % (host, gw.admin_port)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        try:
            who = json.loads(p.stdout)
        except ValueError:
            who = None
        t.ok(p.returncode == 0 and who and who["role"] == "operator" and
             who["principal"] == "cert:CN=Demo Operator,O=Demo Operator",
             "curl to %s verifies init's admin certificate and is the operator" % host,
             p.stdout)
    p = subprocess.run(["curl", "-sS", "--cacert", os.path.join(pki, "admin-ca.crt"),
                        "https://127.0.0.1:%d/api/v1/whoami" % gw.admin_port],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    t.ok(p.returncode == 0 and b"no-credentials" in p.stdout,
         "without the client certificate: 401 no-credentials", p.stdout)
    gw.stop()


if __name__ == "__main__":
    run(main)
