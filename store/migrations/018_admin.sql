-- 018: who did it, and bearer API keys for the admin API (issue 14).
--
-- audit.principal names the human or machine behind an admin change:
-- "os:<user>" for the CLI on the gateway host (cmd/), later "apikey:<id>"
-- or "cert:<subject>" for the admin API. NULL for device traffic (the
-- device is already named by device_serial, peer and tid).
ALTER TABLE audit ADD COLUMN principal text;
-- The admin API queries the audit by principal; device rows (NULL) stay
-- out of the index.
CREATE INDEX audit_principal ON audit (principal, ts) WHERE principal IS NOT NULL;

-- Bearer API keys. The key is "cmpgw_<key_id>_<secret>" and is shown once
-- by `cmpgw apikey create`; only key_id (public, shown to humans) and
-- HMAC-SHA-256(salt, secret) are kept (store/apikey.c says why a fast
-- keyed hash suffices for a 256-bit random secret).
CREATE TABLE api_keys (
	id           bigserial PRIMARY KEY,
	key_id       text NOT NULL UNIQUE
	             CHECK (key_id ~ '^[0-9a-f]{16}$'),
	salt         bytea NOT NULL CHECK (octet_length(salt) = 16),
	hash         bytea NOT NULL CHECK (octet_length(hash) = 32),
	-- operator | auditor | vendor:<name> | factory:<name>
	role         text NOT NULL
	             CHECK (role IN ('operator', 'auditor')
	                    OR role ~ '^(vendor|factory):.+$'),
	comment      text,
	created_at   timestamptz NOT NULL DEFAULT now(),
	created_by   text NOT NULL,
	expires_at   timestamptz,
	revoked_at   timestamptz,
	revoked_by   text,
	last_used_at timestamptz
);
