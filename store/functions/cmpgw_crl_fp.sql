-- cmpgw_crl_fp: fingerprint of the revoked set of an issuer: count and
-- latest revocation time. Any revocation (rr, CLI, certConf rejection,
-- sweep, renewal, re-enrollment) or un-revocation changes it. STABLE: uses
-- the caller's snapshot. Through certificates_revoked_idx, keyed on
-- revoked_at (010): the same rows as status 'revoked', by the table's CHECK.
CREATE OR REPLACE FUNCTION cmpgw_crl_fp(p_issuer text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT count(*)::text || '/' || coalesce(extract(epoch FROM max(revoked_at))::text, '')
      FROM certificates WHERE issuer = p_issuer AND revoked_at IS NOT NULL
$$;
