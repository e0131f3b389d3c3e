-- Validity figures of health_records in a recorded_at window (Athena / Trino dialect).
-- Parameters, in the order the ? stand: 1 the future cutoff (now + allowed clock skew, UTC),
-- 2 the window start, 3 the window end (UTC, no zone).
SELECT
    COUNT(*) AS total_rows,
    SUM(CASE WHEN user_id IS NULL OR TRIM(user_id) = '' THEN 1 ELSE 0 END) AS missing_user_id,
    SUM(
        CASE
            WHEN fatigue < 0 OR fatigue > 10 OR mood < 0 OR mood > 10 OR motivation < 0 OR motivation > 10
                THEN 1
            ELSE 0
        END
    ) AS score_out_of_range,
    SUM(CASE WHEN flags < 0 THEN 1 ELSE 0 END) AS negative_flags,
    SUM(CASE WHEN recorded_at > ? THEN 1 ELSE 0 END) AS future_rows,
    MAX(recorded_at) AS latest_recorded_at
FROM health_records
WHERE recorded_at >= ? AND recorded_at < ?
