-- health-pipeline preflight: one bounded test SELECT, the records of one minute. Parameters: the
-- window's start and end (UTC, no zone); with day(recorded_at) partitioning it reads one day's files.
SELECT COUNT(*) AS records
FROM health_records
WHERE recorded_at >= ? AND recorded_at < ?
