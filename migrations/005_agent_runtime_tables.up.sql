-- 005 the tables the client examples of seeds 000 and 002 read and write:
--   agent_execution_logs       one row per agent run (insert at start, update
--                              at the end: status, quality, duration);
--   agent_routing_decisions    the router's choice with confidence, strategy
--                              and JSONB alternatives;
--   agent_manifest_injections  the manifest injected into an agent
--                              (ManifestInjectionStorage: JSONB snapshot and
--                              query_failures, text[] sections and warnings,
--                              and the completion columns mark_agent_completed
--                              fills in);
--   agent_actions              what kafka_agent_action_consumer writes in
--                              batches with ON CONFLICT DO NOTHING: the natural
--                              key (correlation_id, action_type, action_name,
--                              created_at) makes a redelivered event a no-op.

CREATE TABLE agent_execution_logs (
    execution_id   uuid         NOT NULL DEFAULT gen_random_uuid(),
    correlation_id uuid,
    session_id     uuid,
    agent_name     varchar(255) NOT NULL,
    user_prompt    text,
    status         varchar(50)  NOT NULL DEFAULT 'in_progress',
    started_at     timestamptz  NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    duration_ms    integer,
    quality_score  decimal(5,4),
    error_message  text,
    error_type     varchar(100),
    metadata       jsonb        NOT NULL DEFAULT '{}'::jsonb,
    processed      boolean      NOT NULL DEFAULT false,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT agent_execution_logs_pkey PRIMARY KEY (execution_id),
    CONSTRAINT agent_execution_logs_status_check CHECK (status IN
        ('in_progress', 'success', 'error', 'failed', 'cancelled', 'timeout')),
    CONSTRAINT agent_execution_logs_quality_check CHECK (quality_score BETWEEN 0 AND 1),
    CONSTRAINT agent_execution_logs_duration_check CHECK (duration_ms >= 0),
    CONSTRAINT agent_execution_logs_completed_check CHECK (completed_at IS NULL OR completed_at >= started_at)
);
COMMENT ON TABLE agent_execution_logs IS 'Agent runs: started in_progress, completed with status, quality and duration';
CREATE INDEX idx_execution_logs_agent_status ON agent_execution_logs (agent_name, status);
CREATE INDEX idx_execution_logs_correlation_id ON agent_execution_logs (correlation_id);
CREATE INDEX idx_execution_logs_created_at ON agent_execution_logs (created_at DESC);
CREATE INDEX idx_execution_logs_unprocessed ON agent_execution_logs (status) WHERE NOT processed;
CREATE TRIGGER trg_agent_execution_logs_updated_at
    BEFORE UPDATE ON agent_execution_logs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE agent_routing_decisions (
    id                 uuid         NOT NULL DEFAULT gen_random_uuid(),
    correlation_id     uuid,
    session_id         uuid,
    user_request       text,
    selected_agent     varchar(255) NOT NULL,
    confidence_score   decimal(5,4) NOT NULL,
    routing_strategy   varchar(100) NOT NULL DEFAULT 'enhanced_fuzzy_matching',
    alternatives       jsonb        NOT NULL DEFAULT '[]'::jsonb,
    reasoning          text,
    routing_time_ms    integer,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT agent_routing_decisions_pkey PRIMARY KEY (id),
    CONSTRAINT agent_routing_decisions_confidence_check CHECK (confidence_score BETWEEN 0 AND 1),
    CONSTRAINT agent_routing_decisions_time_check CHECK (routing_time_ms >= 0)
);
COMMENT ON TABLE agent_routing_decisions IS 'Router decisions as the agents record them (seed 002)';
CREATE INDEX idx_routing_decisions_confidence_created
    ON agent_routing_decisions (confidence_score, created_at DESC);
CREATE INDEX idx_agent_routing_decisions_agent ON agent_routing_decisions (selected_agent);
CREATE INDEX idx_agent_routing_decisions_correlation_id ON agent_routing_decisions (correlation_id);
CREATE INDEX idx_agent_routing_decisions_created_at ON agent_routing_decisions (created_at);

CREATE TABLE agent_manifest_injections (
    id                          uuid         NOT NULL DEFAULT gen_random_uuid(),
    correlation_id              uuid         NOT NULL,
    session_id                  uuid,
    agent_name                  varchar(255) NOT NULL,
    manifest_version            varchar(50)  NOT NULL DEFAULT '1.0.0',
    generation_source           varchar(100) NOT NULL DEFAULT 'archon-intelligence-adapter',
    is_fallback                 boolean      NOT NULL DEFAULT false,
    sections_included           text[]       NOT NULL DEFAULT '{}'::text[],
    patterns_count              integer      NOT NULL DEFAULT 0,
    infrastructure_services     integer      NOT NULL DEFAULT 0,
    models_count                integer      NOT NULL DEFAULT 0,
    database_schemas_count      integer      NOT NULL DEFAULT 0,
    query_times                 jsonb        NOT NULL DEFAULT '{}'::jsonb,
    total_query_time_ms         integer      NOT NULL DEFAULT 0,
    full_manifest_snapshot      jsonb        NOT NULL DEFAULT '{}'::jsonb,
    formatted_manifest_text     text,
    manifest_size_bytes         integer,
    intelligence_available      boolean      NOT NULL DEFAULT true,
    query_failures              jsonb        NOT NULL DEFAULT '{}'::jsonb,
    warnings                    text[]       NOT NULL DEFAULT '{}'::text[],
    processed                   boolean      NOT NULL DEFAULT false,
    agent_execution_success     boolean,
    agent_completed_at          timestamptz,
    agent_execution_duration_ms integer,
    agent_quality_score         decimal(5,4),
    created_at                  timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT agent_manifest_injections_pkey PRIMARY KEY (id),
    CONSTRAINT agent_manifest_injections_counts_check CHECK (
        patterns_count >= 0 AND infrastructure_services >= 0 AND models_count >= 0
        AND database_schemas_count >= 0 AND total_query_time_ms >= 0),
    CONSTRAINT agent_manifest_injections_size_check CHECK (manifest_size_bytes >= 0),
    CONSTRAINT agent_manifest_injections_quality_check CHECK (agent_quality_score BETWEEN 0 AND 1),
    CONSTRAINT agent_manifest_injections_duration_check CHECK (agent_execution_duration_ms >= 0)
);
COMMENT ON TABLE agent_manifest_injections IS 'Manifests injected into agents, with their query timings and outcome';
COMMENT ON COLUMN agent_manifest_injections.query_times IS 'Per-section query time in ms, e.g. {"patterns": 450}';
COMMENT ON COLUMN agent_manifest_injections.query_failures IS 'Per-section query errors, empty when all succeeded';
CREATE INDEX idx_manifest_injections_correlation_id ON agent_manifest_injections (correlation_id);
CREATE INDEX idx_manifest_injections_agent_created ON agent_manifest_injections (agent_name, created_at DESC);
CREATE INDEX idx_manifest_injections_fallback ON agent_manifest_injections (created_at DESC) WHERE is_fallback;
CREATE INDEX idx_manifest_injections_snapshot ON agent_manifest_injections USING gin (full_manifest_snapshot);

CREATE TABLE agent_actions (
    id             uuid         NOT NULL DEFAULT gen_random_uuid(),
    correlation_id uuid         NOT NULL,
    agent_name     varchar(255) NOT NULL,
    action_type    varchar(50)  NOT NULL,
    action_name    varchar(255) NOT NULL,
    action_details jsonb        NOT NULL DEFAULT '{}'::jsonb,
    debug_mode     boolean      NOT NULL DEFAULT true,
    duration_ms    integer,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT agent_actions_pkey PRIMARY KEY (id),
    CONSTRAINT agent_actions_event_key UNIQUE (correlation_id, action_type, action_name, created_at),
    CONSTRAINT agent_actions_action_type_check CHECK (action_type IN
        ('tool_call', 'decision', 'error', 'success')),
    CONSTRAINT agent_actions_duration_check CHECK (duration_ms >= 0)
);
COMMENT ON TABLE agent_actions IS 'Agent actions consumed from Kafka; the event key makes redelivery idempotent';
COMMENT ON COLUMN agent_actions.created_at IS 'The event''s own timestamp (part of the idempotency key)';
CREATE INDEX idx_agent_actions_agent_created ON agent_actions (agent_name, created_at DESC);
CREATE INDEX idx_agent_actions_type ON agent_actions (action_type);
