-- 007 post: the adapter's role holds no power over the server, and its
-- records are reachable only through the bookkeeper's functions.
DO $$
DECLARE
    f text;
BEGIN
    ASSERT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbev_app' AND rolcanlogin
                     AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb
                     AND NOT rolreplication AND NOT rolbypassrls),
        'dbev_app missing, or holds an attribute it must not';
    ASSERT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbev_bookkeeper'
                         AND (rolcanlogin OR rolsuper)),
        'dbev_bookkeeper can log in or is a superuser';
    FOREACH f IN ARRAY ARRAY['pg_read_server_files', 'pg_write_server_files',
                             'pg_execute_server_program', 'pg_signal_backend',
                             'pg_read_all_data', 'pg_write_all_data', 'pg_read_all_settings',
                             'pg_read_all_stats', 'pg_monitor', 'dbev_bookkeeper'] LOOP
        ASSERT NOT pg_has_role('dbev_app', f, 'MEMBER'), format('dbev_app is a member of %s', f);
    END LOOP;
    ASSERT NOT has_table_privilege('dbev_app', 'dbev_adapter.processed_events',
                                   'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER'),
        'dbev_app has a privilege on dbev_adapter.processed_events';
    FOREACH f IN ARRAY ARRAY['dbev_adapter.claim(text,text,text,text)',
                             'dbev_adapter.store(text,text,json)',
                             'dbev_adapter.record(text[],text[],text[],text[],json)',
                             'dbev_adapter.lookup(text[],text[])',
                             'dbev_adapter.retention(bigint,bigint)'] LOOP
        ASSERT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_roles o ON o.oid = p.proowner
                        WHERE p.oid = to_regprocedure(f) AND p.prosecdef
                          AND o.rolname = 'dbev_bookkeeper'
                          AND p.proconfig = ARRAY['search_path=pg_catalog, pg_temp']),
            format('%s missing, not SECURITY DEFINER, not the bookkeeper''s or without its search_path', f);
        ASSERT has_function_privilege('dbev_app', f, 'EXECUTE'), format('dbev_app cannot call %s', f);
    END LOOP;
    ASSERT has_table_privilege('dbev_app', 'public.agent_actions', 'SELECT, INSERT, UPDATE, DELETE'),
        'dbev_app cannot read and write agent_actions';
    ASSERT has_table_privilege('dbev_app', 'agent_observability.trace_events', 'INSERT'),
        'dbev_app cannot write agent_observability.trace_events';
END $$;
