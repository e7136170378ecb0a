-- cmpgw_certconf: a certConf checked and applied in one call (ra/certconf.c,
-- 008). The caller did what needs the message: p_sender_fp is the SHA-256
-- of the signer certificate in extraCerts (NULL if it could not be
-- computed), p_sig_ok whether the protection verifies with it, p_accept
-- the client's decision; p_recip_nonce, p_cert_req_id and p_cert_hash are
-- the message's values (NULL when absent). The checks run in the order of
-- the two-step path (lookup, then cmpgw_confirm), so every answer is the
-- same. Returns:
--   unknown          no such transaction for this alias
--   slow             token transaction (its MAC key is in the database) or
--                    a stored certHash longer than any digest: the caller
--                    takes the two-step path; nothing was changed
--   not_sender, bad_signature, bad_nonce, bad_cert_req_id, bad_cert_hash
--                    refused; nothing was changed
--   else             what cmpgw_confirm returns: confirmed, rejected,
--                    expired, or the state of an already decided one.
-- The transaction row it locked is updated by its ctid, not by a second
-- primary-key search (010).
CREATE OR REPLACE FUNCTION cmpgw_certconf(p_tid bytea, p_alias text, p_sender_fp bytea,
                                          p_sig_ok boolean, p_recip_nonce bytea,
                                          p_cert_req_id bigint, p_cert_hash bytea,
                                          p_accept boolean, p_peer text, p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t record; -- a transactions row and its ctid (row_ctid)
    n integer;
BEGIN
    SELECT *, ctid AS row_ctid INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND OR t.alias <> p_alias THEN
        RETURN 'unknown';
    ELSIF t.token_ref IS NOT NULL OR octet_length(t.cert_hash) > 64 THEN
        RETURN 'slow';
    ELSIF p_sender_fp IS NULL OR t.sender_fp <> p_sender_fp THEN
        RETURN 'not_sender';
    ELSIF NOT p_sig_ok THEN
        RETURN 'bad_signature';
    ELSIF p_recip_nonce IS NULL OR t.server_nonce <> p_recip_nonce THEN
        RETURN 'bad_nonce';
    ELSIF t.cert_req_id <> p_cert_req_id THEN
        RETURN 'bad_cert_req_id';
    ELSIF p_cert_hash IS NULL OR coalesce(t.cert_hash, '') <> p_cert_hash THEN
        RETURN 'bad_cert_hash';
    END IF;

    -- as cmpgw_confirm, on the row locked above
    IF t.state = 'revoked' THEN
        RETURN 'expired';
    END IF;
    IF t.state <> 'issued' THEN
        RETURN t.state;
    END IF;
    IF p_accept THEN
        n := cmpgw_activate(t.cert_id, t.vendor_id, t.device_serial, t.old_cert_id,
                            t.revoke_old, NULL, NULL);
        -- the row is locked (FOR UPDATE above), so its ctid cannot change
        UPDATE transactions SET state = 'confirmed', updated_at = now() WHERE ctid = t.row_ctid;
    ELSE
        -- RFC 5280 reason 0 (unspecified): the holder never accepted it.
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 0
         WHERE id = t.cert_id;
        UPDATE transactions SET state = 'rejected', updated_at = now() WHERE ctid = t.row_ctid;
    END IF;
    INSERT INTO audit(event, alias, tid, device_serial, peer, detail)
    VALUES (CASE WHEN p_accept THEN 'confirmed' ELSE 'rejected_by_client' END,
            t.alias, p_tid, t.device_serial, p_peer, p_detail);
    RETURN CASE WHEN p_accept THEN 'confirmed' ELSE 'rejected' END;
END $$;
