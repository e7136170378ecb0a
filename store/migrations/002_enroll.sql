-- 002: the enrollment state machine as server-side functions, so that every
-- CMP message is exactly one statement (= one transaction, one round trip).
-- The transaction's sender and device, for those functions.

ALTER TABLE transactions ADD COLUMN sender_cert bytea;
ALTER TABLE transactions ADD COLUMN vendor_id bigint REFERENCES vendors;
ALTER TABLE transactions ADD COLUMN device_serial text;

-- The functions (cmpgw_ir_commit, cmpgw_confirm, cmpgw_sweep) live in
-- store/functions/ (issue 12).
