-- cmpgw_ra_ir_admit: the verdict cmpgw_ra_ir_commit would give (a
-- downstream RA's request), read-only as cmpgw_ir_admit: p_vendor NULL (an
-- RA entry without a vendor) checks no serial list. 'ok' or
-- serial_unknown, serial_blocked, reenroll_denied, tid_in_use.
CREATE OR REPLACE FUNCTION cmpgw_ra_ir_admit(p_tid bytea, p_vendor bigint, p_serial text,
                                             p_allow_reenroll boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    s serials%ROWTYPE;
BEGIN
    IF p_vendor IS NOT NULL THEN
        SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial;
    END IF;
    RETURN cmpgw_admit(p_tid, NULL, s, p_vendor IS NOT NULL, NULL, p_allow_reenroll);
END $$;
