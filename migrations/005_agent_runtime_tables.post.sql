-- 005 post: the client examples' columns exist with the types they need, and
-- the consumer's ON CONFLICT has its unique key.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
            ('agent_execution_logs', 'execution_id', 'uuid'),
            ('agent_execution_logs', 'status', 'character varying(50)'),
            ('agent_execution_logs', 'quality_score', 'numeric(5,4)'),
            ('agent_execution_logs', 'processed', 'boolean'),
            ('agent_routing_decisions', 'alternatives', 'jsonb'),
            ('agent_routing_decisions', 'confidence_score', 'numeric(5,4)'),
            ('agent_manifest_injections', 'sections_included', 'text[]'),
            ('agent_manifest_injections', 'full_manifest_snapshot', 'jsonb'),
            ('agent_manifest_injections', 'query_failures', 'jsonb'),
            ('agent_manifest_injections', 'patterns_count', 'integer'),
            ('agent_manifest_injections', 'total_query_time_ms', 'integer'),
            ('agent_actions', 'action_details', 'jsonb')) AS v(tbl, col, typ) LOOP
        ASSERT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                 WHERE attrelid = ('public.' || c.tbl)::regclass AND attname = c.col AND NOT attisdropped)
            IS NOT DISTINCT FROM c.typ, format('%s.%s is not %s', c.tbl, c.col, c.typ);
    END LOOP;
    ASSERT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'agent_actions_event_key' AND contype = 'u'),
        'agent_actions has no natural unique key for ON CONFLICT';
END $$;
