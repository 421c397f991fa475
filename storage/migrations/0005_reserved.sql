-- 0005 is reserved for the alert and schedule tables of issue 15 (another
-- branch). This placeholder keeps the versions without a gap on the branch
-- that adds 0006; it is replaced by the real 0005 when both are merged.
SELECT 1;
