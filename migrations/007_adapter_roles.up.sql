-- 007 adapter roles: least privilege for the adapter, and its idempotency
-- records out of its callers' reach.
--
-- dbev_app (LOGIN) is the role the adapter connects as. Callers' SELECT and
-- EXECUTE run as it too, so it holds only what the application needs: DML on
-- the application's tables and sequences (public and agent_observability,
-- these and those later migrations make), CREATE on public (EXECUTE carries
-- the seed's DDL: run_migration() creates tables; what it creates it owns,
-- what migrations made it can only read and write), and no attribute or
-- predefined role that reaches the server's files, programs or other
-- backends. dbev_bookkeeper (NOLOGIN) owns the adapter's records
-- (dbev_adapter.processed_events); dbev_app has no privilege on that table
-- and reaches it only through the SECURITY DEFINER functions below.
--
-- Roles are cluster-wide: created when missing (another database of the
-- server may have made them already; a concurrent creation is tolerated),
-- their attributes set, and left in place by the down migration. No
-- password is set here: the DBA gives dbev_app one (ALTER ROLE ... PASSWORD)
-- or trusts local connections.
--
-- The adapter runs this same file itself when it finds its records missing
-- and is connected as a superuser (pg.allow.superuser=true: tests, benches),
-- so every statement is safe to repeat. A processed_events table made by an
-- older adapter (superuser-owned, no fingerprint, perhaps response jsonb) is
-- adopted: the fingerprint column is added and the table given to the
-- bookkeeper.

DO $$
BEGIN
    BEGIN
        CREATE ROLE dbev_app LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- made by another database's migration, perhaps at this moment
    END;
    BEGIN
        CREATE ROLE dbev_bookkeeper NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
END $$;
ALTER ROLE dbev_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE dbev_bookkeeper NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- What the application's tables need, now and for what later migrations make.
GRANT USAGE, CREATE ON SCHEMA public TO dbev_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dbev_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO dbev_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dbev_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO dbev_app;
-- agent_observability is migration 004's; a database the adapter prepares
-- for itself (tests) may not have it.
DO $$
BEGIN
    IF to_regnamespace('agent_observability') IS NOT NULL THEN
        GRANT USAGE ON SCHEMA agent_observability TO dbev_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA agent_observability TO dbev_app;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA agent_observability TO dbev_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA agent_observability
            GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dbev_app;
        ALTER DEFAULT PRIVILEGES IN SCHEMA agent_observability
            GRANT USAGE, SELECT ON SEQUENCES TO dbev_app;
    END IF;
    -- The migration runner's ledger is not the application's: readable (the
    -- seed's validate_002_migration.py reads it), never writable.
    IF to_regclass('public.schema_migrations') IS NOT NULL THEN
        REVOKE ALL ON public.schema_migrations FROM dbev_app;
        GRANT SELECT ON public.schema_migrations TO dbev_app;
    END IF;
END $$;

-- The records. event_id in "C" collation: compared byte for byte.
CREATE SCHEMA IF NOT EXISTS dbev_adapter AUTHORIZATION dbev_bookkeeper;
ALTER SCHEMA dbev_adapter OWNER TO dbev_bookkeeper;
COMMENT ON SCHEMA dbev_adapter IS 'The adapter''s idempotency records; reached only through its functions';
CREATE TABLE IF NOT EXISTS dbev_adapter.processed_events (
    event_id       text COLLATE "C" PRIMARY KEY,
    correlation_id text,
    operation      text,
    response       json,
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- SHA-256 (hex) of the request: operation and payload, canonical JSON. NULL
-- only in records written before fingerprints existed.
ALTER TABLE dbev_adapter.processed_events ADD COLUMN IF NOT EXISTS fingerprint text;
ALTER TABLE dbev_adapter.processed_events OWNER TO dbev_bookkeeper;
-- BRIN: rows arrive in created_at order, and a BRIN index costs next to
-- nothing per insert, which matters at 20,000 writes per second.
CREATE INDEX IF NOT EXISTS processed_events_created_at_brin
    ON dbev_adapter.processed_events USING brin (created_at);
REVOKE ALL ON SCHEMA dbev_adapter FROM PUBLIC;
REVOKE ALL ON dbev_adapter.processed_events FROM PUBLIC, dbev_app;
GRANT USAGE ON SCHEMA dbev_adapter TO dbev_app;

-- A record without a fingerprint would match any request (that is what
-- records from before fingerprints do), so claim and record refuse one. Any
-- other text is harmless: it matches no request but the one it was made of.
-- claim: one event, before its write runs (a concurrent duplicate waits on
-- the primary key, then fails with unique_violation). Adds a record for an
-- unused id only.
CREATE OR REPLACE FUNCTION dbev_adapter.claim(p_event_id text, p_correlation_id text,
                                              p_operation text, p_fingerprint text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_fingerprint IS NULL THEN
        RAISE EXCEPTION 'dbev_adapter.claim: a fingerprint is required' USING ERRCODE = '22004';
    END IF;
    INSERT INTO dbev_adapter.processed_events (event_id, correlation_id, operation, fingerprint)
    VALUES (p_event_id, p_correlation_id, p_operation, p_fingerprint);
END $$;

-- store: the response of an event claimed in THIS transaction (a caller
-- cannot rewrite a committed record, nor one it did not just claim).
CREATE OR REPLACE FUNCTION dbev_adapter.store(p_event_id text, p_fingerprint text, p_response json)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE dbev_adapter.processed_events SET response = p_response
     WHERE event_id = p_event_id AND fingerprint = p_fingerprint AND response IS NULL
       AND xmin = pg_current_xact_id()::xid;
END $$;

-- record: many events with their responses, after their writes ran (a
-- group): the arrays zipped by ROWS FROM; a JSON null response is a plain
-- INSERT's predictable answer (stored as NULL). json, not jsonb: parsing
-- 20,000 responses a second into jsonb cost PostgreSQL a seventh of its CPU,
-- and they are only ever read back whole. Adds records for unused ids only
-- (a used one fails the whole call with unique_violation).
CREATE OR REPLACE FUNCTION dbev_adapter.record(p_event_ids text[], p_correlation_ids text[],
                                               p_operations text[], p_fingerprints text[],
                                               p_responses json)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF array_position(p_fingerprints, NULL) IS NOT NULL
       OR cardinality(p_fingerprints) IS DISTINCT FROM cardinality(p_event_ids) THEN
        RAISE EXCEPTION 'dbev_adapter.record: one fingerprint per event is required'
            USING ERRCODE = '22004';
    END IF;
    INSERT INTO dbev_adapter.processed_events
           (event_id, correlation_id, operation, fingerprint, response)
    SELECT e, c, o, f, CASE WHEN json_typeof(r) = 'null' THEN NULL ELSE r END
      FROM ROWS FROM (unnest(p_event_ids), unnest(p_correlation_ids), unnest(p_operations),
                      unnest(p_fingerprints), json_array_elements(p_responses)) AS t(e, c, o, f, r);
END $$;

-- lookup: for each (event id, fingerprint) pair whose id is recorded, one
-- row with the pair's position in the arrays (from 1; one id may come twice,
-- with two different requests): reused false and the stored answer when the fingerprint is the
-- record's (or the record predates fingerprints), reused true and nothing
-- else when the id was used by another request. So a stored answer goes only
-- to whoever presents the request it answers. A LATERAL probe per id: one
-- primary-key lookup each, whatever the statistics say (LIMIT 1 keeps the
-- planner from flattening it into a join that may scan the table).
CREATE OR REPLACE FUNCTION dbev_adapter.lookup(p_event_ids text[], p_fingerprints text[])
RETURNS TABLE (idx bigint, reused boolean, operation text, response json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN QUERY
    SELECT k.n, p.mismatch,
           CASE WHEN p.mismatch THEN NULL ELSE p.operation END,
           CASE WHEN p.mismatch THEN NULL ELSE p.response END
      FROM ROWS FROM (unnest(p_event_ids), unnest(p_fingerprints)) WITH ORDINALITY AS k(id, fp, n)
      CROSS JOIN LATERAL (
           SELECT r.operation, r.response::json AS response,
                  (r.fingerprint IS NOT NULL AND r.fingerprint IS DISTINCT FROM k.fp) AS mismatch
             FROM dbev_adapter.processed_events AS r
            WHERE r.event_id = k.id LIMIT 1) AS p;
END $$;

-- retention: deletes at most p_limit records older than the retention, and
-- never one younger than an hour, whatever a caller asks: redeliveries and
-- client retries come within minutes, so a caller cannot erase the records
-- that keep a redelivered write from running twice.
CREATE OR REPLACE FUNCTION dbev_adapter.retention(p_retention_ms bigint, p_limit bigint)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM dbev_adapter.processed_events WHERE ctid = ANY (ARRAY(
        SELECT ctid FROM dbev_adapter.processed_events
         WHERE created_at < now() - make_interval(secs => greatest(p_retention_ms, 3600000) / 1000.0)
         LIMIT greatest(p_limit, 0)));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

ALTER FUNCTION dbev_adapter.claim(text, text, text, text) OWNER TO dbev_bookkeeper;
ALTER FUNCTION dbev_adapter.store(text, text, json) OWNER TO dbev_bookkeeper;
ALTER FUNCTION dbev_adapter.record(text[], text[], text[], text[], json) OWNER TO dbev_bookkeeper;
ALTER FUNCTION dbev_adapter.lookup(text[], text[]) OWNER TO dbev_bookkeeper;
ALTER FUNCTION dbev_adapter.retention(bigint, bigint) OWNER TO dbev_bookkeeper;
REVOKE ALL ON FUNCTION dbev_adapter.claim(text, text, text, text),
                       dbev_adapter.store(text, text, json),
                       dbev_adapter.record(text[], text[], text[], text[], json),
                       dbev_adapter.lookup(text[], text[]),
                       dbev_adapter.retention(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dbev_adapter.claim(text, text, text, text),
                          dbev_adapter.store(text, text, json),
                          dbev_adapter.record(text[], text[], text[], text[], json),
                          dbev_adapter.lookup(text[], text[]),
                          dbev_adapter.retention(bigint, bigint) TO dbev_app;
