-- 003 router_performance_metrics: one row per router measurement (seed 003,
-- deliverable 3). Timings in microseconds (the router's target is < 100 ms),
-- the four confidence components (trigger 40 %, context 30 %, capability
-- 20 %, historical 10 %), cache hit and age, the prediction error against the
-- quality actually reached, JSONB alternatives and human feedback.
-- Indexes: 11 in all (seed 003): primary key, two GIN, the composite
-- (selected_agent, measured_at DESC), seven b-tree of which three are partial.

CREATE TABLE router_performance_metrics (
    id                         uuid         NOT NULL DEFAULT gen_random_uuid(),
    metric_type                varchar(50)  NOT NULL,
    correlation_id             uuid,
    request_hash               varchar(64),
    user_request               text,
    selected_agent             varchar(255),
    confidence_score           decimal(5,4),
    trigger_confidence         decimal(5,4),
    context_confidence         decimal(5,4),
    capability_confidence      decimal(5,4),
    historical_confidence      decimal(5,4),
    total_routing_time_us      bigint       NOT NULL,
    trigger_matching_time_us   bigint,
    context_analysis_time_us   bigint,
    capability_scoring_time_us bigint,
    cache_lookup_time_us       bigint,
    cache_hit                  boolean      NOT NULL DEFAULT false,
    cache_age_seconds          integer,
    actual_quality_score       decimal(5,4),
    prediction_error           decimal(5,4),
    alternatives               jsonb        NOT NULL DEFAULT '[]'::jsonb,
    matched_triggers           text[]       NOT NULL DEFAULT '{}'::text[],
    feedback_type              varchar(20),
    feedback_notes             text,
    measured_at                timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT router_performance_metrics_pkey PRIMARY KEY (id),
    CONSTRAINT router_performance_metrics_metric_type_check CHECK (metric_type IN
        ('routing_decision', 'cache_lookup', 'confidence_calculation', 'feedback')),
    CONSTRAINT router_performance_metrics_confidence_check CHECK (
        confidence_score BETWEEN 0 AND 1 AND trigger_confidence BETWEEN 0 AND 1
        AND context_confidence BETWEEN 0 AND 1 AND capability_confidence BETWEEN 0 AND 1
        AND historical_confidence BETWEEN 0 AND 1 AND actual_quality_score BETWEEN 0 AND 1),
    CONSTRAINT router_performance_metrics_prediction_error_check CHECK (prediction_error BETWEEN -1 AND 1),
    CONSTRAINT router_performance_metrics_timings_check CHECK (
        total_routing_time_us >= 0 AND trigger_matching_time_us >= 0
        AND context_analysis_time_us >= 0 AND capability_scoring_time_us >= 0
        AND cache_lookup_time_us >= 0),
    CONSTRAINT router_performance_metrics_cache_age_check CHECK (cache_age_seconds >= 0),
    CONSTRAINT router_performance_metrics_feedback_check CHECK (feedback_type IN
        ('positive', 'negative', 'neutral', 'correction'))
);

COMMENT ON TABLE router_performance_metrics IS 'Router timings, confidence breakdown, cache and prediction accuracy';
COMMENT ON COLUMN router_performance_metrics.total_routing_time_us IS 'End-to-end routing time in microseconds';
COMMENT ON COLUMN router_performance_metrics.request_hash IS 'Hash of the normalised request: deduplication and cache key';
COMMENT ON COLUMN router_performance_metrics.prediction_error IS 'confidence_score minus actual_quality_score';

-- GIN: alternatives (JSONB) and matched triggers (array).
CREATE INDEX idx_rpm_alternatives ON router_performance_metrics USING gin (alternatives);
CREATE INDEX idx_rpm_matched_triggers ON router_performance_metrics USING gin (matched_triggers);

-- Composite: recent decisions for one agent.
CREATE INDEX idx_rpm_agent_measured ON router_performance_metrics (selected_agent, measured_at DESC);

-- B-tree: time series, type, dedupe, confidence; partial for cache hits,
-- scored predictions and slow decisions (over the 100 ms target).
CREATE INDEX idx_rpm_measured_at ON router_performance_metrics (measured_at DESC);
CREATE INDEX idx_rpm_metric_type ON router_performance_metrics (metric_type);
CREATE INDEX idx_rpm_request_hash ON router_performance_metrics (request_hash);
CREATE INDEX idx_rpm_confidence ON router_performance_metrics (confidence_score);
CREATE INDEX idx_rpm_cache_hits ON router_performance_metrics (cache_age_seconds) WHERE cache_hit;
CREATE INDEX idx_rpm_prediction_error ON router_performance_metrics (prediction_error)
    WHERE prediction_error IS NOT NULL;
CREATE INDEX idx_rpm_slow ON router_performance_metrics (total_routing_time_us)
    WHERE total_routing_time_us > 100000;
