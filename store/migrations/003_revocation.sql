-- 003: revocation (rr, `cmpgw cert revoke`) and CRL publication.
-- Each operation is one statement; CRLs are stored so that every node
-- serves the same one.

CREATE INDEX certificates_revoked_idx ON certificates (issuer) WHERE status = 'revoked';

-- Every CRL ever published per issuer; the highest number is current.
CREATE TABLE crls (
	issuer      text NOT NULL,
	number      bigint NOT NULL CHECK (number > 0),
	der         bytea NOT NULL,
	this_update timestamptz NOT NULL,
	next_update timestamptz NOT NULL,
	rev_fp      text NOT NULL, -- cmpgw_crl_fp() of the revoked set it lists
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (issuer, number)
);

-- Fingerprint of the revoked set of an issuer: count and latest revocation
-- time. Any revocation (rr, CLI, certConf rejection, sweep, renewal) or
-- un-revocation changes it. STABLE: uses the caller's snapshot.
CREATE FUNCTION cmpgw_crl_fp(p_issuer text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT count(*)::text || '/' || coalesce(extract(epoch FROM max(revoked_at))::text, '')
      FROM certificates WHERE issuer = p_issuer AND status = 'revoked'
$$;

-- The current CRL of an issuer and whether it must be regenerated: none
-- yet, the revoked set changed since, or less than p_refresh_s seconds
-- remain before its nextUpdate.
CREATE FUNCTION cmpgw_crl_current(p_issuer text, p_refresh_s integer)
RETURNS TABLE (number bigint, der bytea, stale boolean) LANGUAGE sql STABLE AS $$
    SELECT c.number, c.der,
           c.number IS NULL OR c.rev_fp <> cmpgw_crl_fp(p_issuer)
           OR c.next_update < now() + make_interval(secs => p_refresh_s)
      FROM (SELECT 1) one
      LEFT JOIN LATERAL (SELECT * FROM crls WHERE issuer = p_issuer
                         ORDER BY number DESC LIMIT 1) c ON true
$$;

-- Publish a CRL numbered p_number. Returns 'ok', or 'conflict' when
-- another node published this number (or a higher one) first.
CREATE FUNCTION cmpgw_crl_store(p_issuer text, p_number bigint, p_der bytea,
                                p_this double precision, p_next double precision,
                                p_fp text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM crls WHERE issuer = p_issuer AND number >= p_number) THEN
        RETURN 'conflict';
    END IF;
    INSERT INTO crls(issuer, number, der, this_update, next_update, rev_fp)
    VALUES (p_issuer, p_number, p_der, to_timestamp(p_this), to_timestamp(p_next), p_fp)
    ON CONFLICT DO NOTHING;
    RETURN CASE WHEN FOUND THEN 'ok' ELSE 'conflict' END;
END $$;

-- Revoke one certificate of p_issuer (RFC 4210 5.3.9). p_holder_fp is the
-- SHA-256 of the requesting certificate when its holder asks (it must be
-- that very certificate); NULL for an authorized revoker or the CLI.
-- p_reason is an RFC 5280 CRLReason; 8 (removeFromCRL) releases a
-- certificateHold. Returns: ok, released, unknown, revoked, not_holder,
-- not_on_hold. Rejections write only an audit row. Revoking an unconfirmed
-- certificate closes its transaction, so a later certConf cannot activate it.
CREATE FUNCTION cmpgw_revoke(p_issuer text, p_serial_hex text, p_reason integer,
                             p_holder_fp bytea, p_alias text, p_tid bytea, p_peer text,
                             p_by text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    c certificates%ROWTYPE;
    result text;
BEGIN
    SELECT * INTO c FROM certificates
     WHERE issuer = p_issuer AND serial_hex = p_serial_hex FOR UPDATE;
    IF NOT FOUND THEN
        result := 'unknown';
    ELSIF p_holder_fp IS NOT NULL AND sha256(c.der) <> p_holder_fp THEN
        result := 'not_holder';
    ELSIF p_reason = 8 THEN
        IF c.status = 'revoked' AND c.revocation_reason = 6 THEN
            UPDATE certificates SET status = 'active', revoked_at = NULL, revocation_reason = NULL
             WHERE id = c.id;
            result := 'released';
        ELSE
            result := 'not_on_hold';
        END IF;
    ELSIF c.status = 'revoked' THEN
        result := 'revoked';
    ELSE
        UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = p_reason
         WHERE id = c.id;
        UPDATE transactions SET state = 'revoked', updated_at = now()
         WHERE cert_id = c.id AND state = 'issued';
        result := 'ok';
    END IF;
    INSERT INTO audit(event, alias, tid, device_serial, peer, detail)
    VALUES (CASE result WHEN 'ok' THEN 'revoked' WHEN 'released' THEN 'hold_released'
                        ELSE 'revoke_rejected' END,
            p_alias, p_tid, c.device_serial, p_peer,
            'serial ' || p_serial_hex || ' reason ' || p_reason || ' by ' || p_by || ': ' || result);
    RETURN result;
END $$;
