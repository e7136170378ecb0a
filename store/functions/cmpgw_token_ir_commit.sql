-- cmpgw_token_ir_commit: consume a one-time enrollment token and commit
-- the certificate issued for it, atomically: of two racing requests with
-- one token, exactly one gets 'ok' (oneM2M enrolment tokens; PBMAC ir,
-- ra/token_ir.c). Returns 'ok' or a reason: tid_in_use (checked first,
-- cmpgw_admit), unknown, revoked, used, expired, alias. A refusal writes
-- only an audit row. Token identities have no vendor (vendor_id NULL);
-- the transaction remembers the token (its certConf is MAC-protected with
-- the same secret). p_revoke_old as in cmpgw_ir_commit (013).
CREATE OR REPLACE FUNCTION cmpgw_token_ir_commit(
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
    reason := cmpgw_admit(p_tid, NULL, NULL, false, NULL, true);
    IF reason = 'ok' THEN
        reason := NULL;
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
    cid := cmpgw_issue(p_tid, false, p_alias, p_body, NULL, 'token', t.identity,
                       sha256(convert_to('token:' || p_ref, 'UTF8')), NULL, p_server_nonce,
                       p_client_nonce, NULL, p_cert_req_id, p_ref, NULL,
                       p_cert, p_issuer, p_serial_hex, p_subject, p_not_before, p_not_after,
                       p_key_fp, p_cert_hash, p_implicit, p_deadline_s, p_revoke_old,
                       NULL, NULL, p_peer, p_body || ': token ' || p_ref || ': ');
    RETURN 'ok';
END $$;
