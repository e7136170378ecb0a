-- 005: one-time enrollment tokens for shared-secret (PasswordBasedMac) ir
-- (oneM2M enrolment tokens, username/password enrolment).
--
-- PBMAC (RFC 4210 5.1.3.1) needs the secret itself, so it cannot be a
-- one-way hash: secret_enc is AES-256-GCM ciphertext made by ra/token.c
-- (version || nonce || ciphertext || tag, additional data = ref). The key
-- never reaches the database.

CREATE TABLE tokens (
	ref        text PRIMARY KEY,  -- the client's senderKID
	alias      text NOT NULL,
	identity   text NOT NULL,     -- becomes ${serial} of the profile
	secret_enc bytea NOT NULL,
	state      text NOT NULL DEFAULT 'active'
	           CHECK (state IN ('active', 'used', 'revoked')),
	created_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	used_at    timestamptz
);

-- A token transaction's certConf/pkiConf is MAC-protected with the same
-- secret: the transaction remembers the token.
ALTER TABLE transactions ADD COLUMN token_ref text REFERENCES tokens;

-- The functions (cmpgw_token_refusal, cmpgw_token_ir_commit) live in
-- store/functions/ (issue 12).
