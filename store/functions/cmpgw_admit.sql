-- cmpgw_admit: may this request get a certificate? The admission checks of
-- every enrollment, in one place and one order, with the reason strings the
-- C code compares (store/outcome.c, ra/*.c). Used under a row lock by the
-- commits (cmpgw_ir_commit, cmpgw_ra_ir_commit, cmpgw_renew_commit,
-- cmpgw_token_ir_commit, cmpgw_fwd_begin, cmpgw_fwd_begin_renew), which
-- re-check atomically what the read-only admission said before signing
-- (cmpgw_ir_admit, cmpgw_ra_ir_admit, cmpgw_renew_admit: issue 10).
--
-- The caller reads the rows (and decides whether to lock them); this only
-- decides, so it is STABLE and also serves the read-only admissions:
--   p_old_status     a renewal: the status of the certificate it renews,
--                    'unknown' when there is none; NULL: not a renewal
--   s                the device's serials row, all NULL if it has none
--   p_listed         the serial must be on the vendor's list (a vendor
--                    ir/cr, or a downstream RA configured with a vendor)
--   p_vendor_key_fp  the vendor key the serial must be bound to, if bound
--                    (clone check); NULL: no such check
--   p_allow_reenroll an enrolled serial may enroll again
-- Returns 'ok' or the first reason: old_unknown, old_revoked,
-- old_superseded, old_unconfirmed, serial_unknown, serial_blocked, clone,
-- reenroll_denied, tid_in_use. Writes nothing (the caller audits).
-- Called as an expression (reason := cmpgw_admit(...)): no executor
-- start-up per call, unlike PERFORM or SELECT INTO.
CREATE OR REPLACE FUNCTION cmpgw_admit(p_tid bytea, p_old_status text, s serials,
                                       p_listed boolean, p_vendor_key_fp bytea,
                                       p_allow_reenroll boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_old_status = 'unknown' THEN
        RETURN 'old_unknown';
    ELSIF p_old_status IN ('revoked', 'superseded', 'unconfirmed') THEN
        RETURN 'old_' || p_old_status;
    ELSIF p_listed AND s.vendor_id IS NULL THEN
        RETURN 'serial_unknown';
    ELSIF s.state = 'blocked' THEN
        RETURN 'serial_blocked';
    ELSIF s.key_fp IS NOT NULL AND s.key_fp <> p_vendor_key_fp THEN
        RETURN 'clone';
    ELSIF s.state = 'enrolled' AND NOT p_allow_reenroll THEN
        RETURN 'reenroll_denied';
    ELSIF EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        RETURN 'tid_in_use';
    END IF;
    RETURN 'ok';
END $$;
