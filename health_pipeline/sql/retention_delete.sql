-- Retention (aws mode): every record older than the retention, deleted from the Iceberg table.
-- Parameters: the window start (the table's oldest recorded_at) and end (the retention's cutoff), UTC.
DELETE FROM health_records
WHERE recorded_at >= ? AND recorded_at < ?
