-- cmpgw_crl_current: the current CRL of an issuer and whether it must be
-- regenerated: none yet, the revoked set changed since (cmpgw_crl_fp), or
-- less than p_refresh_s seconds remain before its nextUpdate.
CREATE OR REPLACE FUNCTION cmpgw_crl_current(p_issuer text, p_refresh_s integer)
RETURNS TABLE (number bigint, der bytea, stale boolean) LANGUAGE sql STABLE AS $$
    SELECT c.number, c.der,
           c.number IS NULL OR c.rev_fp <> cmpgw_crl_fp(p_issuer)
           OR c.next_update < now() + make_interval(secs => p_refresh_s)
      FROM (SELECT 1) one
      LEFT JOIN LATERAL (SELECT * FROM crls WHERE issuer = p_issuer
                         ORDER BY number DESC LIMIT 1) c ON true
$$;
