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

-- Same admission checks as cmpgw_ir_commit (serial list, clone, re-enrolment,
-- replay), without issuing. Returns 'ok' or the reason; rejections write
-- only an audit row.
CREATE FUNCTION cmpgw_fwd_begin(
    p_tid bytea, p_alias text, p_body text, p_vendor bigint, p_vendor_name text,
    p_serial text, p_vendor_key_fp bytea, p_sender_fp bytea, p_sender_cert bytea,
    p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_allow_reenroll boolean, p_timeout_s integer, p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s serials%ROWTYPE;
    reason text;
BEGIN
    SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial FOR UPDATE;
    IF NOT FOUND THEN
        reason := 'serial_unknown';
    ELSIF s.state = 'blocked' THEN
        reason := 'serial_blocked';
    ELSIF s.key_fp IS NOT NULL AND s.key_fp <> p_vendor_key_fp THEN
        reason := 'clone';
    ELSIF s.state = 'enrolled' AND NOT p_allow_reenroll THEN
        reason := 'reenroll_denied';
    ELSIF EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    END IF;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES (CASE reason WHEN 'clone' THEN 'clone_suspected' ELSE 'rejected' END,
                p_alias, p_tid, p_vendor_name, p_serial, p_peer, p_body || ': ' || reason);
        RETURN reason;
    END IF;
    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                             client_nonce, cert_req_id, vendor_id, device_serial, fwd_deadline)
    VALUES (p_tid, p_alias, p_body, 'pending', p_sender_fp, p_sender_cert, p_server_nonce,
            p_client_nonce, p_cert_req_id, p_vendor, p_serial,
            now() + make_interval(secs => p_timeout_s));
    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('forwarded', p_alias, p_tid, p_vendor_name, p_serial, p_peer, p_body || ': to upstream');
    RETURN 'ok';
END $$;

-- The upstream issued: store the certificate, bind the serial to the vendor
-- key, and make the transaction 'issued' (certConf then works as in CA
-- mode). Returns 'ok', or 'gone' if the transaction is no longer pending.
CREATE FUNCTION cmpgw_fwd_done(
    p_tid bytea, p_vendor_key_fp bytea, p_cert bytea, p_issuer text, p_serial_hex text,
    p_subject text, p_not_before double precision, p_not_after double precision,
    p_key_fp bytea, p_cert_hash bytea, p_upstream_nonce bytea, p_deadline_s integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
    cid bigint;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND OR t.state <> 'pending' THEN
        RETURN 'gone';
    END IF;
    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), 'unconfirmed', t.vendor_id, t.device_serial, p_key_fp,
            t.alias)
    RETURNING id INTO cid;
    UPDATE transactions SET state = 'issued', cert_id = cid, cert_hash = p_cert_hash,
           upstream_nonce = p_upstream_nonce,
           confirm_deadline = now() + make_interval(secs => p_deadline_s), updated_at = now()
     WHERE tid = p_tid;
    UPDATE serials SET key_fp = p_vendor_key_fp, updated_at = now()
     WHERE vendor_id = t.vendor_id AND serial = t.device_serial AND key_fp IS NULL;
    INSERT INTO audit(event, alias, tid, device_serial, detail)
    VALUES ('issued', t.alias, p_tid, t.device_serial,
            t.body_type || ': by upstream, serial ' || p_serial_hex);
    RETURN 'ok';
END $$;

-- The upstream exchange failed (down, timeout, garbage, bad protection,
-- refusal): close the transaction, keep the answer for a poll, audit.
CREATE FUNCTION cmpgw_fwd_fail(p_tid bytea, p_fail_info integer, p_text text, p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND OR t.state <> 'pending' THEN
        RETURN 'gone';
    END IF;
    UPDATE transactions SET state = 'closed', fwd_fail_info = p_fail_info,
           fwd_fail_text = p_text, updated_at = now()
     WHERE tid = p_tid;
    INSERT INTO audit(event, alias, tid, device_serial, detail)
    VALUES ('upstream_failed', t.alias, p_tid, t.device_serial, p_detail);
    RETURN 'ok';
END $$;

-- A forwarded request whose worker died never completes: close it at its
-- deadline (worker 0 calls it with cmpgw_sweep, every sweep_interval_s).
CREATE FUNCTION cmpgw_fwd_sweep() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH expired AS (
        UPDATE transactions SET state = 'closed', fwd_fail_info = 1 << 24, -- systemUnavail
               fwd_fail_text = 'upstream CA did not answer', updated_at = now()
         WHERE state = 'pending' AND fwd_deadline < now() - interval '10 seconds'
        RETURNING tid, alias, device_serial
    ), logged AS (
        INSERT INTO audit(event, alias, tid, device_serial, detail)
        SELECT 'upstream_failed', alias, tid, device_serial, 'pending past its deadline'
          FROM expired
        RETURNING 1
    )
    SELECT count(*) INTO n FROM logged;
    RETURN n;
END $$;
