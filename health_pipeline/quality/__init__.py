"""Data quality: the checks on health_records and the daily summaries (`checks`), and which days new
Iceberg snapshots touched (`snapshots`), read by the new-data sensor."""
