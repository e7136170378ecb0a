-- cmpgw_fwd_begin: RA mode (aliases[].mode "ra", RFC 9483 5.2): a vendor
-- ir/cr about to be forwarded to the upstream CA. The admission of
-- cmpgw_ir_commit (cmpgw_admit, serial row locked), without issuing; the
-- transaction row exists from the moment the request leaves (state
-- 'pending'), so a replayed transactionID is refused and any node can
-- answer the device's pollReq. Returns 'ok' or the reason; a refusal
-- writes only an audit row.
CREATE OR REPLACE FUNCTION cmpgw_fwd_begin(
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
    reason := cmpgw_admit(p_tid, NULL, s, true, p_vendor_key_fp, p_allow_reenroll);
    IF reason <> 'ok' THEN
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
