-- 003 post: 11 indexes here and seed 003's totals over its three tables: 34
-- indexes with the primary keys, 8 GIN, 6 partial, 3 composite (non-unique,
-- more than one column).
DO $$
DECLARE
    n integer;
    tables regclass[] := ARRAY['public.agent_definitions', 'public.agent_transformation_events',
                               'public.router_performance_metrics']::regclass[];
BEGIN
    SELECT count(*) INTO n FROM pg_index WHERE indrelid = 'public.router_performance_metrics'::regclass;
    ASSERT n = 11, format('router_performance_metrics has %s indexes, seed 003 says 11', n);
    SELECT count(*) INTO n FROM pg_index WHERE indrelid = ANY (tables);
    ASSERT n = 34, format('seed 003 tables have %s indexes, seed 003 says 34', n);
    SELECT count(*) INTO n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = ANY (tables) AND a.amname = 'gin';
    ASSERT n = 8, format('seed 003 tables have %s GIN indexes, seed 003 says 8', n);
    SELECT count(*) INTO n FROM pg_index WHERE indrelid = ANY (tables) AND indpred IS NOT NULL;
    ASSERT n = 6, format('seed 003 tables have %s partial indexes, seed 003 says 6', n);
    SELECT count(*) INTO n FROM pg_index
     WHERE indrelid = ANY (tables) AND NOT indisunique AND indnkeyatts > 1;
    ASSERT n = 3, format('seed 003 tables have %s composite indexes, seed 003 says 3', n);
    SELECT count(*) INTO n FROM pg_index WHERE indrelid = ANY (tables) AND indisprimary;
    ASSERT n = 3, format('seed 003 tables have %s primary keys, expected 3', n);
END $$;
