-- 019: trust anchors and intermediates submitted through the admin API
-- (issue 14; docs/VENDORS.md, docs/ADMIN.md). A vendor:X principal may
-- submit a CA certificate for X, but only an operator's approval registers
-- it in vendor_certs (what enrollments trust): a vendor can never make the
-- gateway trust a new root on its own. A submission is one certificate,
-- checked as `cmpgw vendor anchor|intermediate add` checks it when it is
-- submitted and again when it is approved.
-- state: pending -> approved | rejected (operator, with a reason) |
-- withdrawn (the submitting vendor or an operator, while pending).
CREATE TABLE vendor_submissions (
	id           bigserial PRIMARY KEY,
	vendor_id    bigint NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
	kind         text NOT NULL CHECK (kind IN ('anchor', 'intermediate')),
	der          bytea NOT NULL CHECK (octet_length(der) BETWEEN 1 AND 65536),
	-- SHA-256 of der, as vendor_certs.fingerprint
	fingerprint  bytea NOT NULL CHECK (octet_length(fingerprint) = 32),
	subject      text NOT NULL,
	not_after    timestamptz NOT NULL,
	state        text NOT NULL DEFAULT 'pending'
	             CHECK (state IN ('pending', 'approved', 'rejected', 'withdrawn')),
	submitted_by text NOT NULL,
	submitted_at timestamptz NOT NULL DEFAULT now(),
	decided_by   text,
	decided_at   timestamptz,
	reason       text CHECK (reason IS NULL OR length(reason) <= 1024),
	CHECK ((state = 'pending') = (decided_by IS NULL AND decided_at IS NULL))
);
-- One pending submission per certificate and vendor: a second one is a
-- duplicate, not a second vote.
CREATE UNIQUE INDEX vendor_submissions_pending
	ON vendor_submissions (vendor_id, fingerprint) WHERE state = 'pending';
CREATE INDEX vendor_submissions_vendor ON vendor_submissions (vendor_id, id);
