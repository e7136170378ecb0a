-- 017: per-vendor device serial syntax (issue 14; policy/serial.c checks
-- every line of a serial list import against it, docs/SERIALS.md).
-- serial_max_len: bytes, 1..256 (default 64). serial_charset: the allowed
-- characters as a spec of printable ASCII characters and ranges ("0-9A-F");
-- NULL = the default set, printable ASCII without space and , = + / \ *.
-- Serials already stored are left as they are: the syntax applies to
-- imports from now on.
ALTER TABLE vendors
    ADD COLUMN serial_max_len integer NOT NULL DEFAULT 64
        CONSTRAINT vendors_serial_max_len_check CHECK (serial_max_len BETWEEN 1 AND 256),
    ADD COLUMN serial_charset text
        CONSTRAINT vendors_serial_charset_check
        CHECK (serial_charset IS NULL OR serial_charset ~ '^[!-~]{1,200}$');
