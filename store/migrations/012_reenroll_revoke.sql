-- 012: re-enrollment leaves exactly one valid certificate per device
-- (issue 10, finding 5). Until now a second vendor-certificate ir for an
-- enrolled serial (and a downstream RA's ir for a known identity) only
-- marked the device's earlier certificates superseded: still valid, never
-- on the CRL, so the device, or a clone holding its old key, kept two
-- valid operator certificates. profiles.<name>.renewal_revokes_old
-- (default true) now governs every confirmation of a new certificate for a
-- device: when set, every other active certificate of the device (same
-- vendor_id and device_serial; vendor_id NULL and device_serial for a
-- downstream RA's identity without a vendor) is revoked with reason
-- superseded (RFC 5280 5.3.1, code 4) at confirmation, explicit certConf
-- or implicitConfirm, so that the next CRL lists it (cmpgw_crl_fp changes
-- with the revoked set, and the CRL is regenerated on the next GET); when
-- not set, they are only marked superseded, as before.
--
-- cmpgw_ir_commit and cmpgw_ra_ir_commit take the flag (p_revoke_old) and
-- keep it in transactions.revoke_old (004) for the certConf path;
-- cmpgw_activate (renewal, the two-step cmpgw_confirm, the implicit branch
-- of a downstream RA's ir, RA mode's implicit fwd_done) and cmpgw_certconf
-- (its inline copy) apply it to the whole device. A renewal still revokes
-- the certificate it renewed (old_cert_id) even when that one is already
-- superseded. RA mode (forwarded to an upstream CA) never sets the flag:
-- the upstream CA owns revocation there. Transactions issued before this
-- migration carry revoke_old false and confirm as before. Every other
-- check, answer and audit row is unchanged.

-- Make a newly confirmed certificate the device's active one (as in 008);
-- with p_revoke_old the device's other active certificates are revoked
-- (superseded, code 4) instead of marked superseded, in the same single
-- statement through the primary key and the device index.
CREATE OR REPLACE FUNCTION cmpgw_activate(p_cert bigint, p_vendor bigint, p_serial text,
                                          p_old bigint, p_revoke_old boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_revoke_old AND p_old IS NOT NULL THEN
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 4
         WHERE id = p_old AND status IN ('active', 'superseded');
    END IF;
    IF p_vendor IS NULL THEN
        UPDATE certificates
           SET status = CASE WHEN id = p_cert THEN 'active'
                             WHEN p_revoke_old THEN 'revoked' ELSE 'superseded' END,
               revoked_at = CASE WHEN id <> p_cert AND p_revoke_old THEN now()
                                 ELSE revoked_at END,
               revocation_reason = CASE WHEN id <> p_cert AND p_revoke_old THEN 4
                                        ELSE revocation_reason END
         WHERE id = p_cert
            OR (vendor_id IS NULL AND device_serial = p_serial AND status = 'active');
    ELSE
        UPDATE certificates
           SET status = CASE WHEN id = p_cert THEN 'active'
                             WHEN p_revoke_old THEN 'revoked' ELSE 'superseded' END,
               revoked_at = CASE WHEN id <> p_cert AND p_revoke_old THEN now()
                                 ELSE revoked_at END,
               revocation_reason = CASE WHEN id <> p_cert AND p_revoke_old THEN 4
                                        ELSE revocation_reason END
         WHERE id = p_cert
            OR (vendor_id = p_vendor AND device_serial = p_serial AND status = 'active');
        UPDATE serials SET state = 'enrolled', enrolled_at = coalesce(enrolled_at, now()),
                           updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial AND state <> 'blocked';
    END IF;
END $$;

-- cmpgw_ir_commit as in 008, plus p_revoke_old: same checks, results and
-- audit rows. The flag is stored with the transaction (certConf applies
-- it) and applied at once with implicitConfirm.
DROP FUNCTION cmpgw_ir_commit(bytea, text, text, bigint, text, text, bytea, bytea, bytea,
                              bytea, bytea, bigint, bytea, text, text, text,
                              double precision, double precision, bytea, bytea, boolean,
                              integer, boolean, text);
CREATE FUNCTION cmpgw_ir_commit(
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
    IF NOT FOUND THEN
        reason := 'serial_unknown';
    ELSIF s.state = 'blocked' THEN
        reason := 'serial_blocked';
    ELSIF s.key_fp IS NOT NULL AND s.key_fp <> p_vendor_key_fp THEN
        reason := 'clone';
    ELSIF s.state = 'enrolled' AND NOT p_allow_reenroll THEN
        reason := 'reenroll_denied';
    ELSIF EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    END IF;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES (CASE reason WHEN 'clone' THEN 'clone_suspected' ELSE 'rejected' END,
                p_alias, p_tid, p_vendor_name, p_serial, p_peer,
                p_body || ': ' || reason);
        RETURN reason;
    END IF;

    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), CASE WHEN p_implicit THEN 'active' ELSE 'unconfirmed' END,
            p_vendor, p_serial, p_key_fp, p_alias)
    RETURNING id INTO cid;

    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                             client_nonce, cert_req_id, cert_id, cert_hash, implicit_confirm,
                             confirm_deadline, vendor_id, device_serial, revoke_old)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, p_cert_req_id, cid,
            p_cert_hash, p_implicit, now() + make_interval(secs => p_deadline_s),
            p_vendor, p_serial, p_revoke_old);

    IF p_implicit THEN
        UPDATE certificates
           SET status = CASE WHEN p_revoke_old THEN 'revoked' ELSE 'superseded' END,
               revoked_at = CASE WHEN p_revoke_old THEN now() ELSE revoked_at END,
               revocation_reason = CASE WHEN p_revoke_old THEN 4 ELSE revocation_reason END
         WHERE vendor_id = p_vendor AND device_serial = p_serial AND status = 'active'
           AND id <> cid;
        UPDATE serials SET key_fp = coalesce(key_fp, p_vendor_key_fp), state = 'enrolled',
                           enrolled_at = now(), updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial;
    ELSIF s.key_fp IS NULL THEN
        UPDATE serials SET key_fp = p_vendor_key_fp, updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial;
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
            p_body || ': serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;

-- cmpgw_ra_ir_commit as in 007, plus p_revoke_old (kept with the
-- transaction, applied at once with implicitConfirm).
DROP FUNCTION cmpgw_ra_ir_commit(bytea, text, text, bigint, text, text, bytea, bytea, bytea,
                                 bytea, bytea, bigint, bytea, text, text, text,
                                 double precision, double precision, bytea, bytea, boolean,
                                 integer, boolean, text);
CREATE FUNCTION cmpgw_ra_ir_commit(
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
        IF NOT FOUND THEN
            reason := 'serial_unknown';
        ELSIF s.state = 'blocked' THEN
            reason := 'serial_blocked';
        ELSIF s.state = 'enrolled' AND NOT p_allow_reenroll THEN
            reason := 'reenroll_denied';
        END IF;
    END IF;
    IF reason IS NULL AND EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        reason := 'tid_in_use';
    END IF;
    IF reason IS NOT NULL THEN
        INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
        VALUES ('rejected', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
                p_body || ' (downstream RA): ' || reason);
        RETURN reason;
    END IF;

    INSERT INTO certificates(issuer, serial_hex, der, subject, not_before, not_after, status,
                             vendor_id, device_serial, key_fp, alias)
    VALUES (p_issuer, p_serial_hex, p_cert, p_subject, to_timestamp(p_not_before),
            to_timestamp(p_not_after), 'unconfirmed', p_vendor, p_serial, p_key_fp, p_alias)
    RETURNING id INTO cid;

    INSERT INTO transactions(tid, alias, body_type, state, sender_fp, sender_cert, server_nonce,
                             client_nonce, cert_req_id, cert_id, cert_hash, implicit_confirm,
                             confirm_deadline, vendor_id, device_serial, revoke_old)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, p_cert_req_id, cid,
            p_cert_hash, p_implicit, now() + make_interval(secs => p_deadline_s),
            p_vendor, p_serial, p_revoke_old);

    IF p_implicit THEN
        PERFORM cmpgw_activate(cid, p_vendor, p_serial, NULL, p_revoke_old);
    END IF;

    INSERT INTO audit(event, alias, tid, vendor, device_serial, peer, detail)
    VALUES ('issued', p_alias, p_tid, p_vendor_name, p_serial, p_peer,
            p_body || ' (downstream RA): serial ' || p_serial_hex ||
            CASE WHEN p_implicit THEN ' (implicitConfirm)' ELSE '' END);
    RETURN 'ok';
END $$;

-- cmpgw_certconf as in 010, same parameters, checks, order and results;
-- only the activation applies transactions.revoke_old to the whole device
-- (cmpgw_activate above, inline).
CREATE OR REPLACE FUNCTION cmpgw_certconf(p_tid bytea, p_alias text, p_sender_fp bytea,
                                          p_sig_ok boolean, p_recip_nonce bytea,
                                          p_cert_req_id bigint, p_cert_hash bytea,
                                          p_accept boolean, p_peer text, p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t record; -- a transactions row and its ctid (row_ctid)
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

    -- cmpgw_confirm (004) on the row locked above
    IF t.state = 'revoked' THEN
        RETURN 'expired';
    END IF;
    IF t.state <> 'issued' THEN
        RETURN t.state;
    END IF;
    IF p_accept THEN
        -- cmpgw_activate (012)
        IF t.revoke_old AND t.old_cert_id IS NOT NULL THEN
            UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 4
             WHERE id = t.old_cert_id AND status IN ('active', 'superseded');
        END IF;
        IF t.vendor_id IS NULL THEN
            UPDATE certificates
               SET status = CASE WHEN id = t.cert_id THEN 'active'
                                 WHEN t.revoke_old THEN 'revoked' ELSE 'superseded' END,
                   revoked_at = CASE WHEN id <> t.cert_id AND t.revoke_old THEN now()
                                     ELSE revoked_at END,
                   revocation_reason = CASE WHEN id <> t.cert_id AND t.revoke_old THEN 4
                                            ELSE revocation_reason END
             WHERE id = t.cert_id
                OR (vendor_id IS NULL AND device_serial = t.device_serial AND status = 'active');
        ELSE
            UPDATE certificates
               SET status = CASE WHEN id = t.cert_id THEN 'active'
                                 WHEN t.revoke_old THEN 'revoked' ELSE 'superseded' END,
                   revoked_at = CASE WHEN id <> t.cert_id AND t.revoke_old THEN now()
                                     ELSE revoked_at END,
                   revocation_reason = CASE WHEN id <> t.cert_id AND t.revoke_old THEN 4
                                            ELSE revocation_reason END
             WHERE id = t.cert_id
                OR (vendor_id = t.vendor_id AND device_serial = t.device_serial
                    AND status = 'active');
            UPDATE serials SET state = 'enrolled', enrolled_at = coalesce(enrolled_at, now()),
                               updated_at = now()
             WHERE vendor_id = t.vendor_id AND serial = t.device_serial AND state <> 'blocked';
        END IF;
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
