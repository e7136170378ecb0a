-- cmpgw_ir_commit: commit a certificate issued for a vendor-certificate
-- ir/cr (ra/ir.c, store/enroll.c). Locks the device's serial row and
-- re-checks admission (cmpgw_admit: a request admitted by cmpgw_ir_admit
-- can still lose a race), then writes the rows (cmpgw_issue). Returns 'ok'
-- or a reason: serial_unknown, serial_blocked, clone, reenroll_denied,
-- tid_in_use. A refusal writes only an audit row ('clone_suspected' for a
-- clone, else 'rejected'). p_revoke_old is stored with the transaction
-- (certConf applies it) and applied at once with implicitConfirm (012).
-- One call, one statement, one round trip per commit.
CREATE OR REPLACE FUNCTION cmpgw_ir_commit(
    p_tid bytea, p_alias text, p_body text, p_vendor bigint, p_vendor_name text,
    p_serial text, p_vendor_key_fp bytea, p_sender_fp bytea, p_sender_cert bytea,
    p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer,
    p_allow_reenroll boolean, p_revoke_old boolean, p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s serials%ROWTYPE;
    cid bigint;
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
    -- the key binding is written only while the locked row has none (008)
    cid := cmpgw_issue(p_tid, false, p_alias, p_body, p_vendor, p_vendor_name, p_serial,
                       p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, NULL,
                       p_cert_req_id, NULL, NULL,
                       p_cert, p_issuer, p_serial_hex, p_subject, p_not_before, p_not_after,
                       p_key_fp, p_cert_hash, p_implicit, p_deadline_s, p_revoke_old,
                       CASE WHEN s.key_fp IS NULL THEN p_vendor_key_fp END, now(), p_peer,
                       p_body || ': ');
    RETURN 'ok';
END $$;
