-- 004 pre: the schema does not exist yet (seed 004's "relation does not exist").
DO $$ BEGIN
    ASSERT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'agent_observability'),
        'schema agent_observability already exists';
END $$;
