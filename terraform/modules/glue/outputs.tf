output "database_name" {
  description = "The resource link's name: the database the Firehose stream delivers to, in the default catalog."
  value       = aws_glue_catalog_database.link.name
}

output "target_catalog_id" {
  description = "The catalog the link points into (<account>:s3tablescatalog/<bucket>)."
  value       = var.target_catalog_id
}

output "target_database_name" {
  description = "The namespace the link points at."
  value       = var.namespace
}
