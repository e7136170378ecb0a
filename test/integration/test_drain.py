#!/usr/bin/env python3
"""SIGTERM does not cut a transaction between ip and certConf (issue 11):
while the gateway drains, a connection whose last answer was a certificate
awaiting confirmation stays open and its certConf is still served (and
confirmed), everything else gets 503, and the gateway waits for it within
http.drain_s. A client that never confirms is cut when the drain time is
over; the gateway still exits 0 and says so in its log.

The stock `openssl cmp` client talks to a small proxy that forwards its ir
over one persistent HTTP/1.1 connection to the gateway and keeps its
certConf; the test sends that certConf later, after SIGTERM, on the same
connection, as a keep-alive client would."""

import http.client
import http.server
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import CmpMsg, Gateway, Pg, add_cleanup, free_port, http_post, run  # noqa: E402

CMP_PATH = "/.well-known/cmp/p/3gpp"


class KeepAliveHold:
    """Forwards each request over one persistent connection to the gateway;
    keeps a certConf (answered 502 to its client) for the test to send."""

    def __init__(self, gw):
        self.gw = gw
        self.held = []
        self.port = free_port()
        self.conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                try:
                    kind = CmpMsg(body).body_type
                except Exception:  # noqa
                    kind = "?"
                if kind == "certConf":
                    proxy.held.append(body)
                    self.send_error(502)
                    return
                status, _hdrs, data = proxy.send(body)
                self.send_response(status)
                self.send_header("Content-Type", "application/pkixcmp")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        add_cleanup(self.close)

    def send(self, body):
        """POST body on the persistent connection: (status, headers, data)."""
        self.conn.request("POST", CMP_PATH, body=body,
                          headers={"Content-Type": "application/pkixcmp"})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def close(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        self.conn.close()


def wait_for(cond, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def new_request_refused(gw):
    """Poll (5 s bound) until a request on a new connection gets 503 or is
    refused: each worker starts draining when its loop takes the stop event."""
    seen = []
    end = time.time() + 5
    while time.time() < end:
        try:
            st, _ct, _body = http_post(gw.port, b"x", timeout=10)
        except OSError as e:
            st = "refused (%s)" % e
        seen.append(st)
        if st == 503 or str(st).startswith("refused"):
            return True, seen
        time.sleep(0.1)
    return False, seen


def held_ir(t, gw, k):
    proxy = KeepAliveHold(gw)
    r = gw.cmp(k, server="127.0.0.1:%d" % proxy.port, timeout=20)
    t.ok(len(proxy.held) == 1, "device %d: ip received, its certConf held" % k, repr(r))
    t.eq(gw.scalar("SELECT state FROM transactions WHERE device_serial = 'ACME-%04d'" % k),
         "issued", "device %d: the transaction awaits its certConf" % k)
    return proxy


def main(t):
    pg = Pg()

    def patch(cfg):
        cfg.setdefault("http", {})["drain_s"] = 10
        cfg["aliases"][0]["implicit_confirm"] = False
    gw = Gateway(t, pg, devices=3, name="drain", patch=patch)

    # ---- the certConf after SIGTERM is served and confirms ----------------
    gw.start()
    proxy = held_ir(t, gw, 1)
    gw.proc.send_signal(signal.SIGTERM)
    t.ok(wait_for(lambda: "draining" in gw.log_text()), "SIGTERM starts the drain")
    ok, seen = new_request_refused(gw)
    t.ok(ok, "a request on a new connection gets 503 while draining", seen)
    time.sleep(1)
    t.ok(gw.alive(), "the gateway waits for the transaction left open")
    if proxy.held:
        try:
            status, hdrs, data = proxy.send(proxy.held[0])
            m = CmpMsg(data) if status == 200 else None
        except Exception as e:  # noqa
            status, hdrs, m = repr(e), {}, None
        t.ok(status == 200 and m is not None and m.body_type == "pkiconf",
             "its certConf on the same connection gets pkiConf",
             "HTTP %s %s" % (status, m.describe() if m else None))
        t.eq(hdrs.get("connection", "").lower(), "close",
             "that answer closes the connection (the drain goes on)")
    t.eq(gw.psql("SELECT t.state, c.status FROM transactions t JOIN certificates c"
                 " ON c.id = t.cert_id WHERE t.device_serial = 'ACME-0001'"),
         [["confirmed", "active"]], "the transaction is confirmed, the certificate active")
    rc = gw.stop(timeout=15, check=False)  # already signalled: waits for the exit
    t.eq(rc, 0, "the gateway then exits 0", gw.log_tail())
    t.ok("drained: every request in flight was answered" in gw.log_text(),
         "the log says nothing was cut", gw.log_tail())
    proxy.close()

    # ---- a client that never confirms is cut after drain_s ----------------
    gw.cfg["http"]["drain_s"] = 2
    gw.write_config(gw.cfg)
    gw.start()
    proxy = held_ir(t, gw, 2)
    t0 = time.time()
    gw.proc.send_signal(signal.SIGTERM)
    rc = gw.stop(timeout=20, check=False)
    took = time.time() - t0
    t.eq(rc, 0, "no certConf: the gateway exits 0 once drain_s is over", gw.log_tail())
    t.ok(took < 2 * 3, "within a generous bound of drain_s 2 (%.1f s)" % took)
    t.ok("1 request(s) still in flight are cut" in gw.log_text(),
         "the log counts the open transaction as cut", gw.log_tail())
    proxy.close()


if __name__ == "__main__":
    run(main)
