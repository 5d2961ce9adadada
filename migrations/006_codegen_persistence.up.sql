-- 006 code-generation persistence: what seed 000's CodegenPersistence
-- (agents/lib/persistence.py) reads and writes.
--   generation_sessions             session management (upsert, complete)
--   generation_artifacts            artifacts of a session (insert)
--   mixin_compatibility_matrix      mixin pairs per node type; written only
--                                   through update_mixin_compatibility()
--   pattern_feedback_log            pattern detection feedback (record, analyse)
--   generation_performance_metrics  per-phase timings (insert, summary)
--   template_cache_metadata         template cache (upsert, update metrics,
--                                   efficiency)
--   event_processing_metrics        event processing (insert, health)
-- The summary functions are the read side of the method list: one per
-- "summary", "analyse", "efficiency" and "health" method.

CREATE TABLE generation_sessions (
    session_id     uuid         NOT NULL DEFAULT gen_random_uuid(),
    correlation_id uuid,
    prompt         text         NOT NULL,
    node_type      varchar(50),
    status         varchar(20)  NOT NULL DEFAULT 'pending',
    metadata       jsonb        NOT NULL DEFAULT '{}'::jsonb,
    started_at     timestamptz  NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    error_message  text,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    updated_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT generation_sessions_pkey PRIMARY KEY (session_id),
    CONSTRAINT generation_sessions_status_check CHECK (status IN
        ('pending', 'running', 'completed', 'failed', 'cancelled')),
    CONSTRAINT generation_sessions_completed_check CHECK (completed_at IS NULL OR completed_at >= started_at)
);
COMMENT ON TABLE generation_sessions IS 'Code-generation sessions (upserted at start, completed at the end)';
CREATE INDEX idx_generation_sessions_status ON generation_sessions (status, started_at DESC);
CREATE INDEX idx_generation_sessions_correlation_id ON generation_sessions (correlation_id);
CREATE TRIGGER trg_generation_sessions_updated_at
    BEFORE UPDATE ON generation_sessions
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE generation_artifacts (
    artifact_id       uuid         NOT NULL DEFAULT gen_random_uuid(),
    session_id        uuid         NOT NULL,
    artifact_type     varchar(50)  NOT NULL,
    file_path         text         NOT NULL,
    content           text,
    content_hash      char(64),
    quality_score     decimal(5,4),
    validation_status varchar(20)  NOT NULL DEFAULT 'pending',
    template_name     varchar(255),
    metadata          jsonb        NOT NULL DEFAULT '{}'::jsonb,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT generation_artifacts_pkey PRIMARY KEY (artifact_id),
    CONSTRAINT generation_artifacts_session_fkey FOREIGN KEY (session_id)
        REFERENCES generation_sessions (session_id) ON DELETE CASCADE,
    CONSTRAINT generation_artifacts_quality_check CHECK (quality_score BETWEEN 0 AND 1),
    CONSTRAINT generation_artifacts_validation_check CHECK (validation_status IN
        ('pending', 'passed', 'failed', 'skipped'))
);
COMMENT ON TABLE generation_artifacts IS 'Files produced by a generation session';
CREATE INDEX idx_generation_artifacts_session ON generation_artifacts (session_id);
CREATE INDEX idx_generation_artifacts_type ON generation_artifacts (artifact_type);

CREATE TABLE mixin_compatibility_matrix (
    id                 uuid         NOT NULL DEFAULT gen_random_uuid(),
    mixin_a            varchar(255) NOT NULL,
    mixin_b            varchar(255) NOT NULL,
    node_type          varchar(50)  NOT NULL,
    compatibility_score decimal(5,4) NOT NULL DEFAULT 0,
    test_count         integer      NOT NULL DEFAULT 0,
    success_count      integer      NOT NULL DEFAULT 0,
    failure_count      integer      NOT NULL DEFAULT 0,
    conflict_reason    text,
    resolution_pattern text,
    last_tested_at     timestamptz  NOT NULL DEFAULT now(),
    created_at         timestamptz  NOT NULL DEFAULT now(),
    updated_at         timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT mixin_compatibility_matrix_pkey PRIMARY KEY (id),
    CONSTRAINT mixin_compatibility_matrix_pair_key UNIQUE (mixin_a, mixin_b, node_type),
    CONSTRAINT mixin_compatibility_matrix_score_check CHECK (compatibility_score BETWEEN 0 AND 1),
    CONSTRAINT mixin_compatibility_matrix_counts_check CHECK (
        test_count >= 0 AND success_count >= 0 AND failure_count >= 0
        AND success_count + failure_count = test_count)
);
COMMENT ON TABLE mixin_compatibility_matrix IS 'Observed compatibility of mixin pairs per node type';
CREATE INDEX idx_mixin_compatibility_node_type ON mixin_compatibility_matrix (node_type, compatibility_score DESC);
CREATE TRIGGER trg_mixin_compatibility_matrix_updated_at
    BEFORE UPDATE ON mixin_compatibility_matrix
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE pattern_feedback_log (
    id                   uuid         NOT NULL DEFAULT gen_random_uuid(),
    session_id           uuid,
    pattern_name         varchar(255) NOT NULL,
    detected_confidence  decimal(5,4),
    actual_pattern       varchar(255),
    feedback_type        varchar(20)  NOT NULL,
    user_provided        boolean      NOT NULL DEFAULT false,
    contract_json        jsonb        NOT NULL DEFAULT '{}'::jsonb,
    capabilities_matched text[]       NOT NULL DEFAULT '{}'::text[],
    capabilities_missing text[]       NOT NULL DEFAULT '{}'::text[],
    learning_weight      decimal(5,4) NOT NULL DEFAULT 1,
    created_at           timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT pattern_feedback_log_pkey PRIMARY KEY (id),
    CONSTRAINT pattern_feedback_log_session_fkey FOREIGN KEY (session_id)
        REFERENCES generation_sessions (session_id) ON DELETE SET NULL,
    CONSTRAINT pattern_feedback_log_confidence_check CHECK (detected_confidence BETWEEN 0 AND 1),
    CONSTRAINT pattern_feedback_log_weight_check CHECK (learning_weight BETWEEN 0 AND 1),
    CONSTRAINT pattern_feedback_log_type_check CHECK (feedback_type IN
        ('correct', 'incorrect', 'partial', 'adjusted'))
);
COMMENT ON TABLE pattern_feedback_log IS 'Feedback on detected patterns, input of the learning loop';
CREATE INDEX idx_pattern_feedback_pattern ON pattern_feedback_log (pattern_name, created_at DESC);
CREATE INDEX idx_pattern_feedback_session ON pattern_feedback_log (session_id);

CREATE TABLE generation_performance_metrics (
    id                 uuid         NOT NULL DEFAULT gen_random_uuid(),
    session_id         uuid,
    node_type          varchar(50),
    phase              varchar(50)  NOT NULL,
    duration_ms        integer      NOT NULL,
    memory_usage_mb    integer,
    cpu_percent        decimal(5,2),
    cache_hit          boolean      NOT NULL DEFAULT false,
    parallel_execution boolean      NOT NULL DEFAULT false,
    worker_count       integer      NOT NULL DEFAULT 1,
    metadata           jsonb        NOT NULL DEFAULT '{}'::jsonb,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT generation_performance_metrics_pkey PRIMARY KEY (id),
    CONSTRAINT generation_performance_metrics_session_fkey FOREIGN KEY (session_id)
        REFERENCES generation_sessions (session_id) ON DELETE CASCADE,
    CONSTRAINT generation_performance_metrics_values_check CHECK (
        duration_ms >= 0 AND memory_usage_mb >= 0 AND worker_count >= 1
        AND cpu_percent BETWEEN 0 AND 100)
);
COMMENT ON TABLE generation_performance_metrics IS 'Timing of each generation phase';
CREATE INDEX idx_generation_metrics_phase ON generation_performance_metrics (phase, created_at DESC);
CREATE INDEX idx_generation_metrics_session ON generation_performance_metrics (session_id);

CREATE TABLE template_cache_metadata (
    template_name    varchar(255) NOT NULL,
    template_type    varchar(50)  NOT NULL,
    cache_key        varchar(255) NOT NULL,
    file_path        text         NOT NULL,
    file_hash        char(64)     NOT NULL,
    size_bytes       integer      NOT NULL DEFAULT 0,
    load_time_ms     integer,
    access_count     bigint       NOT NULL DEFAULT 0,
    cache_hits       bigint       NOT NULL DEFAULT 0,
    cache_misses     bigint       NOT NULL DEFAULT 0,
    last_accessed_at timestamptz,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    updated_at       timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT template_cache_metadata_pkey PRIMARY KEY (template_name),
    CONSTRAINT template_cache_metadata_cache_key_key UNIQUE (cache_key),
    CONSTRAINT template_cache_metadata_counts_check CHECK (
        size_bytes >= 0 AND load_time_ms >= 0 AND access_count >= 0
        AND cache_hits >= 0 AND cache_misses >= 0)
);
COMMENT ON TABLE template_cache_metadata IS 'Templates held in the generator''s cache, with hit counts';
CREATE TRIGGER trg_template_cache_metadata_updated_at
    BEFORE UPDATE ON template_cache_metadata
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE event_processing_metrics (
    id                     uuid         NOT NULL DEFAULT gen_random_uuid(),
    event_type             varchar(100) NOT NULL,
    event_source           varchar(100) NOT NULL,
    processing_duration_ms integer      NOT NULL,
    queue_wait_time_ms     integer,
    success                boolean      NOT NULL,
    error_type             varchar(100),
    error_message          text,
    retry_count            integer      NOT NULL DEFAULT 0,
    batch_size             integer      NOT NULL DEFAULT 1,
    created_at             timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT event_processing_metrics_pkey PRIMARY KEY (id),
    CONSTRAINT event_processing_metrics_values_check CHECK (
        processing_duration_ms >= 0 AND queue_wait_time_ms >= 0 AND retry_count >= 0
        AND batch_size >= 1)
);
COMMENT ON TABLE event_processing_metrics IS 'Processing time and outcome of each consumed event';
CREATE INDEX idx_event_processing_type_created ON event_processing_metrics (event_type, created_at DESC);
CREATE INDEX idx_event_processing_failures ON event_processing_metrics (created_at DESC) WHERE NOT success;

-- Records one test of a mixin pair: inserts the pair on first sight, else
-- increments its test count; returns the row id either way (seed 000,
-- Example 3). conflict_reason and resolution_pattern keep their last
-- non-NULL value.
CREATE FUNCTION update_mixin_compatibility(
    p_mixin_a text,
    p_mixin_b text,
    p_node_type text,
    p_success boolean,
    p_conflict_reason text DEFAULT NULL,
    p_resolution_pattern text DEFAULT NULL)
RETURNS uuid
    LANGUAGE plpgsql
AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO mixin_compatibility_matrix AS m
           (mixin_a, mixin_b, node_type, test_count, success_count, failure_count,
            compatibility_score, conflict_reason, resolution_pattern, last_tested_at)
    VALUES (p_mixin_a, p_mixin_b, p_node_type, 1,
            CASE WHEN p_success THEN 1 ELSE 0 END, CASE WHEN p_success THEN 0 ELSE 1 END,
            CASE WHEN p_success THEN 1 ELSE 0 END, p_conflict_reason, p_resolution_pattern, now())
    ON CONFLICT (mixin_a, mixin_b, node_type) DO UPDATE SET
        test_count = m.test_count + 1,
        success_count = m.success_count + CASE WHEN p_success THEN 1 ELSE 0 END,
        failure_count = m.failure_count + CASE WHEN p_success THEN 0 ELSE 1 END,
        compatibility_score = round((m.success_count + CASE WHEN p_success THEN 1 ELSE 0 END)::numeric
                                    / (m.test_count + 1), 4),
        conflict_reason = COALESCE(p_conflict_reason, m.conflict_reason),
        resolution_pattern = COALESCE(p_resolution_pattern, m.resolution_pattern),
        last_tested_at = now()
    RETURNING m.id INTO v_id;
    RETURN v_id;
END;
$$;

-- Mixin compatibility summary per node type (get_mixin_compatibility summary).
CREATE FUNCTION get_mixin_compatibility_summary(p_node_type text DEFAULT NULL)
RETURNS TABLE (node_type text, pairs bigint, total_tests bigint, avg_compatibility numeric,
               incompatible_pairs bigint)
    LANGUAGE sql STABLE
AS $$
    SELECT m.node_type::text, count(*), sum(m.test_count)::bigint,
           round(avg(m.compatibility_score), 4),
           count(*) FILTER (WHERE m.compatibility_score < 0.5)
      FROM mixin_compatibility_matrix m
     WHERE p_node_type IS NULL OR m.node_type = p_node_type
     GROUP BY m.node_type
     ORDER BY m.node_type;
$$;

-- Pattern feedback analysis: precision of each detected pattern.
CREATE FUNCTION get_pattern_feedback_analysis(p_pattern_name text DEFAULT NULL)
RETURNS TABLE (pattern_name text, feedback_count bigint, correct_count bigint,
               incorrect_count bigint, precision_rate numeric, avg_confidence numeric)
    LANGUAGE sql STABLE
AS $$
    SELECT f.pattern_name::text, count(*),
           count(*) FILTER (WHERE f.feedback_type = 'correct'),
           count(*) FILTER (WHERE f.feedback_type = 'incorrect'),
           round(count(*) FILTER (WHERE f.feedback_type = 'correct')::numeric / count(*), 4),
           round(avg(f.detected_confidence), 4)
      FROM pattern_feedback_log f
     WHERE p_pattern_name IS NULL OR f.pattern_name = p_pattern_name
     GROUP BY f.pattern_name
     ORDER BY f.pattern_name;
$$;

-- Generation performance summary per phase since a point in time.
CREATE FUNCTION get_generation_performance_summary(p_since timestamptz DEFAULT NULL)
RETURNS TABLE (phase text, executions bigint, avg_duration_ms numeric, p95_duration_ms double precision,
               cache_hit_rate numeric)
    LANGUAGE sql STABLE
AS $$
    SELECT g.phase::text, count(*), round(avg(g.duration_ms), 2),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY g.duration_ms),
           round(count(*) FILTER (WHERE g.cache_hit)::numeric / count(*), 4)
      FROM generation_performance_metrics g
     WHERE p_since IS NULL OR g.created_at >= p_since
     GROUP BY g.phase
     ORDER BY g.phase;
$$;

-- Template cache: counts one access (hit or miss, with the load time of a miss).
CREATE FUNCTION update_template_cache_metrics(p_template_name text, p_cache_hit boolean,
                                              p_load_time_ms integer DEFAULT NULL)
RETURNS boolean
    LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE template_cache_metadata
       SET access_count = access_count + 1,
           cache_hits = cache_hits + CASE WHEN p_cache_hit THEN 1 ELSE 0 END,
           cache_misses = cache_misses + CASE WHEN p_cache_hit THEN 0 ELSE 1 END,
           load_time_ms = COALESCE(p_load_time_ms, load_time_ms),
           last_accessed_at = now()
     WHERE template_name = p_template_name;
    RETURN FOUND;
END;
$$;

-- Template cache efficiency per template type.
CREATE FUNCTION get_template_cache_efficiency()
RETURNS TABLE (template_type text, templates bigint, total_hits bigint, total_misses bigint,
               hit_rate numeric, avg_load_time_ms numeric)
    LANGUAGE sql STABLE
AS $$
    SELECT t.template_type::text, count(*), sum(t.cache_hits)::bigint, sum(t.cache_misses)::bigint,
           round(sum(t.cache_hits)::numeric / NULLIF(sum(t.cache_hits + t.cache_misses), 0), 4),
           round(avg(t.load_time_ms), 2)
      FROM template_cache_metadata t
     GROUP BY t.template_type
     ORDER BY t.template_type;
$$;

-- Event processing health per event type since a point in time.
CREATE FUNCTION get_event_processing_health(p_since timestamptz DEFAULT NULL)
RETURNS TABLE (event_type text, total_events bigint, failed_events bigint, success_rate numeric,
               avg_processing_ms numeric, p95_processing_ms double precision, avg_queue_wait_ms numeric)
    LANGUAGE sql STABLE
AS $$
    SELECT e.event_type::text, count(*), count(*) FILTER (WHERE NOT e.success),
           round(count(*) FILTER (WHERE e.success)::numeric / count(*), 4),
           round(avg(e.processing_duration_ms), 2),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY e.processing_duration_ms),
           round(avg(e.queue_wait_time_ms), 2)
      FROM event_processing_metrics e
     WHERE p_since IS NULL OR e.created_at >= p_since
     GROUP BY e.event_type
     ORDER BY e.event_type;
$$;
