-- 003 down: removes the router metrics (and their rows).
DROP TABLE router_performance_metrics;
