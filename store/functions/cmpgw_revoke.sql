-- cmpgw_revoke: revoke one certificate of p_issuer (RFC 4210 5.3.9). p_holder_fp is the
-- SHA-256 of the requesting certificate when its holder asks (it must be
-- that very certificate); NULL for an authorized revoker or the CLI.
-- p_reason is an RFC 5280 CRLReason; 8 (removeFromCRL) releases a
-- certificateHold. Returns: ok, released, unknown, revoked, not_holder,
-- not_on_hold. Rejections write only an audit row. Revoking an unconfirmed
-- certificate closes its transaction, so a later certConf cannot activate it.
CREATE OR REPLACE FUNCTION cmpgw_revoke(p_issuer text, p_serial_hex text, p_reason integer,
                             p_holder_fp bytea, p_alias text, p_tid bytea, p_peer text,
                             p_by text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    c certificates%ROWTYPE;
    result text;
BEGIN
    SELECT * INTO c FROM certificates
     WHERE issuer = p_issuer AND serial_hex = p_serial_hex FOR UPDATE;
    IF NOT FOUND THEN
        result := 'unknown';
    ELSIF p_holder_fp IS NOT NULL AND sha256(c.der) <> p_holder_fp THEN
        result := 'not_holder';
    ELSIF p_reason = 8 THEN
        IF c.status = 'revoked' AND c.revocation_reason = 6 THEN
            UPDATE certificates SET status = 'active', revoked_at = NULL, revocation_reason = NULL
             WHERE id = c.id;
            result := 'released';
        ELSE
            result := 'not_on_hold';
        END IF;
    ELSIF c.status = 'revoked' THEN
        result := 'revoked';
    ELSE
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = p_reason
         WHERE id = c.id;
        UPDATE transactions SET state = 'revoked', updated_at = now()
         WHERE cert_id = c.id AND state = 'issued';
        result := 'ok';
    END IF;
    INSERT INTO audit(event, alias, tid, device_serial, peer, detail)
    VALUES (CASE result WHEN 'ok' THEN 'revoked' WHEN 'released' THEN 'hold_released'
                        ELSE 'revoke_rejected' END,
            p_alias, p_tid, c.device_serial, p_peer,
            'serial ' || p_serial_hex || ' reason ' || p_reason || ' by ' || p_by || ': ' || result);
    RETURN result;
END $$;
