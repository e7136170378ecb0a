-- 013: a one-time-token enrollment follows the same rule as every other
-- enrollment (issue 10, finding 5): once the new certificate is confirmed,
-- the identity's other active certificates are revoked with reason
-- superseded when the profile's renewal_revokes_old is on (the default),
-- else only marked superseded. Before this, an implicitConfirm token
-- enrollment left the identity's earlier certificates active, and an
-- explicit one only superseded them.
--
-- cmpgw_token_ir_commit as in 005, plus p_revoke_old (before p_peer): the
-- same checks, reasons and audit rows. The flag is stored with the
-- transaction (the certConf path, cmpgw_confirm, applies it through
-- cmpgw_activate) and applied at once with implicitConfirm. Token
-- identities have no vendor (vendor_id NULL), like a downstream RA's.
DROP FUNCTION cmpgw_token_ir_commit(text, bytea, text, text, bytea, bytea, bigint, bytea, text,
                                    text, text, double precision, double precision, bytea,
                                    bytea, boolean, integer, text);

CREATE FUNCTION cmpgw_token_ir_commit(
    p_ref text, p_tid bytea, p_alias text, p_body text,
    p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer, p_revoke_old boolean,
    p_peer text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t tokens%ROWTYPE;
    cid bigint;
    reason text;
BEGIN
    IF EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    ELSE
        UPDATE tokens SET state = 'used', used_at = now()
         WHERE ref = p_ref AND alias = p_alias AND state = 'active'
           AND used_at IS NULL AND expires_at > now()
        RETURNING * INTO t;
        IF NOT FOUND THEN
            SELECT * INTO t FROM tokens WHERE ref = p_ref;
            reason := CASE WHEN NOT FOUND THEN 'unknown'
                           ELSE coalesce(cmpgw_token_refusal(t, p_alias), 'used') END;
        END IF;
    END IF;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES (CASE reason WHEN 'tid_in_use' THEN 'rejected' ELSE 'token_rejected' END,
                p_alias, p_tid, 'token', t.identity, p_peer,
                p_body || ': token ' || p_ref || ': ' || reason);
        RETURN reason;
    END IF;

    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), CASE WHEN p_implicit THEN 'active' ELSE 'unconfirmed' END,
            t.identity, p_key_fp, p_alias)
    RETURNING id INTO cid;

    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, server_nonce,
                             client_nonce, cert_req_id, cert_id, cert_hash, implicit_confirm,
                             confirm_deadline, device_serial, token_ref, revoke_old)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            sha256(convert_to('token:' || p_ref, 'UTF8')), p_server_nonce, p_client_nonce,
            p_cert_req_id, cid, p_cert_hash, p_implicit,
            now() + make_interval(secs => p_deadline_s), t.identity, p_ref, p_revoke_old);

    IF p_implicit THEN
        PERFORM cmpgw_activate(cid, NULL, t.identity, NULL, p_revoke_old);
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, 'token', t.identity, p_peer,
            p_body || ': token ' || p_ref || ': serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;
