-- 004 down: removes the observability schema, its four tables, their rows and
-- the retention function. Named one by one (no CASCADE) so an object that
-- something else created in the schema makes the down fail loudly.
DROP FUNCTION agent_observability.apply_retention_policy(integer, integer, integer, integer);
DROP TABLE agent_observability.transformation_events;
DROP TABLE agent_observability.performance_metrics;
DROP TABLE agent_observability.routing_decisions;
DROP TABLE agent_observability.trace_events;
DROP SCHEMA agent_observability;
