#!/usr/bin/env python3
"""A `cmpgw serve` restart between ip and certConf loses nothing.

`openssl cmp` talks to a small HTTP proxy written here. The proxy forwards
the ir to the gateway, and when the certConf arrives it first restarts the
gateway (SIGTERM, wait for exit 0, start again) and then forwards the
certConf on a new connection to the new process. The transaction can only
be confirmed if its state lives in PostgreSQL."""

import http.client
import http.server
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (CmpMsg, Gateway, Pg, add_cleanup, free_port, openssl,  # noqa: E402
                     run)


class Proxy:
    def __init__(self, gw, before_certconf):
        self.gw = gw
        self.before_certconf = before_certconf
        self.seen = []       # (body type, request DER, response status, response DER)
        self.errors = []
        self.port = free_port()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_POST(self):
                try:
                    n = int(self.headers.get("Content-Length", "0"))
                    body = self.rfile.read(n)
                    kind = CmpMsg(body).body_type
                    if kind == "certConf":
                        proxy.before_certconf()
                    c = http.client.HTTPConnection("127.0.0.1", proxy.gw.port, timeout=30)
                    try:
                        c.request("POST", self.path, body=body,
                                  headers={"Content-Type": self.headers.get("Content-Type", "")})
                        r = c.getresponse()
                        data = r.read()
                        ctype = r.getheader("Content-Type") or "application/octet-stream"
                        status = r.status
                    finally:
                        c.close()
                    proxy.seen.append((kind, body, status, data))
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except Exception as e:  # report, answer 502
                    proxy.errors.append(repr(e))
                    try:
                        self.send_error(502)
                    except Exception:
                        pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        add_cleanup(self.close)

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=3, name="restart")
    gw.start()
    state = {}

    def restart_between():
        state["tx_before"] = gw.psql("SELECT state FROM transactions WHERE device_serial = 'ACME-0001'")
        state["cert_before"] = gw.psql("SELECT status FROM certificates WHERE device_serial = 'ACME-0001'")
        state["pid_before"] = gw.proc.pid if gw.proc else None
        gw.restart()
        state["pid_after"] = gw.proc.pid if gw.proc else None

    proxy = Proxy(gw, restart_between)
    r = gw.cmp(1, confirm="explicit", server="127.0.0.1:%d" % proxy.port, timeout=60)
    t.ok(r.rc == 0, "ir / restart / certConf: openssl cmp exits 0", repr(r))
    t.eq(proxy.errors, [], "proxy forwarded without errors")
    t.eq([x[0] for x in proxy.seen], ["ir", "certConf"], "proxy saw ir then certConf")
    t.eq(state.get("tx_before"), [["issued"]], "before the restart: transaction issued (awaiting certConf)")
    t.eq(state.get("cert_before"), [["unconfirmed"]], "before the restart: certificate unconfirmed")
    t.ok(state.get("pid_before") and state.get("pid_after") and
         state["pid_before"] != state["pid_after"], "certConf went to a new cmpgw process", state)
    if len(proxy.seen) == 2:
        m = CmpMsg(proxy.seen[1][3]) if proxy.seen[1][3] else None
        t.ok(m is not None and m.body_type == "pkiconf",
             "the new process answered certConf with pkiConf", m.describe() if m else proxy.seen[1])

    if os.path.exists(r.certout):
        rc, out = openssl("verify", "-CAfile", gw.path("pki", "operator-root.crt"),
                          "-untrusted", gw.path("pki", "issuing-ca.crt"), r.certout)
        t.ok(rc == 0, "certificate verifies to the operator root", out)
    else:
        t.ok(False, "certificate written by openssl cmp", repr(r))

    t.eq(gw.psql("SELECT state FROM transactions WHERE device_serial = 'ACME-0001'"),
         [["confirmed"]], "after the restart: transaction confirmed")
    t.eq(gw.psql("SELECT status FROM certificates WHERE device_serial = 'ACME-0001'"),
         [["active"]], "after the restart: certificate active")
    t.eq(gw.scalar("SELECT state FROM serials WHERE serial = 'ACME-0001'"), "enrolled",
         "after the restart: serial enrolled")
    ev = [x[0] for x in gw.psql("SELECT event FROM audit ORDER BY id")]
    t.ok("issued" in ev and "confirmed" in ev, "audit has issued and confirmed", ev)

    # a repeated certConf (after yet another restart) gets an equivalent pkiConf
    if len(proxy.seen) == 2:
        gw.restart()
        status, ctype, body = gw.post(proxy.seen[1][1])
        try:
            m = CmpMsg(body)
        except Exception:  # noqa
            m = None
        t.ok(status == 200 and m is not None and m.body_type == "pkiconf",
             "repeated certConf after another restart: pkiConf again",
             "HTTP %s %s" % (status, m.describe() if m else body[:80]))
        t.eq(gw.psql("SELECT state FROM transactions WHERE device_serial = 'ACME-0001'"),
             [["confirmed"]], "repeated certConf: transaction still confirmed")
        t.eq(gw.scalar("SELECT count(*) FROM certificates"), "1",
             "repeated certConf: no extra certificate")

    proxy.close()
    gw.stop()


if __name__ == "__main__":
    run(main)
