-- Deleting a vendor deletes its serials (008: the ON DELETE CASCADE of the
-- foreign key serials no longer has; see cmpgw_serials_vendor_check).
CREATE OR REPLACE FUNCTION cmpgw_vendor_delete_serials() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM serials WHERE vendor_id = OLD.id;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER vendors_delete_serials AFTER DELETE ON vendors
    FOR EACH ROW EXECUTE FUNCTION cmpgw_vendor_delete_serials();
