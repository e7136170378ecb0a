-- cmpgw_renew_admit: a renewal's admission, read-only (issue 10): the
-- certificate being renewed (issuer as RFC 2253 text, serial as hex, exact
-- DER) as the renewal lookup finds it, plus the verdict cmpgw_admit gives
-- on what cmpgw_renew_commit checks after the old certificate's status
-- (the caller checks that, ra/renew.c): the device's serial is blocked,
-- else the transactionID is taken. No row: no such certificate.
-- A set-returning SQL function calling only STABLE functions: inlined into
-- the caller's prepared query.
CREATE OR REPLACE FUNCTION cmpgw_renew_admit(p_issuer text, p_serial_hex text, p_der bytea,
                                             p_tid bytea)
RETURNS TABLE (id bigint, status text, device_serial text, vendor text, serial_blocked boolean,
               tid_in_use boolean)
LANGUAGE sql STABLE AS $$
    SELECT a.id, a.status, a.device_serial, a.vendor, a.verdict = 'serial_blocked',
           a.verdict = 'tid_in_use'
      FROM (SELECT c.id, c.status::text AS status, coalesce(c.device_serial, '') AS device_serial,
                   coalesce(v.name, '') AS vendor, cmpgw_admit(p_tid, NULL, s, false, NULL, true)
                   AS verdict
              FROM certificates c
              LEFT JOIN vendors v ON v.id = c.vendor_id
              LEFT JOIN serials s ON s.vendor_id = c.vendor_id AND s.serial = c.device_serial
             WHERE c.issuer = p_issuer AND c.serial_hex = p_serial_hex AND c.der = p_der
            OFFSET 0) a -- not flattened: cmpgw_admit runs once, not per column
$$;
