output "database_name" {
  description = "Glue database name: HEALTH_PIPELINE_DATABASE."
  value       = aws_glue_catalog_database.this.name
}

output "table_name" {
  description = "Table name: HEALTH_PIPELINE_TABLE."
  value       = aws_glue_catalog_table.health_records.name
}
