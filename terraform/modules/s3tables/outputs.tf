output "table_bucket_arn" {
  description = "ARN of the table bucket."
  value       = aws_s3tables_table_bucket.this.arn
}

output "table_bucket_name" {
  description = "Name of the table bucket."
  value       = aws_s3tables_table_bucket.this.name
}

output "namespace" {
  description = "Namespace (the database in the s3tablescatalog catalog)."
  value       = aws_s3tables_namespace.this.namespace
}

output "table_name" {
  description = "Name of the Iceberg table."
  value       = awscc_s3tables_table.health_records.table_name
}

output "table_arn" {
  description = "ARN of the Iceberg table (the resource of s3tables:GetTableData)."
  value       = awscc_s3tables_table.health_records.table_arn
}

output "athena_catalog" {
  description = "Athena catalog name of the table bucket: HEALTH_PIPELINE_CATALOG."
  value       = "s3tablescatalog/${aws_s3tables_table_bucket.this.name}"
}

output "glue_catalog_id" {
  description = "Glue catalog id of the table bucket, for PyIceberg's Glue catalog and Glue API calls."
  value       = "${aws_s3tables_table_bucket.this.owner_account_id}:s3tablescatalog/${aws_s3tables_table_bucket.this.name}"
}

output "columns" {
  description = "The table's declared columns (name, Glue type) in order: local.columns, the schema's source of truth."
  value       = local.columns
}
