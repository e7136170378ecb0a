-- One page of a vendor's serial list for the admin API (store/api.c: the
-- JSON list and the text export), in byte order after p_after, filtered
-- by state and by prefix (its bytes exactly: LIKE wildcards escaped).
-- p_full false: the serial alone (the export's pages), the other columns
-- NULL.
--
-- Why a function: the page must walk serials_pkey in order from the
-- cursor and stop after p_limit rows whatever the table's statistics say.
-- Right after a large import, before autovacuum analyzes serials, the
-- planner thinks a vendor has a few hundred rows and picks a bitmap scan
-- of every row past the cursor and a sort: a whole export read page by
-- page then costs the square of the list (1,000,000 serials: 8 s instead
-- of 0.6 s). enable_sort off (for this function only) leaves it the
-- ordered index scan; EXECUTE plans the statement with the values as
-- constants (format %L), so that a prefix is an index range.
CREATE OR REPLACE FUNCTION cmpgw_serials_page(p_vendor bigint, p_state text, p_prefix text,
                                              p_after text, p_limit integer, p_full boolean)
RETURNS TABLE (serial text, state text, enrolled_at text, updated_at text)
LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
BEGIN
    RETURN QUERY EXECUTE format(
        'SELECT s.serial::text, %s FROM serials s WHERE s.vendor_id = %s%s%s%s'
        ' ORDER BY s.serial LIMIT %s',
        CASE WHEN p_full THEN
            's.state::text,'
            ' to_char(s.enrolled_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS"Z"''),'
            ' to_char(s.updated_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS"Z"'')'
        ELSE 'NULL::text, NULL::text, NULL::text' END,
        p_vendor,
        CASE WHEN p_state IS NULL THEN '' ELSE format(' AND s.state = %L', p_state) END,
        CASE WHEN p_prefix IS NULL THEN '' ELSE format(' AND s.serial LIKE %L',
            replace(replace(replace(p_prefix, '\', '\\'), '%', '\%'), '_', '\_') || '%') END,
        CASE WHEN p_after IS NULL THEN '' ELSE format(' AND s.serial > %L', p_after) END,
        p_limit);
END $$;
