-- Records per UTC hour in a recorded_at window, for volume and freshness (bucketed into local days in
-- Python). Parameters: 1 the window start, 2 the window end (UTC, no zone).
SELECT
    DATE_TRUNC('hour', recorded_at) AS hour_utc,
    COUNT(*) AS records
FROM health_records
WHERE recorded_at >= ? AND recorded_at < ?
GROUP BY DATE_TRUNC('hour', recorded_at)
ORDER BY hour_utc
