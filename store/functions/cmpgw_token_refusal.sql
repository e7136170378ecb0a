-- cmpgw_token_refusal: why a token cannot be used now: revoked, used,
-- expired, alias, or NULL (it can). Used by the token lookup
-- (store/token.c) and cmpgw_token_ir_commit.
CREATE OR REPLACE FUNCTION cmpgw_token_refusal(t tokens, p_alias text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t.state = 'revoked' THEN 'revoked'
                WHEN t.used_at IS NOT NULL OR t.state = 'used' THEN 'used'
                WHEN t.expires_at <= now() THEN 'expired'
                WHEN t.alias <> p_alias THEN 'alias'
           END
$$;
