-- 004: certificate renewal (kur, and ir/cr/p10cr signed with an operator
-- certificate this CA issued; 3GPP TS 33.310 9.5.4, RFC 9483 4.1.3).

ALTER TABLE transactions ADD COLUMN old_cert_id bigint REFERENCES certificates;
ALTER TABLE transactions ADD COLUMN revoke_old boolean NOT NULL DEFAULT false;

-- The functions (cmpgw_renew_commit, cmpgw_activate, cmpgw_confirm) live
-- in store/functions/ (issue 12).
