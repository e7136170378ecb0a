-- cmpgw_crl_store: publish a CRL numbered p_number. Returns 'ok', or
-- 'conflict' when another node published this number (or a higher one)
-- first. Every CRL is kept (crls); the highest number is current.
CREATE OR REPLACE FUNCTION cmpgw_crl_store(p_issuer text, p_number bigint, p_der bytea,
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
