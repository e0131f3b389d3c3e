output "database_name" {
  description = "Glue database name: HEALTH_PIPELINE_DATABASE."
  value       = aws_glue_catalog_database.this.name
}

output "table_name" {
  description = "Table name: HEALTH_PIPELINE_TABLE."
  value       = aws_glue_catalog_table.health_records.name
}

output "columns" {
  description = "The table's declared columns (name, Glue type) in order: the initial schema of the S3 Tables table."
  value = [
    for column in aws_glue_catalog_table.health_records.storage_descriptor[0].columns : {
      name = column.name
      type = column.type
    }
  ]
}
