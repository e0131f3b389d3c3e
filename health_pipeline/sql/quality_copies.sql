-- Distinct records and extra copies (the same user_id and recorded_at, from at-least-once delivery)
-- in a recorded_at window. Parameters: 1 the window start, 2 the window end (UTC, no zone).
SELECT
    COUNT(*) AS distinct_records,
    COALESCE(SUM(copies - 1), 0) AS extra_copies
FROM (
    SELECT user_id, recorded_at, COUNT(*) AS copies
    FROM health_records
    WHERE recorded_at >= ? AND recorded_at < ?
    GROUP BY user_id, recorded_at
) AS keyed
