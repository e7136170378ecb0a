-- 007: enrollment on behalf of a device by an authorized downstream RA
-- (RFC 9483 5.2). The RA authenticated the device; the CA checks the RA
-- (ra/downstream.c) and, when the RA's configuration names a vendor, that
-- the identity is on that vendor's serial list. No vendor key is bound to
-- the serial (the CA never saw one). The transaction's sender is the RA
-- certificate, so the RA sends certConf; cmpgw_confirm applies unchanged.

-- Same parameters as cmpgw_ir_commit; p_vendor may be NULL (RA without a
-- vendor: no serial list). Returns 'ok' or a reason: serial_unknown,
-- serial_blocked, reenroll_denied, tid_in_use. Rejections write only an
-- audit row.
CREATE FUNCTION cmpgw_ra_ir_commit(
    p_tid bytea, p_alias text, p_body text, p_vendor bigint, p_vendor_name text,
    p_serial text, p_ra_key_fp bytea, p_sender_fp bytea, p_sender_cert bytea,
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
    IF p_vendor IS NOT NULL THEN
        SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial FOR UPDATE;
        IF NOT FOUND THEN
            reason := 'serial_unknown';
        ELSIF s.state = 'blocked' THEN
            reason := 'serial_blocked';
        ELSIF s.state = 'enrolled' AND NOT p_allow_reenroll THEN
            reason := 'reenroll_denied';
        END IF;
    END IF;
    IF reason IS NULL AND EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    END IF;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES ('rejected', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
                p_body || ' (downstream RA): ' || reason);
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

    IF p_implicit THEN
        PERFORM cmpgw_activate(cid, p_vendor, p_serial, NULL, false);
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
            p_body || ' (downstream RA): serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;
