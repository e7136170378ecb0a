-- Registry changes are announced (issue 11, 014). Every worker of every
-- node LISTENs on channel cmpgw_registry (store/listen.c) and reloads its
-- vendor registry when notified, instead of polling it. The triggers are
-- per statement, so a bulk change sends one notification, and PostgreSQL
-- delivers it at commit only (folding duplicates within a transaction); a
-- rolled-back change sends nothing. Changes made by the CLI, by another
-- node or by SQL directly are all announced. Serial lists are read per
-- request and need no trigger.
CREATE OR REPLACE FUNCTION cmpgw_registry_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('cmpgw_registry', '');
	RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER vendors_notify
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vendors
	FOR EACH STATEMENT EXECUTE FUNCTION cmpgw_registry_notify();
CREATE OR REPLACE TRIGGER vendor_certs_notify
	AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vendor_certs
	FOR EACH STATEMENT EXECUTE FUNCTION cmpgw_registry_notify();
