-- cmpgw_fwd_done: RA mode, the upstream CA issued (006, 009): store the
-- certificate and complete the pending transaction (cmpgw_issue): it
-- becomes 'issued' (certConf then works as in CA mode), or, with
-- p_implicit (the upstream granted implicitConfirm, nested style: RFC 9483
-- 5.2.2.1), 'confirmed' with the certificate active at once.
-- p_server_nonce (NULL: unchanged) becomes the senderNonce of our answers
-- in this transaction. p_vendor_key_fp binds the device's serial to the
-- vendor key if it has none yet (NULL for a renewal). Returns 'ok', 'gone'
-- (no longer pending) or 'duplicate' (the upstream sent a certificate
-- whose issuer and serial number we already hold).
CREATE OR REPLACE FUNCTION cmpgw_fwd_done(
    p_tid bytea, p_vendor_key_fp bytea, p_cert bytea, p_issuer text, p_serial_hex text,
    p_subject text, p_not_before double precision, p_not_after double precision,
    p_key_fp bytea, p_cert_hash bytea, p_upstream_nonce bytea, p_deadline_s integer,
    p_server_nonce bytea, p_implicit boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
    cid bigint;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND OR t.state <> 'pending' THEN
        RETURN 'gone';
    END IF;
    IF EXISTS (SELECT 1 FROM certificates WHERE issuer = p_issuer AND serial_hex = p_serial_hex)
    THEN
        RETURN 'duplicate';
    END IF;
    cid := cmpgw_issue(p_tid, true, t.alias, t.body_type, t.vendor_id, NULL, t.device_serial,
                       NULL, NULL, p_server_nonce, NULL, p_upstream_nonce, NULL, NULL,
                       t.old_cert_id,
                       p_cert, p_issuer, p_serial_hex, p_subject, p_not_before, p_not_after,
                       p_key_fp, p_cert_hash, p_implicit, p_deadline_s, t.revoke_old,
                       p_vendor_key_fp, NULL, NULL, t.body_type || ': by upstream, ');
    RETURN 'ok';
END $$;
