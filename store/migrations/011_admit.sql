-- 011: admit before signing (issue 10, finding 3). The issuing CA used to
-- sign a certificate first and let the commit decide whether the request
-- was allowed at all, so every refused or replayed request cost a CA
-- signature. These read-only functions give the commit's verdict before
-- anything is signed: the same checks, in the same order, with the same
-- reason strings, but no row lock, no audit row and no write, so a call is
-- one cheap round trip without a durable commit. The commit functions
-- still re-check everything atomically (a request admitted here can lose a
-- race and be refused by its commit); on a refusal here the caller writes
-- the audit row the commit would have written.

-- The checks of cmpgw_ir_commit (012), in its order and words, on rows
-- read without a lock: 'ok' or serial_unknown, serial_blocked, clone,
-- reenroll_denied, tid_in_use. (plpgsql: its plans are cached per session;
-- a SQL function whose body cannot be inlined is planned on every call.)
CREATE FUNCTION cmpgw_ir_admit(p_tid bytea, p_vendor bigint, p_serial text,
                               p_vendor_key_fp bytea, p_allow_reenroll boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    s serials%ROWTYPE;
BEGIN
    SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial;
    IF NOT FOUND THEN
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

-- The checks of cmpgw_ra_ir_commit (012), a downstream RA's request, in its
-- order and words: p_vendor NULL (an RA entry without a vendor) checks no
-- serial list. 'ok' or serial_unknown, serial_blocked, reenroll_denied,
-- tid_in_use.
CREATE FUNCTION cmpgw_ra_ir_admit(p_tid bytea, p_vendor bigint, p_serial text,
                                  p_allow_reenroll boolean)
RETURNS text LANGUAGE plpgsql STABLE AS $$
DECLARE
    s serials%ROWTYPE;
BEGIN
    IF p_vendor IS NOT NULL THEN
        SELECT * INTO s FROM serials WHERE vendor_id = p_vendor AND serial = p_serial;
        IF NOT FOUND THEN
            RETURN 'serial_unknown';
        ELSIF s.state = 'blocked' THEN
            RETURN 'serial_blocked';
        ELSIF s.state = 'enrolled' AND NOT p_allow_reenroll THEN
            RETURN 'reenroll_denied';
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid) THEN
        RETURN 'tid_in_use';
    END IF;
    RETURN 'ok';
END $$;

-- A renewal: the certificate being renewed (issuer as RFC 2253 text, serial
-- as hex, exact DER), as the renewal lookup found it, plus what
-- cmpgw_renew_commit (004) checks after its status: the device's serial is
-- blocked, the transactionID is taken. No row: no such certificate. (A
-- set-returning SQL function: inlined into the caller's prepared query.)
CREATE FUNCTION cmpgw_renew_admit(p_issuer text, p_serial_hex text, p_der bytea, p_tid bytea)
RETURNS TABLE (id bigint, status text, device_serial text, vendor text, serial_blocked boolean,
               tid_in_use boolean)
LANGUAGE sql STABLE AS $$
    SELECT c.id, c.status::text, coalesce(c.device_serial, ''), coalesce(v.name, ''),
           coalesce(s.state = 'blocked', false),
           EXISTS (SELECT 1 FROM transactions WHERE tid = p_tid)
      FROM certificates c
      LEFT JOIN vendors v ON v.id = c.vendor_id
      LEFT JOIN serials s ON s.vendor_id = c.vendor_id AND s.serial = c.device_serial
     WHERE c.issuer = p_issuer AND c.serial_hex = p_serial_hex AND c.der = p_der
$$;
