-- 005: one-time enrollment tokens for shared-secret (PasswordBasedMac) ir
-- (oneM2M enrolment tokens, username/password enrolment).
--
-- PBMAC (RFC 4210 5.1.3.1) needs the secret itself, so it cannot be a
-- one-way hash: secret_enc is AES-256-GCM ciphertext made by ra/token.c
-- (version || nonce || ciphertext || tag, additional data = ref). The key
-- never reaches the database.

CREATE TABLE tokens (
	ref        text PRIMARY KEY,  -- the client's senderKID
	alias      text NOT NULL,
	identity   text NOT NULL,     -- becomes ${serial} of the profile
	secret_enc bytea NOT NULL,
	state      text NOT NULL DEFAULT 'active'
	           CHECK (state IN ('active', 'used', 'revoked')),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);

-- A token transaction's certConf/pkiConf is MAC-protected with the same
-- secret: the transaction remembers the token.
ALTER TABLE transactions ADD COLUMN token_ref text REFERENCES tokens;

-- Why a token cannot be used now: revoked, used, expired, alias, or NULL.
CREATE FUNCTION cmpgw_token_refusal(t tokens, p_alias text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.state = 'revoked' THEN 'revoked'
                WHEN t.used_at IS NOT NULL OR t.state = 'used' THEN 'used'
                WHEN t.expires_at <= now() THEN 'expired'
                WHEN t.alias <> p_alias THEN 'alias'
           END
$$;

-- Consume the token and commit the certificate issued for it, atomically:
-- of two racing requests with one token, exactly one gets 'ok'. Returns
-- 'ok' or a reason: unknown, revoked, used, expired, alias, tid_in_use.
-- Rejections write only an audit row.
CREATE FUNCTION cmpgw_token_ir_commit(
    p_ref text, p_tid bytea, p_alias text, p_body text,
    p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer, p_peer text)
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
                             confirm_deadline, device_serial, token_ref)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            sha256(convert_to('token:' || p_ref, 'UTF8')), p_server_nonce, p_client_nonce,
            p_cert_req_id, cid, p_cert_hash, p_implicit,
            now() + make_interval(secs => p_deadline_s), t.identity, p_ref);

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, 'token', t.identity, p_peer,
            p_body || ': token ' || p_ref || ': serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;
