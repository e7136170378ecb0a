-- cmpgw_issue: the rows of an issued certificate. The one writer for every
-- path that stores one (cmpgw_ir_commit, cmpgw_ra_ir_commit,
-- cmpgw_renew_commit, cmpgw_token_ir_commit, cmpgw_fwd_done), called
-- after the caller's admission and under its locks, in one transaction:
--   - the certificate, active at once with implicitConfirm (008: no
--     insert-then-update), else unconfirmed until certConf;
--   - its transaction: confirmed with implicitConfirm, else issued and
--     awaiting certConf until now() + p_deadline_s (RFC 4210 5.3.18). A
--     request forwarded upstream (p_pending, RA mode) already has its
--     pending row (cmpgw_fwd_begin*): it is completed instead, with the
--     upstream's senderNonce and, if given, our new senderNonce;
--   - with implicitConfirm, cmpgw_activate (which also binds p_bind_key);
--     otherwise the serial is bound to p_bind_key if it has no key yet.
--     p_bind_key NULL: no binding to write (008: a vendor ir passes it
--     only while its locked serial row is unbound);
--   - the 'issued' audit row: p_audit || 'serial <hex>[ (implicitConfirm)]'.
-- Returns the certificate id. Callers assign it (cid := cmpgw_issue(...)),
-- an expression: no executor start-up per call.
CREATE OR REPLACE FUNCTION cmpgw_issue(
    p_tid bytea, p_pending boolean, p_alias text, p_body text, p_vendor bigint,
    p_vendor_name text, p_serial text, p_sender_fp bytea, p_sender_cert bytea,
    p_server_nonce bytea, p_client_nonce bytea, p_upstream_nonce bytea, p_cert_req_id bigint,
    p_token_ref text, p_old_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer, p_revoke_old boolean,
    p_bind_key bytea, p_enrolled_at timestamptz, p_peer text, p_audit text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    cid bigint;
    n integer;
BEGIN
    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), CASE WHEN p_implicit THEN 'active' ELSE 'unconfirmed' END,
            p_vendor, p_serial, p_key_fp, p_alias)
    RETURNING id INTO cid;

    IF p_pending THEN
        UPDATE transactions SET state = CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
               cert_id = cid, cert_hash = p_cert_hash, upstream_nonce = p_upstream_nonce,
               server_nonce = coalesce(p_server_nonce, server_nonce),
               implicit_confirm = p_implicit,
               confirm_deadline = now() + make_interval(secs => p_deadline_s),
               updated_at = now()
         WHERE tid = p_tid;
    ELSE
        INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert,
                                 server_nonce, client_nonce, cert_req_id, cert_id, cert_hash,
                                 implicit_confirm, confirm_deadline, vendor_id, device_serial,
                                 old_cert_id, revoke_old, token_ref)
        VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
                p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, p_cert_req_id, cid,
                p_cert_hash, p_implicit, now() + make_interval(secs => p_deadline_s),
                p_vendor, p_serial, p_old_id, p_revoke_old, p_token_ref);
    END IF;

    IF p_implicit THEN
        n := cmpgw_activate(cid, p_vendor, p_serial, p_old_id, p_revoke_old, p_bind_key,
                            p_enrolled_at);
    ELSIF p_bind_key IS NOT NULL THEN
        UPDATE serials SET key_fp = p_bind_key, updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial AND key_fp IS NULL;
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
            p_audit || 'serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN cid;
END $$;
