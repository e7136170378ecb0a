-- The ids serials and vendors are joined on cannot change (008: serials
-- has no foreign key; see cmpgw_serials_vendor_check).
CREATE OR REPLACE FUNCTION cmpgw_vendor_id_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE foreign_key_violation USING MESSAGE = TG_TABLE_NAME || ': a vendor id cannot change';
END $$;
CREATE OR REPLACE TRIGGER serials_vendor_fixed BEFORE UPDATE OF vendor_id ON serials
    FOR EACH ROW WHEN (OLD.vendor_id IS DISTINCT FROM NEW.vendor_id)
    EXECUTE FUNCTION cmpgw_vendor_id_fixed();
CREATE OR REPLACE TRIGGER vendors_id_fixed BEFORE UPDATE OF id ON vendors
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION cmpgw_vendor_id_fixed();
