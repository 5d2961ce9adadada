-- 007 down: removes the adapter's records (schema dbev_adapter, its table and
-- functions, named one by one so that anything else found there fails the
-- down loudly) and what dbev_app was granted in THIS database. The roles
-- stay: they are cluster-wide, other databases of the server may use them,
-- and PostgreSQL refuses to drop a role that still holds privileges there.
-- To remove them once no database uses them: DROP ROLE dbev_app, dbev_bookkeeper.
DROP FUNCTION dbev_adapter.retention(bigint, bigint);
DROP FUNCTION dbev_adapter.lookup(text[], text[]);
DROP FUNCTION dbev_adapter.record(text[], text[], text[], text[], json);
DROP FUNCTION dbev_adapter.store(text, text, json);
DROP FUNCTION dbev_adapter.claim(text, text, text, text);
DROP TABLE dbev_adapter.processed_events;
DROP SCHEMA dbev_adapter;

ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM dbev_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM dbev_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dbev_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM dbev_app;
REVOKE CREATE ON SCHEMA public FROM dbev_app;
REVOKE USAGE ON SCHEMA public FROM dbev_app;
DO $$
BEGIN
    IF to_regnamespace('agent_observability') IS NOT NULL THEN
        ALTER DEFAULT PRIVILEGES IN SCHEMA agent_observability REVOKE ALL ON TABLES FROM dbev_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA agent_observability REVOKE ALL ON SEQUENCES FROM dbev_app;
        REVOKE ALL ON ALL TABLES IN SCHEMA agent_observability FROM dbev_app;
        REVOKE ALL ON ALL SEQUENCES IN SCHEMA agent_observability FROM dbev_app;
        REVOKE USAGE ON SCHEMA agent_observability FROM dbev_app;
    END IF;
END $$;
