-- cmpgw_fwd_begin_renew: RA mode, a renewal (kur) about to be forwarded:
-- the admission of cmpgw_renew_commit (cmpgw_admit: old certificate
-- active, serial not blocked, transactionID unused), plus: the old
-- certificate was obtained through this alias (else old_unknown). Returns
-- 'ok' or the reason; a refusal writes only an audit row.
CREATE OR REPLACE FUNCTION cmpgw_fwd_begin_renew(
    p_tid bytea, p_alias text, p_body text, p_old_id bigint, p_sender_fp bytea,
    p_sender_cert bytea, p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_timeout_s integer, p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    o certificates%ROWTYPE;
    s serials%ROWTYPE;
    ostatus text;
    vname text;
    reason text;
BEGIN
    SELECT * INTO o FROM certificates WHERE id = p_old_id FOR UPDATE;
    IF NOT FOUND OR o.alias IS DISTINCT FROM p_alias THEN
        ostatus := 'unknown';
    ELSE
        ostatus := o.status;
        SELECT * INTO s FROM serials WHERE vendor_id = o.vendor_id AND serial = o.device_serial;
    END IF;
    reason := cmpgw_admit(p_tid, ostatus, s, false, NULL, true);
    SELECT name INTO vname FROM vendors WHERE id = o.vendor_id;
    IF reason <> 'ok' THEN
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
