-- 003 pre: the metrics table does not exist yet.
DO $$ BEGIN
    ASSERT to_regclass('public.router_performance_metrics') IS NULL,
        'router_performance_metrics already exists';
END $$;
