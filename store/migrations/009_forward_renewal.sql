-- 009: RA mode, continued: a renewal (kur) forwarded to the upstream CA,
-- and the nested style (RFC 9483 5.2.2.1), where the device's own
-- messages travel unchanged and our answers to it carry the upstream's
-- senderNonce, so that its certConf verifies upstream too.

-- Admission of a forwarded renewal: the same checks as cmpgw_renew_commit
-- (old certificate active, serial not blocked, transactionID unused),
-- plus: the old certificate was obtained through this alias. Returns 'ok'
-- or the reason; rejections write only an audit row.
CREATE FUNCTION cmpgw_fwd_begin_renew(
    p_tid bytea, p_alias text, p_body text, p_old_id bigint, p_sender_fp bytea,
    p_sender_cert bytea, p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_timeout_s integer, p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o certificates%ROWTYPE;
    vname text;
    reason text;
BEGIN
    SELECT * INTO o FROM certificates WHERE id = p_old_id FOR UPDATE;
    IF NOT FOUND OR o.alias IS DISTINCT FROM p_alias THEN
        reason := 'old_unknown';
    ELSIF o.status = 'revoked' THEN
        reason := 'old_revoked';
    ELSIF o.status = 'superseded' THEN
        reason := 'old_superseded';
    ELSIF o.status = 'unconfirmed' THEN
        reason := 'old_unconfirmed';
    ELSIF EXISTS (SELECT 1 FROM serials WHERE vendor_id = o.vendor_id
                     AND serial = o.device_serial AND state = 'blocked') THEN
        reason := 'serial_blocked';
    ELSIF EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    END IF;
    SELECT name INTO vname FROM vendors WHERE id = o.vendor_id;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES ('rejected', p_alias, p_tid, vname, o.device_serial, p_peer,
                p_body || ' (renewal): ' || reason);
        RETURN reason;
    END IF;
    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                             client_nonce, cert_req_id, vendor_id, device_serial, old_cert_id,
                             fwd_deadline)
    VALUES (p_tid, p_alias, p_body, 'pending', p_sender_fp, p_sender_cert, p_server_nonce,
            p_client_nonce, p_cert_req_id, o.vendor_id, o.device_serial, p_old_id,
            now() + make_interval(secs => p_timeout_s));
    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('forwarded', p_alias, p_tid, vname, o.device_serial, p_peer,
            p_body || ' (renewal of serial ' || o.serial_hex || '): to upstream');
    RETURN 'ok';
END $$;

-- cmpgw_fwd_done, now also for renewals and the nested style:
-- p_server_nonce (NULL: unchanged) becomes the senderNonce of our answers
-- in this transaction; p_implicit: the upstream granted implicitConfirm
-- (nested style, the device asked for it), so the certificate is active
-- at once. A renewal's serial binding is left alone (p_vendor_key_fp NULL).
-- Returns 'ok', 'gone' (no longer pending) or 'duplicate' (the upstream
-- sent a certificate whose issuer and serial number we already hold).
DROP FUNCTION cmpgw_fwd_done(bytea, bytea, bytea, text, text, text, double precision,
                             double precision, bytea, bytea, bytea, integer);
CREATE FUNCTION cmpgw_fwd_done(
    p_tid bytea, p_vendor_key_fp bytea, p_cert bytea, p_issuer text, p_serial_hex text,
    p_subject text, p_not_before double precision, p_not_after double precision,
    p_key_fp bytea, p_cert_hash bytea, p_upstream_nonce bytea, p_deadline_s integer,
    p_server_nonce bytea, p_implicit boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
    cid bigint;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND OR t.state <> 'pending' THEN
        RETURN 'gone';
    END IF;
    IF EXISTS (SELECT 1 FROM certificates WHERE issuer = p_issuer AND serial_hex = p_serial_hex)
    THEN
        RETURN 'duplicate';
    END IF;
    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), 'unconfirmed', t.vendor_id, t.device_serial, p_key_fp,
            t.alias)
    RETURNING id INTO cid;
    UPDATE transactions SET state = CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
           cert_id = cid, cert_hash = p_cert_hash, upstream_nonce = p_upstream_nonce,
           server_nonce = coalesce(p_server_nonce, server_nonce), implicit_confirm = p_implicit,
           confirm_deadline = now() + make_interval(secs => p_deadline_s), updated_at = now()
     WHERE tid = p_tid;
    IF p_vendor_key_fp IS NOT NULL THEN
        UPDATE serials SET key_fp = p_vendor_key_fp, updated_at = now()
         WHERE vendor_id = t.vendor_id AND serial = t.device_serial AND key_fp IS NULL;
    END IF;
    IF p_implicit THEN
        PERFORM cmpgw_activate(cid, t.vendor_id, t.device_serial, t.old_cert_id, t.revoke_old);
    END IF;
    INSERT INTO audit(event, alias, tid, device_serial, detail)
    VALUES ('issued', t.alias, p_tid, t.device_serial,
            t.body_type || ': by upstream, serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;
