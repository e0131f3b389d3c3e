-- Validity figures of health_records in a recorded_at window (Athena / Trino dialect).
-- The future cutoff (now + allowed clock skew, UTC) is a TIMESTAMP literal written by
-- health_pipeline.sql.render: Athena takes ? parameters only in the WHERE clause.
-- Parameters, in the order the ? stand: 1 the window start, 2 the window end (UTC, no zone).
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
    SUM(CASE WHEN recorded_at > '{future_cutoff}' THEN 1 ELSE 0 END) AS future_rows,
    MAX(recorded_at) AS latest_recorded_at
FROM health_records
WHERE recorded_at >= ? AND recorded_at < ?
