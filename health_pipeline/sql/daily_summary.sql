-- The daily summary of health_records for one or more consecutive partition days (Athena / Trino
-- dialect): one row per (day, user).
-- Parameters, in the order the ? stand in the text: 1 the window start, 2 the window end (from the
-- first day's 00:00 to the day after the last day's 00:00 in HEALTH_PIPELINE_TIMEZONE, converted to
-- UTC by the caller: recorded_at is a timestamp without zone holding UTC).
-- The literal local_day (in braces and quotes below) is replaced by a CASE expression that names each
-- row's day from the days' UTC boundaries, rendered from Python dates and datetimes: a day is the
-- zone's calendar day (23 or 25 hours across a DST change), which Athena and DuckDB disagree on when
-- asked with AT TIME ZONE, and Athena accepts ExecutionParameters only in WHERE.
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
),
dated AS (
    SELECT
        '{local_day}' AS day,
        user_id,
        fatigue,
        mood,
        motivation,
        flags
    FROM windowed
    WHERE copy_number = 1
)
SELECT
    CAST(day AS VARCHAR) AS "date",
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
FROM dated
GROUP BY day, user_id
ORDER BY day, user_id
