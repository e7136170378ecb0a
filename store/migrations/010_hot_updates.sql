-- 010: the third performance pass (issue 5), PostgreSQL side. Same
-- decisions, answers and audit rows as 008; less work per enrollment:
--
-- 1. A certificate's status change (unconfirmed -> active, active ->
--    superseded) becomes a HOT update. certificates_revoked_idx (003) had
--    `status` in its predicate, and a column named by any index (key,
--    expression or predicate) makes every update of it write a new entry
--    in every index of the table (pkey, (issuer, serial_hex), device). The
--    revoked set is now keyed on revoked_at, which every writer sets
--    exactly when it sets status 'revoked' (003 cmpgw_revoke, 004/008
--    cmpgw_activate, 002 cmpgw_sweep, 008 cmpgw_certconf) and clears when
--    a hold is released (003 cmpgw_revoke). The CHECK below makes that a
--    rule of the table, so `revoked_at IS NOT NULL` and `status =
--    'revoked'` select the same rows, now and later. A fillfactor below
--    100 leaves room on each page for the new row version (HOT needs it on
--    the same page).
-- 2. issuer, serial_hex and device_serial are compared bytewise (COLLATE
--    "C"), as 008 did for serials.serial: they are only ever compared for
--    equality (a deterministic collation's equality is bytewise anyway),
--    nothing sorts by them, and every B-tree step no longer calls strcoll.
-- 3. The state columns written by every enrollment (certificates.status,
--    transactions.state, serials.state) take their allowed values from a
--    domain instead of a table CHECK. Same values allowed, same refusal of
--    any other; but a table CHECK is re-read from its stored text and
--    re-planned at the start of every INSERT or UPDATE statement on the
--    table (ExecRelCheck: stringToNode + expression_planner), ~12 % of
--    PostgreSQL's instructions per enrollment under callgrind, while a
--    domain's check is planned once per session (typcache).
-- 4. An index for the RA-mode sweep of pending transactions (below).
-- 5. cmpgw_certconf applies the activation itself instead of calling
--    cmpgw_activate through a nested SELECT (an executor start-up and a
--    plpgsql call per certConf), and updates the row it already locked
--    by its ctid instead of a second primary-key search. (Issue 12: it
--    calls cmpgw_activate again, as an expression, without the executor
--    start-up; see store/functions/.)

DROP INDEX certificates_revoked_idx;

-- The domains start without their CHECK, so that changing a column's type
-- rewrites nothing; the CHECK added to the domain then validates every
-- existing row once (a scan). transactions_deadline_idx is rebuilt (its
-- predicate names state).
ALTER TABLE certificates DROP CONSTRAINT certificates_status_check;
ALTER TABLE transactions DROP CONSTRAINT transactions_state_check;
ALTER TABLE serials DROP CONSTRAINT serials_state_check;
CREATE DOMAIN cmpgw_cert_status AS text;
CREATE DOMAIN cmpgw_tx_state AS text;
CREATE DOMAIN cmpgw_serial_state AS text;

-- Indexes on issuer, serial_hex, device_serial are rebuilt; the table is
-- not rewritten.
ALTER TABLE certificates
    ALTER COLUMN status TYPE cmpgw_cert_status,
    ALTER COLUMN issuer TYPE text COLLATE "C",
    ALTER COLUMN serial_hex TYPE text COLLATE "C",
    ALTER COLUMN device_serial TYPE text COLLATE "C";
ALTER TABLE transactions ALTER COLUMN state TYPE cmpgw_tx_state;
ALTER TABLE serials ALTER COLUMN state TYPE cmpgw_serial_state;

-- the values of 001 (certificates, serials) and 006 (transactions)
ALTER DOMAIN cmpgw_cert_status ADD CONSTRAINT cmpgw_cert_status_check
    CHECK (VALUE IN ('unconfirmed', 'active', 'revoked', 'superseded'));
ALTER DOMAIN cmpgw_tx_state ADD CONSTRAINT cmpgw_tx_state_check
    CHECK (VALUE IN ('issued', 'confirmed', 'rejected', 'revoked', 'closed', 'pending'));
ALTER DOMAIN cmpgw_serial_state ADD CONSTRAINT cmpgw_serial_state_check
    CHECK (VALUE IN ('allowed', 'enrolled', 'blocked'));

ALTER TABLE certificates ADD CONSTRAINT certificates_revoked_at_check
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL));
CREATE INDEX certificates_revoked_idx ON certificates (issuer) WHERE revoked_at IS NOT NULL;

-- cmpgw_fwd_sweep (006), run by worker 0 every sweep_interval_s (10 s by
-- default) in CA mode too, looked for `state = 'pending'` with no index: a
-- scan of the whole transactions table, 0.42 s per call with 1M issued
-- certificates, and growing with the history. Only forwarded requests in
-- flight are pending, so this index stays tiny; a CA-mode row never
-- enters it. (The state update is non-HOT already, for
-- transactions_deadline_idx: see BENCHMARKS.md.)
CREATE INDEX transactions_pending_idx ON transactions (fwd_deadline) WHERE state = 'pending';

-- cmpgw_crl_fp (store/functions/) now reads the revoked set through the
-- index above (same rows, by the CHECK).

-- Applies to pages filled from now on. A certificate row is ~1 kB; 80 %
-- keeps ~1.6 kB per page for new versions until pruning frees the old.
ALTER TABLE certificates SET (fillfactor = 80);
