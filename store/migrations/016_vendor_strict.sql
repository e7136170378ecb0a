-- 016: per-vendor X.509 strictness (issue 14). Every vendor chain is
-- validated with OpenSSL's X509_V_FLAG_X509_STRICT unless its vendor is
-- lenient (x509_strict false: `cmpgw vendor add --lenient`, `cmpgw vendor
-- set NAME --lenient`), the mode for legacy vendor PKIs described in
-- docs/VENDORS.md: signatures, validity, CA flags and path length are
-- still checked; only the strict profile checks (critical basicConstraints,
-- key identifiers, keyUsage on CAs, ...) are dropped. Existing vendors stay
-- strict, as they were validated until now.
ALTER TABLE vendors ADD COLUMN x509_strict boolean NOT NULL DEFAULT true;
