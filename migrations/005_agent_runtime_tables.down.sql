-- 005 down: removes the four runtime tables (and their rows).
DROP TABLE agent_actions;
DROP TABLE agent_manifest_injections;
DROP TABLE agent_routing_decisions;
DROP TRIGGER trg_agent_execution_logs_updated_at ON agent_execution_logs;
DROP TABLE agent_execution_logs;
