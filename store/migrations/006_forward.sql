-- 006: RA mode (aliases[].mode "ra", RFC 9483 5.2): a request forwarded to
-- an upstream CA. The transaction row exists from the moment the request
-- leaves (state 'pending'), so that a replayed transactionID is refused and
-- any node can answer the device's pollReq from here; the certificate row
-- appears only once the upstream answered and the answer was verified.

ALTER TABLE transactions DROP CONSTRAINT transactions_state_check;
ALTER TABLE transactions ADD CONSTRAINT transactions_state_check
    CHECK (state IN ('issued', 'confirmed', 'rejected', 'revoked', 'closed', 'pending'));
-- Upstream side of the exchange: its senderNonce (our certConf's
-- recipNonce), the key fingerprint we asked for, and, once closed without
-- a certificate, the failure relayed to the device (answer to a poll).
ALTER TABLE transactions ADD COLUMN upstream_nonce bytea;
ALTER TABLE transactions ADD COLUMN fwd_fail_info integer;
ALTER TABLE transactions ADD COLUMN fwd_fail_text text;
ALTER TABLE transactions ADD COLUMN fwd_deadline timestamptz;

-- The functions (cmpgw_fwd_begin, cmpgw_fwd_done, cmpgw_fwd_fail,
-- cmpgw_fwd_sweep) live in store/functions/ (issue 12).
