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

-- The functions (cmpgw_crl_fp, cmpgw_crl_current, cmpgw_crl_store,
-- cmpgw_revoke) live in store/functions/ (issue 12).
