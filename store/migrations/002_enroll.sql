-- 002: the enrollment state machine as server-side functions, so that every
-- CMP message is exactly one statement (= one transaction, one round trip).

ALTER TABLE transactions ADD COLUMN sender_cert bytea;
ALTER TABLE transactions ADD COLUMN vendor_id bigint REFERENCES vendors;
ALTER TABLE transactions ADD COLUMN device_serial text;

-- Commit an issued certificate for an ir/cr. Returns 'ok' or a reason:
-- serial_unknown, serial_blocked, clone, reenroll_denied, tid_in_use.
-- Rejections write only an audit row.
CREATE FUNCTION cmpgw_ir_commit(
    p_tid bytea, p_alias text, p_body text, p_vendor bigint, p_vendor_name text,
    p_serial text, p_vendor_key_fp bytea, p_sender_fp bytea, p_sender_cert bytea,
    p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer,
    p_allow_reenroll boolean, p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s serials%ROWTYPE;
    cid bigint;
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
                p_alias, p_tid, p_vendor_name, p_serial, p_peer,
                p_body || ': ' || reason);
        RETURN reason;
    END IF;

    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), 'unconfirmed', p_vendor, p_serial, p_key_fp, p_alias)
    RETURNING id INTO cid;

    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                             client_nonce, cert_req_id, cert_id, cert_hash, implicit_confirm,
                             confirm_deadline, vendor_id, device_serial)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, p_cert_req_id, cid,
            p_cert_hash, p_implicit, now() + make_interval(secs => p_deadline_s),
            p_vendor, p_serial);

    UPDATE serials SET key_fp = p_vendor_key_fp, updated_at = now()
     WHERE vendor_id = p_vendor AND serial = p_serial AND key_fp IS NULL;

    IF p_implicit THEN
        UPDATE certificates SET status = 'superseded'
         WHERE vendor_id = p_vendor AND device_serial = p_serial AND status = 'active';
        UPDATE certificates SET status = 'active' WHERE id = cid;
        UPDATE serials SET state = 'enrolled', enrolled_at = now(), updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial;
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
            p_body || ': serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;

-- Apply a certConf decision. Returns the transaction state afterwards:
-- confirmed, rejected, or unknown / expired (revoked by the sweep).
-- A repeated certConf leaves the first decision in place.
CREATE FUNCTION cmpgw_confirm(p_tid bytea, p_accept boolean, p_peer text, p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF t.state = 'revoked' THEN
        RETURN 'expired';
    END IF;
    IF t.state <> 'issued' THEN
        RETURN t.state;
    END IF;
    IF p_accept THEN
        UPDATE certificates SET status = 'superseded'
         WHERE vendor_id = t.vendor_id AND device_serial = t.device_serial
           AND status = 'active' AND id <> t.cert_id;
        UPDATE certificates SET status = 'active' WHERE id = t.cert_id;
        UPDATE serials SET state = 'enrolled', enrolled_at = now(), updated_at = now()
         WHERE vendor_id = t.vendor_id AND serial = t.device_serial AND state <> 'blocked';
        UPDATE transactions SET state = 'confirmed', updated_at = now() WHERE tid = p_tid;
    ELSE
        -- RFC 5280 reason 0 (unspecified): the holder never accepted it.
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 0
         WHERE id = t.cert_id;
        UPDATE transactions SET state = 'rejected', updated_at = now() WHERE tid = p_tid;
    END IF;
    INSERT INTO audit(event, alias, tid, device_serial, peer, detail)
    VALUES (CASE WHEN p_accept THEN 'confirmed' ELSE 'rejected_by_client' END,
            t.alias, p_tid, t.device_serial, p_peer, p_detail);
    RETURN CASE WHEN p_accept THEN 'confirmed' ELSE 'rejected' END;
END $$;

-- Revoke certificates whose confirmation deadline passed (RFC 4210 5.3.18:
-- an unconfirmed certificate must not stay usable). Returns how many.
CREATE FUNCTION cmpgw_sweep() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH expired AS (
        UPDATE transactions SET state = 'revoked', updated_at = now()
         WHERE state = 'issued' AND confirm_deadline < now()
        RETURNING tid, cert_id, alias, device_serial
    ), revoked AS (
        UPDATE certificates c SET status = 'revoked', revoked_at = now(), revocation_reason = 0
          FROM expired e WHERE c.id = e.cert_id AND c.status = 'unconfirmed'
        RETURNING c.id
    ), logged AS (
        INSERT INTO audit(event, alias, tid, device_serial, detail)
        SELECT 'confirm_timeout', alias, tid, device_serial, 'unconfirmed past deadline, revoked'
          FROM expired
        RETURNING 1
    )
    SELECT count(*) INTO n FROM logged;
    RETURN n;
END $$;
