-- 004: certificate renewal (kur, and ir/cr/p10cr signed with an operator
-- certificate this CA issued; 3GPP TS 33.310 9.5.4, RFC 9483 4.1.3).

ALTER TABLE transactions ADD COLUMN old_cert_id bigint REFERENCES certificates;
ALTER TABLE transactions ADD COLUMN revoke_old boolean NOT NULL DEFAULT false;

-- Commit a renewal. Re-checks the old certificate under a row lock, so a
-- concurrent revocation wins. Returns 'ok' or a reason: old_unknown,
-- old_revoked, old_superseded, old_unconfirmed, serial_blocked, tid_in_use.
CREATE FUNCTION cmpgw_renew_commit(
    p_tid bytea, p_alias text, p_body text, p_old_id bigint, p_sender_fp bytea,
    p_sender_cert bytea, p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer, p_revoke_old boolean,
    p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o certificates%ROWTYPE;
    vname text;
    sstate text;
    cid bigint;
    reason text;
BEGIN
    SELECT * INTO o FROM certificates WHERE id = p_old_id FOR UPDATE;
    IF NOT FOUND THEN
        reason := 'old_unknown';
    ELSIF o.status = 'revoked' THEN
        reason := 'old_revoked';
    ELSIF o.status = 'superseded' THEN
        reason := 'old_superseded';
    ELSIF o.status = 'unconfirmed' THEN
        reason := 'old_unconfirmed';
    END IF;
    IF reason IS NULL AND o.vendor_id IS NOT NULL THEN
        SELECT name INTO vname FROM vendors WHERE id = o.vendor_id;
        SELECT state INTO sstate FROM serials
         WHERE vendor_id = o.vendor_id AND serial = o.device_serial;
        IF sstate = 'blocked' THEN
            reason := 'serial_blocked';
        END IF;
    END IF;
    IF reason IS NULL AND EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    END IF;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES ('rejected', p_alias, p_tid, vname, o.device_serial, p_peer,
                p_body || ' (renewal): ' || reason);
        RETURN reason;
    END IF;

    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), 'unconfirmed', o.vendor_id, o.device_serial, p_key_fp,
            p_alias)
    RETURNING id INTO cid;

    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                             client_nonce, cert_req_id, cert_id, cert_hash, implicit_confirm,
                             confirm_deadline, vendor_id, device_serial, old_cert_id, revoke_old)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, p_cert_req_id, cid,
            p_cert_hash, p_implicit, now() + make_interval(secs => p_deadline_s),
            o.vendor_id, o.device_serial, p_old_id, p_revoke_old);

    IF p_implicit THEN
        PERFORM cmpgw_activate(cid, o.vendor_id, o.device_serial, p_old_id, p_revoke_old);
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, vname, o.device_serial, p_peer,
            p_body || ' (renewal of serial ' || o.serial_hex || '): serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;

-- Make a newly confirmed certificate the device's active one: earlier
-- active certificates become superseded, or the renewed one is revoked
-- with reason superseded (RFC 5280 5.3.1 code 4) when the profile says so.
CREATE FUNCTION cmpgw_activate(p_cert bigint, p_vendor bigint, p_serial text,
                               p_old bigint, p_revoke_old boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_revoke_old AND p_old IS NOT NULL THEN
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 4
         WHERE id = p_old AND status IN ('active', 'superseded');
    END IF;
    UPDATE certificates SET status = 'superseded'
     WHERE device_serial = p_serial AND vendor_id IS NOT DISTINCT FROM p_vendor
       AND status = 'active' AND id <> p_cert;
    UPDATE certificates SET status = 'active' WHERE id = p_cert;
    IF p_vendor IS NOT NULL THEN
        UPDATE serials SET state = 'enrolled', enrolled_at = coalesce(enrolled_at, now()),
                           updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial AND state <> 'blocked';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION cmpgw_confirm(p_tid bytea, p_accept boolean, p_peer text, p_detail text)
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
        PERFORM cmpgw_activate(t.cert_id, t.vendor_id, t.device_serial, t.old_cert_id,
                               t.revoke_old);
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
