-- 006 pre: no code-generation table or function exists yet.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['generation_sessions', 'generation_artifacts', 'mixin_compatibility_matrix',
                             'pattern_feedback_log', 'generation_performance_metrics',
                             'template_cache_metadata', 'event_processing_metrics'] LOOP
        ASSERT to_regclass('public.' || t) IS NULL, format('%s already exists', t);
    END LOOP;
    ASSERT NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'update_mixin_compatibility'),
        'update_mixin_compatibility already exists';
END $$;
