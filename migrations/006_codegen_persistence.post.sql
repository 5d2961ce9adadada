-- 006 post: update_mixin_compatibility behaves as seed 000 needs it: the same
-- id for the same (mixin_a, mixin_b, node_type), the test count incremented on
-- conflict. Runs inside the migration's transaction on an empty table and
-- cleans up after itself, so it leaves no row behind.
DO $$
DECLARE
    id1 uuid;
    id2 uuid;
    r mixin_compatibility_matrix%ROWTYPE;
BEGIN
    id1 := update_mixin_compatibility('__check_a', '__check_b', '__check', true);
    id2 := update_mixin_compatibility('__check_a', '__check_b', '__check', false, 'conflict', NULL);
    ASSERT id1 IS NOT NULL AND id1 = id2, 'update_mixin_compatibility returned different ids for one pair';
    SELECT * INTO r FROM mixin_compatibility_matrix WHERE id = id1;
    ASSERT r.test_count = 2 AND r.success_count = 1 AND r.failure_count = 1,
        format('after two tests: test_count %s success %s failure %s', r.test_count, r.success_count,
               r.failure_count);
    ASSERT r.compatibility_score = 0.5, format('compatibility_score %s, expected 0.5', r.compatibility_score);
    ASSERT r.conflict_reason = 'conflict', 'conflict_reason not kept';
    DELETE FROM mixin_compatibility_matrix WHERE id = id1;
    ASSERT (SELECT count(*) FROM get_mixin_compatibility_summary()) >= 0, 'summary function fails';
END $$;
