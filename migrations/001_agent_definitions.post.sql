-- 001 post: seed 003's promises about agent_definitions (holds after up, and
-- before down): 11 indexes (1 primary key, 1 unique, 4 GIN, 1 partial, the
-- composite performance index), the updated_at trigger, scores as numeric(5,4).
DO $$
DECLARE
    n integer;
BEGIN
    ASSERT to_regclass('public.agent_definitions') IS NOT NULL, 'agent_definitions missing';
    SELECT count(*) INTO n FROM pg_index WHERE indrelid = 'public.agent_definitions'::regclass;
    ASSERT n = 11, format('agent_definitions has %s indexes, seed 003 says 11', n);
    SELECT count(*) INTO n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am a ON a.oid = c.relam
     WHERE i.indrelid = 'public.agent_definitions'::regclass AND a.amname = 'gin';
    ASSERT n = 4, format('agent_definitions has %s GIN indexes, expected 4', n);
    SELECT count(*) INTO n FROM pg_index
     WHERE indrelid = 'public.agent_definitions'::regclass AND indpred IS NOT NULL;
    ASSERT n = 1, format('agent_definitions has %s partial indexes, expected 1', n);
    ASSERT (SELECT pg_get_indexdef('public.idx_agent_definitions_performance'::regclass)) LIKE
        '%(success_rate DESC, quality_score DESC, avg_execution_time_ms)',
        'composite performance index has the wrong columns';
    ASSERT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'public.agent_definitions'::regclass
                      AND tgname = 'trg_agent_definitions_updated_at'), 'updated_at trigger missing';
    ASSERT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = 'public.agent_definitions'::regclass AND attname = 'quality_score')
        = 'numeric(5,4)', 'quality_score is not numeric(5,4)';
END $$;
