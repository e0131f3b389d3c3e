-- Erasure (aws mode): the given people's records, deleted from the Iceberg table in one statement.
-- Athena takes no ExecutionParameters in a DELETE, so nothing here is a ?: the id match becomes the
-- hex SHA-256 of each id (never the id itself) and the window's start and end (UTC) become TIMESTAMP
-- literals, all written by health_pipeline.sql.render.
DELETE FROM health_records
WHERE user_id IN ('{user_ids}') AND recorded_at >= '{window_start}' AND recorded_at < '{window_end}'
