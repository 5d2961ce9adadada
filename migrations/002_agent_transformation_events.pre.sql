-- 002 pre: the registry it refers to exists, the log does not.
DO $$ BEGIN
    ASSERT to_regclass('public.agent_definitions') IS NOT NULL, 'agent_definitions missing (run 001 first)';
    ASSERT to_regclass('public.agent_transformation_events') IS NULL,
        'agent_transformation_events already exists';
END $$;
