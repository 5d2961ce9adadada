SELECT 1; -- trailing comment
;