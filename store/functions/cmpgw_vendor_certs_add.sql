-- cmpgw_vendor_certs_add: register the CA certificates of one file for one
-- vendor, all or none (issue 14; `cmpgw vendor anchor|intermediate add`).
-- The arrays are parallel, one element per certificate, in file order
-- (idx 1..n). Registry writes are serialised by a transaction-scoped
-- advisory lock, so the owner check and the insert are one step for
-- concurrent CLIs. Returns one row per certificate:
--   'other_vendor', detail = the vendor that holds it: nothing is written
--                  (only the conflicting rows are returned);
--   'added';
--   'exists', detail = the kind it is registered as (idempotent).
-- No row at all when the vendor does not exist.
CREATE OR REPLACE FUNCTION cmpgw_vendor_certs_add(p_vendor bigint, p_kind text,
	p_der bytea[], p_fp bytea[], p_subject text[], p_not_after bigint[])
RETURNS TABLE (idx int, outcome text, detail text)
LANGUAGE plpgsql AS $$
DECLARE
	n int := coalesce(array_length(p_der, 1), 0);
	conflict boolean := false;
	o text;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('cmpgw_vendor_registry'));
	PERFORM 1 FROM vendors WHERE id = p_vendor;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	FOR i IN 1 .. n LOOP
		SELECT v.name INTO o FROM vendor_certs c JOIN vendors v ON v.id = c.vendor_id
		 WHERE c.fingerprint = p_fp[i] AND c.vendor_id <> p_vendor;
		IF FOUND THEN
			conflict := true;
			idx := i; outcome := 'other_vendor'; detail := o;
			RETURN NEXT;
		END IF;
	END LOOP;
	IF conflict THEN
		RETURN;
	END IF;
	FOR i IN 1 .. n LOOP
		INSERT INTO vendor_certs (vendor_id, kind, der, fingerprint, subject, not_after)
		VALUES (p_vendor, p_kind, p_der[i], p_fp[i], p_subject[i],
			to_timestamp(p_not_after[i]))
		ON CONFLICT (fingerprint) DO NOTHING;
		idx := i;
		IF FOUND THEN
			outcome := 'added'; detail := NULL;
		ELSE
			outcome := 'exists';
			SELECT kind INTO detail FROM vendor_certs WHERE fingerprint = p_fp[i];
		END IF;
		RETURN NEXT;
	END LOOP;
END
$$;
