-- cmpgw_renew_commit: commit a renewal (kur, and ir/cr/p10cr signed with
-- an operator certificate this CA issued; 3GPP TS 33.310 9.5.4, RFC 9483
-- 4.1.3). Locks the certificate being renewed, so a concurrent revocation
-- wins, and re-checks admission (cmpgw_admit: the old certificate's status,
-- the device's serial not blocked, the transactionID unused). Returns 'ok'
-- or a reason: old_unknown, old_revoked, old_superseded, old_unconfirmed,
-- serial_blocked, tid_in_use; a refusal writes only an audit row. With
-- p_revoke_old the renewed certificate is revoked (superseded) at
-- confirmation, with the device's other active ones (cmpgw_activate).
CREATE OR REPLACE FUNCTION cmpgw_renew_commit(
    p_tid bytea, p_alias text, p_body text, p_old_id bigint, p_sender_fp bytea,
    p_sender_cert bytea, p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer, p_revoke_old boolean,
    p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o certificates%ROWTYPE;
    s serials%ROWTYPE;
    vname text;
    cid bigint;
    reason text;
BEGIN
    SELECT * INTO o FROM certificates WHERE id = p_old_id FOR UPDATE;
    -- the vendor (audit) and the serial only for a renewable certificate
    IF o.status = 'active' AND o.vendor_id IS NOT NULL THEN
        SELECT name INTO vname FROM vendors WHERE id = o.vendor_id;
        SELECT * INTO s FROM serials WHERE vendor_id = o.vendor_id AND serial = o.device_serial;
    END IF;
    reason := cmpgw_admit(p_tid, coalesce(o.status, 'unknown'), s, false, NULL, true);
    IF reason <> 'ok' THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES ('rejected', p_alias, p_tid, vname, o.device_serial, p_peer,
                p_body || ' (renewal): ' || reason);
        RETURN reason;
    END IF;
    cid := cmpgw_issue(p_tid, false, p_alias, p_body, o.vendor_id, vname, o.device_serial,
                       p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, NULL,
                       p_cert_req_id, NULL, p_old_id,
                       p_cert, p_issuer, p_serial_hex, p_subject, p_not_before, p_not_after,
                       p_key_fp, p_cert_hash, p_implicit, p_deadline_s, p_revoke_old,
                       NULL, NULL, p_peer,
                       p_body || ' (renewal of serial ' || o.serial_hex || '): ');
    RETURN 'ok';
END $$;
