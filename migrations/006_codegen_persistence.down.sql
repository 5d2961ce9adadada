-- 006 down: removes the code-generation tables, their rows and functions.
-- Children before parents (foreign keys to generation_sessions).
DROP FUNCTION get_event_processing_health(timestamptz);
DROP FUNCTION get_template_cache_efficiency();
DROP FUNCTION update_template_cache_metrics(text, boolean, integer);
DROP FUNCTION get_generation_performance_summary(timestamptz);
DROP FUNCTION get_pattern_feedback_analysis(text);
DROP FUNCTION get_mixin_compatibility_summary(text);
DROP FUNCTION update_mixin_compatibility(text, text, text, boolean, text, text);
DROP TABLE event_processing_metrics;
DROP TABLE template_cache_metadata;
DROP TABLE generation_performance_metrics;
DROP TABLE pattern_feedback_log;
DROP TABLE mixin_compatibility_matrix;
DROP TABLE generation_artifacts;
DROP TABLE generation_sessions;
