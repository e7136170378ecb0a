-- cmpgw_activate: make a certificate its device's active one. The one
-- activation of every path: certConf (cmpgw_certconf, the two-step
-- cmpgw_confirm) and implicitConfirm (cmpgw_issue, for every commit).
--   1. a renewal that revokes what it renews: p_old revoked, reason
--      superseded (RFC 5280 5.3.1 code 4), even if already superseded;
--   2. p_cert active; the device's other active certificates (same
--      vendor_id and device_serial; vendor_id NULL for a downstream RA's
--      or a token's identity) revoked, code 4, with p_revoke_old
--      (profiles.*.renewal_revokes_old, 012), else marked superseded;
--   3. the vendor's serial enrolled (a blocked one stays blocked), and
--      bound to p_bind_key if it has no key yet.
-- p_enrolled_at: NULL keeps the serial's first enrolment time; a vendor
-- ir with implicitConfirm has always restamped it (002, 008) and passes
-- now().
--
-- Performance (008, 010): step 2 is one statement through the primary key
-- and the (vendor_id, device_serial) index (`IS NOT DISTINCT FROM` is not
-- indexable, hence two statements); a certificate inserted active already
-- (cmpgw_issue) is not written again; step 3 is one UPDATE, the key
-- binding included (008). The status writes are HOT updates (010).
-- Returns the number of certificates step 2 changed; callers assign it
-- (n := cmpgw_activate(...)), an expression: no executor start-up per call
-- (010 inlined this body into cmpgw_certconf to avoid PERFORM's).
CREATE OR REPLACE FUNCTION cmpgw_activate(p_cert bigint, p_vendor bigint, p_serial text,
                                          p_old bigint, p_revoke_old boolean,
                                          p_bind_key bytea, p_enrolled_at timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
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
         WHERE (id = p_cert AND status <> 'active')
            OR (vendor_id IS NULL AND device_serial = p_serial AND status = 'active'
                AND id <> p_cert);
        GET DIAGNOSTICS n = ROW_COUNT;
    ELSE
        UPDATE certificates
           SET status = CASE WHEN id = p_cert THEN 'active'
                             WHEN p_revoke_old THEN 'revoked' ELSE 'superseded' END,
               revoked_at = CASE WHEN id <> p_cert AND p_revoke_old THEN now()
                                 ELSE revoked_at END,
               revocation_reason = CASE WHEN id <> p_cert AND p_revoke_old THEN 4
                                        ELSE revocation_reason END
         WHERE (id = p_cert AND status <> 'active')
            OR (vendor_id = p_vendor AND device_serial = p_serial AND status = 'active'
                AND id <> p_cert);
        GET DIAGNOSTICS n = ROW_COUNT;
        -- A blocked serial is not enrolled; it is still bound to the key
        -- an upstream CA issued for (RA mode binds at issuance, 006/009).
        UPDATE serials
           SET key_fp = coalesce(key_fp, p_bind_key),
               state = CASE WHEN state = 'blocked' THEN state ELSE 'enrolled' END,
               enrolled_at = CASE WHEN state = 'blocked' THEN enrolled_at
                                  ELSE coalesce(p_enrolled_at, enrolled_at, now()) END,
               updated_at = now()
         WHERE vendor_id = p_vendor AND serial = p_serial
           AND (state <> 'blocked' OR (key_fp IS NULL AND p_bind_key IS NOT NULL));
    END IF;
    RETURN n;
END $$;
