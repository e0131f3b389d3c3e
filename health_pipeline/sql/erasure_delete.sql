-- Erasure (aws mode): the given people's records, deleted from the Iceberg table in one statement.
-- Parameters: the user ids ('{user_ids}' becomes one ? per id), then the window start and end (UTC).
DELETE FROM health_records
WHERE user_id IN ('{user_ids}') AND recorded_at >= ? AND recorded_at < ?
