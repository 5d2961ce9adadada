-- 001 pre: the registry does not exist yet (holds before up, and after down).
DO $$ BEGIN
    ASSERT to_regclass('public.agent_definitions') IS NULL, 'agent_definitions already exists';
    ASSERT to_regprocedure('public.update_updated_at_column()') IS NULL,
        'update_updated_at_column() already exists';
END $$;
