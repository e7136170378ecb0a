-- 020: indexes for the admin API's searches (issue 14; docs/ADMIN.md).
--
-- Measured on PostgreSQL 15 with 1,000,000 rows per table: the newest
-- page of GET /audit took 1.3 s and the status page's 24-hour window
-- 0.8-1.3 s without audit_ts; a transactionID or device serial search
-- 65-100 ms; GET /certificates/{serial} 650 ms and a device-serial search
-- 480 ms. With these, each is under 1 ms (the status page ~0.5 s: it
-- groups every row of the window).
--
-- audit is insert-only, so its indexes cost each insert a little and
-- never an update. The certificate columns indexed here never change
-- after insert, so certConf's and revocation's updates stay HOT (010);
-- status is deliberately not indexed for that reason.
--
-- A large existing table is locked against writes while an index builds
-- (about 1 s per million rows here; migrations run in one transaction, so
-- not CONCURRENTLY): on a gateway with tens of millions of audit rows, run
-- `cmpgw migrate` for this release in a quiet hour (README "Upgrades").
CREATE INDEX audit_ts ON audit (ts, id);
CREATE INDEX audit_tid ON audit (tid) WHERE tid IS NOT NULL;
CREATE INDEX audit_device ON audit (device_serial, ts) WHERE device_serial IS NOT NULL;
CREATE INDEX audit_event ON audit (event, ts);
CREATE INDEX certificates_serial ON certificates (serial_hex);
CREATE INDEX certificates_device_serial ON certificates (device_serial, id);
