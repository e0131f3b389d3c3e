-- The daily summary of health_records for one partition day (Athena / Trino dialect).
-- Parameters, in the order the ? stand in the text: 1 the window start, 2 the window end (the day's
-- [00:00, next 00:00) in HEALTH_PIPELINE_TIMEZONE, converted to UTC by the caller: recorded_at is a
-- timestamp without zone holding UTC).
-- The literal partition_date (in braces and quotes below) is replaced by the partition day rendered from a Python date ('YYYY-MM-DD'):
-- Athena accepts ExecutionParameters only in WHERE, and the exported CSV (a copy of Athena's result
-- object) needs the date column in the result itself.
-- Exact duplicates (the same user_id and recorded_at, from at-least-once delivery) count once.
WITH windowed AS (
    SELECT
        user_id,
        recorded_at,
        fatigue,
        mood,
        motivation,
        flags,
        ROW_NUMBER() OVER (
            PARTITION BY user_id, recorded_at
            ORDER BY fatigue, mood, motivation, flags
        ) AS copy_number
    FROM health_records
    WHERE recorded_at >= ? AND recorded_at < ?
)
SELECT
    CAST('{partition_date}' AS VARCHAR) AS "date",
    user_id,
    COUNT(*) AS record_count,
    ROUND(AVG(fatigue), 3) AS fatigue_avg,
    MIN(fatigue) AS fatigue_min,
    MAX(fatigue) AS fatigue_max,
    ROUND(AVG(mood), 3) AS mood_avg,
    MIN(mood) AS mood_min,
    MAX(mood) AS mood_max,
    ROUND(AVG(motivation), 3) AS motivation_avg,
    MIN(motivation) AS motivation_min,
    MAX(motivation) AS motivation_max,
    -- Athena's bitwise_or_agg returns bigint; the cast gives DuckDB (bit_or keeps int) the same type.
    CAST(BITWISE_OR_AGG(flags) AS BIGINT) AS flags_any
FROM windowed
WHERE copy_number = 1
GROUP BY user_id
ORDER BY user_id
