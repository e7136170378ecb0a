-- 015: every SQL function now lives in store/functions/<name>.sql, one
-- current definition each, (re)applied by store/migrate.c after the
-- numbered migrations, in the same transaction, whenever its content
-- changed or a numbered migration ran (issue 12; the rule is in
-- store/meson.build).
--
-- CREATE OR REPLACE cannot change a function's argument types (it would
-- add an overload next to the old one), argument names or return type.
-- So the functions created by 002..014 are dropped here, every signature
-- any of them ever had (009, 012 and 013 replaced some), and re-created
-- from store/functions/ right after: an upgraded database then holds
-- exactly the functions of a fresh one (test_migrate.py compares the two
-- schemas). Trigger functions are kept: their signature never changes,
-- CREATE OR REPLACE updates them in place, and their triggers stay.
-- A fresh database has no function yet: nothing to drop.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = current_schema()
                AND p.proname LIKE 'cmpgw\_%'
                AND p.prorettype <> 'trigger'::regtype
              ORDER BY 1
    LOOP
        EXECUTE format('DROP FUNCTION %s', f);
    END LOOP;
END $$;
