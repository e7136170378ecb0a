-- 005: one-time enrollment tokens for shared-secret (PBMAC) ir.
SELECT 1;
