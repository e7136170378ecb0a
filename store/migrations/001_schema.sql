-- 001_schema: the base tables of cmpgw. Names are fixed: later migrations
-- and ra/ queries refer to them.

CREATE TABLE vendors (
	id             bigserial PRIMARY KEY,
	name           text NOT NULL UNIQUE,
	serial_rule    text NOT NULL DEFAULT 'subject_serialnumber'
	               CHECK (serial_rule IN ('subject_serialnumber', 'subject_cn', 'cert_serial')),
	allow_reenroll boolean NOT NULL DEFAULT true,
	created_at     timestamptz NOT NULL DEFAULT now()
);

-- Vendor trust anchors and intermediates.
CREATE TABLE vendor_certs (
	id          bigserial PRIMARY KEY,
	vendor_id   bigint NOT NULL REFERENCES vendors ON DELETE CASCADE,
	kind        text NOT NULL CHECK (kind IN ('anchor', 'intermediate')),
	der         bytea NOT NULL,
	fingerprint bytea NOT NULL UNIQUE,  -- sha256 of der
	subject     text NOT NULL,
	not_after   timestamptz NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vendor_certs_vendor_idx ON vendor_certs (vendor_id);

-- Device serial numbers a vendor may enroll.
CREATE TABLE serials (
	vendor_id   bigint NOT NULL REFERENCES vendors ON DELETE CASCADE,
	serial      text NOT NULL,
	state       text NOT NULL DEFAULT 'allowed'
	            CHECK (state IN ('allowed', 'enrolled', 'blocked')),
	key_fp      bytea,  -- sha256 of the bound vendor cert SubjectPublicKeyInfo DER
	enrolled_at timestamptz,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (vendor_id, serial)
);

CREATE TABLE certificates (
	id                bigserial PRIMARY KEY,
	issuer            text NOT NULL,
	serial_hex        text NOT NULL,
	der               bytea NOT NULL,
	subject           text NOT NULL,
	not_before        timestamptz NOT NULL,
	not_after         timestamptz NOT NULL,
	status            text NOT NULL
	                  CHECK (status IN ('unconfirmed', 'active', 'revoked', 'superseded')),
	vendor_id         bigint REFERENCES vendors,
	device_serial     text,
	key_fp            bytea NOT NULL,
	alias             text,
	revoked_at        timestamptz,
	revocation_reason int,
	created_at        timestamptz NOT NULL DEFAULT now(),
	UNIQUE (issuer, serial_hex)
);
CREATE INDEX certificates_device_idx ON certificates (vendor_id, device_serial);

-- CMP transactions; any node may continue one.
CREATE TABLE transactions (
	tid              bytea PRIMARY KEY,
	alias            text NOT NULL,
	body_type        text NOT NULL,
	state            text NOT NULL
	                 CHECK (state IN ('issued', 'confirmed', 'rejected', 'revoked', 'closed')),
	sender_fp        bytea NOT NULL,  -- sha256 of protecting cert DER
	server_nonce     bytea NOT NULL,
	client_nonce     bytea,
	cert_req_id      bigint NOT NULL,
	cert_id          bigint REFERENCES certificates,
	cert_hash        bytea,
	hash_alg         text,
	implicit_confirm boolean NOT NULL DEFAULT false,
	confirm_deadline timestamptz,
	created_at       timestamptz NOT NULL DEFAULT now(),
	updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX transactions_deadline_idx ON transactions (confirm_deadline)
	WHERE state = 'issued';

CREATE TABLE audit (
	id            bigserial PRIMARY KEY,
	ts            timestamptz NOT NULL DEFAULT now(),
	event         text NOT NULL,
	alias         text,
	tid           bytea,
	vendor        text,
	device_serial text,
	peer          text,
	detail        text
);
