#!/usr/bin/env python3
"""Issue 13: the operations listener (ops.address/ops.port).

1. GET /healthz 200 {"status":"ok"}; GET /readyz 200 {"status":"ready"}
   once the worker's first database probe is in.
2. GET /metrics: text/plain; version=0.0.4, and `promtool check metrics`
   finds no problem, before and after traffic.
3. After one good enrollment and one refused request (raVerified POP):
   exactly +1 on cmpgw_requests_total{alias="3gpp",body="ir",outcome="ok"},
   +1 on outcome="badPOP", +1 on cmpgw_certificates_issued_total; every
   histogram's buckets are cumulative and its _count equals +Inf; the
   database round-trip histogram moved; the request-duration histogram
   counts every request (when request latency is known); the issuing CA
   and CMP signer expiry gauges match the certificates' notAfter.
4. The ops port never serves CMP (a CMP POST there gets 404/405) and the
   CMP port does not serve /metrics (404).
5. /readyz 503 {"status":"not ready","reason":"database unreachable"} while
   PostgreSQL is stopped, 200 again once it is back; 503 naming the schema
   version while the database holds a migration this binary does not know,
   200 once it is gone; db errors counted.
6. /readyz 503 "draining" during a SIGTERM drain (a client keeps its
   transaction open), and the gateway still exits 0.
"""

import calendar
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, capture_request, http_post, openssl, run  # noqa: E402

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def parse(text):
    """{'name{labels}': float} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SERIES.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def get_metrics(t, gw, name):
    st, ctype, body = gw.ops("/metrics")
    t.eq(st, 200, name + ": GET /metrics 200")
    t.ok((ctype or "").startswith("text/plain") and "version=0.0.4" in ctype,
         name + ": Content-Type text/plain; version=0.0.4", ctype)
    text = body.decode("utf-8", "replace")
    p = subprocess.run(["promtool", "check", "metrics"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    t.ok(p.returncode == 0 and not p.stdout.strip(),
         name + ": promtool check metrics reports no problem",
         p.stdout.decode("utf-8", "replace") + "\n" + text[:2000])
    return parse(text), text


def wait_ready(gw, want, within, timeout=5, reason=None, streak=1):
    """Poll /readyz until its status is want (and its reason contains
    reason) streak times in a row: /readyz answers for the worker that
    takes the request, and each worker has its own pool. Returns the last
    (status, json body)."""
    t0 = time.monotonic()
    last = (None, None)
    n = 0
    while time.monotonic() - t0 < within:
        try:
            st, _, body = gw.ops("/readyz", timeout=timeout)
            last = (st, json.loads(body.decode()))
        except (OSError, ValueError) as e:
            last = (None, repr(e))
        good = last[0] == want and (reason is None or
                                     reason in str(last[1].get("reason", "")))
        n = n + 1 if good else 0
        if n >= streak:
            break
        time.sleep(0.1)
    return last


def not_after(pem):
    rc, out = openssl("x509", "-noout", "-enddate", "-in", pem)
    if rc != 0:
        return None
    s = out.strip().split("=", 1)[1]
    return calendar.timegm(time.strptime(s, "%b %d %H:%M:%S %Y GMT"))


def histograms(t, m, name):
    """Per histogram series: buckets cumulative, _count == +Inf bucket."""
    groups = {}
    for k, v in m.items():
        mm = re.match(r'^(\w+)_bucket\{(.*?)(?:,)?le="([^"]+)"\}$', k)
        if mm:
            groups.setdefault((mm.group(1), mm.group(2)), []).append(
                (float("inf") if mm.group(3) == "+Inf" else float(mm.group(3)), v))
    bad = []
    for (base, labels), bs in groups.items():
        bs.sort()
        lab = "{%s}" % labels.rstrip(",") if labels else ""
        counts = [v for _, v in bs]
        if counts != sorted(counts) or bs[-1][0] != float("inf") or \
                m.get(base + "_count" + lab) != bs[-1][1] or (base + "_sum" + lab) not in m:
            bad.append((base, labels, bs, m.get(base + "_count" + lab)))
    t.ok(groups and not bad, name + ": %d histogram series cumulative, _count = +Inf"
         % len(groups), bad)


def traffic(t, gw):
    m0, _ = get_metrics(t, gw, "before traffic")
    bi = [(k, v) for k, v in m0.items() if k.startswith("cmpgw_build_info{")]
    t.ok(len(bi) == 1 and bi[0][1] == 1.0 and 'openssl="3.' in bi[0][0],
         "cmpgw_build_info: one series, value 1, the OpenSSL version", bi)
    ok_key = 'cmpgw_requests_total{alias="3gpp",body="ir",outcome="ok"}'
    pop_key = 'cmpgw_requests_total{alias="3gpp",body="ir",outcome="badPOP"}'
    iss_key = 'cmpgw_certificates_issued_total{alias="3gpp"}'
    r = gw.cmp(1, confirm="implicit")
    t.ok(r.rc == 0 and os.path.exists(r.certout), "device 1 enrolls (implicitConfirm)", repr(r))
    r = gw.cmp(3, extra=["-popo", "0"])
    t.ok(r.rc != 0 and r.has("badPOP"), "raVerified POP refused badPOP", r.out)
    m1, text = get_metrics(t, gw, "after traffic")
    t.eq(m1.get(ok_key, 0) - m0.get(ok_key, 0), 1.0, "requests_total ir ok +1")
    t.eq(m1.get(pop_key, 0) - m0.get(pop_key, 0), 1.0, "requests_total ir badPOP +1")
    t.eq(m1.get(iss_key, 0) - m0.get(iss_key, 0), 1.0, "certificates_issued_total +1")
    t.ok(m1.get("cmpgw_db_roundtrip_seconds_count", 0) >
         m0.get("cmpgw_db_roundtrip_seconds_count", 0), "db round trips counted")
    histograms(t, m1, "after traffic")
    reqs = sum(v for k, v in m1.items() if k.startswith("cmpgw_requests_total{"))
    dur = sum(v for k, v in m1.items() if k.startswith("cmpgw_request_duration_seconds_count"))
    t.eq(dur, reqs, "request duration histogram counts every request")
    for name, pem in (("cmpgw_issuing_ca_expiry_seconds", "issuing-ca.crt"),
                      ("cmpgw_cmp_signer_expiry_seconds", "cmp-signer.crt")):
        want = not_after(gw.path("pki", pem)) - time.time()
        got = m1.get(name)
        t.ok(got is not None and abs(got - want) < 120, "%s matches %s's notAfter" % (name, pem),
             "got %s want %.0f" % (got, want))
    for g in ("cmpgw_requests_in_flight", "cmpgw_connections",
              'cmpgw_db_pool_connections{state="idle"}', "process_start_time_seconds"):
        t.ok(g in m1, "gauge %s present" % g)
    return m1


def separation(t, gw):
    der = capture_request(gw, 2)
    st, _, _ = http_post(gw.ops_port, der, "/.well-known/cmp/p/3gpp")
    t.ok(st in (404, 405), "a CMP POST on the ops port: 404/405", st)
    st, _, _ = http_post(gw.ops_port, der, "/metrics")
    t.eq(st, 405, "POST /metrics on the ops port: 405")
    st, _, _ = http_post(gw.port, None, "/metrics", ctype=None, method="GET")
    t.eq(st, 404, "GET /metrics on the CMP port: 404")
    st, _, _ = http_post(gw.port, None, "/readyz", ctype=None, method="GET")
    t.eq(st, 404, "GET /readyz on the CMP port: 404")
    m0, _ = get_metrics(t, gw, "before refusals")
    st, _, _ = http_post(gw.port, der, ctype="text/plain")
    t.eq(st, 415, "a CMP body as text/plain: 415")
    st, _, _ = http_post(gw.port, None, "/nothing", ctype=None, method="GET")
    t.eq(st, 404, "an unknown path on the CMP port: 404")
    st, _, _ = http_post(gw.port, b"\x00garbage", ctype="application/pkixcmp")
    t.eq(st, 400, "not a PKIMessage: 400")
    m1, _ = get_metrics(t, gw, "after refusals")
    for key, want in (('cmpgw_http_refused_total{status="404"}', 1),
                      ('cmpgw_http_refused_total{status="415"}', 1)):
        t.eq(m1.get(key, 0) - m0.get(key, 0), want, "%s +%d" % (key, want))
    nc = [k for k in m1 if k.startswith("cmpgw_requests_total{") and 'outcome="not_cmp"' in k]
    t.eq(sum(m1[k] for k in nc) - sum(m0.get(k, 0) for k in nc), 1.0,
         "requests_total outcome not_cmp +1")
    # a reload that fails to load is counted
    good = open(gw.config).read()
    with open(gw.config, "w") as f:
        f.write("{ not json")
    gw.proc.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    with open(gw.config, "w") as f:
        f.write(good)
    m2, _ = get_metrics(t, gw, "after a refused reload")
    key = 'cmpgw_config_reloads_total{result="error"}'
    t.eq(m2.get(key, 0) - m1.get(key, 0), 1.0, "a refused reload: %s +1" % key)


def database(t, gw, pg, m1):
    pg.stop()
    st, body = wait_ready(gw, 503, 15)
    t.eq(st, 503, "database stopped: /readyz 503", body)
    t.eq(body, {"status": "not ready", "reason": "database unreachable"},
         "database stopped: the reason")
    # past database.queue_wait_ms: the probes waiting for a connection fail
    time.sleep(3)
    pg.start()
    st, body = wait_ready(gw, 200, 30, streak=10)
    t.eq((st, body), (200, {"status": "ready"}), "database back: /readyz 200 (10 times in a row)")
    m2, _ = get_metrics(t, gw, "after the outage")
    t.ok(m2.get("cmpgw_db_errors_total", 0) > m1.get("cmpgw_db_errors_total", 0),
         "database errors counted during the outage")
    gw.psql("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')")
    st, body = wait_ready(gw, 503, 15, reason="schema version")
    t.eq(st, 503, "unknown migration in the database: /readyz 503", body)
    t.ok(isinstance(body, dict) and "schema version 9999" in body.get("reason", ""),
         "the reason names the database's schema version", body)
    gw.psql("DELETE FROM schema_migrations WHERE version = 9999")
    st, body = wait_ready(gw, 200, 15, streak=10)
    t.eq(st, 200, "migration removed: /readyz 200 again", body)


def draining(t, gw):
    # an ir without implicitConfirm leaves the transaction open on this
    # keep-alive connection: the drain waits for it (http.drain_s)
    der = capture_request(gw, 4)
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    c.request("POST", "/.well-known/cmp/p/3gpp", body=der,
              headers={"Content-Type": "application/pkixcmp"})
    r = c.getresponse()
    r.read()
    t.eq(r.status, 200, "an ir answered on a kept-alive connection")
    gw.proc.send_signal(signal.SIGTERM)
    # a short timeout per try: a worker whose loop ends at once may have
    # accepted a connection in its last pass (core/server.c, reported)
    st, body = wait_ready(gw, 503, 8, timeout=1)
    t.eq((st, body), (503, {"status": "not ready", "reason": "draining"}),
         "SIGTERM with a transaction open: /readyz 503 draining", gw.log_tail(12))
    c.close()
    gw.stop()


def main(t):
    pg = Pg()
    def patch(cfg):
        # the readiness probe fails within the outage (test_dbfault.py's bounds)
        db = cfg.setdefault("database", {})
        db["queue_wait_ms"] = 1000
        db["statement_timeout_ms"] = 1000

    gw = Gateway(t, pg, devices=6, name="ops", patch=patch)
    gw.start()
    st, ctype, body = gw.ops("/healthz")
    t.eq((st, body), (200, b'{"status":"ok"}\n'), "/healthz 200 ok")
    st, body = wait_ready(gw, 200, 15, streak=10)
    t.eq((st, body), (200, {"status": "ready"}), "/readyz 200 ready (10 times in a row)")
    st, _, _ = gw.ops("/nothing")
    t.eq(st, 404, "an unknown path on the ops port: 404")
    m1 = traffic(t, gw)
    separation(t, gw)
    database(t, gw, pg, m1)
    draining(t, gw)


if __name__ == "__main__":
    run(main)
