-- Rows without a recorded_at. They sit in Iceberg's null partition of day(recorded_at), so this reads
-- that partition only: the one query exempt from the recorded_at range rule, by `IS NULL`.
SELECT COUNT(*) AS missing_recorded_at
FROM health_records
WHERE recorded_at IS NULL
