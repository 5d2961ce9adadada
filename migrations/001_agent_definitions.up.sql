-- 001 agent_definitions: the agent registry (seed 003, deliverable 1).
-- One row per (agent_name, agent_version). The agent's YAML configuration is
-- kept as parsed JSONB next to the metadata extracted from it, capabilities
-- and triggers are text arrays for fuzzy routing with array operators, and
-- config_hash (SHA-256, hex) tells whether a definition changed.
-- Indexes: 11 in all (seed 003): primary key, unique (name, version), four
-- GIN, the composite performance index and four b-tree, one of them partial.

-- Shared by every table that keeps an updated_at column (here and in 005, 006).
CREATE FUNCTION update_updated_at_column() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION update_updated_at_column() IS
    'BEFORE UPDATE trigger function: stamps updated_at with the transaction time';

CREATE TABLE agent_definitions (
    id                    uuid         NOT NULL DEFAULT gen_random_uuid(),
    agent_name            varchar(255) NOT NULL,
    agent_version         varchar(50)  NOT NULL DEFAULT '1.0.0',
    agent_type            varchar(100),
    description           text,
    yaml_config           jsonb        NOT NULL DEFAULT '{}'::jsonb,
    parsed_metadata       jsonb        NOT NULL DEFAULT '{}'::jsonb,
    capabilities          text[]       NOT NULL DEFAULT '{}'::text[],
    triggers              text[]       NOT NULL DEFAULT '{}'::text[],
    config_hash           char(64)     NOT NULL,
    is_active             boolean      NOT NULL DEFAULT true,
    success_rate          decimal(5,4) NOT NULL DEFAULT 0,
    quality_score         decimal(5,4) NOT NULL DEFAULT 0,
    avg_execution_time_ms integer      NOT NULL DEFAULT 0,
    total_executions      bigint       NOT NULL DEFAULT 0,
    created_at            timestamptz  NOT NULL DEFAULT now(),
    updated_at            timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT agent_definitions_pkey PRIMARY KEY (id),
    CONSTRAINT agent_definitions_name_version_key UNIQUE (agent_name, agent_version),
    CONSTRAINT agent_definitions_success_rate_check CHECK (success_rate BETWEEN 0 AND 1),
    CONSTRAINT agent_definitions_quality_score_check CHECK (quality_score BETWEEN 0 AND 1),
    CONSTRAINT agent_definitions_avg_time_check CHECK (avg_execution_time_ms >= 0),
    CONSTRAINT agent_definitions_total_executions_check CHECK (total_executions >= 0),
    CONSTRAINT agent_definitions_config_hash_check CHECK (config_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT agent_definitions_name_check CHECK (length(btrim(agent_name)) > 0)
);

COMMENT ON TABLE agent_definitions IS 'Agent registry: parsed YAML definitions, capabilities, triggers and performance';
COMMENT ON COLUMN agent_definitions.yaml_config IS 'The agent''s YAML configuration, parsed to JSONB';
COMMENT ON COLUMN agent_definitions.parsed_metadata IS 'Metadata extracted from yaml_config (domain, tools, owners)';
COMMENT ON COLUMN agent_definitions.capabilities IS 'Capability tags matched by the router with array operators';
COMMENT ON COLUMN agent_definitions.triggers IS 'Trigger phrases matched by the router (fuzzy)';
COMMENT ON COLUMN agent_definitions.config_hash IS 'SHA-256 of the YAML source, lower-case hex: change detection';
COMMENT ON COLUMN agent_definitions.success_rate IS 'Share of successful executions, 0..1';
COMMENT ON COLUMN agent_definitions.quality_score IS 'Mean quality of executions, 0..1';

-- GIN: JSONB containment and array overlap queries.
CREATE INDEX idx_agent_definitions_yaml_config ON agent_definitions USING gin (yaml_config);
CREATE INDEX idx_agent_definitions_parsed_metadata ON agent_definitions USING gin (parsed_metadata);
CREATE INDEX idx_agent_definitions_capabilities ON agent_definitions USING gin (capabilities);
CREATE INDEX idx_agent_definitions_triggers ON agent_definitions USING gin (triggers);

-- Composite: the router's "best agent first" ordering.
CREATE INDEX idx_agent_definitions_performance
    ON agent_definitions (success_rate DESC, quality_score DESC, avg_execution_time_ms ASC);

-- B-tree lookups; the active-agent index is partial (most queries filter on it).
CREATE INDEX idx_agent_definitions_agent_name ON agent_definitions (agent_name);
CREATE INDEX idx_agent_definitions_agent_type ON agent_definitions (agent_type);
CREATE INDEX idx_agent_definitions_active ON agent_definitions (agent_name) WHERE is_active;
CREATE INDEX idx_agent_definitions_updated_at ON agent_definitions (updated_at DESC);

CREATE TRIGGER trg_agent_definitions_updated_at
    BEFORE UPDATE ON agent_definitions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
