-- 002 down: removes the transformation log (and its rows).
DROP TABLE agent_transformation_events;
