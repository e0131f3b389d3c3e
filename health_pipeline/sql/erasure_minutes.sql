-- The minutes (UTC) in which the given people have records, and how many: the days an erasure
-- touches, in any time zone. The id match becomes the hex SHA-256 of each id (never the id itself),
-- written by health_pipeline.sql.render; parameters, in the order the ? stand: the window start and
-- end (UTC, no zone).
SELECT
    date_trunc('minute', recorded_at) AS minute_utc,
    COUNT(*) AS records
FROM health_records
WHERE user_id IN ('{user_ids}') AND recorded_at >= ? AND recorded_at < ?
GROUP BY date_trunc('minute', recorded_at)
ORDER BY minute_utc
