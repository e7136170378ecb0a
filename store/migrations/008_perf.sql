-- 008: the second performance pass (issue 5). The same decisions and
-- answers as 002/004, in fewer statements: certConf is checked and applied
-- in one call (it was a lookup and then cmpgw_confirm: two round trips,
-- two transactions), activation touches a device's certificates in one
-- indexable statement, and the ir commit skips updates that change nothing.

-- Make a newly confirmed certificate the device's active one (as in 004).
-- 004 superseded the others with `vendor_id IS NOT DISTINCT FROM`, which
-- no index serves: every confirmation scanned certificates_device_idx from
-- end to end, a cost that grew with the number of issued certificates.
-- Now p_cert becomes active and the device's other active certificates
-- superseded in one statement, through the primary key and the
-- (vendor_id, device_serial) index.
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
           SET status = CASE WHEN id = p_cert THEN 'active' ELSE 'superseded' END
         WHERE id = p_cert
            OR (vendor_id IS NULL AND device_serial = p_serial AND status = 'active');
    ELSE
        UPDATE certificates
           SET status = CASE WHEN id = p_cert THEN 'active' ELSE 'superseded' END
         WHERE id = p_cert
            OR (vendor_id = p_vendor AND device_serial = p_serial AND status = 'active');
        UPDATE serials SET state = 'enrolled', enrolled_at = coalesce(enrolled_at, now()),
                           updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial AND state <> 'blocked';
    END IF;
END $$;

-- cmpgw_ir_commit as in 002, same parameters, checks and results. The serial
-- row is already locked and read: its key binding is written only when it
-- is not bound yet, and with implicitConfirm together with the enrolment
-- state in one UPDATE; the certificate is inserted active at once instead
-- of inserted and then updated.
CREATE OR REPLACE FUNCTION cmpgw_ir_commit(
    p_tid bytea, p_alias text, p_body text, p_vendor bigint, p_vendor_name text,
    p_serial text, p_vendor_key_fp bytea, p_sender_fp bytea, p_sender_cert bytea,
    p_server_nonce bytea, p_client_nonce bytea, p_cert_req_id bigint,
    p_cert bytea, p_issuer text, p_serial_hex text, p_subject text,
    p_not_before double precision, p_not_after double precision, p_key_fp bytea,
    p_cert_hash bytea, p_implicit boolean, p_deadline_s integer,
    p_allow_reenroll boolean, p_peer text)
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
                             confirm_deadline, vendor_id, device_serial)
    VALUES (p_tid, p_alias, p_body, CASE WHEN p_implicit THEN 'confirmed' ELSE 'issued' END,
            p_sender_fp, p_sender_cert, p_server_nonce, p_client_nonce, p_cert_req_id, cid,
            p_cert_hash, p_implicit, now() + make_interval(secs => p_deadline_s),
            p_vendor, p_serial);

    IF p_implicit THEN
        UPDATE certificates SET status = 'superseded'
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

-- A certConf checked and applied in one call (ra/certconf.c). The caller
-- did what needs the message: p_sender_fp is the SHA-256 of the signer
-- certificate in extraCerts (NULL if it could not be computed), p_sig_ok
-- whether the protection verifies with it, p_accept the client's decision;
-- p_recip_nonce, p_cert_req_id and p_cert_hash are the message's values
-- (NULL when absent). The checks run in the order of the two-step path
-- (lookup, then cmpgw_confirm), so every answer is the same. Returns:
--   unknown          no such transaction for this alias
--   slow             token transaction (its MAC key is in the database) or
--                    a stored certHash longer than any digest: the caller
--                    takes the two-step path; nothing was changed
--   not_sender, bad_signature, bad_nonce, bad_cert_req_id, bad_cert_hash
--                    refused; nothing was changed
--   else             what cmpgw_confirm returns: confirmed, rejected,
--                    expired, or the state of an already decided one.
CREATE FUNCTION cmpgw_certconf(p_tid bytea, p_alias text, p_sender_fp bytea, p_sig_ok boolean,
                               p_recip_nonce bytea, p_cert_req_id bigint, p_cert_hash bytea,
                               p_accept boolean, p_peer text, p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
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
        PERFORM cmpgw_activate(t.cert_id, t.vendor_id, t.device_serial, t.old_cert_id,
                               t.revoke_old);
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

-- Serial import (store/serial.c). Two per-row costs dominated a 10M-row
-- import; both are gone, with the same results:
-- 1. serials.serial compared under the database's collation (C.UTF-8 or a
--    locale: strcoll on every B-tree step and sort comparison). A serial
--    is printable ASCII (checked on import) and only ever compared for
--    equality, so the bytewise "C" collation gives the same answers; the
--    primary key is rebuilt once here.
-- 2. The foreign key to vendors checked every inserted row with its own
--    query. The same guarantee, once per statement: the statement trigger
--    below locks each vendor named by the new rows (FOR KEY SHARE, as the
--    foreign key did) and refuses rows without one; deleting a vendor
--    still deletes its serials, and neither side's id can change.
ALTER TABLE serials ALTER COLUMN serial TYPE text COLLATE "C";
ALTER TABLE serials DROP CONSTRAINT serials_vendor_id_fkey;

CREATE FUNCTION cmpgw_serials_vendor_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    vid bigint;
BEGIN
    FOR vid IN SELECT DISTINCT vendor_id FROM new_rows LOOP
        PERFORM 1 FROM vendors WHERE id = vid FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE foreign_key_violation
                USING MESSAGE = format('serials: vendor %s does not exist', vid);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER serials_vendor_check AFTER INSERT ON serials
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cmpgw_serials_vendor_check();

CREATE FUNCTION cmpgw_vendor_id_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = TG_TABLE_NAME || ': a vendor id cannot change';
END $$;
CREATE TRIGGER serials_vendor_fixed BEFORE UPDATE OF vendor_id ON serials
    FOR EACH ROW WHEN (OLD.vendor_id IS DISTINCT FROM NEW.vendor_id)
    EXECUTE FUNCTION cmpgw_vendor_id_fixed();
CREATE TRIGGER vendors_id_fixed BEFORE UPDATE OF id ON vendors
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION cmpgw_vendor_id_fixed();

CREATE FUNCTION cmpgw_vendor_delete_serials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM serials WHERE vendor_id = OLD.id;
    RETURN NULL;
END $$;
CREATE TRIGGER vendors_delete_serials AFTER DELETE ON vendors
    FOR EACH ROW EXECUTE FUNCTION cmpgw_vendor_delete_serials();
