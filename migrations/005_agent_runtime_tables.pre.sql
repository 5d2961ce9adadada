-- 005 pre: none of the four tables exists; the shared trigger function does.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['agent_execution_logs', 'agent_routing_decisions',
                             'agent_manifest_injections', 'agent_actions'] LOOP
        ASSERT to_regclass('public.' || t) IS NULL, format('%s already exists', t);
    END LOOP;
    ASSERT to_regprocedure('public.update_updated_at_column()') IS NOT NULL,
        'update_updated_at_column() missing (run 001 first)';
END $$;
