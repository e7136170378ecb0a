#!/usr/bin/env python3
"""Vendor registry changes reach every worker promptly (issue 11).

Migration 014 makes PostgreSQL announce every change to vendors and
vendor_certs on channel cmpgw_registry; each worker LISTENs on it
(store/listen.c) and reloads its registry when told, instead of the
5-second poll it ran before (a 60 s safety reload remains).

With the gateway running (2 workers) and vendor beta unknown to it, the
test registers beta (vendor, anchor, serials) through the CLI and
enrolls a beta device with the stock `openssl cmp`: it must succeed within
a generous bound (the old 5 s poll usually missed it). Then more beta
devices enroll at the first attempt, so both workers have the new vendor,
and so does a second node (another cmpgw serve on the same database).
After PostgreSQL restarts (connections dropped), the listeners come back
and a further registration (vendor gamma) propagates the same way."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, make_root, new_key, run, sign_cert  # noqa: E402

BOUND_S = 3.0  # generous: a notification plus one reload take milliseconds
DEVICES = 5    # per new vendor


def main(t):
    def patch(cfg):
        cfg["workers"] = 2
        cfg["aliases"][0]["vendors"] = ["acme", "beta", "gamma"]

    pg = Pg()
    gw = Gateway(t, pg, devices=3, name="registry", patch=patch)

    def patch2(cfg):
        patch(cfg)
        cfg["database"]["url"] = pg.url(gw.db)  # a second node on the same database

    gw2 = Gateway(t, pg, devices=2, name="registry2", register=False, patch=patch2)

    def vendor_pki(name):
        """A vendor root and DEVICES device certificates signed by it."""
        root, rkey = make_root(gw.tmp, name + "-root", "/O=%s/CN=%s Root CA" % (name, name))
        serials = os.path.join(gw.tmp, name + "-serials.txt")
        devs = []
        with open(serials, "w") as f:
            for k in range(1, DEVICES + 1):
                serial = "%s-%04d" % (name.upper(), k)
                devs.append(sign_cert(gw.tmp, "%s-%04d" % (name, k),
                                      "/serialNumber=%s/O=%s/CN=%s Router" % (serial, name, name),
                                      root, rkey))
                f.write(serial + "\n")
        return root, serials, devs

    def enroll(name, k, dev, node=None):
        r = (node or gw).cmp(cert=dev[0], key=dev[1], extracerts=None,
                   newkey=new_key(os.path.join(gw.tmp, "%s-new-%04d.key" % (name, k))),
                   subject="/CN=%s-%04d" % (name.upper(), k), timeout=10)
        return r.rc == 0 and os.path.exists(r.certout), r

    def register(name, root, serials):
        gw.must("vendor", "add", name)
        gw.must("vendor", "anchor", "add", name, root)
        gw.must("serials", "import", name, serials)
        return time.monotonic()

    def propagates(name, root, serials, devs):
        """Register name while the gateway runs; its first device enrolls
        within BOUND_S, the others at their first attempt."""
        ok, r = enroll(name, 1, devs[0])
        t.ok(not ok, "%s: unknown to the gateway before it is registered" % name, repr(r))
        t0 = register(name, root, serials)
        tries = 0
        while True:
            tries += 1
            ok, r = enroll(name, 1, devs[0])
            took = time.monotonic() - t0
            if ok or took > BOUND_S:
                break
            time.sleep(0.05)
        t.ok(ok, "%s: a device enrolls within %.0f s of the registration" % (name, BOUND_S),
             "%s\nlog tail:\n%s" % (repr(r), gw.log_tail()))
        t.diag("%s: first enrollment succeeded %.2f s after the registration (%d attempt(s))"
               % (name, took, tries))
        # each openssl cmp opens new connections: the two workers share them
        firsts = [enroll(name, k, devs[k - 1]) for k in range(2, DEVICES)]
        t.ok(all(ok for ok, _ in firsts),
             "%s: %d more devices enroll at their first attempt (both workers know it)"
             % (name, DEVICES - 2), "\n".join(repr(r) for ok, r in firsts if not ok))
        ok, r = enroll(name, DEVICES, devs[DEVICES - 1], node=gw2)
        t.ok(ok, "%s: the other node knows it at the first attempt" % name, repr(r))

    beta = vendor_pki("beta")
    gamma = vendor_pki("gamma")
    gw.start()
    gw2.start()
    r = gw.cmp(1)
    t.ok(r.rc == 0, "acme device 1 enrolls", repr(r))

    propagates("beta", *beta)

    # ---- PostgreSQL restarts: the listeners reconnect ------------------------
    pg.stop()
    pg.start()
    deadline = time.monotonic() + 30
    while True:
        r = gw.cmp(2, timeout=10)
        if r.rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    t.ok(r.rc == 0, "acme device 2 enrolls after PostgreSQL restarted", repr(r))
    for node, which in ((gw, "node 1"), (gw2, "node 2")):
        deadline = time.monotonic() + 10
        while node.log_text().count("listen cmpgw_registry: re-established") < 2 and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        t.eq(node.log_text().count("listen cmpgw_registry: re-established"), 2,
             "%s: both workers' LISTEN connections re-established" % which, node.log_tail())

    propagates("gamma", *gamma)

    t.ok(gw.alive() and gw2.alive(), "both nodes still running")
    gw.stop()
    gw2.stop()


if __name__ == "__main__":
    run(main)
