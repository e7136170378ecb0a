-- cmpgw_fwd_fail: the upstream exchange failed (down, timeout, garbage,
-- bad protection, refusal): close the transaction, keep the answer for a
-- poll, audit. Returns 'ok' or 'gone' (no longer pending).
CREATE OR REPLACE FUNCTION cmpgw_fwd_fail(p_tid bytea, p_fail_info integer, p_text text, p_detail text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t transactions%ROWTYPE;
BEGIN
    SELECT * INTO t FROM transactions WHERE tid = p_tid FOR UPDATE;
    IF NOT FOUND OR t.state <> 'pending' THEN
        RETURN 'gone';
    END IF;
    UPDATE transactions SET state = 'closed', fwd_fail_info = p_fail_info,
           fwd_fail_text = p_text, updated_at = now()
     WHERE tid = p_tid;
    INSERT INTO audit(event, alias, tid, device_serial, detail)
    VALUES ('upstream_failed', t.alias, p_tid, t.device_serial, p_detail);
    RETURN 'ok';
END $$;
