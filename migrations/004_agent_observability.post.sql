-- 004 post: the four tables seed 004 needs exist, and each has an index
-- leading with created_at (retention deletes by it).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['trace_events', 'routing_decisions', 'performance_metrics',
                             'transformation_events'] LOOP
        ASSERT to_regclass('agent_observability.' || t) IS NOT NULL,
            format('agent_observability.%s missing', t);
        ASSERT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a
                         ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                        WHERE i.indrelid = ('agent_observability.' || t)::regclass
                          AND a.attname = 'created_at'),
            format('agent_observability.%s has no index on created_at (retention)', t);
    END LOOP;
    ASSERT to_regprocedure('agent_observability.apply_retention_policy(integer,integer,integer,integer)')
        IS NOT NULL, 'apply_retention_policy missing';
END $$;
