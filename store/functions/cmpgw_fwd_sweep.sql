-- cmpgw_fwd_sweep: a forwarded request whose worker died never completes:
-- close it at its deadline (worker 0 calls it with cmpgw_sweep, every
-- sweep_interval_s), through transactions_pending_idx (010).
CREATE OR REPLACE FUNCTION cmpgw_fwd_sweep() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH expired AS (
        UPDATE transactions SET state = 'closed', fwd_fail_info = 1 << 24, -- systemUnavail
               fwd_fail_text = 'upstream CA did not answer', updated_at = now()
         WHERE state = 'pending' AND fwd_deadline < now() - interval '10 seconds'
        RETURNING tid, alias, device_serial
    ), logged AS (
        INSERT INTO audit(event, alias, tid, device_serial, detail)
        SELECT 'upstream_failed', alias, tid, device_serial, 'pending past its deadline'
          FROM expired
        RETURNING 1
    )
    SELECT count(*) INTO n FROM logged;
    RETURN n;
END $$;
