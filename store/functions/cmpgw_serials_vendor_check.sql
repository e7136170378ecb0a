-- Serial import (store/serial.c, 008): serials has no foreign key to
-- vendors, which checked every inserted row with its own query in a
-- 10M-row import. The same guarantee, once per statement: this statement
-- trigger locks each vendor named by the new rows (FOR KEY SHARE, as the
-- foreign key did) and refuses rows without one. With the two files
-- below (cmpgw_vendor_id_fixed, cmpgw_vendor_delete_serials), deleting a
-- vendor still deletes its serials, and neither side's id can change.
CREATE OR REPLACE FUNCTION cmpgw_serials_vendor_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    vid bigint;
BEGIN
    FOR vid IN SELECT DISTINCT vendor_id FROM new_rows LOOP
        PERFORM 1 FROM vendors WHERE id = vid FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE foreign_key_violation
                USING MESSAGE = format('serials: vendor %s does not exist', vid);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER serials_vendor_check AFTER INSERT ON serials
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION cmpgw_serials_vendor_check();
