#!/usr/bin/env python3
"""Migration 010 upgrades a database in place and keeps its answers.

A database is built at version 009 from the migration files themselves,
with certificates in every state (active, superseded, revoked, on hold,
unconfirmed with an open transaction). Then `cmpgw migrate` applies 010:
the revoked set (cmpgw_crl_fp and the CRL rows) is the same as before;
revoked_at is now tied to status 'revoked' by a CHECK, so a writer that
set one without the other would fail; a status change that was not a HOT
update at 009 (status named by certificates_revoked_idx's predicate) is
one now; issuer, serial_hex and device_serial compare under "C"; the
state columns still refuse values outside their sets (domains now). Then on
the upgraded database: an ir + certConf with `openssl cmp`, the sweep, a
revocation and a hold release, each leaving status and revoked_at in
step."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, run  # noqa: E402

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "store", "migrations")
ISSUER = "CN=Old Issuing CA"
CRL_ROWS = ("SELECT c.serial_hex, extract(epoch FROM c.revoked_at)::bigint,"
            " coalesce(c.revocation_reason, 0) FROM certificates c"
            " WHERE c.issuer = '%s' AND c.status = 'revoked' ORDER BY c.id" % ISSUER)


def apply_up_to(gw, last):
    """Run migrations 001..last as migrate.c would (one transaction each)."""
    gw.psql("CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())")
    for f in sorted(os.listdir(MIGRATIONS)):
        m = re.fullmatch(r"(\d{3})_([a-z0-9_]+)\.sql", f)
        if not m or int(m.group(1)) > last:
            continue
        with open(os.path.join(MIGRATIONS, f)) as fh:
            sql = fh.read()
        gw.psql("BEGIN;\n%s\n;INSERT INTO schema_migrations(version, name) VALUES (%d, '%s');"
                "COMMIT;" % (sql, int(m.group(1)), m.group(2)))


def old_rows(gw):
    """Certificates as 009 left them; returns {name: id}."""
    gw.psql("INSERT INTO vendors(name) VALUES ('old')")
    ids = {}
    for name, status, rev_at, reason in (
            ("active", "active", None, None),
            ("superseded", "superseded", None, None),
            ("revoked", "revoked", "2026-01-02 03:04:05+00", 1),
            ("hold", "revoked", "2026-02-03 04:05:06+00", 6),
            ("unconfirmed", "unconfirmed", None, None)):
        ids[name] = int(gw.scalar(
            "INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after,"
            " status, vendor_id, device_serial, key_fp, alias, revoked_at, revocation_reason)"
            " SELECT '%s', '%s', '\\x3000', 'CN=dev', now(), now() + interval '1 year', '%s',"
            " id, 'OLD-1', '\\x01', 'old', %s, %s FROM vendors WHERE name = 'old'"
            " RETURNING id" % (ISSUER, "0A" + "%02X" % len(ids), status,
                               "'%s'" % rev_at if rev_at else "NULL",
                               reason if reason is not None else "NULL")))
    gw.psql("INSERT INTO transactions(tid, alias, body_type, state, sender_fp, server_nonce,"
            " cert_req_id, cert_id, confirm_deadline, vendor_id, device_serial)"
            " SELECT '\\xaa01', 'old', 'ir', 'issued', '\\x01', '\\x02', 0, %d,"
            " now() + interval '1 hour', id, 'OLD-1' FROM vendors WHERE name = 'old'"
            % ids["unconfirmed"])
    return ids


def hot_updates(gw, cert_id):
    """(updates, HOT updates) of one status change, rolled back."""
    r = gw.psql("BEGIN; UPDATE certificates SET status = 'superseded' WHERE id = %d;"
                " SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
                " WHERE relname = 'certificates'; ROLLBACK" % cert_id)
    return (int(r[0][0]), int(r[0][1]))


def refused(gw, sql, constraint="certificates_revoked_at_check"):
    try:
        gw.psql(sql)
    except RuntimeError as e:
        return constraint in str(e)
    return False


def in_step(gw):
    """Certificates whose status and revoked_at disagree (none expected)."""
    return int(gw.scalar("SELECT count(*) FROM certificates"
                         " WHERE (status = 'revoked') <> (revoked_at IS NOT NULL)"))


def main(t):
    pg = Pg()
    gw = Gateway(t, pg, devices=2, register=False, name="migrate")
    apply_up_to(gw, 9)
    ids = old_rows(gw)
    fp_before = gw.scalar("SELECT cmpgw_crl_fp('%s')" % ISSUER)
    rows_before = gw.psql(CRL_ROWS)
    t.eq(fp_before, "2/%s" % gw.scalar("SELECT extract(epoch FROM timestamptz"
                                       " '2026-02-03 04:05:06+00')::text"),
         "009: fingerprint of the revoked set (2 revoked)")
    t.eq(hot_updates(gw, ids["active"]), (1, 0),
         "009: a status change is not a HOT update (status in an index predicate)")

    gw.register()  # cmpgw migrate, then vendor acme and its serials
    t.eq(gw.scalar("SELECT version FROM schema_migrations WHERE version = 10"), "10",
         "migrated to 010")
    t.eq(gw.scalar("SELECT cmpgw_crl_fp('%s')" % ISSUER), fp_before,
         "010: same fingerprint of the revoked set")
    t.eq(gw.psql(CRL_ROWS), rows_before, "010: same revoked rows")
    t.eq(gw.scalar("SELECT count(*) FROM certificates WHERE issuer = '%s'"
                   " AND revoked_at IS NOT NULL" % ISSUER), "2",
         "010: revoked_at IS NOT NULL selects the revoked rows")
    t.eq(gw.scalar("SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
                   " WHERE indexrelid = 'certificates_revoked_idx'::regclass"),
         "(revoked_at IS NOT NULL)", "010: revoked index keyed on revoked_at")
    t.eq(hot_updates(gw, ids["active"]), (1, 1), "010: a status change is a HOT update")
    plan = " ".join(r[0] for r in gw.psql(
        "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT 1 FROM transactions"
        " WHERE state = 'pending' AND fwd_deadline < now() - interval '10 seconds'"))
    t.ok("transactions_pending_idx" in plan,
         "010: the pending sweep (cmpgw_fwd_sweep) is indexed", plan)
    t.eq(gw.psql("SELECT attname, collname FROM pg_attribute a JOIN pg_collation c"
                 " ON c.oid = a.attcollation WHERE attrelid = 'certificates'::regclass"
                 " AND attname IN ('issuer', 'serial_hex', 'device_serial') ORDER BY 1"),
         [["device_serial", "C"], ["issuer", "C"], ["serial_hex", "C"]],
         "010: issuer, serial_hex, device_serial compare under \"C\"")
    t.ok("fillfactor=80" in (gw.scalar("SELECT array_to_string(reloptions, ',')"
                                       " FROM pg_class WHERE relname = 'certificates'") or ""),
         "010: certificates fillfactor 80")
    t.ok(refused(gw, "UPDATE certificates SET status = 'revoked' WHERE id = %d" % ids["active"]),
         "CHECK: status 'revoked' without revoked_at is refused")
    t.ok(refused(gw, "UPDATE certificates SET revoked_at = now() WHERE id = %d" % ids["active"]),
         "CHECK: revoked_at on a certificate that is not revoked is refused")
    for table, col, domain, key in (("certificates", "status", "cmpgw_cert_status",
                                     "id = %d" % ids["active"]),
                                    ("transactions", "state", "cmpgw_tx_state",
                                     "tid = '\\xaa01'"),
                                    ("serials", "state", "cmpgw_serial_state", "true")):
        t.ok(refused(gw, "UPDATE %s SET %s = 'bogus' WHERE %s" % (table, col, key),
                     domain + "_check"),
             "010: %s.%s still refuses a value outside its set (domain %s)"
             % (table, col, domain))
    t.eq(gw.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'c' AND conrelid IN"
                   " ('certificates'::regclass, 'transactions'::regclass, 'serials'::regclass)"),
         "1", "010: the only table CHECK left on them is certificates_revoked_at_check")

    # the upgraded database at work
    gw.start()
    r = gw.cmp(1)
    t.ok(r.rc == 0, "ir + certConf on the upgraded database", r.out)
    t.eq(gw.psql("SELECT c.status, c.revoked_at IS NULL, t.state FROM transactions t"
                 " JOIN certificates c ON c.id = t.cert_id WHERE t.alias <> 'old'"),
         [["active", "t", "confirmed"]], "certConf: certificate active, transaction confirmed")
    t.eq(gw.scalar("SELECT count(*) FROM audit WHERE event = 'confirmed'"), "1",
         "certConf: audited")
    r = gw.cmp(1)
    t.ok(r.rc == 0, "second ir + certConf of the same device", r.out)
    t.eq(gw.psql("SELECT status, count(*) FROM certificates WHERE alias <> 'old'"
                 " GROUP BY 1 ORDER BY 1"), [["active", "1"], ["revoked", "1"]],
         "re-enrolment: the earlier certificate revoked, reason superseded (012)")

    gw.psql("UPDATE transactions SET confirm_deadline = now() - interval '1 second'"
            " WHERE tid = '\\xaa01'")
    t.eq(gw.scalar("SELECT cmpgw_sweep()"), "1", "sweep: the old unconfirmed certificate")
    t.eq(gw.psql("SELECT status, revocation_reason FROM certificates WHERE id = %d"
                 % ids["unconfirmed"]), [["revoked", "0"]], "sweep: revoked, reason 0")
    t.eq(gw.scalar("SELECT cmpgw_revoke('%s', '0A00', 1, NULL, 'old', NULL, NULL, 'test')"
                   % ISSUER), "ok", "revoke: the old active certificate")
    t.eq(gw.scalar("SELECT cmpgw_revoke('%s', '0A03', 8, NULL, 'old', NULL, NULL, 'test')"
                   % ISSUER), "released", "revoke: hold released (removeFromCRL)")
    t.eq(gw.psql("SELECT status, revoked_at IS NULL FROM certificates WHERE id = %d"
                 % ids["hold"]), [["active", "t"]], "release: active, revoked_at cleared")
    t.eq(gw.scalar("SELECT split_part(cmpgw_crl_fp('%s'), '/', 1)" % ISSUER), "3",
         "fingerprint: 2 - 1 released + 1 swept + 1 revoked")
    t.eq(in_step(gw), 0, "status and revoked_at in step everywhere")
    gw.stop()


if __name__ == "__main__":
    run(main)
