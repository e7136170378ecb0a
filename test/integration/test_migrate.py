#!/usr/bin/env python3
"""Old databases upgrade in place and keep their answers.

Old databases are built as the binaries of their time built them: from the
migration files as released before issue 12 (function bodies included),
read from git at OLD_MIGRATIONS. (Since issue 12 the files in the tree hold
tables only; the functions live in store/functions/ and are applied by the
current binary.)

1. 009 -> current. A database at 009 with certificates in every state
(active, superseded, revoked, on hold, unconfirmed with an open
transaction); `cmpgw migrate` applies 010 and everything after: the
revoked set (cmpgw_crl_fp and the CRL rows) is the same as before;
revoked_at is now tied to status 'revoked' by a CHECK, so a writer that set
one without the other would fail; a status change that was not a HOT
update at 009 (status named by certificates_revoked_idx's predicate) is
one now; issuer, serial_hex and device_serial compare under "C"; the state
columns still refuse values outside their sets (domains now). Then on the
upgraded database: an ir + certConf with `openssl cmp`, the sweep, a
revocation and a hold release, each leaving status and revoked_at in step.

2. 010..014 -> current (issue 12). A database at each of 010..014,
populated through its own functions (vendor, serials, certificates issued
with and without implicitConfirm, one revoked, an ir awaiting certConf, a
request pending upstream, tokens used and unused, their audit rows). After
`cmpgw migrate`: every row is as it was; the certConf, the upstream's
answer, the unused token, a renewal and a replay all get the answers of
the current functions; `openssl cmp` enrolls.

Both: the upgraded schema is the schema of a fresh database (normalised
pg_dump --schema-only of both, test_schema.py)."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Gateway, Pg, run  # noqa: E402
from test_schema import diff, dump_schema  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# The last commit with function bodies in store/migrations/ (001..014).
OLD_MIGRATIONS = "4a022eabec5f0dd7155dd6d6420f065fe44fdb37"
ISSUER = "CN=Old Issuing CA"
CRL_ROWS = ("SELECT c.serial_hex, extract(epoch FROM c.revoked_at)::bigint,"
            " coalesce(c.revocation_reason, 0) FROM certificates c"
            " WHERE c.issuer = '%s' AND c.status = 'revoked' ORDER BY c.id" % ISSUER)


def git(*args):
    """git on this source tree (CMPGW_GIT_DIR: a copy's repository)."""
    where = (["--git-dir", os.environ["CMPGW_GIT_DIR"]] if os.environ.get("CMPGW_GIT_DIR")
             else ["-C", ROOT])
    p = subprocess.run(["git"] + where + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if p.returncode != 0:
        raise RuntimeError("git %s: %s" % (" ".join(args), p.stderr.strip()))
    return p.stdout


def old_migrations(last):
    """[(version, name, sql)] of the released migrations 001..last."""
    out = []
    for f in git("ls-tree", "--name-only", "%s:store/migrations" % OLD_MIGRATIONS).split():
        version, name = int(f[:3]), f[4:-4]
        if version <= last:
            out.append((version, name, git("show", "%s:store/migrations/%s"
                                           % (OLD_MIGRATIONS, f))))
    return out


def apply_up_to(gw, last):
    """Build a database at version last as the binaries of its time did."""
    gw.psql("CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())")
    for version, name, sql in old_migrations(last):
        gw.psql("BEGIN;\n%s\n;INSERT INTO schema_migrations(version, name) VALUES (%d, '%s');"
                "COMMIT;" % (sql, version, name))


def fresh_schema(t, pg):
    gw = Gateway(t, pg, devices=2, register=False, name="migrate_fresh")
    gw.must("migrate")
    return dump_schema(pg, gw.db)


def same_schema(t, pg, gw, fresh, label):
    got = dump_schema(pg, gw.db)
    t.ok(got == fresh, "%s: the upgraded schema is the fresh one" % label,
         diff(fresh, got, "fresh database", "upgraded database"))


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


def from_009(t, pg, fresh):
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

    same_schema(t, pg, gw, fresh, "009")

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


# --- 010..014 -> current --------------------------------------------------------

ISSUER10 = "CN=Issuing CA 010"
VENDOR = "(SELECT id FROM vendors WHERE name = 'old')"
VALIDITY = "extract(epoch FROM now()), extract(epoch FROM now() + interval '1 year')"
TABLES = ("vendors", "vendor_certs", "serials", "certificates", "transactions", "tokens",
          "audit", "crls")


def ir_commit(gw, tid, serial, serial_hex, implicit, revoke_old=None):
    """cmpgw_ir_commit: 24 arguments at 010, 25 (p_revoke_old) since 012."""
    return gw.scalar(
        "SELECT cmpgw_ir_commit('\\x%s', 'old', 'ir', %s, 'old', '%s', '\\x0b', '\\x02', NULL,"
        " '\\x03', NULL, 0, '\\x3000', '%s', '%s', 'CN=%s', %s, '\\x04', '\\x05', %s, 300,"
        " true, %s'peer')" % (tid, VENDOR, serial, ISSUER10, serial_hex, serial, VALIDITY,
                              implicit, "" if revoke_old is None else revoke_old + ", "))


def token_commit(gw, ref, tid, serial_hex, revoke_old=None):
    """cmpgw_token_ir_commit: 18 arguments at 010, 19 (p_revoke_old) since 013."""
    return gw.scalar(
        "SELECT cmpgw_token_ir_commit('%s', '\\x%s', 'old', 'ir', '\\x03', NULL, 0, '\\x3000',"
        " '%s', '%s', 'CN=token', %s, '\\x04', '\\x05', false, 300, %s'peer')"
        % (ref, tid, ISSUER10, serial_hex, VALIDITY,
           "" if revoke_old is None else revoke_old + ", "))


def columns(gw):
    """{table: its columns, in order}: the schema the rows were written under."""
    return {tb: [r[0] for r in gw.psql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = '%s'"
        " AND table_schema = current_schema() ORDER BY ordinal_position" % tb)]
        for tb in TABLES}


def digests(gw, cols):
    """{table: md5 of all its rows over cols[table]}: the data, to compare
    before and after (columns a later migration adds do not count)."""
    def row(tb):
        return "row(%s)::text" % ", ".join('x."%s"' % c for c in cols[tb])
    return {tb: gw.scalar("SELECT md5(coalesce(string_agg(%s, '|' ORDER BY %s), ''))"
                          " FROM %s x" % (row(tb), row(tb), tb)) for tb in TABLES}


def populate(t, gw, v):
    """Rows made by the functions of version v; returns {serial_hex: certificate id}."""
    gw.psql("INSERT INTO vendors(name) VALUES ('old');"
            " INSERT INTO serials(vendor_id, serial) SELECT id, 'OLD-' || n FROM vendors,"
            " generate_series(1, 4) n WHERE name = 'old';"
            " INSERT INTO tokens(ref, alias, identity, secret_enc, expires_at) VALUES"
            " ('tok-used', 'old', 'TOK-1', '\\x00', now() + interval '1 day'),"
            " ('tok-open', 'old', 'TOK-2', '\\x00', now() + interval '1 day')")
    flag = "false" if v >= 12 else None  # p_revoke_old (012, 013)
    t.eq(ir_commit(gw, "aa01", "OLD-1", "1A01", "true", flag), "ok",
         "%03d: implicit ir (OLD-1)" % v)
    t.eq(ir_commit(gw, "aa02", "OLD-2", "1A02", "false", flag), "ok",
         "%03d: ir awaiting certConf (OLD-2)" % v)
    t.eq(gw.scalar("SELECT cmpgw_fwd_begin('\\xaa03', 'old', 'ir', %s, 'old', 'OLD-3',"
                   " '\\x0b', '\\x02', NULL, '\\x03', NULL, 0, true, 300, 'peer')" % VENDOR),
         "ok", "%03d: ir pending upstream (OLD-3)" % v)
    t.eq(ir_commit(gw, "aa04", "OLD-4", "1A04", "true", flag), "ok",
         "%03d: implicit ir (OLD-4)" % v)
    t.eq(gw.scalar("SELECT cmpgw_revoke('%s', '1A04', 1, NULL, 'old', NULL, NULL, 'test')"
                   % ISSUER10), "ok", "%03d: OLD-4's certificate revoked" % v)
    t.eq(token_commit(gw, "tok-used", "aa05", "1A05", "false" if v >= 13 else None), "ok",
         "%03d: token enrollment" % v)
    t.eq(gw.scalar("SELECT count(*) FROM audit"), "6", "%03d: six audit rows" % v)
    return {r[0]: int(r[1]) for r in gw.psql("SELECT serial_hex, id FROM certificates")}


def from_old(t, pg, fresh, v):
    gw = Gateway(t, pg, devices=2, register=False, name="migrate%03d" % v)
    apply_up_to(gw, v)
    ids = populate(t, gw, v)
    cols = columns(gw)
    before = digests(gw, cols)

    gw.must("migrate")
    t.ok(int(gw.scalar("SELECT max(version) FROM schema_migrations")) >= 15,
         "%03d: migrated to 015 or later" % v)
    after = digests(gw, cols)
    t.eq([tb for tb in TABLES if before[tb] != after[tb]], [],
         "%03d: every row of %s as it was" % (v, ", ".join(TABLES)))
    same_schema(t, pg, gw, fresh, "%03d" % v)

    # work begun at 010, finished by the current functions
    t.eq(gw.scalar("SELECT cmpgw_certconf('\\xaa02', 'old', '\\x02', true, '\\x03', 0,"
                   " '\\x05', true, 'peer', 'test')"), "confirmed",
         "%03d's ir awaiting certConf: confirmed" % v)
    t.eq(gw.psql("SELECT c.status, s.state FROM certificates c JOIN serials s"
                 " ON s.vendor_id = c.vendor_id AND s.serial = c.device_serial"
                 " WHERE c.id = %d" % ids["1A02"]), [["active", "enrolled"]],
         "%03d: certConf: certificate active, serial enrolled" % v)
    t.eq(gw.scalar("SELECT cmpgw_fwd_done('\\xaa03', '\\x0b', '\\x3000', 'CN=Upstream CA',"
                   " '0C03', 'CN=OLD-3', %s, '\\x04', '\\x05', '\\x06', 300, NULL, false)"
                   % VALIDITY), "ok", "%03d's request pending upstream: the upstream's answer" % v)
    t.eq(gw.psql("SELECT t.state, c.status, encode(s.key_fp, 'hex') FROM transactions t"
                 " JOIN certificates c ON c.id = t.cert_id JOIN serials s"
                 " ON s.vendor_id = t.vendor_id AND s.serial = t.device_serial"
                 " WHERE t.tid = '\\xaa03'"), [["issued", "unconfirmed", "0b"]],
         "%03d: fwd_done: issued, awaiting certConf, serial bound to the vendor key" % v)
    t.eq(token_commit(gw, "tok-open", "aa06", "1A06", "true"), "ok",
         "%03d's unused token: enrolls" % v)
    t.eq(token_commit(gw, "tok-used", "aa07", "1A07", "true"), "used",
         "%03d's used token: used" % v)
    t.eq(gw.scalar("SELECT cmpgw_renew_commit('\\xaa08', 'old', 'kur', %d, '\\x02', NULL,"
                   " '\\x03', NULL, 0, '\\x3000', '%s', '1A08', 'CN=OLD-1', %s, '\\x04',"
                   " '\\x05', true, 300, true, 'peer')" % (ids["1A01"], ISSUER10, VALIDITY)),
         "ok", "%03d: renewal of its certificate (implicitConfirm, revoke old)" % v)
    t.eq(gw.psql("SELECT serial_hex, status, coalesce(revocation_reason::text, '')"
                 " FROM certificates WHERE device_serial = 'OLD-1' ORDER BY id"),
         [["1A01", "revoked", "4"], ["1A08", "active", ""]],
         "%03d: renewal: the old certificate revoked (superseded), the new one active" % v)
    t.eq(ir_commit(gw, "aa01", "OLD-1", "1A09", "false", "true"), "tid_in_use",
         "%03d's transactionID replayed: tid_in_use" % v)
    t.eq(ir_commit(gw, "aa10", "OLD-4", "1A10", "false", "true"), "ok",
         "%03d: re-enrollment of OLD-4 (its certificate revoked)" % v)
    t.eq(in_step(gw), 0, "%03d: status and revoked_at in step everywhere" % v)

    gw.register()
    gw.start()
    r = gw.cmp(1)
    t.ok(r.rc == 0, "%03d: ir + certConf (openssl cmp) on the upgraded database" % v, r.out)
    t.eq(gw.psql("SELECT c.status, t.state FROM transactions t JOIN certificates c"
                 " ON c.id = t.cert_id WHERE t.alias <> 'old'"), [["active", "confirmed"]],
         "%03d: openssl cmp: certificate active, transaction confirmed" % v)
    gw.stop()


def main(t):
    pg = Pg()
    fresh = fresh_schema(t, pg)
    from_009(t, pg, fresh)
    for v in (10, 11, 12, 13, 14):
        from_old(t, pg, fresh, v)


if __name__ == "__main__":
    run(main)
