-- cmpgw_ir_admit: the verdict cmpgw_ir_commit would give, before anything
-- is signed (issue 10: a refused or replayed request costs no CA
-- signature). The same checks (cmpgw_admit) on rows read without a lock:
-- no row lock, no audit row, no write, so a call is one cheap round trip
-- without a durable commit; the commit re-checks atomically. On a refusal
-- here the caller writes the audit row the commit would have written.
-- 'ok' or serial_unknown, serial_blocked, clone, reenroll_denied,
-- tid_in_use. (plpgsql: its plans are cached per session; a SQL function
-- whose body cannot be inlined is planned on every call.)
CREATE OR REPLACE FUNCTION cmpgw_ir_admit(p_tid bytea, p_vendor bigint, p_serial text,
                                          p_vendor_key_fp bytea, p_allow_reenroll boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    s serials%ROWTYPE;
BEGIN
    SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial;
    RETURN cmpgw_admit(p_tid, NULL, s, true, p_vendor_key_fp, p_allow_reenroll);
END $$;
