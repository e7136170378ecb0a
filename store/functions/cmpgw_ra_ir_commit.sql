-- cmpgw_ra_ir_commit: commit a certificate issued for a device on behalf
-- of an authorized downstream RA (RFC 9483 5.2, ra/downstream.c). Same
-- parameters as cmpgw_ir_commit; p_vendor NULL (an RA without a vendor)
-- checks no serial list, and no vendor key is bound (the CA never saw one;
-- p_ra_key_fp is unused). Returns 'ok' or a reason: serial_unknown,
-- serial_blocked, reenroll_denied, tid_in_use; a refusal writes only an
-- audit row. The transaction's sender is the RA, so the RA sends certConf.
CREATE OR REPLACE FUNCTION cmpgw_ra_ir_commit(
    p_tid bytea, p_alias text, p_body text, p_vendor bigint, p_vendor_name text,
    p_serial text, p_ra_key_fp bytea, p_sender_fp bytea, p_sender_cert bytea,
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
    IF p_vendor IS NOT NULL THEN
        SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial FOR UPDATE;
    END IF;
    reason := cmpgw_admit(p_tid, NULL, s, p_vendor IS NOT NULL, NULL, p_allow_reenroll);
    IF reason <> 'ok' THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES ('rejected', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
                p_body || ' (downstream RA): ' || reason);
        RETURN reason;
    END IF;
    cid := cmpgw_issue(p_tid, false, p_alias, p_body, p_vendor, p_vendor_name, p_serial,
                       p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, NULL,
                       p_cert_req_id, NULL, NULL,
                       p_cert, p_issuer, p_serial_hex, p_subject, p_not_before, p_not_after,
                       p_key_fp, p_cert_hash, p_implicit, p_deadline_s, p_revoke_old,
                       NULL, NULL, p_peer, p_body || ' (downstream RA): ');
    RETURN 'ok';
END $$;
