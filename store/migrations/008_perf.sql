-- 008: the second performance pass (issue 5). The same decisions and
-- answers as 002/004, in fewer statements: certConf is checked and applied
-- in one call (it was a lookup and then cmpgw_confirm: two round trips,
-- two transactions), activation touches a device's certificates in one
-- indexable statement, and the ir commit skips updates that change nothing.

-- The functions changed here (cmpgw_activate, cmpgw_ir_commit, the new
-- cmpgw_certconf) live in store/functions/ (issue 12), with the reasons
-- for their shape.

-- Serial import (store/serial.c). Two per-row costs dominated a 10M-row
-- import; both are gone, with the same results:
-- 1. serials.serial compared under the database's collation (C.UTF-8 or a
--    locale: strcoll on every B-tree step and sort comparison). A serial
--    is printable ASCII (checked on import) and only ever compared for
--    equality, so the bytewise "C" collation gives the same answers; the
--    primary key is rebuilt once here.
-- 2. The foreign key to vendors checked every inserted row with its own
--    query. The same guarantee, once per statement: a statement trigger
--    locks each vendor named by the new rows (FOR KEY SHARE, as the
--    foreign key did) and refuses rows without one; deleting a vendor
--    still deletes its serials, and neither side's id can change.
ALTER TABLE serials ALTER COLUMN serial TYPE text COLLATE "C";
ALTER TABLE serials DROP CONSTRAINT serials_vendor_id_fkey;

-- The statement trigger and the triggers that keep vendor ids fixed and
-- delete a vendor's serials live in store/functions/ with their functions
-- (cmpgw_serials_vendor_check, cmpgw_vendor_id_fixed,
-- cmpgw_vendor_delete_serials; issue 12). They are created after the
-- numbered migrations, in the same transaction: no committed state has
-- serials with neither the foreign key nor the trigger.
