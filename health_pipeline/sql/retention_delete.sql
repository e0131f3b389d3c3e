-- Retention (aws mode): every record older than the retention, deleted from the Iceberg table.
-- Athena takes no ExecutionParameters in a DELETE: the window's start (the table's oldest recorded_at)
-- and end (the retention's cutoff), UTC, become TIMESTAMP literals written by health_pipeline.sql.render.
DELETE FROM health_records
WHERE recorded_at >= '{window_start}' AND recorded_at < '{window_end}'
