-- 002 agent_transformation_events: one row per agent identity transformation
-- (seed 003, deliverable 2). Links to the definition that was used, nests
-- under a parent transformation, carries correlation and session ids for
-- tracing, the JSONB context snapshot for replay, the routing confidence and
-- strategy that chose the target, timings and the quality reached.
-- Indexes: 12 in all (seed 003): primary key, two GIN, the composite
-- (target_agent, started_at DESC), eight b-tree of which two are partial.

CREATE TABLE agent_transformation_events (
    id                          uuid         NOT NULL DEFAULT gen_random_uuid(),
    event_type                  varchar(50)  NOT NULL DEFAULT 'transformation_complete',
    source_agent                varchar(255),
    target_agent                varchar(255) NOT NULL,
    agent_definition_id         uuid,
    parent_event_id             uuid,
    correlation_id              uuid         NOT NULL,
    session_id                  uuid,
    user_request                text,
    transformation_reason       text,
    routing_confidence          decimal(5,4),
    routing_strategy            varchar(100),
    context_snapshot            jsonb        NOT NULL DEFAULT '{}'::jsonb,
    metadata                    jsonb        NOT NULL DEFAULT '{}'::jsonb,
    transformation_duration_ms  integer,
    initialization_duration_ms  integer,
    total_execution_duration_ms integer,
    success                     boolean,
    error_message               text,
    error_type                  varchar(100),
    quality_score               decimal(5,4),
    started_at                  timestamptz  NOT NULL DEFAULT now(),
    completed_at                timestamptz,
    created_at                  timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT agent_transformation_events_pkey PRIMARY KEY (id),
    CONSTRAINT agent_transformation_events_definition_fkey FOREIGN KEY (agent_definition_id)
        REFERENCES agent_definitions (id) ON DELETE SET NULL,
    CONSTRAINT agent_transformation_events_parent_fkey FOREIGN KEY (parent_event_id)
        REFERENCES agent_transformation_events (id) ON DELETE SET NULL,
    CONSTRAINT agent_transformation_events_event_type_check CHECK (event_type IN
        ('transformation_start', 'transformation_complete', 'transformation_failed',
         'transformation_rollback')),
    CONSTRAINT agent_transformation_events_confidence_check CHECK (routing_confidence BETWEEN 0 AND 1),
    CONSTRAINT agent_transformation_events_quality_check CHECK (quality_score BETWEEN 0 AND 1),
    CONSTRAINT agent_transformation_events_durations_check CHECK (
        transformation_duration_ms >= 0 AND initialization_duration_ms >= 0
        AND total_execution_duration_ms >= 0),
    CONSTRAINT agent_transformation_events_completed_check CHECK (
        completed_at IS NULL OR completed_at >= started_at),
    CONSTRAINT agent_transformation_events_not_own_parent_check CHECK (parent_event_id <> id)
);

COMMENT ON TABLE agent_transformation_events IS 'Agent identity transformations with their full context';
COMMENT ON COLUMN agent_transformation_events.parent_event_id IS 'Enclosing transformation (nested transformations)';
COMMENT ON COLUMN agent_transformation_events.context_snapshot IS 'Context at transformation time, for debugging and replay';
COMMENT ON COLUMN agent_transformation_events.routing_confidence IS 'Router confidence that chose target_agent, 0..1';

-- GIN: JSONB search in the snapshot and the free-form metadata.
CREATE INDEX idx_ate_context_snapshot ON agent_transformation_events USING gin (context_snapshot);
CREATE INDEX idx_ate_metadata ON agent_transformation_events USING gin (metadata);

-- Composite: recent transformations of one agent.
CREATE INDEX idx_ate_target_started ON agent_transformation_events (target_agent, started_at DESC);

-- B-tree: tracing, joins, time series; partial for failures and scored rows.
CREATE INDEX idx_ate_correlation_id ON agent_transformation_events (correlation_id);
CREATE INDEX idx_ate_session_id ON agent_transformation_events (session_id);
CREATE INDEX idx_ate_agent_definition_id ON agent_transformation_events (agent_definition_id);
CREATE INDEX idx_ate_parent_event_id ON agent_transformation_events (parent_event_id);
CREATE INDEX idx_ate_started_at ON agent_transformation_events (started_at DESC);
CREATE INDEX idx_ate_event_type ON agent_transformation_events (event_type);
CREATE INDEX idx_ate_failures ON agent_transformation_events (started_at DESC) WHERE success = false;
CREATE INDEX idx_ate_quality ON agent_transformation_events (quality_score) WHERE quality_score IS NOT NULL;
