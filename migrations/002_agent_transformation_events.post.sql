-- 002 post: 12 indexes (seed 003), two of them GIN and two partial; the
-- foreign keys to the registry and to itself.
DO $$
DECLARE
    n integer;
BEGIN
    SELECT count(*) INTO n FROM pg_index WHERE indrelid = 'public.agent_transformation_events'::regclass;
    ASSERT n = 12, format('agent_transformation_events has %s indexes, seed 003 says 12', n);
    SELECT count(*) INTO n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_am a ON a.oid = c.relam
     WHERE i.indrelid = 'public.agent_transformation_events'::regclass AND a.amname = 'gin';
    ASSERT n = 2, format('agent_transformation_events has %s GIN indexes, expected 2', n);
    SELECT count(*) INTO n FROM pg_index
     WHERE indrelid = 'public.agent_transformation_events'::regclass AND indpred IS NOT NULL;
    ASSERT n = 2, format('agent_transformation_events has %s partial indexes, expected 2', n);
    SELECT count(*) INTO n FROM pg_constraint
     WHERE conrelid = 'public.agent_transformation_events'::regclass AND contype = 'f';
    ASSERT n = 2, format('agent_transformation_events has %s foreign keys, expected 2', n);
    ASSERT EXISTS (SELECT 1 FROM pg_constraint
                    WHERE conrelid = 'public.agent_transformation_events'::regclass AND contype = 'f'
                      AND confrelid = 'public.agent_transformation_events'::regclass),
        'self-referencing parent_event_id foreign key missing';
END $$;
