-- cmpgw_sweep: revoke certificates whose confirmation deadline passed
-- (RFC 4210 5.3.18: an unconfirmed certificate must not stay usable).
-- Returns how many.
CREATE OR REPLACE FUNCTION cmpgw_sweep() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH expired AS (
        UPDATE transactions SET state = 'revoked', updated_at = now()
         WHERE state = 'issued' AND confirm_deadline < now()
        RETURNING tid, cert_id, alias, device_serial
    ), revoked AS (
        UPDATE certificates c SET status = 'revoked', revoked_at = now(), revocation_reason = 0
          FROM expired e WHERE c.id = e.cert_id AND c.status = 'unconfirmed'
        RETURNING c.id
    ), logged AS (
        INSERT INTO audit(event, alias, tid, device_serial, detail)
        SELECT 'confirm_timeout', alias, tid, device_serial, 'unconfirmed past deadline, revoked'
          FROM expired
        RETURNING 1
    )
    SELECT count(*) INTO n FROM logged;
    RETURN n;
END $$;
