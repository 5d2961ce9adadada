-- 001 down: removes the agent registry and the shared updated_at trigger
-- function. Nothing else may still use the function at this point: 005 and
-- 006, which also use it, are undone before 001.
DROP TRIGGER trg_agent_definitions_updated_at ON agent_definitions;
DROP TABLE agent_definitions;
DROP FUNCTION update_updated_at_column();
