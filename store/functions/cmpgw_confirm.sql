-- cmpgw_confirm: apply a certConf decision, the two-step path (a token
-- transaction's MAC-protected certConf, one with hashAlg, RA mode; see
-- cmpgw_certconf). Returns the transaction state afterwards: confirmed,
-- rejected, or unknown / expired (revoked by the sweep or cmpgw_revoke).
-- A repeated certConf leaves the first decision in place.
CREATE OR REPLACE FUNCTION cmpgw_confirm(p_tid bytea, p_accept boolean, p_peer text,
                                         p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
    n integer;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'unknown';
    END IF;
    IF t.state = 'revoked' THEN
        RETURN 'expired';
    END IF;
    IF t.state <> 'issued' THEN
        RETURN t.state;
    END IF;
    IF p_accept THEN
        n := cmpgw_activate(t.cert_id, t.vendor_id, t.device_serial, t.old_cert_id,
                            t.revoke_old, NULL, NULL);
        UPDATE transactions SET state = 'confirmed', updated_at = now() WHERE tid = p_tid;
    ELSE
        -- RFC 5280 reason 0 (unspecified): the holder never accepted it.
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 0
         WHERE id = t.cert_id;
        UPDATE transactions SET state = 'rejected', updated_at = now() WHERE tid = p_tid;
    END IF;
    INSERT INTO audit(event, alias, tid, device_serial, peer, detail)
    VALUES (CASE WHEN p_accept THEN 'confirmed' ELSE 'rejected_by_client' END,
            t.alias, p_tid, t.device_serial, p_peer, p_detail);
    RETURN CASE WHEN p_accept THEN 'confirmed' ELSE 'rejected' END;
END $$;
